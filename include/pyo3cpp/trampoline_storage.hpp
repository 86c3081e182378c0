// trampoline_storage.hpp — what the class layer needs to know about a bound class's trampoline
// (trampoline.hpp): which type a Python subclass's instance holds, how big the inline storage
// must be, and how the value is built.
//
//   PYO3CPP_CLASS(Task);
//   struct PyTask : pyo3cpp::Trampoline<Task> { ... };   // trampoline.hpp
//   PYO3CPP_TRAMPOLINE(Task, PyTask);
//
// Contract:
//   - Without PYO3CPP_TRAMPOLINE a class is built exactly as before (T, sizeof(T)): nothing here
//     costs anything.
//   - With it, the instance's storage is large enough for either type. An instance of a Python
//     subclass (Py_TYPE(self) is not the bound type) holds the trampoline; an instance of the
//     bound class itself holds a plain T, unless T is abstract, when it holds the trampoline too
//     (a pure virtual then raises when called: trampoline.hpp). Instances made from C++
//     (make_instance, a T returned by value) hold a plain T.
//   - The trampoline's T subobject is at offset 0 (checked as each trampoline is built:
//     TypeError otherwise), so the T* the class layer computes from the storage is right for both.
//   - A bound method's entry marks Python's call of the C++ method (MarkCppMethod below) for the
//     trampoline's dispatch; a class without a trampoline compiles the mark away.
//   - A class held by std::shared_ptr (class_holder.hpp) builds the same choice on the heap, sized
//     for the type built; a trampoline there is marked in its holder's deleter, so a
//     std::shared_ptr handed to C++ keeps the Python object alive (docs/virtuals.md).
//   - A def_init(factory) on a Python subclass builds the trampoline from the factory's T&&
//     (Trampoline<T> forwards it to T's move constructor); a T that cannot be moved raises
//     TypeError there.
// Write PYO3CPP_TRAMPOLINE at global scope right after the trampoline, before add_class<T> and
// before anything else names Instance<T> (the storage size is fixed at that point).
// Thread: compile-time declarations; build_value runs inside the class's constructor paths.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include "pyo3cpp/error.hpp"
#include "pyo3cpp/instance_lock.hpp"

namespace pyo3cpp {

// Specialised by PYO3CPP_TRAMPOLINE: `type` is the trampoline of T (void: none).
template <class T> struct class_trampoline {
    using type = void;
};

namespace detail {

template <class T> using trampoline_t = typename class_trampoline<T>::type;
template <class T> inline constexpr bool has_trampoline_v = !std::is_void_v<trampoline_t<T>>;

// Bytes of T's storage: T, or its trampoline when larger.
template <class T> constexpr std::size_t value_size() noexcept
{
    if constexpr (has_trampoline_v<T>)
        return sizeof(trampoline_t<T>) > sizeof(T) ? sizeof(trampoline_t<T>) : sizeof(T);
    else
        return sizeof(T);
}

// The trampoline learns the Python object it lives in (trampoline.hpp defines it).
template <class Tramp> void trampoline_attach_self(Tramp &value, PyObject *self) noexcept;
template <class T> struct ClassBinding;  // class_object.hpp

[[noreturn, gnu::cold]] inline void raise_trampoline_layout(const char *cls)
{
    std::string text = std::string(cls) + "'s trampoline does not hold its " + cls +
                       " at offset 0 (derive it from pyo3cpp::Trampoline<" + cls + "> alone)";
    throw PyErr::new_err(Python::assume_attached(), PyExc_TypeError, text);
}

[[noreturn, gnu::cold]] inline void raise_trampoline_not_constructible(const char *cls, PyObject *self)
{
    std::string text = std::string("cannot construct the ") + Py_TYPE(self)->tp_name + " instance: " + cls +
                       "'s trampoline cannot be built from these constructor arguments (a factory's " + cls +
                       " must be movable)";
    throw PyErr::new_err(Python::assume_attached(), PyExc_TypeError, text);
}

// Python calling a bound method of a class with a trampoline (super().run(x), Task.run(obj, x))
// asks for the C++ method itself: Python's attribute lookup already chose it over any override.
// The method's entry marks the call; the first trampoline dispatch of that object and method
// name on this thread takes the mark and runs the C++ implementation instead of looking for an
// override (which would call back into Python for ever). Kept in the thread's LockThread
// (instance_lock.hpp: one thread-local access); the entry restores the previous mark on return.
template <class T> class MarkCppMethod {
public:
    MarkCppMethod(PyObject *self, const char *name) noexcept
    {
        if constexpr (has_trampoline_v<T>) {
            thread_ = &lock_thread();
            saved_self_ = thread_->cpp_method_self;
            saved_name_ = thread_->cpp_method_name;
            thread_->cpp_method_self = self;
            thread_->cpp_method_name = name;
        } else {
            (void)self;
            (void)name;
        }
    }
    ~MarkCppMethod()
    {
        if constexpr (has_trampoline_v<T>) {
            thread_->cpp_method_self = saved_self_;
            thread_->cpp_method_name = saved_name_;
        }
    }
    MarkCppMethod(const MarkCppMethod &) = delete;
    MarkCppMethod &operator=(const MarkCppMethod &) = delete;

private:
    LockThread *thread_ = nullptr;
    PyObject *saved_self_ = nullptr;
    const char *saved_name_ = nullptr;
};

// Whether build_value<T, A...> builds the trampoline (true) or a plain T: the heap path
// (class_holder.hpp) allocates for the one it builds. `exact`: as for build_value.
template <class T, class... A> constexpr bool builds_trampoline(bool exact) noexcept
{
    if constexpr (!has_trampoline_v<T>)
        return false;
    else if constexpr (std::is_abstract_v<T> || !std::is_constructible_v<T, A &&...>)
        return true;
    else
        return !exact;
}

// Builds the value of `self` in `where`: the trampoline for a Python subclass (or an abstract T),
// T otherwise. `exact`: Py_TYPE(self) is T's own bound type.
template <class T, class... A> void build_value(PyObject *self, bool exact, void *where, A &&...args)
{
    if constexpr (has_trampoline_v<T>) {
        using Tramp = trampoline_t<T>;
        if (!builds_trampoline<T, A...>(exact)) {
            if constexpr (std::is_constructible_v<T, A &&...>) {
                new (where) T(std::forward<A>(args)...);
                return;
            }
        }
        if constexpr (std::is_constructible_v<Tramp, A &&...>) {
            Tramp *value = new (where) Tramp(std::forward<A>(args)...);
            if (static_cast<void *>(static_cast<T *>(value)) != where) [[unlikely]] {
                value->~Tramp();  // the class layer finds T at the start of the storage
                raise_trampoline_layout(ClassBinding<T>::name);
            }
            trampoline_attach_self(*value, self);
        } else {
            raise_trampoline_not_constructible(ClassBinding<T>::name, self);
        }
    } else {
        (void)self;
        (void)exact;
        new (where) T(std::forward<A>(args)...);
    }
}

}  // namespace detail
}  // namespace pyo3cpp

// Declares TRAMP (a class deriving from pyo3cpp::Trampoline<TYPE>) as what instances of Python
// subclasses of TYPE hold. After PYO3CPP_CLASS(TYPE) and the trampoline's definition.
#define PYO3CPP_TRAMPOLINE(TYPE, TRAMP)                                                               \
    template <> struct pyo3cpp::class_trampoline<TYPE> {                                              \
        using type = TRAMP;                                                                           \
        static_assert(std::is_base_of_v<TYPE, TRAMP>, "PYO3CPP_TRAMPOLINE: the trampoline derives from " \
                                                      "pyo3cpp::Trampoline<" #TYPE ">");              \
        static_assert(alignof(TRAMP) <= 16, "PYO3CPP_TRAMPOLINE: alignment must not exceed 16");      \
    }
