// callable_traits.hpp — what the binding layer reads off a C++ callable: its result type and
// its parameter list, with a leading `Python` token split off.
//
//   using traits = detail::callable_traits<decltype(fn)>;     // ::result, ::args (a type_list)
//   using split = detail::python_params<traits::args>;        // ::takes_token, ::params
//
// Works for function pointers, functions, member function pointers and function objects with
// one non-template operator() (lambdas without `auto` parameters). Compile time only.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <cstddef>
#include <type_traits>

#include "pyo3cpp/fwd.hpp"
#include "pyo3cpp/python.hpp"

namespace pyo3cpp::detail {

template <class... T> struct type_list {
    static constexpr std::size_t size = sizeof...(T);
};

template <class F> struct callable_traits : callable_traits<decltype(&F::operator())> {};
template <class R, class... A> struct callable_traits<R(A...)> {
    using result = R;
    using args = type_list<A...>;
};
template <class R, class... A> struct callable_traits<R(A...) noexcept> : callable_traits<R(A...)> {};
template <class R, class... A> struct callable_traits<R (*)(A...)> : callable_traits<R(A...)> {};
template <class R, class... A>
struct callable_traits<R (*)(A...) noexcept> : callable_traits<R(A...)> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...)> : callable_traits<R(A...)> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...) const> : callable_traits<R(A...)> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...) noexcept> : callable_traits<R(A...)> {};
template <class C, class R, class... A>
struct callable_traits<R (C::*)(A...) const noexcept> : callable_traits<R(A...)> {};

// The object a method is called on, handed by a class's method entry (class.hpp) to a record
// whose callable takes it first; not a Python parameter.
struct MethodSelf {
    PyObject *self;
};

// How a C++ parameter type is held between conversion and call: by value, cv and references
// removed. class_object.hpp specialises it for references to bound classes (held as a checked,
// possibly locked reference into the instance instead of a copy).
template <class A> struct param_decay {
    using type = std::remove_cvref_t<A>;
};
template <class A> using param_decay_t = typename param_decay<A>::type;

// Splits a leading MethodSelf, then a leading Python token, off the parameter list; the rest go
// through param_decay.
template <class List> struct python_params;
template <> struct python_params<type_list<>> {
    static constexpr bool takes_token = false;
    static constexpr bool takes_self = false;
    static constexpr bool takes_state = false;
    using params = type_list<>;
};
template <class First, class... Rest> struct python_params<type_list<First, Rest...>> {
    static constexpr bool takes_self = false;
    static constexpr bool takes_state = false;
    static constexpr bool takes_token = std::is_same_v<std::remove_cvref_t<First>, Python>;
    using params = std::conditional_t<takes_token, type_list<param_decay_t<Rest>...>,
                                      type_list<param_decay_t<First>, param_decay_t<Rest>...>>;
};
template <class... Rest> struct python_params<type_list<MethodSelf, Rest...>> : python_params<type_list<Rest...>> {
    static constexpr bool takes_self = true;
};
// A leading ModuleState<S> (module_state.hpp): filled in from the function's module.
template <class First, class... Rest>
    requires requires { typename std::remove_cvref_t<First>::module_state_type; }
struct python_params<type_list<First, Rest...>> : python_params<type_list<Rest...>> {
    static constexpr bool takes_state = true;
    using state_param = std::remove_cvref_t<First>;
};

}  // namespace pyo3cpp::detail
