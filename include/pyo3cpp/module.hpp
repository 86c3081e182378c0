// module.hpp — defining an extension module: functions from plain C++ callables, constants,
// submodules, with multi-phase initialisation and C++ exceptions turned into Python ones.
//
//   #include <pyo3cpp/pyo3cpp.hpp>
//   using namespace pyo3cpp;
//
//   Py_ssize_t bisect_left(Python py, Borrowed<PyAny> a, Borrowed<PyAny> x, Py_ssize_t lo,
//                          std::optional<Py_ssize_t> hi);
//   Bound<PyAny> heappush(Python py, const Borrowed<PyAny> *args, Py_ssize_t nargs,
//                         Borrowed<PyAny> kwnames);                 // raw: vectorcall-level
//
//   PYO3CPP_MODULE(mybisect, m)          // defines PyInit_mybisect; `m` is a ModuleDef&
//   {
//       m.doc("Bisection algorithms.");
//       m.def("bisect_left", bisect_left, "Return the index where to insert x in a.",
//             arg("a"), arg("x"), arg("lo") = 0, arg("hi") = std::nullopt);
//       m.def("add", [](long a, long b) { return a + b; });      // positional-only, no names
//       m.def_raw("heappush", heappush, "Push item onto heap.");
//       m.def_raw<&heappop>("heappop", "Pop the smallest item.");  // raw, zero overhead (below)
//       m.add("VERSION", 2);                                      // constant (into_py at exec)
//       m.add("Error", [](Python py) { return make_error_type(py); });   // object, built lazily
//       m.submodule("fast", [](ModuleDef &sub) { sub.def("f", f); });    // mybisect.fast
//       m.on_exec([](Python py, Borrowed<PyModule> module) { /* anything else */ });
//       // m.gil_used();   // opt out: this module needs the GIL (3.13t re-enables it)
//   }
//
// Contract:
//   - The body of PYO3CPP_MODULE runs once per process, on the first import, and only records
//     the definition (pure C++: it must not call Python). Each module object is then built by
//     CPython's multi-phase initialisation: the exec step runs the runtime check
//     (PYO3CPP_CHECK_RUNTIME: ImportError when libpyo3cpp.so does not match) and complete
//     submodules come first (Py_mod_create: before the parent is in sys.modules), then exec
//     adds the functions and runs add / on_exec in the order they were written. Concurrent
//     importers wait for exec to finish (CPython's module locks), so they never see the module
//     half-built; `import parent.sub` always finds the submodule already in sys.modules.
//   - Py_mod_gil = Py_MOD_GIL_NOT_USED unless gil_used() is called (CPython 3.13+; the slot is
//     absent before). Py_mod_multiple_interpreters = NOT_SUPPORTED on 3.12+ (the runtime check refuses 3.11 subinterpreters).
//   - Functions are METH_FASTCALL | METH_KEYWORDS. Parameters of the C++ callable:
//       * a leading `Python` is the token (not a Python argument);
//       * Borrowed<PyAny> / Bound<PyAny> / Py<PyAny>: the argument itself, no conversion;
//         Borrowed<T> / Bound<T> / Py<T> for another tag: checked like cast<T>();
//       * std::optional<T>: may be omitted (std::nullopt) and accepts None (std::nullopt);
//       * anything else T: FromPython<T>::extract (convert.hpp), by value or const reference.
//     Names: give one arg("name") per Python parameter (all or none). With names, arguments may
//     be passed by keyword; `arg("lo") = 0` gives a default (a C++ value, converted to the
//     parameter type). Without names the parameters are positional-only.
//     Return: void -> None; Bound/Py/Borrowed -> that object; anything else -> IntoPython.
//   - Errors are TypeErrors worded like CPython's own:
//       "bisect_left() argument 'lo' must be int, not str"
//       "add() takes 2 positional arguments but 3 were given"
//       "bisect_left() missing required argument 'x' (pos 2)"
//       "bisect_left() got an unexpected keyword argument 'key'"
//       "bisect_left() got multiple values for argument 'lo'"
//     ("must be <type>" names: int, float, bool, str, the tag's name for Borrowed/Bound/Py<T>,
//     or FromPython<T>::type_name when a conversion declares one; other conversions keep
//     their own message, prefixed with "f() argument 'x': ".)
//   - Exceptions thrown by a function (or an exec step) become Python exceptions:
//       PyErr -> itself; std::bad_alloc -> MemoryError; std::out_of_range -> IndexError;
//       std::invalid_argument, std::domain_error -> ValueError; std::overflow_error ->
//       OverflowError; other std::exception -> RuntimeError(what()); anything else ->
//       SystemError. translate_current_exception(py) does this for your own CPython callbacks.
//   - Raw functions (def_raw) receive the vectorcall arguments as they are: `args[0..nargs)`
//     positional, then one value per name in `kwnames` (a tuple of str, or a null Borrowed —
//     kwnames.as_ptr() == nullptr — when there are no keywords).
//   - Callables: function pointers and lambdas / function objects with one non-template
//     operator() (no generic `auto` parameters). They are copied into the definition; a
//     stateful (mutable) lambda's state is shared by every call on every thread.
//   - Strings given to doc(), add() and submodule() names, and the module name, are kept as
//     pointers: pass string literals. def()/def_raw() copy the function name and docstring.
//   - Compile-time raw functions, def_raw<&fn>(name, doc): fn is a function (or a captureless
//     lambda) known at compile time, so the C entry point CPython calls is generated for it —
//     no capsule, no lookup, `__self__` is the module (as with a PyMethodDef table), and the
//     calling convention follows fn's parameters after `Python` [, Borrowed<PyModule> module]:
//       ()                                                     METH_NOARGS
//       (Borrowed<PyAny> arg)                                  METH_O
//       (const Borrowed<PyAny> *args, Py_ssize_t nargs)        METH_FASTCALL
//       (const Borrowed<PyAny> *args, Py_ssize_t nargs, Borrowed<PyAny> kwnames)
//                                                              METH_FASTCALL | METH_KEYWORDS
//     CPython itself then checks what the convention implies (METH_O: "f() takes exactly one
//     argument (0 given)"; no keywords unless METH_KEYWORDS). Results and exceptions as for
//     def(). The doc is used as given: start it with "name($module, a, /)\n--\n\n" for a
//     __text_signature__. Use this for hot functions or exact CPython error wording.
// Thread: functions run on whatever thread calls them, attached; on free-threaded builds
// concurrently — protect shared state with critical sections or Mutex.
// Cost per call: def_raw<&fn>: fn's own work plus the result conversion (one branch); a
// try/catch that costs nothing unless something throws. def / def_raw(name, callable):
// one capsule lookup and an indirect call, then the conversions; no heap
// allocation of its own for calls that succeed.
#pragma once

#include "pyo3cpp/forced_unwind.hpp"

#include <array>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "pyo3cpp/attach.hpp"
#include "pyo3cpp/borrowed.hpp"
#include "pyo3cpp/convert.hpp"
#include "pyo3cpp/error.hpp"

namespace pyo3cpp {

// ------------------------------------------------------------------ exception translation

namespace detail {
// PyErr_SetString with a message that may not be valid UTF-8 (what() of a C++ exception).
inline void set_error_message(PyObject *type, const char *message) noexcept
{
    PyObject *text = PyUnicode_DecodeUTF8(message, static_cast<Py_ssize_t>(std::strlen(message)),
                                          "replace");
    if (text == nullptr) return;  // MemoryError is set
    PyErr_SetObject(type, text);
    Py_DECREF(text);
}
}  // namespace detail

// Call inside a catch block: sets the Python exception that corresponds to the C++ exception
// being handled (table in the header comment). Then return NULL / -1 to CPython.
inline void translate_current_exception(Python py) noexcept
{
    try {
        throw;
    } catch (const PyErr &err) {
        err.restore(py);
    } catch (const std::bad_alloc &) {
        PyErr_NoMemory();
    } catch (const std::out_of_range &e) {
        detail::set_error_message(PyExc_IndexError, e.what());
    } catch (const std::invalid_argument &e) {
        detail::set_error_message(PyExc_ValueError, e.what());
    } catch (const std::domain_error &e) {
        detail::set_error_message(PyExc_ValueError, e.what());
    } catch (const std::overflow_error &e) {
        detail::set_error_message(PyExc_OverflowError, e.what());
    } catch (const std::exception &e) {
        detail::set_error_message(PyExc_RuntimeError, e.what());
    } catch (...) {  // callers have let a forced unwind through already (PYO3CPP_CATCH_ALL)
        PyErr_SetString(PyExc_SystemError, "unknown C++ exception");
    }
}

// ------------------------------------------------------------------------- argument names

template <class V> struct ArgDefault {
    const char *name;
    V value;
};

struct Arg {
    const char *name;
    // arg("lo") = 0: the parameter may be omitted; the value is converted to its C++ type.
    template <class V> ArgDefault<std::decay_t<V>> operator=(V &&value) const
    {
        return ArgDefault<std::decay_t<V>>{name, std::forward<V>(value)};
    }
};

// arg("name"): names a Python parameter (see the contract above).
constexpr Arg arg(const char *name) noexcept { return Arg{name}; }

namespace detail {

template <class T> struct is_arg_spec : std::false_type {};
template <> struct is_arg_spec<Arg> : std::true_type {};
template <class V> struct is_arg_spec<ArgDefault<V>> : std::true_type {};
template <class T> inline constexpr bool is_arg_spec_v = is_arg_spec<std::remove_cvref_t<T>>::value;

template <class T> struct spec_default : std::false_type {};
template <class V> struct spec_default<ArgDefault<V>> : std::true_type {};

// ------------------------------------------------------------------- callable signatures

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

// Splits a leading Python token off the parameter list.
template <class List> struct python_params;
template <> struct python_params<type_list<>> {
    static constexpr bool takes_token = false;
    using params = type_list<>;
};
template <class First, class... Rest> struct python_params<type_list<First, Rest...>> {
    static constexpr bool takes_token = std::is_same_v<std::remove_cvref_t<First>, Python>;
    using params = std::conditional_t<takes_token, type_list<std::remove_cvref_t<Rest>...>,
                                      type_list<std::remove_cvref_t<First>,
                                                std::remove_cvref_t<Rest>...>>;
};

// ------------------------------------------------------------------- parameter conversion

template <class T> constexpr const char *expected_type_name()
{
    if constexpr (requires { FromPython<T>::type_name; })
        return FromPython<T>::type_name;
    else if constexpr (std::is_same_v<T, bool>)
        return "bool";
    else if constexpr (std::is_integral_v<T>)
        return "int";
    else if constexpr (std::is_floating_point_v<T>)
        return "float";
    else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view>)
        return "str";
    else
        return nullptr;
}

template <class P> struct param {
    static constexpr bool optional = false;
    static constexpr const char *expected = expected_type_name<P>();
    static P convert(Python py, PyObject *object)
    {
        static_assert(Extractable<P>,
                      "pyo3cpp::ModuleDef::def: no FromPython<T> conversion for a parameter type "
                      "(include the conversions, specialise FromPython<T>, or take Borrowed<PyAny>)");
        return extract<P>(Borrowed<PyAny>::from_ptr(py, object));
    }
};
template <class T> struct param<Borrowed<T>> {
    static constexpr bool optional = false;
    static constexpr const char *expected = type_traits<T>::name;
    static Borrowed<T> convert(Python py, PyObject *object)
    {
        auto any = Borrowed<PyAny>::from_ptr(py, object);
        if constexpr (std::is_same_v<T, PyAny>)
            return any;
        else
            return any.template cast<T>();
    }
};
template <class T> struct param<Bound<T>> {
    static constexpr bool optional = false;
    static constexpr const char *expected = type_traits<T>::name;
    static Bound<T> convert(Python py, PyObject *object)
    {
        return param<Borrowed<T>>::convert(py, object).to_owned();
    }
};
template <class T> struct param<Py<T>> {
    static constexpr bool optional = false;
    static constexpr const char *expected = type_traits<T>::name;
    static Py<T> convert(Python py, PyObject *object)
    {
        return param<Borrowed<T>>::convert(py, object).unbind();
    }
};
template <class T> struct param<std::optional<T>> {
    static constexpr bool optional = true;
    static constexpr const char *expected = param<T>::expected;
    static std::optional<T> convert(Python py, PyObject *object)
    {
        if (object == Py_None) return std::nullopt;
        return std::optional<T>(param<T>::convert(py, object));
    }
};

// ----------------------------------------------------------------------- result conversion

template <class T> struct owner_kind {
    static constexpr bool bound = false, py = false, borrowed = false;
};
template <class T> struct owner_kind<Bound<T>> {
    static constexpr bool bound = true, py = false, borrowed = false;
};
template <class T> struct owner_kind<Py<T>> {
    static constexpr bool bound = false, py = true, borrowed = false;
};
template <class T> struct owner_kind<Borrowed<T>> {
    static constexpr bool bound = false, py = false, borrowed = true;
};

template <class R> PyObject *result_to_python(Python py, R &&result)
{
    using T = std::remove_cvref_t<R>;
    static_assert(!std::is_same_v<T, PyObject *>,
                  "return Bound<PyAny> (a new reference) instead of PyObject*: a raw pointer does "
                  "not say whether it owns a reference");
    if constexpr (owner_kind<T>::bound || owner_kind<T>::py) {
        if (result.is_null()) {
            PyErr_SetString(PyExc_SystemError, "a pyo3cpp function returned a null reference");
            return nullptr;
        }
        if constexpr (std::is_lvalue_reference_v<R>) {
            Py_INCREF(result.as_ptr());  // returned by reference: the caller gets a new one
            return result.as_ptr();
        } else {
            return std::move(result).into_ptr();
        }
    } else if constexpr (owner_kind<T>::borrowed) {
        Py_INCREF(result.as_ptr());
        return result.as_ptr();
    } else {
        return into_py(py, result).into_ptr();
    }
}

template <class F, class... A> PyObject *call_and_convert(Python py, F &fn, A &&...args)
{
    using R = std::invoke_result_t<F &, A...>;
    if constexpr (std::is_void_v<R>) {
        std::invoke(fn, std::forward<A>(args)...);
        Py_INCREF(Py_None);
        return Py_None;
    } else {
        return result_to_python(py, std::invoke(fn, std::forward<A>(args)...));
    }
}

// Converts whatever add() was given into a Python object (a new reference as Bound).
template <class T> Bound<PyAny> to_python_value(Python py, T &&value)
{
    using V = std::remove_cvref_t<T>;
    if constexpr (std::is_invocable_v<T &, Python>) {
        return to_python_value(py, std::invoke(value, py));
    } else if constexpr (owner_kind<V>::bound) {
        return Bound<PyAny>(value);
    } else if constexpr (owner_kind<V>::borrowed) {
        return value.as_any().to_owned();
    } else if constexpr (owner_kind<V>::py) {
        return value.bind(py);
    } else {
        return into_py(py, value);
    }
}

// --------------------------------------------------------------------- function records

// One registered function; lives as long as the process (module objects reference it).
struct FunctionRecord {
    using Invoke = PyObject *(*)(const FunctionRecord *, PyObject *const *, Py_ssize_t, PyObject *);
    PyMethodDef method{};
    Invoke invoke = nullptr;
    std::string name;
    std::string doc;
    // def_raw<&fn>: method.ml_meth is fn's own generated entry, called with the module as
    // `self` (no capsule, invoke unused).
    bool self_is_module = false;
    virtual ~FunctionRecord() = default;
};

template <class List> struct to_tuple_impl;
template <class... P> struct to_tuple_impl<type_list<P...>> {
    using type = std::tuple<P...>;
};
template <class List> using to_tuple = typename to_tuple_impl<List>::type;

// The C entry point of every function: `self` is a capsule holding its record.
inline PyObject *function_trampoline(PyObject *self, PyObject *const *args, Py_ssize_t nargs,
                                     PyObject *kwnames)
{
    auto *record = static_cast<const FunctionRecord *>(PyCapsule_GetPointer(self, nullptr));
    if (record == nullptr) return nullptr;
    return record->invoke(record, args, nargs, kwnames);
}

inline bool keyword_is(PyObject *key, const char *name) noexcept
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyUnicode_EqualToUTF8(key, name) == 1;
#else
    Py_ssize_t size = 0;
    const char *utf8 = PyUnicode_AsUTF8AndSize(key, &size);
    if (utf8 == nullptr) {
        PyErr_Clear();
        return false;
    }
    return std::strlen(name) == static_cast<std::size_t>(size) &&
           std::memcmp(utf8, name, static_cast<std::size_t>(size)) == 0;
#endif
}

[[noreturn]] inline void raise_arity(Python py, const char *function, std::size_t min_args,
                                     std::size_t max_args, Py_ssize_t given)
{
    std::string takes = min_args == max_args
                            ? std::to_string(max_args)
                            : "from " + std::to_string(min_args) + " to " + std::to_string(max_args);
    PyErr_Format(PyExc_TypeError, "%s() takes %s positional argument%s but %zd %s given", function,
                 takes.c_str(), max_args == 1 ? "" : "s", given, given == 1 ? "was" : "were");
    throw_fetched(py);
}

// Rewrites a conversion failure so that it names the function and the argument.
[[noreturn]] inline void raise_argument_error(Python py, const PyErr &err, const char *function,
                                              const std::string &label, const char *expected,
                                              bool optional, PyObject *object)
{
    if (!err.matches(py, PyExc_TypeError)) throw err;  // OverflowError, ValueError, ...: as is
    if (expected != nullptr) {
        PyErr_Format(PyExc_TypeError, "%s() argument %s must be %s%s, not %.200s", function,
                     label.c_str(), expected, optional ? " or None" : "", Py_TYPE(object)->tp_name);
    } else {
        PyErr_Format(PyExc_TypeError, "%s() argument %s: %s", function, label.c_str(), err.what());
    }
    throw_fetched(py);
}

template <class F, class... Specs> struct TypedFunction final : FunctionRecord {
    using traits = callable_traits<F>;
    using split = python_params<typename traits::args>;
    using params = typename split::params;
    static constexpr std::size_t arity = params::size;
    static constexpr bool named = sizeof...(Specs) > 0;
    static_assert(!named || sizeof...(Specs) == arity,
                  "pyo3cpp::ModuleDef::def: give one arg(\"name\") per Python parameter, or none");

    F fn;
    std::tuple<Specs...> specs;
    std::array<const char *, named ? arity : 0> names{};

    TypedFunction(F f, Specs... s) : fn(std::move(f)), specs(std::move(s)...)
    {
        if constexpr (named)
            std::apply([&](const auto &...spec) { names = {spec.name...}; }, specs);
        invoke = &TypedFunction::call;
    }

    template <std::size_t I> static constexpr bool has_default()
    {
        if constexpr (named)
            return spec_default<std::tuple_element_t<I, std::tuple<Specs...>>>::value;
        else
            return false;
    }

    using values_tuple = to_tuple<params>;
    template <std::size_t... I> static constexpr auto required_flags(std::index_sequence<I...>)
    {
        return std::array<bool, arity>{
            (!has_default<I>() && !param<std::tuple_element_t<I, values_tuple>>::optional)...};
    }

    // "f(a, x, lo=0, hi=None)\n--\n\n" for __text_signature__ (inspect.signature), or "" when
    // a default has no obvious Python spelling.
    std::string text_signature() const
    {
        if constexpr (!named)
            return std::string();
        else
            return text_signature_of(std::make_index_sequence<arity>());
    }
    template <std::size_t... I> std::string text_signature_of(std::index_sequence<I...>) const
    {
        std::string sig = name + "(";
        bool ok = true;
        ((sig += (I ? ", " : ""), sig += std::get<I>(specs).name, render<I>(sig, ok)), ...);
        return ok ? sig + ")\n--\n\n" : std::string();
    }
    template <std::size_t I> void render(std::string &sig, bool &ok) const
    {
        if constexpr (has_default<I>())
            render_default(std::get<I>(specs), sig, ok);
        else if constexpr (param<std::tuple_element_t<I, values_tuple>>::optional)
            sig += "=None";
    }
    static void render_default(const Arg &, std::string &, bool &) {}
    template <class V> static void render_default(const ArgDefault<V> &spec, std::string &sig, bool &ok)
    {
        if constexpr (std::is_same_v<V, std::nullopt_t>)
            sig += "=None";
        else if constexpr (std::is_same_v<V, bool>)
            sig += spec.value ? "=True" : "=False";
        else if constexpr (std::is_integral_v<V>)
            sig += "=" + std::to_string(spec.value);
        else
            ok = false;
    }

    static constexpr std::size_t min_positional()
    {
        constexpr auto required = required_flags(std::make_index_sequence<arity>());
        std::size_t n = 0;
        for (std::size_t i = 0; i < arity; ++i)
            if (required[i]) n = i + 1;
        return n;
    }

    std::string label(std::size_t i) const
    {
        if constexpr (named)
            return "'" + std::string(names[i]) + "'";
        else
            return std::to_string(i + 1);
    }

    template <std::size_t I>
    std::tuple_element_t<I, values_tuple> convert_one(Python py, PyObject *const *slots) const
    {
        using P = std::tuple_element_t<I, values_tuple>;
        PyObject *object = slots[I];
        if (object == nullptr) {
            if constexpr (has_default<I>()) {
                const auto &value = std::get<I>(specs).value;
                static_assert(std::is_constructible_v<P, const decltype(value) &>,
                              "pyo3cpp::arg default: the value cannot initialise the parameter's "
                              "type (for an optional Python object take std::optional<...>)");
                return P(value);
            } else if constexpr (param<P>::optional) {
                return P(std::nullopt);
            } else {
                throw PyErr::new_err(py, PyExc_SystemError, "pyo3cpp: missing argument slipped through");
            }
        } else {
            try {
                return param<P>::convert(py, object);
            } catch (const PyErr &err) {
                raise_argument_error(py, err, name.c_str(), label(I), param<P>::expected,
                                     param<P>::optional, object);
            }
        }
    }

    template <std::size_t... I>
    PyObject *convert_and_call(Python py, PyObject *const *slots, std::index_sequence<I...>) const
    {
        (void)slots;  // unused when the function takes no arguments
        // Braced initialisation converts left to right, like CPython.
        values_tuple values{convert_one<I>(py, slots)...};
        auto &callable = const_cast<F &>(fn);
        if constexpr (split::takes_token)
            return call_and_convert(py, callable, py, std::get<I>(std::move(values))...);
        else
            return call_and_convert(py, callable, std::get<I>(std::move(values))...);
    }

    static PyObject *call(const FunctionRecord *base, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames)
    {
        const auto *self = static_cast<const TypedFunction *>(base);
        Python py = Python::assume_attached();
        try {
            return self->bind_and_call(py, args, nargs, kwnames);
        } PYO3CPP_CATCH_ALL {
            translate_current_exception(py);
            return nullptr;
        }
    }

    PyObject *bind_and_call(Python py, PyObject *const *args, Py_ssize_t nargs,
                            PyObject *kwnames) const
    {
        constexpr auto required = required_flags(std::make_index_sequence<arity>());
        constexpr std::size_t min_args = min_positional();
        const char *fname = name.c_str();
        if (static_cast<std::size_t>(nargs) > arity) raise_arity(py, fname, min_args, arity, nargs);
        std::array<PyObject *, (arity > 0 ? arity : 1)> slots{};
        for (Py_ssize_t i = 0; i < nargs; ++i) slots[static_cast<std::size_t>(i)] = args[i];
        const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
        if (nkw > 0) {
            if constexpr (!named) {
                PyErr_Format(PyExc_TypeError, "%s() takes no keyword arguments", fname);
                throw_fetched(py);
            } else {
                for (Py_ssize_t k = 0; k < nkw; ++k) {
                    PyObject *key = PyTuple_GET_ITEM(kwnames, k);
                    std::size_t j = 0;
                    while (j < arity && !keyword_is(key, names[j])) ++j;
                    if (j == arity) {
                        PyErr_Format(PyExc_TypeError,
                                     "%s() got an unexpected keyword argument '%U'", fname, key);
                        throw_fetched(py);
                    }
                    if (slots[j] != nullptr) {
                        PyErr_Format(PyExc_TypeError, "%s() got multiple values for argument '%s'",
                                     fname, names[j]);
                        throw_fetched(py);
                    }
                    slots[j] = args[nargs + k];
                }
            }
        }
        for (std::size_t j = 0; j < arity; ++j) {
            if (slots[j] != nullptr || !required[j]) continue;
            if constexpr (named) {
                PyErr_Format(PyExc_TypeError, "%s() missing required argument '%s' (pos %zu)",
                             fname, names[j], j + 1);
                throw_fetched(py);
            } else {
                raise_arity(py, fname, min_args, arity, nargs);
            }
        }
        return convert_and_call(py, slots.data(), std::make_index_sequence<arity>());
    }
};

template <class F> struct RawFunction final : FunctionRecord {
    F fn;
    static_assert(std::is_invocable_v<F &, Python, const Borrowed<PyAny> *, Py_ssize_t,
                                      Borrowed<PyAny>>,
                  "pyo3cpp::ModuleDef::def_raw: the callable must take (Python, const "
                  "Borrowed<PyAny> *args, Py_ssize_t nargs, Borrowed<PyAny> kwnames)");

    explicit RawFunction(F f) : fn(std::move(f)) { invoke = &RawFunction::call; }

    static PyObject *call(const FunctionRecord *base, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames)
    {
        const auto *self = static_cast<const RawFunction *>(base);
        Python py = Python::assume_attached();
        try {
            // Borrowed<PyAny> is layout-identical to PyObject* (static_asserts in borrowed.hpp).
            const auto *argv = reinterpret_cast<const Borrowed<PyAny> *>(args);
            const auto keywords = Borrowed<PyAny>::from_ptr(py, kwnames);
            return call_and_convert(py, const_cast<F &>(self->fn), py, argv, nargs, keywords);
        } PYO3CPP_CATCH_ALL {
            translate_current_exception(py);
            return nullptr;
        }
    }
};

// ----------------------------------------------------- def_raw<&fn>: compile-time raw entries

// fn's parameters after `Python`: an optional leading Borrowed<PyModule>, then one of the four
// calling conventions (header comment).
template <class List> struct raw_params {
    static constexpr bool takes_token = false, takes_module = false;
    using rest = List;
};
template <class... Rest> struct raw_params<type_list<Python, Rest...>> {
    static constexpr bool takes_token = true, takes_module = false;
    using rest = type_list<Rest...>;
};
template <class... Rest> struct raw_params<type_list<Python, Borrowed<PyModule>, Rest...>> {
    static constexpr bool takes_token = true, takes_module = true;
    using rest = type_list<Rest...>;
};

template <class List> inline constexpr int raw_flags = 0;  // 0: not a raw signature
template <> inline constexpr int raw_flags<type_list<>> = METH_NOARGS;
template <> inline constexpr int raw_flags<type_list<Borrowed<PyAny>>> = METH_O;
template <>
inline constexpr int raw_flags<type_list<const Borrowed<PyAny> *, Py_ssize_t>> = METH_FASTCALL;
template <>
inline constexpr int raw_flags<type_list<const Borrowed<PyAny> *, Py_ssize_t, Borrowed<PyAny>>> =
    METH_FASTCALL | METH_KEYWORDS;

// The C functions CPython calls for def_raw<Fn>: one per Fn, instantiated at compile time, so a
// call is CPython's dispatch straight into Fn (inlined here), with exceptions translated.
template <auto Fn> struct StaticRawEntry {
    using params = raw_params<typename callable_traits<decltype(Fn)>::args>;
    static constexpr int flags = raw_flags<typename params::rest>;
    static_assert(params::takes_token && flags != 0,
                  "pyo3cpp::ModuleDef::def_raw<fn>: fn must take (Python [, Borrowed<PyModule>]) "
                  "then (), (Borrowed<PyAny>), (const Borrowed<PyAny> *, Py_ssize_t) or (const "
                  "Borrowed<PyAny> *, Py_ssize_t, Borrowed<PyAny> kwnames)");

    template <class... A> static PyObject *run(PyObject *module, A... args)
    {
        static constexpr auto fn = Fn;
        Python py = Python::assume_attached();
        try {
            if constexpr (params::takes_module)
                return call_and_convert(py, fn, py,
                                        Borrowed<PyAny>::from_ptr(py, module).cast_unchecked<PyModule>(),
                                        args...);
            else
                return call_and_convert(py, fn, py, args...);
        } PYO3CPP_CATCH_ALL {
            translate_current_exception(py);
            return nullptr;
        }
    }
    // Borrowed<PyAny> is layout-identical to PyObject* (static_asserts in borrowed.hpp).
    static const Borrowed<PyAny> *view(PyObject *const *args) noexcept
    {
        return reinterpret_cast<const Borrowed<PyAny> *>(args);
    }
    static PyObject *no_args(PyObject *module, PyObject *) { return run(module); }
    static PyObject *one_arg(PyObject *module, PyObject *arg)
    {
        return run(module, Borrowed<PyAny>::from_ptr(Python::assume_attached(), arg));
    }
    static PyObject *fastcall(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
    {
        return run(module, view(args), nargs);
    }
    static PyObject *fastcall_keywords(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                                       PyObject *kwnames)
    {
        return run(module, view(args), nargs,
                   Borrowed<PyAny>::from_ptr(Python::assume_attached(), kwnames));
    }

    // ml_meth for this convention (CPython casts it back according to ml_flags).
    static PyCFunction method() noexcept
    {
        if constexpr (flags == METH_NOARGS)
            return &no_args;
        else if constexpr (flags == METH_O)
            return &one_arg;
        else if constexpr (flags == METH_FASTCALL)
            return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(&fastcall));
        else
            return reinterpret_cast<PyCFunction>(
                reinterpret_cast<void (*)(void)>(&fastcall_keywords));
    }
};

}  // namespace detail

// ------------------------------------------------------------------------------ ModuleDef

class ModuleDef {
public:
    explicit ModuleDef(const char *name) : name_(name) { holder_.owner = this; }
    ModuleDef(const ModuleDef &) = delete;
    ModuleDef &operator=(const ModuleDef &) = delete;

    // The module's docstring.
    ModuleDef &doc(const char *text)
    {
        doc_ = text;
        return *this;
    }

    // A function from a C++ callable: def("name", fn, [doc], arg("a"), arg("b") = 1, ...).
    template <class F, class... Specs>
        requires(detail::is_arg_spec_v<Specs> && ...)
    ModuleDef &def(const char *name, F &&fn, Specs &&...specs)
    {
        return def(name, std::forward<F>(fn), static_cast<const char *>(nullptr),
                   std::forward<Specs>(specs)...);
    }
    template <class F, class... Specs>
        requires(detail::is_arg_spec_v<Specs> && ...)
    ModuleDef &def(const char *name, F &&fn, const char *doc, Specs &&...specs)
    {
        using Record = detail::TypedFunction<std::decay_t<F>, std::remove_cvref_t<Specs>...>;
        auto record = std::make_unique<Record>(std::decay_t<F>(std::forward<F>(fn)),
                                               std::remove_cvref_t<Specs>(std::forward<Specs>(specs))...);
        record->name = name;
        std::string text_signature = record->text_signature();
        return add_function(std::move(record), name, doc, text_signature);
    }

    // A function that takes the vectorcall arguments as they come (see the contract above).
    template <class F> ModuleDef &def_raw(const char *name, F &&fn, const char *doc = nullptr)
    {
        using Record = detail::RawFunction<std::decay_t<F>>;
        return add_function(std::make_unique<Record>(std::decay_t<F>(std::forward<F>(fn))), name,
                            doc, std::string());
    }

    // A function whose C entry point is generated for `Fn` at compile time (see the contract
    // above): def_raw<&heappop>("heappop", "heappop($module, heap, /)\n--\n\nPop ...").
    template <auto Fn> ModuleDef &def_raw(const char *name, const char *doc = nullptr)
    {
        using Entry = detail::StaticRawEntry<Fn>;
        auto record = std::make_unique<detail::FunctionRecord>();
        record->self_is_module = true;
        detail::FunctionRecord &added = *record;
        add_function(std::move(record), name, doc, std::string());
        added.method.ml_meth = Entry::method();
        added.method.ml_flags = Entry::flags;
        return *this;
    }

    // module.<name> = value at exec: a Python object (Bound/Py/Borrowed), a C++ value
    // (IntoPython), or a callable taking Python that returns either (run at exec).
    template <class T> ModuleDef &add(const char *name, T value)
    {
        steps_.push_back([name, value = std::move(value)](Python py, PyObject *module) mutable {
            Bound<PyAny> object = detail::to_python_value(py, value);
            check_status(py, PyModule_AddObjectRef(module, name, object.as_ptr()));
        });
        return *this;
    }

    // A submodule `parent.name`, defined by build(ModuleDef &) now. It is built completely,
    // entered in sys.modules and set as an attribute of the parent while the parent is being
    // created — before the import system publishes the parent in sys.modules. That order is
    // what makes concurrent `import parent.sub` safe: CPython's import of a dotted name checks
    // only whether the parent is *in* sys.modules (not whether its exec has finished), so a
    // submodule registered during exec could be looked for too early ("not a package").
    template <class Build> ModuleDef &submodule(const char *name, Build &&build)
    {
        auto child = std::make_unique<ModuleDef>(name);
        std::forward<Build>(build)(*child);
        children_.push_back(std::move(child));
        return *this;
    }

    // Runs fn(Python, Borrowed<PyModule>) at exec, after the steps written before it.
    template <class F> ModuleDef &on_exec(F &&fn)
    {
        steps_.push_back([fn = std::forward<F>(fn)](Python py, PyObject *module) mutable {
            fn(py, Borrowed<PyAny>::from_ptr(py, module).cast_unchecked<PyModule>());
        });
        return *this;
    }

    // Opt out of free-threading: the module declares Py_MOD_GIL_USED, and a free-threaded
    // CPython re-enables the GIL when it is imported (with a RuntimeWarning).
    ModuleDef &gil_used(bool used = true)
    {
        gil_used_ = used;
        return *this;
    }

    const char *name() const noexcept { return name_; }

    // For PYO3CPP_MODULE: runs define(def) and returns the initialised PyModuleDef.
    static PyObject *create(const char *name, void (*define)(ModuleDef &))
    {
        auto def = std::make_unique<ModuleDef>(name);
        define(*def);
        PyObject *result = def->initialise();
        (void)def.release();  // lives for the process: module objects refer to it
        return result;
    }

private:
    // Standard layout, PyModuleDef first: the exec slot gets back to its ModuleDef from the
    // PyModuleDef CPython hands it (PyModule_GetDef).
    struct Holder {
        PyModuleDef def;
        ModuleDef *owner;
    };
    static_assert(std::is_standard_layout_v<Holder>);

    ModuleDef &add_function(std::unique_ptr<detail::FunctionRecord> record, const char *name,
                            const char *doc, const std::string &text_signature)
    {
        record->name = name;
        record->doc = text_signature + (doc ? doc : "");
        record->method.ml_name = record->name.c_str();
        record->method.ml_meth = reinterpret_cast<PyCFunction>(
            reinterpret_cast<void (*)(void)>(&detail::function_trampoline));
        record->method.ml_flags = METH_FASTCALL | METH_KEYWORDS;
        record->method.ml_doc = record->doc.empty() ? nullptr : record->doc.c_str();
        functions_.push_back(std::move(record));
        return *this;
    }

    PyObject *initialise()
    {
        slots_.push_back({Py_mod_create, reinterpret_cast<void *>(&ModuleDef::create_slot)});
        slots_.push_back({Py_mod_exec, reinterpret_cast<void *>(&ModuleDef::exec_slot)});
#if PY_VERSION_HEX >= 0x030C0000
        // The runtime's state is process-wide (once-cells, intern/import caches, the pool):
        // CPython refuses the import in a subinterpreter. On 3.11 the runtime check in
        // create_slot refuses it (ImportError saying why).
        slots_.push_back(
            {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED});
#endif
#if PY_VERSION_HEX >= 0x030D0000
        slots_.push_back({Py_mod_gil, gil_used_ ? Py_MOD_GIL_USED : Py_MOD_GIL_NOT_USED});
#endif
        slots_.push_back({0, nullptr});
        PyModuleDef def = {PyModuleDef_HEAD_INIT, name_, doc_, 0, nullptr, slots_.data(),
                           nullptr, nullptr, nullptr};
        holder_.def = def;
        return PyModuleDef_Init(&holder_.def);
    }

    // Runs before the import system puts the module in sys.modules: the runtime check, then the
    // module object with its submodules complete (see submodule()).
    static PyObject *create_slot(PyObject *spec, PyModuleDef *def)
    {
        Python py = Python::assume_attached();
        ModuleDef *self = reinterpret_cast<Holder *>(def)->owner;
        if (PYO3CPP_CHECK_RUNTIME(self->name_) != 0) return nullptr;
        try {
            auto name = Bound<PyAny>::from_owned_ptr(py, PyObject_GetAttrString(spec, "name"));
            auto module = Bound<PyAny>::from_owned_ptr(py, PyModule_NewObject(name.as_ptr()));
            try {
                self->build_children(py, module.as_ptr());
            } PYO3CPP_CATCH_ALL {
                self->forget_children(py, module.as_ptr());
                throw;
            }
            return std::move(module).into_ptr();
        } PYO3CPP_CATCH_ALL {
            translate_current_exception(py);
            return nullptr;
        }
    }

    static int exec_slot(PyObject *module)
    {
        Python py = Python::assume_attached();
        auto *holder = reinterpret_cast<Holder *>(PyModule_GetDef(module));
        if (holder == nullptr) return -1;
        ModuleDef *self = holder->owner;
        try {
            self->populate(py, module);
            return 0;
        } PYO3CPP_CATCH_ALL {
            translate_current_exception(py);
            self->forget_children(py, module);  // the import fails: no orphans in sys.modules
            return -1;
        }
    }

    void build_children(Python py, PyObject *module)
    {
        for (auto &child : children_) child->build_submodule(py, module);
    }

    // Removes this module's submodules (and theirs) from sys.modules, keeping any exception
    // that is being raised.
    void forget_children(Python py, PyObject *module) noexcept
    {
        PyObject *pending = compat::take_raised_exception();
        if (PyObject *parent_name = PyModule_GetNameObject(module)) {
            for (auto &child : children_) {
                if (PyObject *full = PyUnicode_FromFormat("%U.%s", parent_name, child->name_)) {
                    if (PyObject *sub = PyDict_GetItemWithError(PyImport_GetModuleDict(), full)) {
                        Py_INCREF(sub);
                        child->forget_children(py, sub);
                        Py_DECREF(sub);
                    }
                    if (PyDict_DelItem(PyImport_GetModuleDict(), full) < 0) PyErr_Clear();
                    Py_DECREF(full);
                }
                PyErr_Clear();
            }
            Py_DECREF(parent_name);
        }
        PyErr_Clear();
        compat::set_raised_exception(pending);
    }

    // Functions first, then add / submodule / on_exec steps in the order written.
    void populate(Python py, PyObject *module)
    {
        auto module_name = Bound<PyAny>::from_owned_ptr(py, PyModule_GetNameObject(module));
        for (auto &record : functions_) {
            // self: the module for def_raw<&fn> entries, else a capsule holding the record.
            auto self = record->self_is_module
                            ? Bound<PyAny>::from_borrowed_ptr(py, module)
                            : Bound<PyAny>::from_owned_ptr(
                                  py, PyCapsule_New(static_cast<void *>(record.get()), nullptr,
                                                    nullptr));
            auto function = Bound<PyAny>::from_owned_ptr(
                py, PyCFunction_NewEx(&record->method, self.as_ptr(), module_name.as_ptr()));
            check_status(py, PyModule_AddObjectRef(module, record->name.c_str(), function.as_ptr()));
        }
        for (auto &step : steps_) step(py, module);
    }

    void build_submodule(Python py, PyObject *parent)
    {
        auto parent_name = Bound<PyAny>::from_owned_ptr(py, PyModule_GetNameObject(parent));
        auto full_name = Bound<PyAny>::from_owned_ptr(
            py, PyUnicode_FromFormat("%U.%s", parent_name.as_ptr(), name_));
        auto sub = Bound<PyAny>::from_owned_ptr(py, PyModule_NewObject(full_name.as_ptr()));
        if (doc_ != nullptr) check_status(py, PyModule_SetDocString(sub.as_ptr(), doc_));
        build_children(py, sub.as_ptr());
        populate(py, sub.as_ptr());
        check_status(py, PyModule_AddObjectRef(parent, name_, sub.as_ptr()));
        PyObject *modules = PyImport_GetModuleDict();  // borrowed
        check_status(py, PyObject_SetItem(modules, full_name.as_ptr(), sub.as_ptr()));
    }

    Holder holder_{};
    const char *name_;
    const char *doc_ = nullptr;
    bool gil_used_ = false;
    std::vector<std::unique_ptr<detail::FunctionRecord>> functions_;
    std::vector<std::function<void(Python, PyObject *)>> steps_;
    std::vector<std::unique_ptr<ModuleDef>> children_;
    std::vector<PyModuleDef_Slot> slots_;
};

}  // namespace pyo3cpp

// Defines PyInit_<name> for an extension module named `name` (a bare identifier, the same as
// the shared object's base name). The body that follows receives `ModuleDef &var`.
#define PYO3CPP_MODULE(name, var)                                                           \
    static void pyo3cpp_define_module_##name(::pyo3cpp::ModuleDef &var);                    \
    PyMODINIT_FUNC PyInit_##name(void)                                                      \
    {                                                                                       \
        try {                                                                               \
            static PyObject *const definition =                                             \
                ::pyo3cpp::ModuleDef::create(#name, &pyo3cpp_define_module_##name);         \
            return definition;                                                              \
        } PYO3CPP_CATCH_ALL {                                                                     \
            ::pyo3cpp::translate_current_exception(::pyo3cpp::Python::assume_attached());   \
            return nullptr;                                                                 \
        }                                                                                   \
    }                                                                                       \
    static void pyo3cpp_define_module_##name(::pyo3cpp::ModuleDef &var)
