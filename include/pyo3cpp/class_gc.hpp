// class_gc.hpp — what a bound class tells the garbage collector: the Python references its T
// holds (ClassDef::traverse<&T::member...>() or gc(visit, clear)), and those of its bound base.
//
//   static void visit(const Node &n, pyo3cpp::Visit &v) { v(n.next); v(n.data); }
//
// Visit is what a visit function receives; calling it with a null handle is a no-op. Visit
// functions run inside tp_traverse under TraverseGuard (traverse.hpp): no refcount operation, no
// attach (a debug_checks build aborts on either). Clear functions run in tp_clear, attached.
// Thread: the GC's. Cost: one indirect call per declared member per traversal.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <utility>

#include "pyo3cpp/fwd.hpp"
#include "pyo3cpp/python.hpp"

namespace pyo3cpp {

// What gc(visit, clear) callbacks receive: visit(member) for each Python reference held.
class Visit {
public:
    Visit(visitproc fn, void *arg) noexcept : fn_(fn), arg_(arg) {}
    template <class O> void operator()(const O &object) noexcept
    {
        if (result_ == 0 && object.as_ptr() != nullptr) result_ = fn_(object.as_ptr(), arg_);
    }
    int result() const noexcept { return result_; }

private:
    visitproc fn_;
    void *arg_;
    int result_ = 0;
};

namespace detail {

// -------------------------------------------------------------------------------- the GC

template <class T> struct GcHooks {
    static inline void (*visit)(const T &, Visit &) = nullptr;
    static inline void (*clear)(T &) = nullptr;
    // A bound base's references (extends<B>()): visited and cleared before T's own.
    static inline void (*base_visit)(const T &, Visit &) = nullptr;
    static inline void (*base_clear)(T &) = nullptr;

    static bool any() noexcept { return visit != nullptr || base_visit != nullptr; }
    static void visit_all(const T &value, Visit &v)
    {
        if (base_visit != nullptr) base_visit(value, v);
        if (visit != nullptr) visit(value, v);
    }
    static void clear_all(T &value)
    {
        if (base_clear != nullptr) base_clear(value);
        if (clear != nullptr) clear(value);
    }
};

template <class T, auto... Members> struct MemberGc {
    static void visit(const T &value, Visit &v) { (v(value.*Members), ...); }
    static void clear(T &value)
    {
        // Drop each reference (attached, in tp_clear): the member becomes null.
        ((void)[&] {
            auto gone = std::move(value.*Members);
            (void)gone;
        }(), ...);
    }
};

}  // namespace detail
}  // namespace pyo3cpp
