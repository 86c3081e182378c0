// call.hpp — calling Python objects over vectorcall: positional arguments, keywords, methods.
//
//   using namespace pyo3cpp::literals;
//   Bound<PyAny> r = f.call();                              // f()
//   r = f.call(a, 2, "three");                              // f(a, 2, 'three')
//   r = print.call("x", "y", "sep"_kw = ", ");              // keyword, name interned once
//   r = print.call("x", kw("end") = "\n");                  // keyword named at run time
//   r = list.call_method<"append">(item);                   // name interned once (intern.hpp)
//   r = obj.call_method("method", 1);                       // name converted per call
//   PyResult<Bound<PyAny>> t = f.try_call(a);               // failure returned, not thrown
//   t = obj.try_call_method<"get">(key);                    // (result.hpp)
//
// Contract: requires attachment (reached through a view). Keyword arguments come after the
// positional ones (a compile error otherwise). Python objects (Borrowed/Bound/Py) are passed as
// they are; anything else goes through IntoPython (convert.hpp). A null Bound/Py argument is a
// TypeError, never a crash. An exception raised by the callee is thrown as PyErr by call() and
// call_method(); try_call() and try_call_method() return it in a PyResult (result.hpp) and never
// throw PyErr (use them where the failure is expected: no C++ unwinding).
// A kw(...) = value or "name"_kw = value expression refers to its value: use it inside the
// call expression, do not store it.
// How: the arguments are laid out in a stack array that keeps slot 0 free, and the call passes
// PY_VECTORCALL_ARGUMENTS_OFFSET, so a bound method callee may borrow that slot for `self`
// instead of allocating a new argument array. Keywords travel as a kwnames tuple, never a dict:
// with "name"_kw names the tuple is built once per program per set of names and cached; with
// kw("name") it is built per call from interned names.
// Thread: any attached thread.
// Cost: a call whose arguments are Python objects and whose keywords are "name"_kw allocates
// nothing and adds no refcount traffic over hand-written PyObject_Vectorcall; converted
// arguments cost their conversion.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <cstddef>
#include <type_traits>
#include <utility>

#include "pyo3cpp/convert.hpp"
#include "pyo3cpp/intern.hpp"
// PyResult (result.hpp) arrives with error.hpp, which includes it once PyErr is complete.

namespace pyo3cpp {

namespace detail {

// A keyword name known at compile time: interned once, cached for the program.
template <FixedString Name> struct StaticKeyword {
    static constexpr bool is_static = true;
    static const char *text() noexcept { return Name.c_str(); }
};
// A keyword name known at run time (a C string that outlives the call).
struct RuntimeKeyword {
    static constexpr bool is_static = false;
    const char *name;
    const char *text() const noexcept { return name; }
};

template <class Name, class Value> struct KeywordArg {
    Name name;
    const Value &value;
};

template <class T> struct is_keyword_arg : std::false_type {};
template <class N, class V> struct is_keyword_arg<KeywordArg<N, V>> : std::true_type {};
template <class T> inline constexpr bool is_keyword_arg_v = is_keyword_arg<std::remove_cvref_t<T>>::value;

template <class T> struct is_static_keyword : std::false_type {};
template <FixedString N, class V> struct is_static_keyword<KeywordArg<StaticKeyword<N>, V>> : std::true_type {};

// Positional-then-keyword order check.
template <class... Args> constexpr bool keywords_last()
{
    bool seen_keyword = false, ok = true;
    ((is_keyword_arg_v<Args> ? (seen_keyword = true) : (ok = ok && !seen_keyword)), ...);
    return ok;
}

// The value an argument contributes to the argument array, and how it is held.
template <class Arg> struct ArgSlot {
    using holder = ObjectArg<std::remove_cvref_t<Arg>>;
    static const Arg &value(const Arg &arg) noexcept { return arg; }
};
template <class Name, class Value> struct ArgSlot<KeywordArg<Name, Value>> {
    using holder = ObjectArg<std::remove_cvref_t<Value>>;
    static const Value &value(const KeywordArg<Name, Value> &arg) noexcept { return arg.value; }
};

// Holds each argument (borrowed or converted) in a stack frame of its own, writes its pointer
// into the array, and calls `finish` once all are in place; holders die after the call.
template <class Finish> PyObject *fill_args(Python, PyObject **, Finish &&finish)
{
    return finish();
}
template <class Finish, class First, class... Rest>
PyObject *fill_args(Python py, PyObject **slot, Finish &&finish, const First &first,
                    const Rest &...rest)
{
    using Slot = ArgSlot<std::remove_cvref_t<First>>;
    typename Slot::holder held(py, Slot::value(first));
    *slot = held.get();
    return fill_args(py, slot + 1, std::forward<Finish>(finish), rest...);
}

// The kwnames tuple for a set of compile-time names: built once, cached until finalisation.
template <FixedString... Names> PyObject *static_kwnames(Python py)
{
    static pyo3cpp_object_cell cell = PYO3CPP_OBJECT_CELL_INIT;
    if (PyObject *names = pyo3cpp_object_cell_get(&cell)) return names;
    struct Build {
        static PyObject *make(void *) noexcept
        {
            const char *texts[] = {Names.c_str()...};
            PyObject *tuple = PyTuple_New(static_cast<Py_ssize_t>(sizeof...(Names)));
            if (tuple == nullptr) return nullptr;
            for (std::size_t i = 0; i < sizeof...(Names); ++i) {
                PyObject *name = PyUnicode_InternFromString(texts[i]);
                if (name == nullptr) {
                    Py_DECREF(tuple);
                    return nullptr;
                }
                PyTuple_SET_ITEM(tuple, static_cast<Py_ssize_t>(i), name);
            }
            return tuple;
        }
    };
    PyObject *names = pyo3cpp_object_cell_get_or_init(&cell, &Build::make, nullptr, "kwnames");
    if (names == nullptr) throw_fetched(py);
    return names;
}

template <class T> struct static_name_of;
template <FixedString N, class V> struct static_name_of<KeywordArg<StaticKeyword<N>, V>> {
    static constexpr auto name = N;
};

// Walks the argument types collecting the static keyword names in order, then asks for the
// cached tuple of exactly those names.
template <FixedString... Found> struct found_names {};
template <class Found, class... Rest> struct cached_kwnames;
template <FixedString... Found> struct cached_kwnames<found_names<Found...>> {
    static PyObject *get(Python py) { return static_kwnames<Found...>(py); }
};
template <FixedString... Found, class First, class... Rest>
struct cached_kwnames<found_names<Found...>, First, Rest...> {
    static PyObject *get(Python py)
    {
        using Arg = std::remove_cvref_t<First>;
        if constexpr (is_keyword_arg_v<Arg>)
            return cached_kwnames<found_names<Found..., static_name_of<Arg>::name>, Rest...>::get(py);
        else
            return cached_kwnames<found_names<Found...>, Rest...>::get(py);
    }
};

// kwnames for a call: borrowed from the cache when every name is static, otherwise a new
// tuple owned here (NULL when there are no keywords at all).
template <class... Args> struct Kwnames {
    static constexpr std::size_t count = (std::size_t{is_keyword_arg_v<Args>} + ... + 0);
    static constexpr bool all_static =
        (... && (!is_keyword_arg_v<Args> || is_static_keyword<std::remove_cvref_t<Args>>::value));

    Kwnames() = default;
    Kwnames(const Kwnames &) = delete;
    Kwnames &operator=(const Kwnames &) = delete;
    ~Kwnames() { Py_XDECREF(owned); }

    PyObject *get(Python py, const Args &...args)
    {
        if constexpr (count == 0) {
            return nullptr;
        } else if constexpr (all_static) {
            return cached_kwnames<found_names<>, Args...>::get(py);
        } else {
            owned = PyTuple_New(static_cast<Py_ssize_t>(count));
            if (owned == nullptr) throw_fetched(py);
            Py_ssize_t index = 0;
            (add(py, owned, index, args), ...);
            return owned;
        }
    }

private:
    template <class Arg> static void add(Python py, PyObject *tuple, Py_ssize_t &index, const Arg &arg)
    {
        if constexpr (is_keyword_arg_v<Arg>) {
            const char *text = arg.name.text();
            PyObject *name = text ? PyUnicode_InternFromString(text) : nullptr;
            if (name == nullptr) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "NULL keyword name");
                throw_fetched(py);
            }
            PyTuple_SET_ITEM(tuple, index++, name);
        }
    }

    PyObject *owned = nullptr;
};

// The shared body of call() (Method = false: `target` is the callable) and call_method()
// (Method = true: `target` is the name and `self` the receiver). Returns a new reference or
// NULL with the exception set.
template <bool Method, class... Args>
PyObject *vectorcall(Python py, PyObject *target, PyObject *self, const Args &...args)
{
    static_assert(keywords_last<Args...>(), "keyword arguments must follow positional arguments");
    constexpr std::size_t total = sizeof...(Args);
    constexpr std::size_t positional = total - Kwnames<Args...>::count;
    // [0] the PY_VECTORCALL_ARGUMENTS_OFFSET slot (scratch the callee may overwrite), then
    // self for a method call, then the arguments.
    constexpr std::size_t first = Method ? 2 : 1;
    PyObject *stack[first + total];
    stack[0] = nullptr;
    if constexpr (Method) stack[1] = self;
    (void)self;
    // The names first: the cached tuple is one load, then the arguments go straight to the call.
    Kwnames<Args...> kwnames;
    PyObject *names = kwnames.get(py, args...);
    return fill_args(
        py, stack + first,
        [&]() -> PyObject * {
            if constexpr (Method)
                return PyObject_VectorcallMethod(
                    target, stack + 1, (positional + 1) | PY_VECTORCALL_ARGUMENTS_OFFSET, names);
            else
                return PyObject_Vectorcall(target, stack + 1,
                                           positional | PY_VECTORCALL_ARGUMENTS_OFFSET, names);
        },
        args...);
}

// The body of the try_ forms: `invoke` makes the call (a new reference, or NULL with the
// exception set). A PyErr thrown while preparing the arguments becomes the result too, so the
// try_ forms never throw PyErr; the try block costs nothing unless something is thrown.
// (R is a parameter so that the type is looked up at instantiation: this header may be read
// before PyErr and PyResult are complete.)
template <class Invoke, class R = PyResult<Bound<PyAny>>> R try_vectorcall(Python py, Invoke &&invoke)
{
    PyObject *result;
    try {
        result = invoke();
    } catch (std::conditional_t<sizeof(R) != 0, PyErr, PyErr> &err) {  // dependent: see above
        return R(std::move(err));
    }
    if (__builtin_expect(result == nullptr, 0)) return R::fetch(py);
    return R(Bound<PyAny>::from_owned_ptr_unchecked(py, result));
}

}  // namespace detail

// A keyword argument named at run time: f.call(kw("sep") = ", "). The name must outlive the
// call (a literal always does).
struct kw {
    constexpr explicit kw(const char *name) noexcept : name(name) {}
    template <class Value> detail::KeywordArg<detail::RuntimeKeyword, Value> operator=(const Value &value) const noexcept
    {
        return {detail::RuntimeKeyword{name}, value};
    }
    const char *name;
};

// A keyword argument named at compile time: f.call("sep"_kw = ", "). Interned once; the
// kwnames tuple of a call whose keywords are all of this kind is cached.
template <FixedString Name> struct static_kw {
    template <class Value> detail::KeywordArg<detail::StaticKeyword<Name>, Value> operator=(const Value &value) const noexcept
    {
        return {detail::StaticKeyword<Name>{}, value};
    }
};

inline namespace literals {
template <FixedString Name> constexpr static_kw<Name> operator""_kw() noexcept { return {}; }
}  // namespace literals

template <class Self> template <class... Args> Bound<PyAny> AnyMethods<Self>::call(Args &&...args) const
{
    return Bound<PyAny>::from_owned_ptr(token(), detail::vectorcall<false>(token(), ptr(), nullptr, args...));
}

template <class Self>
template <class... Args>
Bound<PyAny> AnyMethods<Self>::call_method(const char *name, Args &&...args) const
{
    const Python py = token();
    PyObject *name_object = PyUnicode_InternFromString(name);
    if (name_object == nullptr) throw_fetched(py);
    struct Release {
        PyObject *o;
        ~Release() { Py_DECREF(o); }
    } release{name_object};
    return Bound<PyAny>::from_owned_ptr(py, detail::vectorcall<true>(py, name_object, ptr(), args...));
}

template <class Self>
template <PythonObject Name, class... Args>
Bound<PyAny> AnyMethods<Self>::call_method(const Name &name, Args &&...args) const
{
    const Python py = token();
    if (name.as_ptr() == nullptr) detail::raise_null_argument(py);
    return Bound<PyAny>::from_owned_ptr(py, detail::vectorcall<true>(py, name.as_ptr(), ptr(), args...));
}

template <class Self>
template <FixedString Name, class... Args>
Bound<PyAny> AnyMethods<Self>::call_method(Args &&...args) const
{
    const Python py = token();
    return Bound<PyAny>::from_owned_ptr(
        py, detail::vectorcall<true>(py, intern<Name>(py).as_ptr(), ptr(), args...));
}

// ---- the try_ forms: same argument path, the error returned instead of thrown.

template <class Self>
template <class... Args>
detail::result_t<Self> AnyMethods<Self>::try_call(Args &&...args) const
{
    const Python py = token();
    PyObject *callable = ptr();
    return detail::try_vectorcall(
        py, [&] { return detail::vectorcall<false>(py, callable, nullptr, args...); });
}

template <class Self>
template <class... Args>
detail::result_t<Self> AnyMethods<Self>::try_call_method(const char *name, Args &&...args) const
{
    const Python py = token();
    PyObject *self = ptr();
    PyObject *name_object = PyUnicode_InternFromString(name);
    if (name_object == nullptr) return detail::result_t<Self>::fetch(py);
    struct Release {
        PyObject *o;
        ~Release() { Py_DECREF(o); }
    } release{name_object};
    return detail::try_vectorcall(
        py, [&] { return detail::vectorcall<true>(py, name_object, self, args...); });
}

template <class Self>
template <PythonObject Name, class... Args>
detail::result_t<Self> AnyMethods<Self>::try_call_method(const Name &name, Args &&...args) const
{
    const Python py = token();
    PyObject *self = ptr();
    return detail::try_vectorcall(py, [&] {
        if (name.as_ptr() == nullptr) detail::raise_null_argument(py);
        return detail::vectorcall<true>(py, name.as_ptr(), self, args...);
    });
}

template <class Self>
template <FixedString Name, class... Args>
detail::result_t<Self> AnyMethods<Self>::try_call_method(Args &&...args) const
{
    const Python py = token();
    PyObject *self = ptr();
    return detail::try_vectorcall(py, [&] {
        return detail::vectorcall<true>(py, intern<Name>(py).as_ptr(), self, args...);
    });
}

}  // namespace pyo3cpp
