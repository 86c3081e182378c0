// bound.hpp — Bound<T>: an owned strong reference, for use while attached.
//
// Contract: a Bound owns one reference. Copy = Py_INCREF, move = steal (the source becomes null),
// destruction = Py_DECREF. Every operation requires the thread to be attached — a Bound lives
// inside a region that has a Python token; to keep a reference beyond it, or hand it to another
// thread, `unbind()` it into a Py<T>. One pointer in size.
//
// Raw pointers come in only through named functions:
//     Bound<PyAny>::from_owned_ptr(py, PyObject_Str(x))   // steals a new reference; NULL throws
//                                                         // the Python error that is set
//     Bound<PyAny>::from_borrowed_ptr(py, PyTuple_GET_ITEM(t, 0))   // increfs
// and leave through as_ptr() (borrowed) or std::move(b).into_ptr() (ownership to the caller).
//
// A moved-from Bound is null: only destruction, assignment and is_null() are valid on it.
// Cost: the same instructions as hand-written Py_INCREF / Py_DECREF.
// Part of borrowed.hpp's set (Borrowed, Bound and Py refer to each other). Included alone, this
// file includes borrowed.hpp, which includes it back at the point the set needs it: hence a
// classic include guard after that line instead of #pragma once.
#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include "pyo3cpp/borrowed.hpp"
#ifndef PYO3CPP_BOUND_HPP
#define PYO3CPP_BOUND_HPP

#include <utility>

namespace pyo3cpp {

template <class T = PyAny> class Bound : public Methods<Bound<T>, T> {
public:
    using tag = T;

    // Steals a new reference. NULL means the C API call failed: throws its exception (PyErr).
    static Bound from_owned_ptr(Python py, PyObject *ptr)
    {
        if (ptr == nullptr) throw_fetched(py);
        return Bound(ptr);
    }
    // Steals a new reference known to be non-NULL.
    static Bound from_owned_ptr_unchecked(Python, PyObject *ptr) noexcept { return Bound(ptr); }
    // Takes a new reference to a borrowed one. NULL throws the Python error that is set.
    static Bound from_borrowed_ptr(Python py, PyObject *ptr)
    {
        if (ptr == nullptr) throw_fetched(py);
        detail::incref(ptr);
        return Bound(ptr);
    }

    Bound(const Bound &other) noexcept : ptr_(other.ptr_) { detail::incref(ptr_); }
    Bound(Bound &&other) noexcept : ptr_(std::exchange(other.ptr_, nullptr)) {}
    // Upcast to Bound<PyAny> (copy increfs, move steals).
    template <class U, class = std::enable_if_t<is_upcast_v<U, T> && !std::is_same_v<U, T>>>
    Bound(const Bound<U> &other) noexcept : ptr_(other.as_ptr())
    {
        detail::incref(ptr_);
    }
    template <class U, class = std::enable_if_t<is_upcast_v<U, T> && !std::is_same_v<U, T>>>
    Bound(Bound<U> &&other) noexcept : ptr_(std::move(other).into_ptr())
    {
    }
    Bound &operator=(const Bound &other) noexcept
    {
        if (other.ptr_) detail::incref(other.ptr_);
        reset(other.ptr_);
        return *this;
    }
    Bound &operator=(Bound &&other) noexcept
    {
        if (this != &other) reset(std::exchange(other.ptr_, nullptr));
        return *this;
    }
    ~Bound()
    {
        if (ptr_ != nullptr) detail::decref(ptr_);
    }

    PyObject *as_ptr() const noexcept { return ptr_; }
    // Gives the reference to the caller (e.g. to return it to CPython); this becomes null.
    PyObject *into_ptr() && noexcept { return std::exchange(ptr_, nullptr); }
    bool is_null() const noexcept { return ptr_ == nullptr; }
    Python py() const noexcept { return Python::assume_attached(); }

    Borrowed<T> as_borrowed() const noexcept { return Borrowed<T>::from_ptr(py(), ptr_); }
    Borrowed<PyAny> as_any() const noexcept { return Borrowed<PyAny>::from_ptr(py(), ptr_); }
    Bound<PyAny> into_any() && noexcept { return Bound<PyAny>(std::exchange(ptr_, nullptr)); }

    // Detach from the attached region: a Py<T> can be stored anywhere and sent to any thread.
    Py<T> unbind() && noexcept;
    Py<T> unbind() const &;

    template <class U> Bound<U> cast() const &
    {
        if (!type_traits<U>::check(ptr_)) raise_type_error(type_traits<U>::name, ptr_);
        detail::incref(ptr_);
        return Bound<U>(ptr_);
    }
    template <class U> Bound<U> cast() &&
    {
        if (!type_traits<U>::check(ptr_)) raise_type_error(type_traits<U>::name, ptr_);
        return Bound<U>(std::exchange(ptr_, nullptr));
    }
    template <class U> Bound<U> cast_unchecked() && noexcept
    {
        return Bound<U>(std::exchange(ptr_, nullptr));
    }
    template <class U> Bound<U> cast_unchecked() const & noexcept
    {
        detail::incref(ptr_);
        return Bound<U>(ptr_);
    }
    template <class U> bool is_instance_of() const noexcept { return type_traits<U>::check(ptr_); }

    template <class Other> bool is(const Other &other) const noexcept
    {
        return ptr_ == other.as_ptr();
    }

private:
    explicit Bound(PyObject *ptr) noexcept : ptr_(ptr) {}
    void reset(PyObject *ptr) noexcept
    {
        PyObject *old = std::exchange(ptr_, ptr);
        if (old != nullptr) detail::decref(old);
    }
    template <class> friend class Bound;
    template <class> friend class Borrowed;
    template <class> friend class Py;

    PyObject *ptr_;
};

static_assert(sizeof(Bound<PyAny>) == sizeof(PyObject *));

template <class T> Bound<T> Borrowed<T>::to_owned() const
{
    detail::incref(ptr_);
    return Bound<T>(ptr_);
}

}  // namespace pyo3cpp

#include "pyo3cpp/py.hpp"

#endif  // PYO3CPP_BOUND_HPP
