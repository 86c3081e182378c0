// class_member_ref.hpp — references into an owner: the object `f.p` gives when `p` is a member
// of a bound class type (def_readwrite / def_readonly), or that a method wrapped in
// reference_internal(...) gives for the T& it returns (pybind11's reference_internal).
//
//   .def_readwrite("p", &Frame::p)                    // f.p.x = 5 changes f; f.p.set_x(5) too
//   .def_readonly("origin", &Frame::origin)           // read-only: f.origin.set_x(5) raises
//   .def("p_ref", reference_internal([](Frame &f) -> Vector & { return f.p; }))
//
// Contract:
//   - The reference is an instance of the member's class (isinstance, every method, every
//     parameter T& / const T& / T accept it) whose T is the owner's member: nothing is copied.
//     It holds a strong reference to its owner (the owner lives at least as long); a reference
//     read through a reference refers into the first owner directly.
//   - Threads: every access through it takes the OWNER's instance lock (shared for const methods
//     and getters, exclusive for mutating methods and setters), never a lock of its own: a
//     method of the owner and a method of the reference exclude each other exactly as two
//     methods of the owner do. An owner that is not `locked` (unsynchronized) gives references
//     that take no lock; a frozen owner gives read-only references that need none.
//   - Read-only references (def_readonly, a frozen owner, a method returning const T&): a use
//     that needs T& raises TypeError "... is a read-only reference into its owner ...".
//   - Members of a frozen class type are copied (a frozen T is read without a lock, which a
//     mutable owner's setter would race).
//   - Assignment `f.p = v` copy-assigns the owner's member under the owner's exclusive lock
//     (existing references see the new value). copy.copy / pickling a reference use the class's
//     own __reduce_ex__ / __copy__: they read the T and build a standalone instance.
//   - reference_internal(fn): fn returns T& or const T& (T a bound, non-frozen class) into the
//     method's own instance; a reference outside the instance's T (a global, heap memory the T
//     owns such as a std::vector's element, which a later call may free) raises TypeError.
//   - The GC: a reference of a GC class (traverse/gc/dict) visits its owner; of a non-GC class
//     the owner is held as by any non-GC object (a cycle through it is not collected).
// Thread: any attached thread. Cost: making a reference is one allocation and an incref; a
// plain instance's accesses pay nothing for references existing (their ready check already
// sends anything not holding a T of its own down the slow path).
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <functional>
#include <string>
#include <type_traits>
#include <utility>

#include "pyo3cpp/class_object.hpp"

namespace pyo3cpp {
namespace detail {

// A new reference object of M's class referring to `value`, which lives inside `owner`'s T.
// read_only/owner_locked: as the owner's class and the member say.
template <BoundClass M>
PyObject *make_member_reference(Python py, PyObject *owner, M *value, bool read_only, bool owner_locked)
{
    static_assert(!is_frozen_v<M>, "pyo3cpp: references to a frozen class's T are not made (it is copied)");
    PyTypeObject *type = ClassBinding<M>::type_or_throw(py);
    Instance<char> *holder = Instance<char>::of(owner);
    const std::uint8_t state = holder->state.load(std::memory_order_acquire);
    if ((state & kRefersInto) != 0) {  // a reference into a reference: the first owner holds it
        owner = holder->refers().owner;
        read_only = read_only || (state & kRefConst) != 0;
        owner_locked = (state & kRefOwnerLocked) != 0;
    }
    PyObject *object = type->tp_alloc(type, 0);
    if (object == nullptr) throw_fetched(py);
    Instance<M> *inst = Instance<M>::of(object);
    inst->refers() = RefersInto{Py_NewRef(owner), static_cast<void *>(value)};
    inst->state.store(static_cast<std::uint8_t>(kRefersInto | (read_only ? kRefConst : 0) |
                                                (owner_locked ? kRefOwnerLocked : 0)),
                      std::memory_order_release);
    return object;
}

// The owner of a reference object (nullptr for an instance holding its own T).
inline PyObject *reference_owner(PyObject *object) noexcept
{
    Instance<char> *inst = Instance<char>::of(object);
    if ((inst->state.load(std::memory_order_acquire) & kRefersInto) == 0) return nullptr;
    return inst->refers().owner;
}

// What reference_internal's wrapper returns: the referent; MethodCall adds the owner.
template <class Q> struct InternalRef {
    Q *value;
    PyObject *owner = nullptr;
    const void *owner_begin = nullptr;  // the owner's T: [begin, end)
    const void *owner_end = nullptr;
    bool owner_read_only = false;
    bool owner_locked = false;
};
template <class T> struct is_internal_ref : std::false_type {};
template <class Q> struct is_internal_ref<InternalRef<Q>> : std::true_type {};

[[noreturn, gnu::cold]] inline void raise_reference_outside(Python py, const char *cls)
{
    std::string text = std::string("reference_internal: the method returned a ") + cls +
                       " reference that does not point into its own instance (only members of the "
                       "instance's value can be returned by reference)";
    throw PyErr::new_err(py, PyExc_TypeError, text);
}

template <class Q> struct moves_into_python<InternalRef<Q>> : std::true_type {
    static PyObject *convert(Python py, const InternalRef<Q> &ref)
    {
        using M = std::remove_const_t<Q>;
        const char *at = reinterpret_cast<const char *>(ref.value);
        if (ref.owner == nullptr || at < static_cast<const char *>(ref.owner_begin) ||
            at + sizeof(M) > static_cast<const char *>(ref.owner_end))
            raise_reference_outside(py, ClassBinding<M>::name);
        return make_member_reference<M>(py, ref.owner, const_cast<M *>(ref.value),
                                        std::is_const_v<Q> || ref.owner_read_only, ref.owner_locked);
    }
};

template <class Q> struct result_is_instance<InternalRef<Q>> : std::true_type {};

template <class F> struct ReturnsInternal {
    F fn;
    template <class... A> auto operator()(A &&...args) const
    {
        decltype(auto) result = std::invoke(fn, std::forward<A>(args)...);
        using R = decltype(result);
        static_assert(std::is_lvalue_reference_v<R> && BoundClass<std::remove_cvref_t<R>>,
                      "pyo3cpp::reference_internal: the method must return T& or const T& of a bound class");
        return InternalRef<std::remove_reference_t<R>>{&result};
    }
};

}  // namespace detail

// A method whose T& / const T& result refers into its own instance: the result is a reference
// object into it (see the contract above), not a copy.
template <class F> detail::ReturnsInternal<std::decay_t<F>> reference_internal(F &&fn)
{
    return {std::forward<F>(fn)};
}

template <class Q> struct TypeHint<detail::InternalRef<Q>> {
    static std::string text() { return detail::ClassBinding<std::remove_const_t<Q>>::name; }
};

}  // namespace pyo3cpp
