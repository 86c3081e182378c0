// class_method.hpp — how a bound class's methods, constructors and classmethods call into C++:
// the shape of a method (which parameter is the instance, and how it is taken), the callables
// a method record runs (MethodCall, InitArgs/InitFactory, ClassMethodCall), in-place
// construction of T (construct_in), and the C entries a method descriptor or a slot calls.
//
// Used by class.hpp (ClassDef<T>); not a user-facing API. The rules they implement are in
// class.hpp's contract: the instance locked as the policy says for the call, a result converted
// while the lock is still held, T constructed at most once and never a base's T on a bound
// subclass's instance.
// Thread: any attached thread. Cost: one record call per method call (function.hpp's path) plus
// the lock (instance_lock.hpp).
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <array>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "pyo3cpp/class_member_ref.hpp"
#include "pyo3cpp/class_object.hpp"
#include "pyo3cpp/function.hpp"

namespace pyo3cpp::detail {

// ------------------------------------------------------------------- the shape of a method

// self: how the instance is taken (T&, const T&, Bound<T>, Borrowed<T>); rest: the other
// parameters; result.
template <class F, class = void> struct method_shape {
    using traits = callable_traits<F>;
    template <class L> struct split;
    template <class S, class... A> struct split<type_list<S, A...>> {
        using self = S;
        using rest = type_list<A...>;
    };
    using self = typename split<typename traits::args>::self;
    using rest = typename split<typename traits::args>::rest;
    using result = typename traits::result;
};
template <class C, class R, class... A> struct method_shape<R (C::*)(A...)> {
    using self = C &;
    using rest = type_list<A...>;
    using result = R;
};
template <class C, class R, class... A> struct method_shape<R (C::*)(A...) const> {
    using self = const C &;
    using rest = type_list<A...>;
    using result = R;
};
template <class C, class R, class... A>
struct method_shape<R (C::*)(A...) noexcept> : method_shape<R (C::*)(A...)> {};
template <class C, class R, class... A>
struct method_shape<R (C::*)(A...) const noexcept> : method_shape<R (C::*)(A...) const> {};

// def<&T::m>(name): the member function as a constant of the type, so the call through it is a
// direct call the compiler inlines (a stored member pointer is an indirect call: the method's
// body is never inlined into the entry). Shaped like the member function it names.
template <auto Fn> struct fixed_member {
    template <class... A> decltype(auto) operator()(A &&...args) const
    {
        return std::invoke(Fn, std::forward<A>(args)...);
    }
};
template <auto Fn> struct method_shape<fixed_member<Fn>> : method_shape<decltype(Fn)> {};
// reference_internal(fn): fn's shape, returning a reference into the instance (class_member_ref.hpp).
template <class F> struct method_shape<ReturnsInternal<F>> : method_shape<F> {
    using result = InternalRef<std::remove_reference_t<typename method_shape<F>::result>>;
};

template <class T> struct is_std_optional : std::false_type {};
template <class T> struct is_std_optional<std::optional<T>> : std::true_type {};

template <class P, bool Unwrap> struct next_value {
    using type = P;
};
template <class U> struct next_value<std::optional<U>, true> {
    using type = U;
};

template <class T, class S> struct self_kind {
    static constexpr bool handle = std::is_same_v<std::remove_cvref_t<S>, Bound<T>> ||
                                   std::is_same_v<std::remove_cvref_t<S>, Borrowed<T>>;
    // T itself, or a base of T bound by extends<> (a member function of the base).
    static constexpr bool value_ref =
        std::is_reference_v<S> && std::is_base_of_v<std::remove_cvref_t<S>, T>;
    static constexpr bool exclusive = value_ref && !std::is_const_v<std::remove_reference_t<S>>;
    static_assert(handle || value_ref,
                  "pyo3cpp::ClassDef::def: a method's first parameter must be T&, const T&, "
                  "Bound<T> or Borrowed<T> (or pass a member function pointer of T)");
    static_assert(!(exclusive && is_frozen_v<T>),
                  "pyo3cpp::ClassDef::def: a frozen class's methods must be const (take const T&)");
};

// The callable a method record calls: the instance (locked per policy), then the arguments.
// Next: the __next__ slot (an empty std::optional result raises StopIteration).
template <class T, class F, bool Next, class Shape = method_shape<F>, class Rest = typename Shape::rest>
struct MethodCall;
template <class T, class F, bool Next, class Shape, class... A>
struct MethodCall<T, F, Next, Shape, type_list<A...>> {
    using S = typename Shape::self;
    using R = typename Shape::result;
    using kind = self_kind<T, S>;
    using Plain = std::remove_cvref_t<R>;
    static constexpr bool ends_iteration = Next && is_std_optional<Plain>::value;
    using Out = std::conditional_t<std::is_void_v<R>, void, typename next_value<Plain, ends_iteration>::type>;
    F fn;
    const char *name;

    Out operator()(MethodSelf self, A... args) const
    {
        Python py = Python::assume_attached();
        if constexpr (kind::handle) {
            if constexpr ((locks_instance<param_decay_t<A>> || ...)) leave_call_scope();
            auto view = Borrowed<PyAny>::from_ptr(py, self.self).template cast_unchecked<T>();
            MarkCppMethod<T> mark(self.self, name);  // trampoline_storage.hpp (nothing without one)
            return finish(py, [&]() -> decltype(auto) {
                if constexpr (std::is_same_v<std::remove_cvref_t<S>, Bound<T>>)
                    return std::invoke(fn, view.to_owned(), std::forward<A>(args)...);
                else
                    return std::invoke(fn, view, std::forward<A>(args)...);
            });
        } else {
            Access<T, kind::exclusive> access(py, self.self, name);
            // self was the last lock of the call's scope (function.hpp): the body starts.
            if constexpr ((locks_instance<param_decay_t<A>> || ...)) leave_call_scope();
            if constexpr (is_internal_ref<Plain>::value) {  // reference_internal: the owner is self
                Plain ref = std::invoke(fn, access.get(), std::forward<A>(args)...);
                const auto *begin = reinterpret_cast<const char *>(&access.get());
                ref.owner = self.self;
                ref.owner_begin = begin;
                ref.owner_end = begin + sizeof(T);
                ref.owner_read_only = is_frozen_v<T>;
                ref.owner_locked = is_locked_v<T>;
                return ref;
            }
            MarkCppMethod<T> mark(self.self, name);  // trampoline_storage.hpp (nothing without one)
            return finish(py, [&]() -> decltype(auto) {
                return std::invoke(fn, access.get(), std::forward<A>(args)...);
            });
        }
    }

    template <class G> static Out finish(Python py, G &&call)
    {
        if constexpr (std::is_void_v<R>) {
            call();
        } else if constexpr (ends_iteration) {
            Plain result = call();
            if (!result.has_value()) {
                PyErr_SetNone(PyExc_StopIteration);
                throw_fetched(py);
            }
            return std::move(*result);
        } else {
            (void)py;
            return Out(call());  // a copy, made while the instance is still locked
        }
    }
};

// keep_alive (keep_alive.hpp): a method's and a constructor's nurse is its instance.
template <class T, class F, bool Next> struct keep_alive_nurse_is_self<MethodCall<T, F, Next>> : std::true_type {};

[[noreturn, gnu::cold]] inline void raise_derived_init(Python py, const char *method, PyObject *object)
{
    std::string text = std::string(method) + "() cannot initialise a " + Py_TYPE(object)->tp_name +
                       " instance (a subclass bound from C++ constructs its own value)";
    throw PyErr::new_err(py, PyExc_TypeError, text);
}

// Constructing T in place on an empty instance (__init__, __setstate__); `method` is the
// qualified name ("Counter.__init__").
[[noreturn, gnu::cold]] inline void raise_already_initialised(Python py, const char *method)
{
    std::string text = std::string(method) + "(): the instance is already initialised";
    throw PyErr::new_err(py, PyExc_TypeError, text);
}
// `as_trampoline`: `build` makes the trampoline (builds_trampoline), which the heap path allocates.
template <class T, class Build>
void construct_in(Python py, PyObject *object, const char *method, Build &&build, bool as_trampoline = false)
{
    if (ClassBinding<T>::derived_count != 0 && ClassBinding<T>::holds_derived(object)) [[unlikely]]
        raise_derived_init(py, method, object);
    if constexpr (is_shared_held_v<T>) {  // on the heap, owned by a std::shared_ptr (class_holder.hpp)
        construct_held<T>(py, object, method, std::forward<Build>(build), as_trampoline);
        return;
    }
    Instance<T> *inst = Instance<T>::of(object);
    std::uint8_t expected = kEmpty;
    if (!inst->state.compare_exchange_strong(expected, kConstructing, std::memory_order_acq_rel))
        [[unlikely]] raise_already_initialised(py, method);
    try {
        build(static_cast<void *>(inst->storage));
    } catch (...) {
        inst->state.store(kEmpty, std::memory_order_release);
        throw;
    }
    inst->state.store(kReady, std::memory_order_release);
}

// A classmethod: the first parameter is the class (Bound<PyType> or Borrowed<PyType>, the class
// it was called on, a subclass included).
template <class F, class Args = typename callable_traits<F>::args> struct ClassMethodCall;
template <class F, class C, class... A> struct ClassMethodCall<F, type_list<C, A...>> {
    using R = typename callable_traits<F>::result;
    using Out = std::conditional_t<std::is_void_v<R>, void, std::remove_cvref_t<R>>;
    static_assert(std::is_same_v<std::remove_cvref_t<C>, Bound<PyType>> ||
                      std::is_same_v<std::remove_cvref_t<C>, Borrowed<PyType>>,
                  "pyo3cpp::ClassDef::def_classmethod: the first parameter is the class: "
                  "Bound<PyType> or Borrowed<PyType>");
    F fn;
    Out operator()(MethodSelf cls, A... args) const
    {
        if constexpr ((locks_instance<param_decay_t<A>> || ...)) leave_call_scope();  // the body starts
        Python py = Python::assume_attached();
        auto view = Borrowed<PyAny>::from_ptr(py, cls.self).template cast_unchecked<PyType>();
        if constexpr (std::is_same_v<std::remove_cvref_t<C>, Bound<PyType>>)
            return Out(std::invoke(fn, view.to_owned(), std::forward<A>(args)...));
        else
            return Out(std::invoke(fn, view, std::forward<A>(args)...));
    }
};

template <class T, class... A> struct InitArgs {
    const char *name;
    void operator()(MethodSelf self, A... args) const
    {
        if constexpr ((locks_instance<param_decay_t<A>> || ...)) leave_call_scope();  // the body starts
        static_assert(std::is_constructible_v<T, A &&...> ||
                          (has_trampoline_v<T> && std::is_constructible_v<trampoline_t<T>, A &&...>),
                      "pyo3cpp::ClassDef::def_init<A...>: T is not constructible from A...");
        if constexpr (has_trampoline_v<T>) {  // a Python subclass holds the trampoline
            const bool exact = Py_TYPE(self.self) == ClassBinding<T>::type_ptr();
            construct_in<T>(
                Python::assume_attached(), self.self, name,
                [&](void *where) { build_value<T>(self.self, exact, where, std::forward<A>(args)...); },
                builds_trampoline<T, A...>(exact));
        } else
            construct_in<T>(Python::assume_attached(), self.self, name,
                            [&](void *where) { new (where) T(std::forward<A>(args)...); });
    }
};
template <class T, class... A> struct keep_alive_nurse_is_self<InitArgs<T, A...>> : std::true_type {};
template <class T, class F, class Args = typename callable_traits<F>::args> struct InitFactory;
template <class T, class F, class... A> struct InitFactory<T, F, type_list<A...>> {
    F fn;
    const char *name;
    void operator()(MethodSelf self, A... args) const
    {
        if constexpr ((locks_instance<param_decay_t<A>> || ...)) leave_call_scope();  // the body starts
        static_assert(std::is_same_v<std::remove_cvref_t<std::invoke_result_t<const F &, A...>>, T>,
                      "pyo3cpp::ClassDef::def_init(factory): the factory must return T");
        bool exact = false, as_trampoline = false;
        if constexpr (has_trampoline_v<T>) {  // a Python subclass holds the trampoline
            exact = Py_TYPE(self.self) == ClassBinding<T>::type_ptr();
            as_trampoline = builds_trampoline<T, T>(exact);
        }
        construct_in<T>(
            Python::assume_attached(), self.self, name,
            [&](void *where) {
                if constexpr (has_trampoline_v<T>)
                    build_value<T>(self.self, exact, where, std::invoke(fn, std::forward<A>(args)...));
                else
                    new (where) T(std::invoke(fn, std::forward<A>(args)...));
            },
            as_trampoline);
    }
};

template <class T, class F> struct keep_alive_nurse_is_self<InitFactory<T, F>> : std::true_type {};

// B's subobject starts where T does (what extends<B> relies on). The pointer is converted on
// storage holding no object, which the vptr sanitizer would flag for polymorphic types.
template <class B, class T> __attribute__((no_sanitize("vptr"))) bool base_at_offset_zero() noexcept
{
    alignas(T) static unsigned char probe[sizeof(T)];
    T *derived = reinterpret_cast<T *>(probe);
    return static_cast<void *>(static_cast<B *>(derived)) == static_cast<void *>(derived);
}

// ------------------------------------------------------------------------ method entries

using SelfInvoke = PyObject *(*)(const FunctionRecord &, PyObject *, PyObject *const *, Py_ssize_t,
                                 PyObject *);
// Instance methods need a C entry each (a method descriptor gives its function only self and
// the arguments): the runtime holds a set for the process (pyo3cpp_method_shared_entry), each
// bound to one record at definition; past them, late_method_call below (no entry needed).
template <class Record>
PyObject *invoke_with_self(const FunctionRecord &record, PyObject *self, PyObject *const *args,
                           Py_ssize_t nargs, PyObject *kwnames)
{
    return static_cast<const Record &>(record).call(args, nargs, kwnames, self);
}
// The same, type-erased for the runtime's method entries (context: the record).
template <class Record>
PyObject *invoke_method_record(void *record, PyObject *self, PyObject *const *args, ptrdiff_t nargs,
                               PyObject *kwnames)
{
    return static_cast<const Record *>(record)->call(args, nargs, kwnames, self);
}

// The first method record of each Record type gets a C entry of its own, which knows its
// record without the runtime's shared trampoline (an indexed load and an indirect call less
// per call). A second method of the same type (same class, signature and argument specs) takes
// a shared entry instead.
template <class Record> struct DirectMethod {
    static inline const Record *sole = nullptr;
    static PyObject *entry(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
    {
        if constexpr (requires { sole->call_inlined(args, nargs, kwnames, self); })
            return sole->call_inlined(args, nargs, kwnames, self);
        else
            return sole->call(args, nargs, kwnames, self);
    }
};

// The vectorcall of a method's own function object, once the runtime's shared entries are all
// taken (class.hpp, LateEntry): bound through instancemethod / classmethod, so the instance (the
// class) comes first among the arguments; checked here, as a method descriptor checks it.
template <class Record, class T>
PyObject *late_method_call(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    const auto &record = static_cast<const Record &>(FunctionRecord::of(callable));
    const Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs < 1 || !ClassBinding<T>::check(args[0])) {
        PyErr_Format(PyExc_TypeError, "%s.%s() needs a %s instance as its first argument",
                     ClassBinding<T>::name, record.name.c_str(), ClassBinding<T>::name);
        return nullptr;
    }
    return record.call(args + 1, nargs - 1, kwnames, args[0]);
}
template <class Record, class T>
PyObject *late_classmethod_call(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    const auto &record = static_cast<const Record &>(FunctionRecord::of(callable));
    const Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyTypeObject *own = ClassBinding<T>::type_ptr();
    if (nargs < 1 || !PyType_Check(args[0]) || own == nullptr ||
        !PyType_IsSubtype(reinterpret_cast<PyTypeObject *>(args[0]), own)) {
        PyErr_Format(PyExc_TypeError, "%s.%s() needs a subclass of %s as its first argument",
                     ClassBinding<T>::name, record.name.c_str(), ClassBinding<T>::name);
        return nullptr;
    }
    return record.call(args + 1, nargs - 1, kwnames, args[0]);
}

// call_with_tuple's path for a non-empty kwargs dict: its items become vectorcall keywords.
[[gnu::noinline]] inline PyObject *call_with_dict(const FunctionRecord &record, SelfInvoke invoke,
                                                  PyObject *self, PyObject *args, PyObject *kwargs)
{
    auto *tuple = reinterpret_cast<PyTupleObject *>(args);
    const Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    PyObject *kwnames = PyTuple_New(PyDict_GET_SIZE(kwargs));
    if (kwnames == nullptr) return nullptr;
    std::vector<PyObject *> values;
    try {
        values.assign(tuple->ob_item, tuple->ob_item + nargs);
        Py_ssize_t pos = 0, k = 0;
        PyObject *key, *value;
        // A C caller's dict may be changed by a conversion during the call (a value's __index__
        // clearing it): the values are held for the call, as the keys are by kwnames.
        values.reserve(static_cast<std::size_t>(nargs + PyDict_GET_SIZE(kwargs)));
        while (PyDict_Next(kwargs, &pos, &key, &value)) {
            Py_INCREF(key);
            PyTuple_SET_ITEM(kwnames, k++, key);
            values.push_back(value);
        }
    } catch (const std::bad_alloc &) {
        Py_DECREF(kwnames);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = nargs; i < static_cast<Py_ssize_t>(values.size()); ++i) Py_INCREF(values[static_cast<std::size_t>(i)]);
    PyObject *result = invoke(record, self, values.data(), nargs, kwnames);
    for (Py_ssize_t i = nargs; i < static_cast<Py_ssize_t>(values.size()); ++i) Py_DECREF(values[static_cast<std::size_t>(i)]);
    Py_DECREF(kwnames);
    return result;
}

// Calls through (args tuple, kwargs dict), as tp_init and tp_call receive them. Without
// keywords: the tuple's items are the vectorcall arguments (inline; the dict path is apart so
// this one needs no stack frame).
inline PyObject *call_with_tuple(const FunctionRecord &record, SelfInvoke invoke, PyObject *self,
                                 PyObject *args, PyObject *kwargs)
{
    if (kwargs == nullptr || PyDict_GET_SIZE(kwargs) == 0) [[likely]]
        return invoke(record, self, reinterpret_cast<PyTupleObject *>(args)->ob_item,
                      PyTuple_GET_SIZE(args), nullptr);
    return call_with_dict(record, invoke, self, args, kwargs);
}

// A type's call through its metatype's tp_call (type_call: tp_new, then tp_init), from vectorcall
// arguments: the tuple and keyword dict it takes are built here. For a type_vectorcall reached
// by a type it was not set for.
[[gnu::cold, gnu::noinline]] inline PyObject *call_type_slot(PyObject *type, PyObject *const *args,
                                                            size_t nargsf, PyObject *kwnames)
{
    const Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *tuple = PyTuple_New(nargs);
    if (tuple == nullptr) return nullptr;
    for (Py_ssize_t i = 0; i < nargs; ++i) PyTuple_SET_ITEM(tuple, i, Py_NewRef(args[i]));
    PyObject *kwargs = nullptr;
    if (kwnames != nullptr && PyTuple_GET_SIZE(kwnames) != 0) {
        kwargs = PyDict_New();
        for (Py_ssize_t i = 0; kwargs != nullptr && i < PyTuple_GET_SIZE(kwnames); ++i)
            if (PyDict_SetItem(kwargs, PyTuple_GET_ITEM(kwnames, i), args[nargs + i]) < 0) Py_CLEAR(kwargs);
        if (kwargs == nullptr) {
            Py_DECREF(tuple);
            return nullptr;
        }
    }
    PyObject *result = Py_TYPE(type)->tp_call(type, tuple, kwargs);
    Py_DECREF(tuple);
    Py_XDECREF(kwargs);
    return result;
}

}  // namespace pyo3cpp::detail
