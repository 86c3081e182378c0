// class_policy.hpp — declaring a C++ type as a Python class, with its thread-safety policy.
//
//   struct Counter { long count = 0; void add(long n) { count += n; } long get() const; };
//   PYO3CPP_CLASS(Counter);                          // policy: locked (the default)
//   PYO3CPP_CLASS(Point, pyo3cpp::frozen);           // immutable after construction
//   PYO3CPP_CLASS(AtomicTally, pyo3cpp::unsynchronized);
//
// Write it at global scope, after the type is complete and before any code uses Bound<T>,
// Py<T>, def() parameters of type T, or ClassDef<T> (class.hpp). It is what makes T a type tag
// for the ownership types (Bound<Counter>, Py<Counter>, cast<Counter>()) and a parameter/result
// type of bound functions; the Python type itself is made by ModuleDef::add_class<T>.
//
// The policies (docs/classes.md):
//   - locked (default): every instance carries a reader/writer lock (instance_lock.hpp). Methods
//     and setters that take `T&` run exclusively; those that take `const T&` (const member
//     functions, getters) run shared, so readers overlap. A thread that must wait detaches
//     (other threads, the GC, the GIL go on). The lock is never suspended by calls back into
//     Python, so T is never raced. A thread that calls into an instance it already holds
//     exclusively (or asks for exclusive access to one it reads) gets RuntimeError naming the
//     class and the method, not a deadlock.
//   - frozen: no lock. Every method and property getter must take `const T&` (checked at
//     compile time); read-write properties are refused at compile time. From C++, `get()` on a
//     Bound<T>/Py<T> returns `const T&` with no lock.
//   - unsynchronized: no lock, `T&` methods allowed: for types whose own state is thread-safe
//     (atomics, their own mutex). On free-threaded builds concurrent calls really overlap.
// Thread/cost: compile-time declarations; nothing at run time.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <type_traits>

#include "pyo3cpp/fwd.hpp"

namespace pyo3cpp {

struct locked {};
struct frozen {};
struct unsynchronized {};

// Specialised by PYO3CPP_CLASS: `type` is the policy.
template <class T> struct class_policy {};

namespace detail {
template <class P = locked> using policy_or_default = P;
template <class P>
inline constexpr bool is_policy_v =
    std::is_same_v<P, locked> || std::is_same_v<P, frozen> || std::is_same_v<P, unsynchronized>;
}  // namespace detail

// T has been declared a class (PYO3CPP_CLASS).
template <class T>
concept BoundClass = requires { typename class_policy<T>::type; };

template <BoundClass T> using policy_of = typename class_policy<T>::type;
template <BoundClass T> inline constexpr bool is_locked_v = std::is_same_v<policy_of<T>, locked>;
template <BoundClass T> inline constexpr bool is_frozen_v = std::is_same_v<policy_of<T>, frozen>;

}  // namespace pyo3cpp

#define PYO3CPP_CLASS(TYPE, ...)                                                            \
    template <> struct pyo3cpp::class_policy<TYPE> {                                        \
        using type = ::pyo3cpp::detail::policy_or_default<__VA_ARGS__>;                     \
        static_assert(::pyo3cpp::detail::is_policy_v<type>,                                 \
                      "PYO3CPP_CLASS: the policy is pyo3cpp::locked, pyo3cpp::frozen or "    \
                      "pyo3cpp::unsynchronized");                                           \
        static_assert(std::is_class_v<TYPE>, "PYO3CPP_CLASS: a class type");                \
    }
