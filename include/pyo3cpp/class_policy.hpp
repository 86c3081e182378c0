// class_policy.hpp — declaring a C++ type as a Python class, with its thread-safety policy.
//
//   struct Counter { long count = 0; void add(long n) { count += n; } long get() const; };
//   PYO3CPP_CLASS(Counter);                          // policy: locked (the default)
//   PYO3CPP_CLASS(Point, pyo3cpp::frozen);           // immutable after construction
//   PYO3CPP_CLASS(AtomicTally, pyo3cpp::unsynchronized);
//   PYO3CPP_CLASS(Mesh, std::shared_ptr<Mesh>);      // held by a std::shared_ptr (class_holder.hpp)
//   PYO3CPP_CLASS(Mesh, pyo3cpp::frozen, std::shared_ptr<Mesh>);   // options in any order
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
// The holder: by default T lives inline in the Python object. `std::shared_ptr<T>` as an option
// puts every instance's T on the heap, owned through a std::shared_ptr that C++ can share
// (class_holder.hpp, docs/ownership.md).
// Thread/cost: compile-time declarations; nothing at run time.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <memory>
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
template <class H> inline constexpr bool is_holder_option_v = false;
template <class U> inline constexpr bool is_holder_option_v<std::shared_ptr<U>> = true;

// PYO3CPP_CLASS's options after the type, in any order: at most one policy, at most one holder.
template <class... Options> struct class_options {
    template <class O> static constexpr int kPolicies = is_policy_v<O> ? 1 : 0;
    template <class O> static constexpr int kHolders = is_holder_option_v<O> ? 1 : 0;
    static constexpr bool valid = (... && (is_policy_v<Options> || is_holder_option_v<Options>)) &&
                                  (0 + ... + kPolicies<Options>) <= 1 && (0 + ... + kHolders<Options>) <= 1;
    template <class Default, template <class> class Pick, class... Os> struct first {
        using type = Default;
    };
    template <class Default, template <class> class Pick, class O, class... Os>
    struct first<Default, Pick, O, Os...> {
        using type = std::conditional_t<Pick<O>::value, O, typename first<Default, Pick, Os...>::type>;
    };
    template <class O> struct picks_policy : std::bool_constant<is_policy_v<O>> {};
    template <class O> struct picks_holder : std::bool_constant<is_holder_option_v<O>> {};
    using policy = typename first<locked, picks_policy, Options...>::type;
    using holder = typename first<void, picks_holder, Options...>::type;  // void: T inline
};
}  // namespace detail

// T has been declared a class (PYO3CPP_CLASS).
template <class T>
concept BoundClass = requires { typename class_policy<T>::type; };

template <BoundClass T> using policy_of = typename class_policy<T>::type;
template <BoundClass T> inline constexpr bool is_locked_v = std::is_same_v<policy_of<T>, locked>;
template <BoundClass T> inline constexpr bool is_frozen_v = std::is_same_v<policy_of<T>, frozen>;
// T's instances hold it through a std::shared_ptr<T> (class_holder.hpp), not inline. (A
// class_policy written by hand without `holder` keeps T inline.)
template <BoundClass T> inline constexpr bool is_shared_held_v = [] {
    if constexpr (requires { typename class_policy<T>::holder; })
        return !std::is_void_v<typename class_policy<T>::holder>;
    else
        return false;
}();

}  // namespace pyo3cpp

#define PYO3CPP_CLASS(TYPE, ...)                                                            \
    template <> struct pyo3cpp::class_policy<TYPE> {                                        \
        using options = ::pyo3cpp::detail::class_options<__VA_ARGS__>;                      \
        static_assert(options::valid,                                                       \
                      "PYO3CPP_CLASS: the options are a policy (pyo3cpp::locked, "           \
                      "pyo3cpp::frozen or pyo3cpp::unsynchronized) and a holder "            \
                      "(std::shared_ptr<T>), each at most once");                           \
        using type = typename options::policy;                                              \
        using holder = typename options::holder;                                            \
        static_assert(std::is_void_v<holder> || std::is_same_v<holder, std::shared_ptr<TYPE>>, \
                      "PYO3CPP_CLASS: the holder of T is std::shared_ptr<T>");               \
        static_assert(std::is_class_v<TYPE>, "PYO3CPP_CLASS: a class type");                \
    }
