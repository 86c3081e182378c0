// function.hpp — a C++ callable as a Python built-in function: argument binding and conversion,
// result conversion, exception translation. ModuleDef::def (module.hpp) is its user; this header
// is the machinery.
//
// Contract (what ModuleDef::def promises its callers):
//   - Parameters of the C++ callable:
//       * a leading `Python` is the token (not a Python argument);
//       * Borrowed<PyAny> / Bound<PyAny> / Py<PyAny>: the argument itself, no conversion;
//         Borrowed<T> / Bound<T> / Py<T> for another tag: checked like cast<T>();
//       * std::optional<T>: may be omitted (std::nullopt) and accepts None (std::nullopt);
//       * Args / Kwargs (arg.hpp): *args and **kwargs;
//       * anything else T: FromPython<T>::extract (convert.hpp), by value or const reference;
//         views inside containers (std::vector<std::string_view>, map keys) stay valid for the
//         whole call: the call keeps their source objects alive (view_scope.hpp).
//     Names, defaults and markers: arg.hpp. Results: void -> None; Bound/Py/Borrowed -> that
//     object; anything else -> IntoPython.
//   - Errors are worded like CPython's own and always name the function and the argument:
//       "bisect_left() argument 'lo' must be int, not str"
//       "add() argument 1 must be int, not str"                      (positional-only)
//       "f() argument 'counts': key must be str, not int"            (inside a container)
//       "add() takes 2 positional arguments but 3 were given"
//       "bisect_left() missing required argument 'x' (pos 2)"
//       "f() missing required keyword-only argument 'start'"
//       "bisect_left() got an unexpected keyword argument 'key'"
//       "bisect_left() got multiple values for argument 'lo'"
//     (the wording is compiled once, in the runtime: src/function.cpp.)
//   - Exceptions thrown by the callable become Python exceptions (exception_translation.hpp).
//   - A name defined twice is an overload set (overload.hpp); each definition's record is the
//     same, and only the set calls its attempt_overload.
//   - The function object is a built-in (builtin_method, a subtype of
//     builtin_function_or_method): `__self__` is the module, `__module__` and `__qualname__` are
//     right, inspect.signature and help() read its __text_signature__, pickle and copy treat it
//     as a global of its module (so ProcessPoolExecutor can send it to a worker).
// Thread: functions run on whatever thread calls them, attached; on free-threaded builds
// concurrently: protect shared state with critical sections or Mutex. A stateful (mutable)
// lambda's state is shared by every call on every thread.
// Cost per call: the interpreter calls the function's own vectorcall entry (no METH_* dispatch,
// no capsule): one load to reach the record, then, when the call passes exactly the positional
// arguments and no keywords, the conversions and the call, inlined; otherwise one call into the
// runtime that binds keywords, defaults and *args/**kwargs. No heap allocation of its own.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <array>
#include <atomic>
#include <cstddef>
#include <forward_list>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "pyo3cpp/arg.hpp"
#include "pyo3cpp/attach.hpp"
#include "pyo3cpp/borrowed.hpp"
#include "pyo3cpp/callable_traits.hpp"
#include "pyo3cpp/convert.hpp"
#include "pyo3cpp/convert_exact.hpp"
#include "pyo3cpp/error.hpp"
#include "pyo3cpp/exception_translation.hpp"
#include "pyo3cpp/forced_unwind.hpp"
#include "pyo3cpp/instance_lock.hpp"
#include "pyo3cpp/type_hint.hpp"
#include "pyo3cpp/view_scope.hpp"

namespace pyo3cpp::detail {

// ------------------------------------------------------------------- parameter conversion

// The type named in "f() argument 'x' must be <type>, not <type>" when the conversion's own
// message is replaced: only for a conversion that declares FromPython<T>::type_name (the
// provided conversions word their failures themselves, in the same form; convert.hpp).
template <class T> constexpr const char *expected_type_name()
{
    if constexpr (requires { FromPython<T>::type_name; })
        return FromPython<T>::type_name;
    else
        return nullptr;
}

// How one parameter type is converted: `expected` names it in a top-level TypeError (nullptr:
// the conversion's own message, prefixed), `optional` says it may be omitted and accepts None.
template <class P> struct param {
    static constexpr bool optional = false;
    static constexpr bool variadic = false;
    static constexpr const char *expected = expected_type_name<P>();
    static P convert(Python py, PyObject *object)
    {
        static_assert(Extractable<P>,
                      "pyo3cpp::ModuleDef::def: no FromPython<T> conversion for a parameter type "
                      "(include the conversions, specialise FromPython<T>, or take Borrowed<PyAny>)");
        return FromPython<P>::extract(Borrowed<PyAny>::from_ptr(py, object));
    }
};
// The parameter takes an instance lock while the call converts (class_object.hpp: T& / const T&
// / T of a locked class).
template <class P>
concept locks_instance = requires { requires param<P>::locks_instance; };

template <class T> struct param<Borrowed<T>> {
    static constexpr bool optional = false;
    static constexpr bool variadic = false;
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
    static constexpr bool variadic = false;
    static constexpr const char *expected = type_traits<T>::name;
    static Bound<T> convert(Python py, PyObject *object)
    {
        return param<Borrowed<T>>::convert(py, object).to_owned();
    }
};
template <class T> struct param<Py<T>> {
    static constexpr bool optional = false;
    static constexpr bool variadic = false;
    static constexpr const char *expected = type_traits<T>::name;
    static Py<T> convert(Python py, PyObject *object)
    {
        return param<Borrowed<T>>::convert(py, object).unbind();
    }
};
template <class T> struct param<std::optional<T>> {
    static constexpr bool optional = true;
    static constexpr bool variadic = false;
    static constexpr const char *expected = param<T>::expected;
    static std::optional<T> convert(Python py, PyObject *object)
    {
        if (object == Py_None) return std::nullopt;
        return std::optional<T>(param<T>::convert(py, object));
    }
};
template <> struct param<Args> {
    static constexpr bool optional = false;
    static constexpr bool variadic = true;
    static constexpr int kind = PYO3CPP_PARAM_VAR_POSITIONAL;
    static Args convert(Python py, PyObject *object)
    {
        return Args(Bound<PyTuple>::from_borrowed_ptr(py, object));
    }
};
template <> struct param<Kwargs> {
    static constexpr bool optional = false;
    static constexpr bool variadic = true;
    static constexpr int kind = PYO3CPP_PARAM_VAR_KEYWORD;
    static Kwargs convert(Python py, PyObject *object)
    {
        return Kwargs(Bound<PyDict>::from_borrowed_ptr(py, object));
    }
};

// Overload sets (overload.hpp): the definition being tried on this thread, whose refused
// conversions mean "not this one" instead of an error. Read only once a conversion has failed.
struct OverloadMismatch {};
inline thread_local const pyo3cpp_signature *overload_attempt = nullptr;

// The conversion of argument `index` failed with `err`: raise the rewritten error (runtime).
[[noreturn, gnu::cold]] inline void raise_argument_error(Python py, const PyErr &err,
                                                        const pyo3cpp_signature *sig,
                                                        std::size_t index, PyObject *object,
                                                        const char *expected, bool optional)
{
    if (overload_attempt == sig &&
        (err.matches(py, PyExc_TypeError) || err.matches(py, PyExc_ValueError) ||
         err.matches(py, PyExc_OverflowError)))
        throw OverloadMismatch{};
    err.restore(py);
    pyo3cpp_argument_error(sig, static_cast<ptrdiff_t>(index), object, expected, optional ? 1 : 0);
    throw_fetched(py);
}

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
template <> struct owner_kind<Args> : owner_kind<Bound<PyTuple>> {};
template <> struct owner_kind<Kwargs> : owner_kind<Bound<PyDict>> {};

// A result type that is moved into a new Python object instead of converted by IntoPython (a
// bound class returned by value: class_object.hpp specialises this).
template <class T> struct moves_into_python : std::false_type {};

// keep_alive (arg.hpp): who keeps the argument (the nurse), and how (keep_alive.hpp defines it).
// A call whose nurse is its self (a method's instance, a constructor's new object): the call
// type specialises this (class_method.hpp); otherwise the nurse is the result.
template <class F> struct keep_alive_nurse_is_self : std::false_type {};
// A result that is always an instance of a bound class (class_object.hpp specialises this).
template <class R> struct result_is_instance : std::false_type {};
template <bool NurseIsInstance> void keep_alive(Python py, PyObject *nurse, PyObject *patient);

}  // namespace pyo3cpp::detail

// CPython's integer constructors never throw (they return NULL with the error set): said to GCC,
// a call that ends in one (result_to_python below) makes it its tail call even inside a try
// block. (Clang refuses the attribute on a redeclaration; it keeps the plain call.)
#if defined(__GNUC__) && !defined(__clang__)
extern "C" {
PyAPI_FUNC(PyObject *) PyLong_FromLongLong(long long) __attribute__((nothrow));
PyAPI_FUNC(PyObject *) PyLong_FromUnsignedLongLong(unsigned long long) __attribute__((nothrow));
}
#endif

namespace pyo3cpp::detail {

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
    } else if constexpr (moves_into_python<T>::value) {
        return moves_into_python<T>::convert(py, std::forward<R>(result));
    } else if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        // IntoPython's conversion without the throw on NULL: the caller returns NULL with the
        // error set either way, and the call can be the function's last (a tail call).
        if constexpr (std::is_signed_v<T>)
            return PyLong_FromLongLong(result);
        else
            return PyLong_FromUnsignedLongLong(result);
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

// The typing text of a result type, for stubs.
template <class R> std::string result_hint()
{
    using T = std::remove_cvref_t<R>;
    if constexpr (std::is_void_v<T>)
        return "None";
    else
        return type_hint<T>();
}

// --------------------------------------------------------------------- function records

// One bound function; lives as long as the process (function objects point into it). The
// PyMethodDef comes first: a function object's m_ml is the record's address.
struct FunctionRecord {
    PyMethodDef method{};
    pyo3cpp_signature signature{};
    vectorcallfunc entry = nullptr;           // nullptr: a def_raw<&fn> entry (module as self)
    // A METH_FASTCALL | METH_KEYWORDS entry of this function alone (callables whose type is
    // unique to it): the function is then an exact builtin_function_or_method, which the
    // interpreter's call specialisation calls directly; nullptr: a builtin_method (below).
    PyObject *(*fastcall_entry)(PyObject *, PyObject *const *, Py_ssize_t, PyObject *) = nullptr;
    // The type-erased call (context: the record), behind a shared entry of the runtime
    // (pyo3cpp_function_shared_entry) for callables whose type is not unique to the function.
    pyo3cpp_fastcall_invoke invoke = nullptr;
    void (*describe)(FunctionRecord &) = nullptr;  // fills the annotations, at first exec
    void (*refresh_names)(FunctionRecord &, Python) = nullptr;  // at every exec
    // Tries this definition as one of an overload set (overload.hpp); nullptr: it cannot be one.
    pyo3cpp_overload_attempt attempt = nullptr;
    bool show_signature = true;               // prefix the doc with the __text_signature__
    std::string name;
    std::string doc;
    std::vector<pyo3cpp_parameter> parameters;
    std::forward_list<std::string> texts;     // storage for the parameter strings
    std::once_flag prepared;

    static const FunctionRecord &of(PyObject *function) noexcept
    {
        return *reinterpret_cast<const FunctionRecord *>(
            reinterpret_cast<PyCFunctionObject *>(function)->m_ml);
    }

    const char *keep(std::string text) { return texts.emplace_front(std::move(text)).c_str(); }

    // Before the first function object is made: annotations, signature texts, the doc.
    void prepare(Python py)
    {
        std::call_once(prepared, [&] {
            if (describe != nullptr) describe(*this);
            signature.name = name.c_str();
            signature.params = parameters.data();
            signature.count = static_cast<ptrdiff_t>(parameters.size());
            const char *user_doc = doc.empty() ? nullptr : doc.c_str();
            const char *full = pyo3cpp_signature_prepare(&signature, user_doc);
            if (full == nullptr) throw_fetched(py);
            method.ml_name = name.c_str();
            method.ml_doc = show_signature ? full : user_doc;
            if (fastcall_entry != nullptr) {
                method.ml_flags = METH_FASTCALL | METH_KEYWORDS;
                method.ml_meth = reinterpret_cast<PyCFunction>(
                    reinterpret_cast<void (*)(void)>(fastcall_entry));
            } else if (entry != nullptr) {
                // Never called by CPython (the function object's vectorcall slot is the entry,
                // and builtin_method is never specialised); only code that digs the C pointer out
                // of the PyMethodDef reaches it (SystemError). An address of its own: CPython
                // compares and hashes built-ins by (__self__, ml_meth).
                method.ml_flags = METH_FASTCALL | METH_KEYWORDS | METH_METHOD;
                method.ml_meth = reinterpret_cast<PyCFunction>(pyo3cpp_function_misuse_entry());
            }
        });
        if (refresh_names != nullptr) refresh_names(*this, py);
    }
};

static_assert(std::is_standard_layout_v<FunctionRecord>,
              "FunctionRecord must start with its PyMethodDef (m_ml -> record)");

template <class List> struct to_tuple_impl;
template <class... P> struct to_tuple_impl<type_list<P...>> {
    using type = std::tuple<P...>;
};
template <class List> using to_tuple = typename to_tuple_impl<List>::type;

template <class List> struct variadic_flags;
template <class... P> struct variadic_flags<type_list<P...>> {
    static constexpr std::array<bool, sizeof...(P)> value{param<P>::variadic...};
};

template <class F, class... Specs> struct TypedFunction final : FunctionRecord {
    using traits = callable_traits<F>;
    using split = python_params<typename traits::args>;
    using params = typename split::params;
    using values_tuple = to_tuple<params>;
    static constexpr std::size_t arity = params::size;
    static constexpr std::array<bool, arity> variadic = variadic_flags<params>::value;
    static constexpr bool has_variadic = [] {
        for (bool v : variadic)
            if (v) return true;
        return false;
    }();
    static constexpr std::array<bool, sizeof...(Specs)> marker{is_marker_v<Specs>...};
    static constexpr std::size_t named_params = [] {
        std::size_t n = 0;
        for (bool v : variadic) n += v ? 0 : 1;
        return n;
    }();
    static constexpr std::size_t names_given = [] {
        std::size_t n = 0;
        for (bool m : marker) n += m ? 0 : 1;
        return n;
    }();
    static constexpr bool named = names_given > 0;
    // Every parameter can be given by position (no kw_only(), no *args/**kwargs): the fast path
    // binds positional arguments by index.
    static constexpr bool all_positional = !(std::is_same_v<Specs, KwOnlyMarker> || ...) && !has_variadic;
    static_assert(!named || names_given == named_params,
                  "pyo3cpp::ModuleDef::def: give one arg(\"name\") per Python parameter (none for "
                  "Args/Kwargs), or none at all");
    static_assert(named || sizeof...(Specs) == 0,
                  "pyo3cpp::ModuleDef::def: kw_only()/pos_only() need named parameters");

    // The spec (index into Specs) that names C++ parameter I.
    template <std::size_t I> static constexpr std::size_t spec_of()
    {
        std::size_t nth = 0;  // I's position among the non-variadic parameters
        for (std::size_t i = 0; i < I; ++i) nth += variadic[i] ? 0 : 1;
        for (std::size_t s = 0; s < marker.size(); ++s)
            if (!marker[s] && nth-- == 0) return s;
        return 0;
    }
    template <std::size_t I> static constexpr bool has_default()
    {
        if constexpr (named && !variadic[I])
            return spec_default<std::tuple_element_t<spec_of<I>(), std::tuple<Specs...>>>::value;
        else
            return false;
    }

    F fn;
    std::tuple<Specs...> specs;
    // The parameter names as interned strings, for the inline keyword path (pointer compares),
    // refreshed at every exec (after CPython re-initialises, the old ones are gone); a keyword
    // that is not found here goes to the runtime, which compares by value.
    std::array<std::atomic<PyObject *>, arity> interned_names{};
    std::array<bool, arity> keyword_ok{};

    std::array<bool, arity> required{};         // must be passed (kept in step with parameters)
    std::array<bool, arity> explicit_default{};  // has an arg(...) = value

    static void refresh(FunctionRecord &base, Python py)
    {
        auto &self = static_cast<TypedFunction &>(base);
        for (std::size_t i = 0; i < arity; ++i) {
            if (!self.keyword_ok[i]) continue;
            PyObject *name = PyUnicode_InternFromString(self.parameters[i].name);
            if (name == nullptr) throw_fetched(py);
            self.interned_names[i].store(name, std::memory_order_relaxed);  // kept for good
        }
    }

    // The common keyword call: every keyword names a parameter, as the interned string (CPython
    // interns the names written in calls), none twice, nothing required left out. Anything else
    // returns false and goes to the runtime, which binds the rest and words every error.
    bool bind_keywords_fast(PyObject *const *values, PyObject *kwnames, PyObject **slots) const noexcept
    {
        const Py_ssize_t nkw = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t k = 0; k < nkw; ++k) {
            PyObject *key = PyTuple_GET_ITEM(kwnames, k);
            std::size_t j = 0;
            while (j < arity && interned_names[j].load(std::memory_order_relaxed) != key) ++j;
            if (j == arity || !keyword_ok[j] || slots[j] != nullptr) return false;
            slots[j] = values[k];
        }
        for (std::size_t j = 0; j < arity; ++j)
            if (required[j] && slots[j] == nullptr) return false;
        return true;
    }

    // A captureless lambda, a def<&fn> function or any empty function object has a type of its
    // own: it gets a C entry of its own, found without looking at the callable.
    static constexpr bool unique_type = std::is_empty_v<F> && std::is_default_constructible_v<F>;
    static inline const TypedFunction *sole_instance = nullptr;

    TypedFunction(const TypedFunction &) = delete;
    TypedFunction &operator=(const TypedFunction &) = delete;
    ~TypedFunction()
    {
        if (sole_instance == this) sole_instance = nullptr;
    }

    TypedFunction(const char *function_name, F f, Specs... s) : fn(std::move(f)), specs(std::move(s)...)
    {
        name = function_name;
        entry = &TypedFunction::vectorcall;
        if constexpr (split::takes_self) {
            // A method: called with its object by the class's own entries (class.hpp).
        } else if constexpr (unique_type) {
            // The same lambda defined twice (a helper run for two modules): the second one
            // takes the general path.
            if (sole_instance == nullptr) {
                sole_instance = this;
                fastcall_entry = &TypedFunction::fastcall;
            }
        }
        // A function taking its module's state (ModuleState<S>) needs its __self__, which the
        // shared entries do not pass on: it is a builtin_method unless its type is unique.
        if (!split::takes_self && !split::takes_state && fastcall_entry == nullptr) {
            // Function pointers, capturing lambdas: an entry of the runtime's shared set, when
            // one is left (else a builtin_method, reached through the vectorcall entry only).
            // Methods (split::takes_self) are called through their class's entries instead.
            invoke = [](void *record, PyObject *const *args, ptrdiff_t nargs, PyObject *kwnames) {
                return static_cast<const TypedFunction *>(record)->call(args, nargs, kwnames);
            };
            fastcall_entry = reinterpret_cast<decltype(fastcall_entry)>(
                pyo3cpp_function_shared_entry(invoke, this));
        }
        describe = &TypedFunction::describe_types;
        refresh_names = &TypedFunction::refresh;
        attempt = &TypedFunction::attempt_overload;
        build_parameters(std::make_index_sequence<arity>());
    }

    // Names, kinds, defaults (the annotations wait for describe_types).
    template <std::size_t... I> void build_parameters(std::index_sequence<I...>)
    {
        // Walk the specs in order: the kind each named parameter gets from the markers.
        std::vector<int> named_kinds;
        int kind_now = PYO3CPP_PARAM_POSITIONAL_OR_KEYWORD;
        std::apply(
            [&](const auto &...spec) {
                (
                    [&](const auto &one) {
                        using S = std::remove_cvref_t<decltype(one)>;
                        if constexpr (std::is_same_v<S, PosOnlyMarker>) {
                            for (int &k : named_kinds) k = PYO3CPP_PARAM_POSITIONAL_ONLY;
                        } else if constexpr (std::is_same_v<S, KwOnlyMarker>) {
                            kind_now = PYO3CPP_PARAM_KEYWORD_ONLY;
                        } else {
                            named_kinds.push_back(kind_now);
                        }
                    }(spec),
                    ...);
            },
            specs);
        parameters.reserve(arity);
        [[maybe_unused]] std::size_t next_named = 0;
        [[maybe_unused]] bool after_var_positional = false;
        (add_parameter<I>(named_kinds, next_named, after_var_positional), ...);
        // An optional parameter without a default, followed by a required positional one
        // (f(std::optional<long> a, long b)): Python cannot omit it, so it is required; it still
        // accepts None.
        bool later_required = false;
        for (std::size_t i = parameters.size(); i-- > 0;) {
            pyo3cpp_parameter &p = parameters[i];
            if (p.kind > PYO3CPP_PARAM_POSITIONAL_OR_KEYWORD) continue;
            if (p.required) {
                later_required = true;
            } else if (later_required && !explicit_default[i]) {
                p.required = 1;
                p.default_text = nullptr;
            }
        }
        for (std::size_t i = 0; i < arity; ++i) {
            required[i] = parameters[i].required != 0;
            keyword_ok[i] = parameters[i].kind == PYO3CPP_PARAM_POSITIONAL_OR_KEYWORD ||
                            parameters[i].kind == PYO3CPP_PARAM_KEYWORD_ONLY;
        }
    }

    template <std::size_t I>
    void add_parameter(const std::vector<int> &named_kinds, std::size_t &next_named,
                       bool &after_var_positional)
    {
        using P = std::tuple_element_t<I, values_tuple>;
        pyo3cpp_parameter p{};
        if constexpr (param<P>::variadic) {
            p.kind = param<P>::kind;
            p.name = p.kind == PYO3CPP_PARAM_VAR_POSITIONAL ? "args" : "kwargs";
            p.required = 0;
            if (p.kind == PYO3CPP_PARAM_VAR_POSITIONAL) after_var_positional = true;
        } else {
            if constexpr (named) {
                const auto &spec = std::get<spec_of<I>()>(specs);
                p.name = spec.name;
                p.kind = named_kinds[next_named++];
                if (after_var_positional && p.kind == PYO3CPP_PARAM_POSITIONAL_OR_KEYWORD)
                    p.kind = PYO3CPP_PARAM_KEYWORD_ONLY;
                if constexpr (has_default<I>()) p.default_text = keep(default_text(spec.value));
            } else {
                p.name = keep("arg" + std::to_string(next_named++));
                p.kind = after_var_positional ? PYO3CPP_PARAM_KEYWORD_ONLY
                                              : PYO3CPP_PARAM_POSITIONAL_ONLY;
            }
            if constexpr (!has_default<I>() && param<P>::optional) p.default_text = "None";
            p.required = (has_default<I>() || param<P>::optional) ? 0 : 1;
            explicit_default[I] = has_default<I>();
        }
        parameters.push_back(p);
    }

    static void describe_types(FunctionRecord &base)
    {
        auto &self = static_cast<TypedFunction &>(base);
        self.annotate(std::make_index_sequence<arity>());
        self.signature.return_annotation =
            self.keep(result_hint<typename traits::result>());
    }
    template <std::size_t... I> void annotate(std::index_sequence<I...>)
    {
        ((parameters[I].annotation =
              param<std::tuple_element_t<I, values_tuple>>::variadic
                  ? "object"
                  : keep(param_hint<std::tuple_element_t<I, values_tuple>>())),
         ...);
    }

    // ---- calls

    template <std::size_t I, bool MaybeMissing>
    std::tuple_element_t<I, values_tuple> convert_one(Python py, PyObject *const *slots) const
    {
        using P = std::tuple_element_t<I, values_tuple>;
        PyObject *object = slots[I];
        if constexpr (MaybeMissing && !param<P>::variadic) {
            if (object == nullptr) {
                if constexpr (has_default<I>()) {
                    const auto &value = std::get<spec_of<I>()>(specs).value;
                    static_assert(std::is_constructible_v<P, const decltype(value) &>,
                                  "pyo3cpp::arg default: the value cannot initialise the "
                                  "parameter's type (for an optional Python object take "
                                  "std::optional<...>)");
                    return P(value);
                } else if constexpr (param<P>::optional) {
                    return P(std::nullopt);
                } else {
                    throw PyErr::new_err(py, PyExc_SystemError,
                                         "pyo3cpp: a missing argument slipped through");
                }
            }
        }
        if constexpr (param<P>::variadic) {
            return param<P>::convert(py, object);
        } else {
            try {
                return param<P>::convert(py, object);
            } catch (const PyErr &err) {
                raise_argument_error(py, err, &signature, I, object, param<P>::expected,
                                     param<P>::optional);
            }
        }
    }

    template <bool MaybeMissing, std::size_t... I>
    PyObject *convert_and_call(Python py, PyObject *const *slots, std::index_sequence<I...>,
                               [[maybe_unused]] PyObject *self) const
    {
        (void)slots;  // unused when the function takes no arguments
        // Views inside container parameters keep their sources here until the call returns
        // (view_scope.hpp); nothing at all for calls whose parameters hold no such view. It ends
        // after the values and after the instance locks: releasing a source may run a __del__
        // that calls back into this instance.
        [[maybe_unused]] CallViewScope<(needs_view_scope<std::tuple_element_t<I, values_tuple>>::value || ...)>
            view_scope(py);
        // Instance locks taken by the conversions (and self's, in a method) are ordered by
        // address if one must wait (instance_lock.hpp): the scope ends when the body starts.
        [[maybe_unused]] CallLocks<(locks_instance<std::tuple_element_t<I, values_tuple>> || ...)> call_locks;
        // Braced initialisation converts left to right, like CPython.
        values_tuple values{convert_one<I, MaybeMissing>(py, slots)...};
        if constexpr (!split::takes_self) call_locks.close();
        auto &callable = const_cast<F &>(fn);
        if constexpr (keeps_any_alive()) {
            PyObject *result = call_and_convert_values<I...>(py, callable, values, self);
            if (result != nullptr) keep_arguments_alive<I...>(py, result, slots, self);
            return result;
        } else {
            return call_and_convert_values<I...>(py, callable, values, self);
        }
    }
    template <std::size_t... I>
    static PyObject *call_and_convert_values(Python py, F &callable, values_tuple &values,
                                             [[maybe_unused]] PyObject *self)
    {
        static_assert(!(split::takes_self && split::takes_state),
                      "pyo3cpp: a method reaches its module's state through its class "
                      "(module_state_of_type<S>), not a ModuleState<S> parameter");
        if constexpr (split::takes_state && split::takes_token)
            return call_and_convert(py, callable, split::state_param::from_function_self(py, self), py,
                                    std::get<I>(std::move(values))...);
        else if constexpr (split::takes_state)
            return call_and_convert(py, callable, split::state_param::from_function_self(py, self),
                                    std::get<I>(std::move(values))...);
        else if constexpr (split::takes_self && split::takes_token)
            return call_and_convert(py, callable, MethodSelf{self}, py, std::get<I>(std::move(values))...);
        else if constexpr (split::takes_self)
            return call_and_convert(py, callable, MethodSelf{self}, std::get<I>(std::move(values))...);
        else if constexpr (split::takes_token)
            return call_and_convert(py, callable, py, std::get<I>(std::move(values))...);
        else
            return call_and_convert(py, callable, std::get<I>(std::move(values))...);
    }

    // arg("x").keep_alive(): after a successful call, each such argument given is tied to the
    // nurse (self or the result). A failure drops the result and raises.
    template <std::size_t I> static constexpr bool keeps_alive()
    {
        if constexpr (named && !variadic[I])
            return spec_keeps_alive<std::tuple_element_t<spec_of<I>(), std::tuple<Specs...>>>::value;
        else
            return false;
    }
    static constexpr bool keeps_any_alive()
    {
        return []<std::size_t... I>(std::index_sequence<I...>) { return (keeps_alive<I>() || ... || false); }(
            std::make_index_sequence<arity>());
    }
    template <std::size_t... I>
    static void keep_arguments_alive(Python py, PyObject *&result, PyObject *const *slots, PyObject *self)
    {
        constexpr bool by_self = keep_alive_nurse_is_self<F>::value;
        PyObject *nurse = by_self ? self : result;
        constexpr bool instance = by_self || result_is_instance<std::remove_cvref_t<typename traits::result>>::value;
        try {
            ([&] {
                if constexpr (keeps_alive<I>())
                    if (slots[I] != nullptr) keep_alive<instance>(py, nurse, slots[I]);
            }(), ...);
        } catch (...) {
            Py_CLEAR(result);
            throw;
        }
    }

    // Keywords, omitted arguments, *args/**kwargs: bound by the runtime into one slot each.
    [[gnu::noinline]] PyObject *bind_and_call(Python py, PyObject *const *args, Py_ssize_t nargs,
                                              PyObject *kwnames, PyObject *self) const
    {
        std::array<PyObject *, (arity > 0 ? arity : 1)> slots;
        if (pyo3cpp_bind_arguments(&signature, args, nargs, kwnames, slots.data()) < 0)
            throw_fetched(py);
        // The *args tuple and **kwargs dict are new: owned here until the call returns.
        struct ReleaseVariadic {
            PyObject **slots;
            ~ReleaseVariadic()
            {
                if constexpr (has_variadic)
                    for (std::size_t i = 0; i < arity; ++i)
                        if (variadic[i]) Py_XDECREF(slots[i]);
            }
        } release{slots.data()};
        return convert_and_call<true>(py, slots.data(), std::make_index_sequence<arity>(), self);
    }

    // `self`: the object, for a method record (split::takes_self); the module, for a function
    // taking ModuleState<S> (split::takes_state); ignored otherwise.
    PyObject *call(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                   PyObject *self = nullptr) const
    {
        Python py = Python::assume_attached();
        try {
            if constexpr (!has_variadic) {
                if (kwnames == nullptr) {
                    if (all_positional && nargs == static_cast<Py_ssize_t>(arity)) [[likely]]
                        return convert_and_call<false>(py, args, std::make_index_sequence<arity>(), self);
                } else if (named && nargs <= static_cast<Py_ssize_t>(arity)) {
                    std::array<PyObject *, (arity > 0 ? arity : 1)> slots{};
                    for (Py_ssize_t i = 0; i < nargs; ++i) slots[static_cast<std::size_t>(i)] = args[i];
                    if (bind_keywords_fast(args + nargs, kwnames, slots.data()))
                        return convert_and_call<true>(py, slots.data(),
                                                      std::make_index_sequence<arity>(), self);
                }
            }
            return bind_and_call(py, args, nargs, kwnames, self);
        } PYO3CPP_CATCH_ALL {
            translate_current_exception(py);
            return nullptr;
        }
    }
    // A method's own C entry (DirectMethod, class_method.hpp): the positional call inlined into
    // it, anything else a tail call to call(). Out of line, the call and its argument shuffle
    // cost a locked get() about 10 of its instructions, and the keyword path kept the entry's
    // frame on the positional one.
    [[gnu::always_inline]] PyObject *call_inlined(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                                                  PyObject *self) const
    {
        if constexpr (!has_variadic && all_positional) {
            if (kwnames == nullptr && nargs == static_cast<Py_ssize_t>(arity)) [[likely]] {
                Python py = Python::assume_attached();
                try {
                    return convert_and_call<false>(py, args, std::make_index_sequence<arity>(), self);
                } PYO3CPP_CATCH_ALL {
                    translate_current_exception(py);
                    return nullptr;
                }
            }
        }
        return call(args, nargs, kwnames, self);
    }

    static PyObject *vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                                PyObject *kwnames)
    {
        PyObject *module = split::takes_state ? PyCFunction_GET_SELF(callable) : nullptr;
        return static_cast<const TypedFunction &>(FunctionRecord::of(callable))
            .call(args, PyVectorcall_NARGS(nargsf), kwnames, module);
    }

    // ---- as one definition of an overload set (pyo3cpp_overload_attempt; overload.hpp)

    template <std::size_t... I>
    static bool all_taken_as_is(PyObject *const *slots, std::index_sequence<I...>) noexcept
    {
        (void)slots;
        return ((slots[I] == nullptr || param<std::tuple_element_t<I, values_tuple>>::variadic ||
                 takes_as_is<std::tuple_element_t<I, values_tuple>>(slots[I])) && ...);
    }

    // Only an overload set takes this function's address: a name defined once never runs it.
    static int attempt_overload(void *context, PyObject *self, PyObject *const *args, ptrdiff_t nargs,
                                PyObject *kwnames, int convert, PyObject **result)
    {
        const auto &record = *static_cast<const TypedFunction *>(context);
        Python py = Python::assume_attached();
        if (kwnames == nullptr && !has_variadic) {  // counts that cannot fit: no binding at all
            std::size_t least = 0;
            for (bool r : record.required) least += r ? 1 : 0;
            if (nargs > static_cast<ptrdiff_t>(arity) || nargs < static_cast<ptrdiff_t>(least)) return 0;
            if (all_positional && nargs == static_cast<ptrdiff_t>(arity)) {  // call()'s fast path
                if (convert == 0 && !all_taken_as_is(args, std::make_index_sequence<arity>())) return 0;
                return run_attempt<false>(py, record, args, self, result);
            }
        }
        std::array<PyObject *, (arity > 0 ? arity : 1)> slots{};
        if (pyo3cpp_bind_arguments(&record.signature, args, nargs, kwnames, slots.data()) < 0) {
            if (!PyErr_ExceptionMatches(PyExc_TypeError)) {
                *result = nullptr;  // MemoryError and the like: not a mismatch
                return 1;
            }
            PyErr_Clear();
            return 0;
        }
        struct ReleaseVariadic {
            PyObject **slots;
            ~ReleaseVariadic()
            {
                if constexpr (has_variadic)
                    for (std::size_t i = 0; i < arity; ++i)
                        if (variadic[i]) Py_XDECREF(slots[i]);
            }
        } release{slots.data()};
        if (convert == 0 && !all_taken_as_is(slots.data(), std::make_index_sequence<arity>())) return 0;
        return run_attempt<true>(py, record, slots.data(), self, result);
    }

    // Converts (refusals: 0) and calls (1, the result or the body's exception in *result).
    template <bool MaybeMissing>
    static int run_attempt(Python py, const TypedFunction &record, PyObject *const *slots,
                           PyObject *self, PyObject **result)
    {
        // Refused conversions of this definition throw OverloadMismatch (raise_argument_error)
        // while it is the one being tried; the previous one is back once it returns (a body may
        // call another overload set, or this one again).
        struct Trying {
            const pyo3cpp_signature *previous;
            explicit Trying(const pyo3cpp_signature *sig) : previous(overload_attempt) { overload_attempt = sig; }
            ~Trying() { overload_attempt = previous; }
        };
        try {
            Trying trying(&record.signature);
            *result = record.template convert_and_call<MaybeMissing>(
                py, slots, std::make_index_sequence<arity>(), self);
            return 1;
        } catch (const OverloadMismatch &) {
            return 0;
        } PYO3CPP_CATCH_ALL {
            translate_current_exception(py);
            *result = nullptr;
            return 1;
        }
    }

    static PyObject *fastcall(PyObject *module, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
    {
        if constexpr (split::takes_state) return sole_instance->call(args, nargs, kwnames, module);
        return sole_instance->call(args, nargs, kwnames);
    }
};

// def<&fn>: a function known at compile time, as an empty function object of its own type (so
// it gets its own C entry, like a captureless lambda).
template <auto Fn, class Args = typename callable_traits<decltype(Fn)>::args> struct StaticFunction;
template <auto Fn, class... A> struct StaticFunction<Fn, type_list<A...>> {
    decltype(auto) operator()(A... args) const { return std::invoke(Fn, std::forward<A>(args)...); }
};

// def_raw(name, callable): the vectorcall arguments as they come.
template <class F> struct RawFunction final : FunctionRecord {
    F fn;
    static_assert(std::is_invocable_v<F &, Python, const Borrowed<PyAny> *, Py_ssize_t,
                                      Borrowed<PyAny>>,
                  "pyo3cpp::ModuleDef::def_raw: the callable must take (Python, const "
                  "Borrowed<PyAny> *args, Py_ssize_t nargs, Borrowed<PyAny> kwnames)");

    RawFunction(const char *function_name, F f) : fn(std::move(f))
    {
        name = function_name;
        entry = &RawFunction::vectorcall;  // shows "name(*args, **kwargs)" to inspect and help()
        pyo3cpp_parameter args{"args", nullptr, "object", PYO3CPP_PARAM_VAR_POSITIONAL, 0};
        pyo3cpp_parameter kwargs{"kwargs", nullptr, "object", PYO3CPP_PARAM_VAR_KEYWORD, 0};
        parameters = {args, kwargs};
        signature.return_annotation = keep(result_hint<std::invoke_result_t<
            F &, Python, const Borrowed<PyAny> *, Py_ssize_t, Borrowed<PyAny>>>());
    }

    static PyObject *vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                                PyObject *kwnames)
    {
        const auto &self = static_cast<const RawFunction &>(FunctionRecord::of(callable));
        Python py = Python::assume_attached();
        try {
            // Borrowed<PyAny> is layout-identical to PyObject* (static_asserts in borrowed.hpp).
            const auto *argv = reinterpret_cast<const Borrowed<PyAny> *>(args);
            const auto keywords = Borrowed<PyAny>::from_ptr(py, kwnames);
            return call_and_convert(py, const_cast<F &>(self.fn), py, argv,
                                    PyVectorcall_NARGS(nargsf), keywords);
        } PYO3CPP_CATCH_ALL {
            translate_current_exception(py);
            return nullptr;
        }
    }
};

}  // namespace pyo3cpp::detail
