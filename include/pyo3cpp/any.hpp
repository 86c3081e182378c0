// any.hpp — the methods every view has (Python's `object` protocol), mixed into Borrowed<T> and
// Bound<T> through Methods<Self, Tag>. Typed headers (dict.hpp, list.hpp, ...) specialise
// Methods for their tag and inherit these.
//
//   Bound<PyAny> len_fn = builtins.getattr("len");
//   bool same = a.eq(b);                       // Python's a == b (TypeError etc. as PyErr)
//   for (Bound<PyAny> item : obj.iter()) ...   // iterator.hpp
//   auto r = obj.call_method<"join">(parts);   // call.hpp; the name is interned once
//
// Contract: every method requires attachment (it is reached through a view, which implies
// it). Failures throw PyErr carrying the Python exception; nothing is left set on the thread.
// Names: `const char *` names are converted on every call (like PyObject_GetAttrString); pass
// an interned Borrowed<PyString>, or use the `<"name">` forms, on hot paths.
// Thread: any attached thread. These methods neither lock nor need a critical section: the
// object protocol is thread-safe in CPython itself.
// Cost: one C API call each, inline; results are new references owned by the returned Bound.
//
// Why the bodies name Bound through detail::bound_t<Self, T>: the typed headers are included
// from here, before Borrowed/Bound are defined (a Methods specialisation must be seen before
// anything instantiates Bound<ThatTag>, e.g. error.hpp's Bound<PyType>). Writing the type as a
// dependent name defers its lookup to the point of use, when Bound is complete.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <cstddef>
#include <optional>
#include <type_traits>

#include "pyo3cpp/compat.hpp"
#include "pyo3cpp/fixed_string.hpp"
#include "pyo3cpp/fwd.hpp"
#include "pyo3cpp/python.hpp"

namespace pyo3cpp {

// The operator of a rich comparison, with CPython's values.
enum class CompareOp : int {
    lt = Py_LT,
    le = Py_LE,
    eq = Py_EQ,
    ne = Py_NE,
    gt = Py_GT,
    ge = Py_GE,
};

// True for Borrowed<T>, Bound<T> and Py<T> (any cv/ref): values that *are* Python objects and
// go into calls and containers with no conversion.
template <class T> struct is_python_object : std::false_type {};
template <class T> struct is_python_object<Borrowed<T>> : std::true_type {};
template <class T> struct is_python_object<Bound<T>> : std::true_type {};
template <class T> struct is_python_object<Py<T>> : std::true_type {};
template <class T>
concept PythonObject = is_python_object<std::remove_cvref_t<T>>::value;

// A value or the PyErr that prevented it (result.hpp): what the try_ forms return.
template <class T> class PyResult;

// An interned str cached per literal (intern.hpp); declared here for the <"name"> methods.
template <FixedString S> inline Borrowed<PyString> intern(Python py);

namespace detail {

// Dependent spellings of the ownership types (see the note at the top of this file).
template <class Dep, class T> struct late {
    using bound = Bound<T>;
    using borrowed = Borrowed<T>;
};
template <class Dep, class T = PyAny> using bound_t = typename late<Dep, T>::bound;
template <class Dep, class T = PyAny> using borrowed_t = typename late<Dep, T>::borrowed;
// What the try_ forms return, spelt dependently for the same reason (result.hpp).
template <class Dep> struct late_result {
    using type = PyResult<Bound<PyAny>>;
};
template <class Dep> using result_t = typename late_result<Dep>::type;
template <class Dep, class T> struct late_result_of {
    using type = PyResult<T>;
};
template <class Dep, class T> using result_of_t = typename late_result_of<Dep, T>::type;
// A dependent type made from a parameter pack (for variadic helpers).
template <class...> struct pack {};

// One argument on its way into the C API: a Python object is borrowed as is (no refcount
// traffic, no allocation); any other C++ value is converted through IntoPython and the result
// is owned until the holder dies. Defined in convert.hpp.
template <class T> struct ObjectArg;

// Raises TypeError for a null owner (a moved-from Bound or an empty Py) passed as an argument.
[[noreturn]] inline void raise_null_argument(Python py);

// Throws the pending exception when a C API call reported failure with -1.
inline int check_int(Python py, int status)
{
    if (status < 0) throw_fetched(py);
    return status;
}

}  // namespace detail

template <class Self> struct AnyMethods {
    // ---- identity and truth
    // Python's `x is None`.
    bool is_none() const noexcept { return ptr() == Py_None; }
    // bool(x); raises what __bool__/__len__ raise.
    bool is_truthy() const { return detail::check_int(token(), PyObject_IsTrue(ptr())) == 1; }
    // type(x), as a new reference.
    detail::bound_t<Self, PyType> get_type() const noexcept
    {
        PyObject *type = reinterpret_cast<PyObject *>(Py_TYPE(ptr()));
        Py_INCREF(type);
        return detail::bound_t<Self, PyType>::from_owned_ptr_unchecked(token(), type);
    }
    // isinstance(x, type_or_tuple); TypeError if the second argument is not a type or tuple.
    template <PythonObject Type> bool is_instance(const Type &type_or_tuple) const
    {
        return detail::check_int(token(), PyObject_IsInstance(ptr(), type_or_tuple.as_ptr())) == 1;
    }

    // ---- text, hash, length, iteration
    // repr(x) and str(x).
    detail::bound_t<Self, PyString> repr() const
    {
        return detail::bound_t<Self, PyString>::from_owned_ptr(token(), PyObject_Repr(ptr()));
    }
    detail::bound_t<Self, PyString> str() const
    {
        return detail::bound_t<Self, PyString>::from_owned_ptr(token(), PyObject_Str(ptr()));
    }
    // hash(x); TypeError for unhashable objects.
    Py_hash_t hash() const
    {
        const Py_hash_t h = PyObject_Hash(ptr());
        if (h == -1 && PyErr_Occurred()) throw_fetched(token());
        return h;
    }
    // len(x); TypeError when x has no length.
    std::size_t len() const
    {
        const Py_ssize_t n = PyObject_Size(ptr());
        if (n < 0) throw_fetched(token());
        return static_cast<std::size_t>(n);
    }
    // iter(x) (TypeError if not iterable). The result is a range: for (auto v : x.iter()).
    detail::bound_t<Self, PyIterator> iter() const
    {
        return detail::bound_t<Self, PyIterator>::from_owned_ptr(token(), PyObject_GetIter(ptr()));
    }

    // ---- attributes. `name` is a C string, or any Python object view (normally an interned
    // str); the <"name"> forms intern the name once per program.
    detail::bound_t<Self> getattr(const char *name) const
    {
        return detail::bound_t<Self>::from_owned_ptr(token(), PyObject_GetAttrString(ptr(), name));
    }
    template <PythonObject Name> detail::bound_t<Self> getattr(const Name &name) const
    {
        return detail::bound_t<Self>::from_owned_ptr(token(), PyObject_GetAttr(ptr(), name.as_ptr()));
    }
    template <FixedString Name> detail::bound_t<Self> getattr() const
    {
        return detail::bound_t<Self>::from_owned_ptr(
            token(), PyObject_GetAttr(ptr(), intern<Name>(token()).as_ptr()));
    }
    // getattr(x, name, <missing>): empty when the attribute is missing (AttributeError is
    // swallowed); any other exception is thrown.
    std::optional<detail::bound_t<Self>> getattr_opt(const char *name) const
    {
        PyObject *value = nullptr;
        if (detail::check_int(token(), compat::object_get_optional_attr_string(ptr(), name, &value)) == 0)
            return std::nullopt;
        return detail::bound_t<Self>::from_owned_ptr_unchecked(token(), value);
    }
    template <PythonObject Name> std::optional<detail::bound_t<Self>> getattr_opt(const Name &name) const
    {
        PyObject *value = nullptr;
        if (detail::check_int(token(), compat::object_get_optional_attr(ptr(), name.as_ptr(), &value)) == 0)
            return std::nullopt;
        return detail::bound_t<Self>::from_owned_ptr_unchecked(token(), value);
    }
    // hasattr(x, name): like Python's, but only AttributeError means "no"; other exceptions
    // raised by a property are thrown rather than hidden.
    bool hasattr(const char *name) const { return getattr_opt(name).has_value(); }
    template <PythonObject Name> bool hasattr(const Name &name) const
    {
        return getattr_opt(name).has_value();
    }
    // setattr(x, name, value); value is a Python object or anything IntoPython converts.
    template <class Value> void setattr(const char *name, const Value &value) const
    {
        detail::ObjectArg<std::remove_cvref_t<Value>> held(token(), value);
        detail::check_int(token(), PyObject_SetAttrString(ptr(), name, held.get()));
    }
    template <PythonObject Name, class Value> void setattr(const Name &name, const Value &value) const
    {
        detail::ObjectArg<std::remove_cvref_t<Value>> held(token(), value);
        detail::check_int(token(), PyObject_SetAttr(ptr(), name.as_ptr(), held.get()));
    }
    // del x.name; AttributeError when absent.
    void delattr(const char *name) const
    {
        detail::check_int(token(), PyObject_SetAttrString(ptr(), name, nullptr));
    }
    template <PythonObject Name> void delattr(const Name &name) const
    {
        detail::check_int(token(), PyObject_SetAttr(ptr(), name.as_ptr(), nullptr));
    }

    // ---- rich comparison: `other` is a Python object or anything IntoPython converts.
    // compare() returns whatever __lt__ & co. return; eq()..ge() apply bool() to it, exactly as
    // Python's `if a == b:` does (no identity shortcut: NaN != NaN).
    template <class Other> detail::bound_t<Self> compare(const Other &other, CompareOp op) const
    {
        detail::ObjectArg<std::remove_cvref_t<Other>> held(token(), other);
        return detail::bound_t<Self>::from_owned_ptr(
            token(), PyObject_RichCompare(ptr(), held.get(), static_cast<int>(op)));
    }
    template <class Other> bool eq(const Other &other) const { return compare_bool(other, Py_EQ); }
    template <class Other> bool ne(const Other &other) const { return compare_bool(other, Py_NE); }
    template <class Other> bool lt(const Other &other) const { return compare_bool(other, Py_LT); }
    template <class Other> bool le(const Other &other) const { return compare_bool(other, Py_LE); }
    template <class Other> bool gt(const Other &other) const { return compare_bool(other, Py_GT); }
    template <class Other> bool ge(const Other &other) const { return compare_bool(other, Py_GE); }

    // ---- calls (bodies in call.hpp). Arguments: Python objects go in as they are; other
    // values through IntoPython; keywords as kw("name") = value, kw<"name"> = value or
    // "name"_kw = value, after the positional ones.
    //   f.call()   f.call(a, 2, "three")   f.call(x, kw<"sep">(", "))
    template <class... Args> Bound<PyAny> call(Args &&...args) const;
    template <class... Args> Bound<PyAny> call_method(const char *name, Args &&...args) const;
    template <PythonObject Name, class... Args>
    Bound<PyAny> call_method(const Name &name, Args &&...args) const;
    template <FixedString Name, class... Args> Bound<PyAny> call_method(Args &&...args) const;
    // The same calls without throwing (result.hpp): the callee's exception, or a failure
    // preparing the arguments, comes back as the PyResult's error. For expected failures:
    //   auto r = getitem.try_call(key);
    //   if (!r && r.error().matches(py, PyExc_KeyError)) ...
    template <class... Args> detail::result_t<Self> try_call(Args &&...args) const;
    template <class... Args>
    detail::result_t<Self> try_call_method(const char *name, Args &&...args) const;
    template <PythonObject Name, class... Args>
    detail::result_t<Self> try_call_method(const Name &name, Args &&...args) const;
    template <FixedString Name, class... Args>
    detail::result_t<Self> try_call_method(Args &&...args) const;

    // ---- conversion to C++ (convert.hpp): obj.extract<long>()
    template <class T> std::remove_cvref_t<T> extract() const;

protected:
    PyObject *ptr() const noexcept { return static_cast<const Self *>(this)->as_ptr(); }
    Python token() const noexcept { return static_cast<const Self *>(this)->py(); }

private:
    template <class Other> bool compare_bool(const Other &other, int op) const
    {
        detail::ObjectArg<std::remove_cvref_t<Other>> held(token(), other);
        return detail::check_int(token(), [&] {
                   PyObject *result = PyObject_RichCompare(ptr(), held.get(), op);
                   if (result == nullptr) return -1;
                   const int truth = PyObject_IsTrue(result);
                   Py_DECREF(result);
                   return truth;
               }()) == 1;
    }
};

// Unless a typed header says otherwise, a tag gets the object methods.
template <class Self, class Tag> struct Methods : AnyMethods<Self> {};

}  // namespace pyo3cpp

// The typed method sets, declared before anything can instantiate a Bound of their tag. While
// PYO3CPP_DECLARING_METHODS is set, a typed header defines only its Methods specialisation and
// helpers (all templates) and does not pull in borrowed.hpp; included on its own, it does.
#define PYO3CPP_DECLARING_METHODS 1
#include "pyo3cpp/bool.hpp"
#include "pyo3cpp/bytes.hpp"
#include "pyo3cpp/dict.hpp"
#include "pyo3cpp/float.hpp"
#include "pyo3cpp/int.hpp"
#include "pyo3cpp/iterator.hpp"
#include "pyo3cpp/list.hpp"
#include "pyo3cpp/none.hpp"
#include "pyo3cpp/pymodule.hpp"
#include "pyo3cpp/string.hpp"
#include "pyo3cpp/tuple.hpp"
#include "pyo3cpp/type.hpp"
#undef PYO3CPP_DECLARING_METHODS
