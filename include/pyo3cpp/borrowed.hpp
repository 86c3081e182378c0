// borrowed.hpp — Borrowed<T>: a non-owning reference to a Python object, exactly a PyObject*.
//
// Contract: Borrowed does not keep its object alive; whoever lent it does (an argument of the
// current call, a Bound or Py you hold, a once-cell). Use it only while that owner lives and
// only on an attached thread. It is one pointer in size, standard layout and trivially copyable
// (static_asserts below), so a contiguous array of Borrowed *is* an array of PyObject* and goes
// straight to PyObject_Vectorcall as its argument vector.
//
// Raw pointers come in only through the named constructor from_ptr (borrow: no incref); there
// is no implicit conversion from PyObject*.
//
// Example:
//     auto item = Borrowed<PyAny>::from_ptr(py, args[0]);   // borrowed from the caller
//     Bound<PyAny> kept = item.to_owned();                  // now we own a reference
//
// Cost: nothing; every operation is inline.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <type_traits>

#include "pyo3cpp/any.hpp"
#include "pyo3cpp/python.hpp"
#include "pyo3cpp/refcount.hpp"
#include "pyo3cpp/type_traits.hpp"

namespace pyo3cpp {

template <class T = PyAny> class Borrowed : public Methods<Borrowed<T>, T> {
public:
    using tag = T;

    // Borrows `ptr` (not NULL). No incref: the caller guarantees it stays alive.
    static Borrowed from_ptr(Python, PyObject *ptr) noexcept { return Borrowed(ptr); }

    // Any view converts to a view of object (PyAny) for free.
    template <class U, class = std::enable_if_t<is_upcast_v<U, T> && !std::is_same_v<U, T>>>
    Borrowed(const Borrowed<U> &other) noexcept : ptr_(other.as_ptr())
    {
    }

    PyObject *as_ptr() const noexcept { return ptr_; }
    Python py() const noexcept { return Python::assume_attached(); }

    // A new strong reference to the same object.
    Bound<T> to_owned() const;
    Py<T> unbind() const;

    // Checked view as U: TypeError ("expected dict, got int") when the object is not one.
    template <class U> Borrowed<U> cast() const
    {
        if (!type_traits<U>::check(ptr_)) raise_type_error(type_traits<U>::name, ptr_);
        return Borrowed<U>(ptr_);
    }
    template <class U> Borrowed<U> cast_unchecked() const noexcept { return Borrowed<U>(ptr_); }
    template <class U> bool is_instance_of() const noexcept { return type_traits<U>::check(ptr_); }

    Borrowed<PyAny> as_any() const noexcept { return Borrowed<PyAny>(ptr_); }

    // Identity (Python's `is`).
    template <class Other> bool is(const Other &other) const noexcept
    {
        return ptr_ == other.as_ptr();
    }

private:
    explicit Borrowed(PyObject *ptr) noexcept : ptr_(ptr) {}
    template <class> friend class Borrowed;
    template <class> friend class Bound;
    template <class> friend class Py;

    PyObject *ptr_;
};

static_assert(sizeof(Borrowed<PyAny>) == sizeof(PyObject *));
static_assert(alignof(Borrowed<PyAny>) == alignof(PyObject *));
static_assert(std::is_standard_layout_v<Borrowed<PyAny>>);
static_assert(std::is_trivially_copyable_v<Borrowed<PyAny>>);
static_assert(std::is_trivially_destructible_v<Borrowed<PyList>>);

// The argument vector view of a run of Borrowed: what PyObject_Vectorcall takes.
template <class T> inline PyObject *const *as_vectorcall_args(const Borrowed<T> *args) noexcept
{
    return reinterpret_cast<PyObject *const *>(args);
}

}  // namespace pyo3cpp

#include "pyo3cpp/bound.hpp"
// The method bodies that need all of the above (conversions, calls).
#include "pyo3cpp/any_impl.hpp"
