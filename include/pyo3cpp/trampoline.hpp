// trampoline.hpp — Python subclasses overriding C++ virtual methods: C++ code calling a virtual
// through a Base* or Base& reaches the Python method when the object's Python class defines one.
//
//   struct Task {                                    // the C++ library's class
//       virtual ~Task() = default;
//       virtual int run(int x) { return x; }
//       virtual std::string name() const = 0;
//   };
//   PYO3CPP_CLASS(Task);
//   struct PyTask : pyo3cpp::Trampoline<Task> {      // what Python subclasses' instances hold
//       using Trampoline::Trampoline;
//       int run(int x) override { PYO3CPP_OVERRIDE(run, x); }
//       std::string name() const override { PYO3CPP_OVERRIDE_PURE(name); }
//   };
//   PYO3CPP_TRAMPOLINE(Task, PyTask);
//   ... m.add_class<Task>("Task").subclassable().def_init<>().def("run", &Task::run)...
//
// Contract:
//   - PYO3CPP_OVERRIDE(method, args...) returns the Python override's result converted to the
//     method's return type, or, when no class of the object's Python type (before the bound
//     class in its MRO) defines `method`, runs Base::method(args...). PYO3CPP_OVERRIDE_PURE raises
//     NotImplementedError "Task.name() is pure virtual and its subclass Sub does not override
//     it" instead (on an instance of the abstract class itself: "... and Task is abstract:
//     subclass it in Python and override name()"). Without macros:
//     call_override<"run">([&] { return Task::run(x); }, x) and
//     call_pure_override<"name", std::string>(). Arguments convert as into_py does (a bound
//     class's value is copied); a method returning a reference cannot be overridden.
//   - Where the caller stands does not matter: the thread attaches as needed (attach.hpp), so
//     C++ may call from the thread that made the object, from a std::thread Python never saw,
//     or from a detached section. Once the interpreter is finalising, a thread that is not
//     attached cannot attach: the call throws std::runtime_error (attach()'s rule) rather than
//     run the C++ implementation in the override's place. A failure (an exception in the
//     override, a result that does
//     not convert: TypeError naming the override and the type expected) is thrown as PyErr, a
//     C++ exception owning the Python exception; a bound function translates it back.
//   - Lookup: classes' own dicts along the MRO, as Python looks up a class attribute (instance
//     attributes are not seen); the bound class's own method ends the search (it is the C++
//     one). The answer is cached per Python type and method, keyed on the type's version tag
//     (CPython changes it whenever the class or a base is modified), so assigning
//     `Sub.run = f` later is seen.
//   - Python calling the bound C++ method (super().run(x) in the override, Task.run(obj, x)
//     anywhere) runs the C++ implementation: Python's lookup already chose it. The method's entry
//     marks the call on this thread, and the first dispatch of that object and name takes the
//     mark instead of looking for an override (which would call back into Python for ever). A
//     pure virtual raises there. The C++ implementation calling the virtual again dispatches.
//   - Lifetime: the object is the Python object. C++ that keeps a Base* beyond the call that
//     gave it keeps the object alive with it: a Py<Base> parameter, Trampoline::py_handle(py),
//     or Retained<Base> below (a Py<Base> and the pointer, usable from any thread). When the
//     last reference goes, ~Base runs in tp_dealloc (a virtual destructor is required).
//     A class held by std::shared_ptr (class_holder.hpp) holds the trampoline on the heap; a
//     std::shared_ptr<Base> handed to C++ from an instance holding the trampoline owns a strong
//     reference to the Python object, released (attached, or deferred) with the last
//     shared_ptr, leaked after finalisation; a std::unique_ptr cannot take it (ValueError).
//   - Locks (a `locked` class): dispatch itself takes no lock. When the calling thread holds the
//     instance exclusively (the virtual is called from a bound method taking Task&, or from
//     C++ under Bound<Task>::lock()), that hold is lent to the override while it runs: the
//     override's calls into the same instance on this thread (super().run(), self.helper())
//     are granted instead of raising "already in use by this thread". Other threads still wait.
//     A shared hold (a const method) is not lent: the override may call const methods, and a
//     mutating one raises RuntimeError as before.
// Thread: any thread. Cost per call of a trampoline method: attach (a call into libpyo3cpp when
// already attached), the mark test (one thread-local access), a type compare, a cache probe
// (a few loads), then for an override the holder class's dict lookup and the Python call.
// bench/virtuals_callgrind.md: 848 instructions per call on 3.11 against 648 for the method
// called by hand through the C API and 2,728 for pybind11; 156 when there is no override.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

#include "pyo3cpp/attach.hpp"
#include "pyo3cpp/class_object.hpp"
#include "pyo3cpp/compat.hpp"
#include "pyo3cpp/convert.hpp"
#include "pyo3cpp/intern.hpp"
#include "pyo3cpp/trampoline_storage.hpp"

namespace pyo3cpp {

namespace detail {

// One cached answer: `type` (at `version`) has its override in `owner`'s dict (nullptr: none).
// A seqlock: the writer makes `seq` odd while it writes; a reader that sees it change retries
// through the slow path.
struct OverrideCacheEntry {
    std::atomic<std::uint32_t> seq{0};
    std::atomic<unsigned int> version{0};
    std::atomic<PyTypeObject *> type{nullptr};
    std::atomic<PyObject *> owner{nullptr};
};
// Per (bound class, method name): a few entries, so sibling subclasses do not evict each other.
template <class Base, FixedString Name> struct OverrideCache {
    static constexpr unsigned kEntries = 4;
    static inline OverrideCacheEntry entries[kEntries];
    static OverrideCacheEntry &entry(PyTypeObject *type) noexcept
    {
        return entries[(reinterpret_cast<std::uintptr_t>(type) >> 6) % kEntries];
    }
};

inline unsigned int type_version(PyTypeObject *type) noexcept
{
    return __atomic_load_n(&type->tp_version_tag, __ATOMIC_RELAXED);
}

// The Python override of Name for `self` (a new reference), or nullptr (run the C++ method).
template <class Base, FixedString Name> PyObject *find_override(Python py, PyObject *self, PyTypeObject *bound)
{
    PyTypeObject *type = Py_TYPE(self);
    if (type == bound) return nullptr;  // the bound class itself overrides nothing
    PyObject *name = intern<Name>(py).as_ptr();
    OverrideCacheEntry &e = OverrideCache<Base, Name>::entry(type);
    const unsigned int version = type_version(type);
    const std::uint32_t seq = e.seq.load(std::memory_order_acquire);
    if ((seq & 1) == 0 && version != 0 && e.type.load(std::memory_order_relaxed) == type &&
        e.version.load(std::memory_order_relaxed) == version) {
        PyObject *owner = e.owner.load(std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_acquire);
        if (e.seq.load(std::memory_order_relaxed) == seq) {
            if (owner == nullptr) return nullptr;
            PyObject *function = nullptr;
            const int found =
                compat::dict_get_item_ref(reinterpret_cast<PyTypeObject *>(owner)->tp_dict, name, &function);
            if (found > 0) return function;
            if (found < 0) throw_fetched(py);
            // Removed meanwhile (its type is being modified): ask again.
        }
    }
    PyObject *function = nullptr, *owner = nullptr;
    unsigned int answer_version = 0;
    if (pyo3cpp_override_lookup(self, reinterpret_cast<PyObject *>(bound), name, &function, &owner,
                                &answer_version) < 0)
        throw_fetched(py);
    if (answer_version != 0) {
        std::uint32_t s = e.seq.load(std::memory_order_relaxed);
        // Another thread writing this entry: leave it to that one.
        if ((s & 1) == 0 && e.seq.compare_exchange_strong(s, s + 1, std::memory_order_relaxed)) {
            std::atomic_thread_fence(std::memory_order_release);
            e.type.store(type, std::memory_order_relaxed);
            e.version.store(answer_version, std::memory_order_relaxed);
            e.owner.store(owner, std::memory_order_relaxed);
            e.seq.store(s + 2, std::memory_order_release);
        }
    }
    return function;
}

// While a Python override runs: this thread's exclusive holds of the instance are lent to its
// nested calls (instance_lock.hpp, kHoldLent). Restored on every exit.
class LendInstance {
public:
    explicit LendInstance(InstanceLock &lock) noexcept : thread_(&lock_thread()), lock_(&lock)
    {
        for (HeldLock *h = thread_->held; h != nullptr; h = h->older)
            if (h->lock == lock_ && (h->mode & kHoldModeMask) == kHoldExclusive && (h->mode & kHoldLent) == 0) {
                h->mode |= kHoldLent;
                lent_ = true;
            }
    }
    ~LendInstance()
    {
        if (!lent_) return;
        // The records are the same: nested guards are LIFO and ended before this one.
        for (HeldLock *h = thread_->held; h != nullptr; h = h->older)
            if (h->lock == lock_) h->mode &= static_cast<std::uint8_t>(~kHoldLent);
    }
    LendInstance(const LendInstance &) = delete;
    LendInstance &operator=(const LendInstance &) = delete;

private:
    LockThread *thread_;
    InstanceLock *lock_;
    bool lent_ = false;
};

[[noreturn, gnu::cold]] inline void raise_pure_virtual(Python py, PyObject *self, PyTypeObject *bound, const char *cls,
                                                       const char *method)
{
    std::string text = std::string(cls) + "." + method + "() is pure virtual and ";
    if (Py_TYPE(self) == bound)
        text += std::string(cls) + " is abstract: subclass it in Python and override " + method + "()";
    else
        text += std::string("its subclass ") + Py_TYPE(self)->tp_name + " does not override it";
    throw PyErr::new_err(py, PyExc_NotImplementedError, text);
}

[[noreturn, gnu::cold]] inline void raise_bad_override_result(Python py, PyObject *self, const char *method,
                                                              PyObject *result, const std::string &expected)
{
    std::string type_name = Py_TYPE(self)->tp_name;
    std::string text = type_name.substr(type_name.rfind('.') + 1) + "." + method + "() overrides a C++ method " +
                       "returning " + expected + ", but returned " + Py_TYPE(result)->tp_name;
    throw PyErr::new_err(py, PyExc_TypeError, text);
}

// References a call owns until it returns (raw: no out-of-line destructor per argument).
template <std::size_t N> struct OwnedRefs {
    PyObject *refs[N];
    std::size_t count = 0;
    OwnedRefs() = default;
    OwnedRefs(const OwnedRefs &) = delete;
    OwnedRefs &operator=(const OwnedRefs &) = delete;
    ~OwnedRefs()
    {
        for (std::size_t i = 0; i < count; ++i) Py_DECREF(refs[i]);
    }
    PyObject *add(PyObject *ref) noexcept { return refs[count++] = ref; }
};

// Calls the override (a function found in a class dict: bound to self as Python would) and
// converts its result to R. `function` is a new reference, released here.
template <class R, class... A>
R call_python_override(Python py, PyObject *self, PyObject *function, const char *method, const A &...args)
{
    constexpr std::size_t n = sizeof...(A);
    // self, the function, the converted arguments, the result, a bound method.
    OwnedRefs<n + 4> owned;
    owned.add(function);
    // self stays alive for the call even if the override drops the last other reference.
    Py_INCREF(self);
    owned.add(self);
    // Slot 0 free (PY_VECTORCALL_ARGUMENTS_OFFSET), self, then the arguments, converted first:
    // a conversion may fail before anything was called.
    PyObject *argv[n + 2] = {nullptr, self, owned.add(into_py(py, args).into_ptr())...};
    PyObject *result;
    if (PyFunction_Check(function)) {  // the usual override: called with self first
        result = PyObject_Vectorcall(function, argv + 1, (n + 1) | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
    } else if (descrgetfunc get = Py_TYPE(function)->tp_descr_get) {
        // staticmethod, classmethod, functools.partialmethod, ...: bind it first, as Python does.
        PyObject *bound = get(function, self, reinterpret_cast<PyObject *>(Py_TYPE(self)));
        if (bound == nullptr) throw_fetched(py);
        owned.add(bound);
        result = PyObject_Vectorcall(bound, argv + 2, n | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
    } else {  // a callable object stored on the class, with no __get__: called as it is
        result = PyObject_Vectorcall(function, argv + 2, n | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
    }
    if (result == nullptr) throw_fetched(py);  // the override's exception
    owned.add(result);
    if constexpr (std::is_void_v<R>) {
        return;
    } else {
        static_assert(!std::is_reference_v<R>,
                      "pyo3cpp: an overridable method returning a reference cannot return a Python "
                      "override's result (it would refer to a temporary)");
        try {
            return extract<R>(Borrowed<PyAny>::from_ptr(py, result));
        } catch (const PyErr &err) {
            if (!err.matches(py, PyExc_TypeError)) throw;
            raise_bad_override_result(py, self, method, result, TypeHint<R>::text());
        }
    }
}

}  // namespace detail

// The base of a trampoline: derive from Trampoline<Base>, override each virtual with
// PYO3CPP_OVERRIDE / PYO3CPP_OVERRIDE_PURE, declare it with PYO3CPP_TRAMPOLINE(Base, YourClass).
// Base must have a virtual destructor (the instance is destroyed through Base).
template <class Base> class Trampoline : public Base {
    static_assert(std::has_virtual_destructor_v<Base>,
                  "pyo3cpp::Trampoline<Base>: Base needs a virtual destructor");

public:
    using base_type = Base;
    using Base::Base;
    Trampoline() = default;
    // What def_init(factory) on a Python subclass builds from the factory's Base.
    template <class B = Base>
        requires(std::is_same_v<B, Base> && !std::is_abstract_v<B> && std::is_move_constructible_v<B>)
    Trampoline(B &&value) : Base(std::move(value))
    {
    }

    // A strong reference to the Python object holding this value (empty if it lives in none).
    Py<Base> py_handle(Python py) const
    {
        if (py_self_ == nullptr) return Py<Base>();
        return Borrowed<PyAny>::from_ptr(py, py_self_).template cast_unchecked<Base>().to_owned().unbind();
    }
    // The Python object holding this value (borrowed; nullptr if none).
    PyObject *py_object() const noexcept { return py_self_; }

protected:
    // The Python override of Name, or fallback() (the C++ implementation). R: fallback's result.
    template <FixedString Name, class Fallback, class... A>
    std::invoke_result_t<Fallback &&> call_override(Fallback &&fallback, const A &...args) const
    {
        using R = std::invoke_result_t<Fallback &&>;
        if (py_self_ != nullptr && !python_asked_for_cpp<Name>()) {
            Attached attached = attach();
            Python py = attached.py();
            PyObject *function = detail::find_override<Base, Name>(py, py_self_, bound_type(py));
            if (function != nullptr) return dispatch<R>(py, function, Name.c_str(), args...);
        }
        return std::forward<Fallback>(fallback)();  // as the caller was: attached or not
    }
    // The Python override of Name; NotImplementedError when there is none (a pure virtual).
    template <FixedString Name, class R, class... A> R call_pure_override(const A &...args) const
    {
        Attached attached = attach();
        Python py = attached.py();
        if (py_self_ == nullptr)
            throw PyErr::new_err(py, PyExc_NotImplementedError,
                                 std::string(detail::ClassBinding<Base>::name) + "." + Name.c_str() +
                                     "() is pure virtual");
        PyObject *function =
            python_asked_for_cpp<Name>() ? nullptr : detail::find_override<Base, Name>(py, py_self_, bound_type(py));
        if (function == nullptr) {
            detail::raise_pure_virtual(py, py_self_, bound_type(py), detail::ClassBinding<Base>::name, Name.c_str());
        }
        return dispatch<R>(py, function, Name.c_str(), args...);
    }

private:
    template <class T> friend void detail::trampoline_attach_self(T &, PyObject *) noexcept;

    static PyTypeObject *bound_type(Python py) { return detail::ClassBinding<Base>::type_or_throw(py); }
    // Python called the bound C++ method of this object by this name (super().run(x)): its entry
    // marked the call (trampoline_storage.hpp). Taken once: the C++ implementation calling
    // run() again on this object is an ordinary virtual call.
    template <FixedString Name> bool python_asked_for_cpp() const noexcept
    {
        detail::LockThread &thread = detail::lock_thread();
        if (thread.cpp_method_self != py_self_ || std::strcmp(thread.cpp_method_name, Name.c_str()) != 0)
            return false;
        thread.cpp_method_self = nullptr;
        return true;
    }
    // `function`: a new reference, released by the call.
    template <class R, class... A>
    R dispatch(Python py, PyObject *function, const char *method, const A &...args) const
    {
        if constexpr (is_locked_v<Base>) {
            detail::LendInstance lend(detail::lock_of(py_self_));
            return detail::call_python_override<R>(py, py_self_, function, method, args...);
        } else {
            return detail::call_python_override<R>(py, py_self_, function, method, args...);
        }
    }

    PyObject *py_self_ = nullptr;  // the instance holding this value (no reference: it is its storage)
};

namespace detail {
template <class Tramp> void trampoline_attach_self(Tramp &value, PyObject *self) noexcept
{
    static_cast<Trampoline<typename Tramp::base_type> &>(value).py_self_ = self;
}
}  // namespace detail

// What C++ keeps to call a bound object later, from any thread: a strong reference and the
// C++ value. Made attached from a Bound<T> holding a T (TypeError if it holds none: an
// uninitialised instance); movable; destroyed anywhere (the reference is released as Py<T>'s
// is: at once when attached, else deferred). The pointer bypasses the instance lock: the C++
// side synchronises its own calls, as it would for any C++ object (docs/virtuals.md).
template <BoundClass T> class Retained {
public:
    Retained() = default;
    explicit Retained(const Bound<T> &object)
        : value_(&detail::ready_value<T>(object.py(), object.as_ptr(), nullptr)), handle_(Bound<T>(object).unbind())
    {
    }
    T *get() const noexcept { return value_; }
    T *operator->() const noexcept { return value_; }
    T &operator*() const noexcept { return *value_; }
    explicit operator bool() const noexcept { return value_ != nullptr; }
    const Py<T> &handle() const noexcept { return handle_; }

private:
    T *value_ = nullptr;
    Py<T> handle_;
};

}  // namespace pyo3cpp

// The body of a trampoline's override of METHOD: the Python override's result, or the C++
// implementation Base::METHOD(args...).
#define PYO3CPP_OVERRIDE(METHOD, ...)                                                               \
    return this->template call_override<#METHOD>(                                                   \
        [&]() -> decltype(auto) { return this->base_type::METHOD(__VA_ARGS__); } __VA_OPT__(, ) __VA_ARGS__)

// The same for a pure virtual: NotImplementedError when the Python class does not override it.
#define PYO3CPP_OVERRIDE_PURE(METHOD, ...)                                                          \
    return this->template call_pure_override<#METHOD, decltype(this->base_type::METHOD(__VA_ARGS__))>( \
        __VA_ARGS__)
