// callable.hpp — callbacks across the boundary: a Python callable held and called from C++
// (Callable<R(A...)>, std::function<R(A...)> parameters), and a C++ std::function handed to
// Python as a built-in function.
//
//   m.def("apply", [](Callable<long(long)> f, long x) { return f(x); }, arg("f"), arg("x"));
//   m.def("keep", [](std::function<void(std::string)> cb) { g_listener = std::move(cb); });
//   m.def("adder", [](long k) { return std::function<long(long)>([k](long x) { return x + k; }); });
//
// Contract:
//   - Callable<R(A...)>: a typed, storable reference to a Python callable. As a parameter it
//     accepts any object for which callable() is true; anything else is a TypeError naming the
//     argument: "apply() argument 'f' must be callable, not int". Calling it from C++ converts
//     the arguments with IntoPython, calls, converts the result with FromPython<R> (void: the
//     result is dropped). A Python exception raised by the callee is thrown as PyErr carrying
//     it; thrown out of a bound function it is the same exception object in Python again. A
//     result that does not convert is the conversion's error, naming the callee:
//     "on_tick() result must be int, not str" (same exception type, as convert.hpp words them).
//     Arguments of a bound class type reach Python as new instances holding copies.
//     Copying, moving and destroying a Callable is legal on any thread, attached or not (the
//     reference is shared by copies: no refcount operation on copy). The last copy releases the
//     Python object like Py<T>: now when attached, through the runtime's deferred-decref pool
//     on a thread that is not attached, never after the interpreter is finalised (it leaks).
//   - Calling: operator()(args...) attaches the calling thread for the call (any thread: a C++
//     thread Python never saw, a detached thread; a thread already attached calls at once) and
//     throws std::runtime_error when the interpreter is not initialised or is finalising;
//     call(py, args...) is the same for a thread that holds the token. An empty Callable (default
//     constructed, moved from) throws std::bad_function_call.
//   - std::function<R(A...)> parameters: the same check and the same calls (a Callable inside the
//     std::function). A built-in that came from a C++ std::function of exactly this signature
//     comes back as a copy of that std::function (no Python in between).
//   - std::function<R(A...)> results (and IntoPython): a new built-in function object
//     (builtin_function_or_method) named "function" whose parameters are positional-only
//     (arg0, arg1, ...): inspect.signature, __text_signature__ and help() show them, __doc__ starts
//     with the typed line "function(arg0: int) -> int", calls convert and report errors exactly
//     like a module function's ("function() argument 1 must be int, not str"); a T& parameter of
//     a bound class is the instance itself, locked for the call. Its __self__ is
//     the capsule that owns the std::function (released with the function object). A
//     std::function holding a Callable gives back the original Python object; an empty one gives
//     None. Callable<R(A...)> results give back the object they hold (None when empty).
//   - Type hints (stubs, help()): both render as collections.abc.Callable[[A, B], R]. For a
//     parameter, A are the types C++ passes (type_hint) and R what C++ accepts back (param_hint;
//     `object` for void: the result is ignored, as typeshed writes callbacks); for a result, the
//     other way round (R None for void).
//   - Cycles: the capsule is not a GC object, so a C++ function that (through a captured
//     Callable) refers to a Python object that refers back to that function is never collected.
// Thread: Callable and std::function calls on any thread (see above); on free-threaded builds
// concurrent calls of one held callable are as safe as the callee is. Replacing a stored
// std::function while another thread calls it is a C++ data race like any other: guard it (a
// Mutex) and call a copy taken under the guard.
// Cost: a call through Callable is the argument conversions, one PyObject_Vectorcall, the result
// conversion, one incref/decref of the callee (held for the call, so replacing the stored
// callable inside the call is safe) and the attach check (bench/callable_calls.sh). Converting a
// Python callable into a Callable allocates one shared block; into a std::function, that plus
// std::function's own storage.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "pyo3cpp/attach.hpp"
#include "pyo3cpp/borrowed.hpp"
#include "pyo3cpp/call.hpp"
#include "pyo3cpp/convert.hpp"
#include "pyo3cpp/function.hpp"
#include "pyo3cpp/once_lock.hpp"
#include "pyo3cpp/type_hint.hpp"

namespace pyo3cpp {

template <class Signature> class Callable;

namespace detail {

// The shared strong reference behind copies of a Callable (Py<T> rules for its release).
struct HeldCallable {
    Py<PyAny> object;
};

// "<qualname>() result": the subject of a result conversion's error. Cold.
[[gnu::cold, gnu::noinline]] inline std::string callback_result_subject(Python py, PyObject *callee)
{
    std::string name;
    {
        KeepPendingError keep;  // the conversion's error stays set aside while we look
        PyObject *qualname = PyObject_GetAttrString(callee, "__qualname__");
        if (qualname != nullptr && PyUnicode_Check(qualname)) {
            Py_ssize_t size = 0;
            if (const char *text = PyUnicode_AsUTF8AndSize(qualname, &size))
                name.assign(text, static_cast<std::size_t>(size));
        }
        Py_XDECREF(qualname);
    }
    (void)py;
    if (name.empty()) name = python_type_name(callee);
    return name + "() result";
}

// The runtime's own test of attachment, inline: a thread that is attached calls at once (a
// nested attach guard would be two calls into the runtime, about 100 instructions).
inline bool thread_holds_interpreter() noexcept
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyThreadState_GetUnchecked() != nullptr;
#elif PY_VERSION_HEX >= 0x030C0000
    return _PyThreadState_UncheckedGet() != nullptr;
#else
    // Only compared: it may be another thread's state (the GIL holder's).
    PyThreadState *current = _PyThreadState_UncheckedGet();
    return current != nullptr && current == PyGILState_GetThisThreadState();
#endif
}

template <class R> constexpr bool storable_result()
{
    using T = std::remove_cvref_t<R>;
    if constexpr (std::is_void_v<R>)
        return true;
    else if constexpr (std::is_reference_v<R> || std::is_same_v<T, std::string_view>)
        return false;
    else if constexpr (owner_kind<T>::borrowed)
        return false;
    else
        return true;
}

// The typing text of a callable: Callable[[args], result].
template <class... A> std::string callable_args_hint(bool as_parameter)
{
    (void)as_parameter;  // unused when there are no arguments
    std::string text = "[";
    bool first = true;
    ((text += (first ? "" : ", "), first = false,
      text += as_parameter ? type_hint<A>() : param_hint<A>()),
     ...);
    return text + "]";
}

}  // namespace detail

// A typed reference to a Python callable; see the contract at the top.
template <class R, class... A> class Callable<R(A...)> {
    static_assert(detail::storable_result<R>(),
                  "pyo3cpp::Callable<R(A...)>: R must be a value type (not a reference, "
                  "string_view or Borrowed: the Python result does not outlive the call)");

public:
    using result_type = R;

    Callable() noexcept = default;

    // Checked: TypeError "must be callable, not int" for an object callable() refuses.
    static Callable from_object(Borrowed<PyAny> object)
    {
        if (!PyCallable_Check(object.as_ptr())) detail::raise_mismatch(object.as_ptr(), "callable");
        Callable callable;
        callable.held_ = std::make_shared<const detail::HeldCallable>(detail::HeldCallable{object.unbind()});
        return callable;
    }

    // Attaches for the call (any thread); see the contract.
    R operator()(A... args) const
    {
        if (detail::thread_holds_interpreter()) return call(Python::assume_attached(), std::forward<A>(args)...);
        auto guard = attach();
        return call(guard.py(), std::forward<A>(args)...);
    }

    // The same on a thread that is attached (it holds the token). Inlined: it is the whole call.
    [[gnu::always_inline]] R call(Python py, A... args) const
    {
        if (held_ == nullptr) throw std::bad_function_call();
        // A reference of the call's own: the stored callable may be replaced (and this Callable
        // destroyed) by the callee.
        const Bound<PyAny> callee = held_->object.bind(py);
        Bound<PyAny> result = callee.call(std::forward<A>(args)...);
        if constexpr (!std::is_void_v<R>) {
            try {
                return FromPython<std::remove_cv_t<R>>::extract(result.as_borrowed());
            } catch (const PyErr &err) {
                detail::rethrow_in_context(py, err, detail::callback_result_subject(py, callee.as_ptr()));
            }
        }
    }

    explicit operator bool() const noexcept { return held_ != nullptr; }
    // The Python callable (null when empty).
    Borrowed<PyAny> object(Python py) const noexcept
    {
        return Borrowed<PyAny>::from_ptr(py, held_ != nullptr ? held_->object.as_ptr() : nullptr);
    }

private:
    std::shared_ptr<const detail::HeldCallable> held_;
};

namespace detail {

template <class T> struct is_callable_ref : std::false_type {};
template <class S> struct is_callable_ref<Callable<S>> : std::true_type {};

// std::function<R(A...)> as a Python built-in: one record per signature (its PyMethodDef is
// shared by every such function object), the std::function itself in a capsule that is the
// object's __self__.
template <class R, class... A> struct CppFunction {
    using Fn = std::function<R(A...)>;
    static constexpr const char *capsule_name = "pyo3cpp.function";

    static const Fn &target(PyObject *capsule) noexcept
    {
        return *static_cast<const Fn *>(PyCapsule_GetPointer(capsule, capsule_name));
    }

    struct Invoke {
        R operator()(MethodSelf self, A... args) const
        {
            if constexpr ((locks_instance<param_decay_t<A>> || ...)) leave_call_scope();  // the body starts
            return target(self.self)(std::forward<A>(args)...);
        }
    };
    using Record = TypedFunction<Invoke>;

    // Lives for the process (function objects point into it); constructing it calls no Python.
    static Record &record()
    {
        static Record *const made = [] {
            auto *r = new Record("function", Invoke{});
            r->fastcall_entry = &entry;
            return r;
        }();
        return *made;
    }

    static PyObject *entry(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
    {
        return record().call_inlined(args, nargs, kwnames, self);
    }

    static void release(PyObject *capsule) noexcept
    {
        delete static_cast<Fn *>(PyCapsule_GetPointer(capsule, capsule_name));
    }

    static bool is_one(PyObject *object)
    {
        return PyCFunction_Check(object) &&
               reinterpret_cast<PyCFunctionObject *>(object)->m_ml == &record().method;
    }

    static Bound<PyAny> make(Python py, Fn fn)
    {
        static OnceLock<bool> prepared("pyo3cpp std::function record");
        Record &rec = record();
        prepared.get_or_init(py, [&] {
            rec.prepare(py);  // texts once per process; names per interpreter
            if (pyo3cpp_method_register(&rec.method, &rec.signature) < 0) throw_fetched(py);
            return true;
        });
        auto *state = new Fn(std::move(fn));
        PyObject *capsule = PyCapsule_New(state, capsule_name, &release);
        if (capsule == nullptr) {
            delete state;
            throw_fetched(py);
        }
        auto owner = Bound<PyAny>::from_owned_ptr(py, capsule);
        return Bound<PyAny>::from_owned_ptr(py, PyCFunction_NewEx(&rec.method, capsule, nullptr));
    }
};

}  // namespace detail

// ---------------------------------------------------------------- conversions

template <class R, class... A> struct FromPython<Callable<R(A...)>> {
    // No type_name: the clause "must be callable, not int" is the message (" or None" added
    // for an optional by the binder), and the hint is TypeHint's below.
    static Callable<R(A...)> extract(Borrowed<PyAny> obj) { return Callable<R(A...)>::from_object(obj); }
};
template <class R, class... A> struct IntoPython<Callable<R(A...)>> {
    static Bound<PyAny> convert(Python py, const Callable<R(A...)> &callable)
    {
        if (!callable) return Bound<PyAny>(py.none());
        return callable.object(py).to_owned();
    }
};

template <class R, class... A> struct FromPython<std::function<R(A...)>> {
    static std::function<R(A...)> extract(Borrowed<PyAny> obj)
    {
        if (detail::CppFunction<R, A...>::is_one(obj.as_ptr()))
            return detail::CppFunction<R, A...>::target(PyCFunction_GET_SELF(obj.as_ptr()));
        return std::function<R(A...)>(Callable<R(A...)>::from_object(obj));
    }
};
template <class R, class... A> struct IntoPython<std::function<R(A...)>> {
    static Bound<PyAny> convert(Python py, const std::function<R(A...)> &fn)
    {
        if (!fn) return Bound<PyAny>(py.none());
        if (const auto *held = fn.template target<Callable<R(A...)>>())
            return IntoPython<Callable<R(A...)>>::convert(py, *held);
        return detail::CppFunction<R, A...>::make(py, fn);
    }
};

// Hints: a parameter's callable receives what C++ passes and returns what C++ accepts; a
// result's the other way round.
template <class R, class... A> struct TypeHint<Callable<R(A...)>> {
    static std::string text()
    {
        return "collections.abc.Callable[" + detail::callable_args_hint<A...>(false) + ", " +
               detail::result_hint<R>() + "]";
    }
};
template <class R, class... A> struct ParamHint<Callable<R(A...)>> {
    static std::string text()
    {
        std::string result;
        if constexpr (std::is_void_v<R>)
            result = "object";
        else
            result = param_hint<R>();
        return "collections.abc.Callable[" + detail::callable_args_hint<A...>(true) + ", " + result + "]";
    }
};
template <class R, class... A>
struct TypeHint<std::function<R(A...)>> : TypeHint<Callable<R(A...)>> {};
template <class R, class... A>
struct ParamHint<std::function<R(A...)>> : ParamHint<Callable<R(A...)>> {};

}  // namespace pyo3cpp
