// py.hpp — Py<T>: an owned strong reference that may be stored anywhere and moved to any thread.
//
// Contract:
//   - Move-only. Copying needs proof of attachment: `p.clone_ref(py)`.
//   - Destroyed while attached: an immediate decref. Destroyed on a detached thread or on a
//     thread that never attached: the decref is queued in the runtime's deferred-decref pool and
//     applied by the next attach or detach-end on any thread. After interpreter finalisation
//     the reference is leaked, never decref'd into a dead interpreter.
//   - To use the object, bind it to a token: `p.bind(py)` (a new Bound), `p.bind_borrowed(py)`
//     (a Borrowed view, no refcount traffic), `std::move(p).into_bound(py)`.
//   - A default-constructed or moved-from Py is null (is_null()).
//
// Example:
//     pyo3cpp::Py<PyAny> cached;                       // e.g. a member of a C++ object
//     cached = Bound<PyAny>::from_owned_ptr(py, PyLong_FromLong(7)).unbind();
//     std::thread([c = std::move(cached)] {});         // dropped off-thread: pooled decref
//
// Cost: one pointer. Destruction is one call into libpyo3cpp (which checks attachment and
// decrefs or queues); everything else is inline.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <utility>

// Part of borrowed.hpp's set (Borrowed, Bound and Py refer to each other); included alone, the
// whole set comes in, in its order.
#include "pyo3cpp/borrowed.hpp"

namespace pyo3cpp {

template <class T = PyAny> class Py {
public:
    using tag = T;

    Py() noexcept = default;
    static Py from_owned_ptr(Python py, PyObject *ptr)
    {
        if (ptr == nullptr) throw_fetched(py);
        return Py(ptr);
    }
    static Py from_owned_ptr_unchecked(PyObject *ptr) noexcept { return Py(ptr); }
    static Py from_borrowed_ptr(Python py, PyObject *ptr)
    {
        if (ptr == nullptr) throw_fetched(py);
        detail::incref(ptr);
        return Py(ptr);
    }

    Py(const Py &) = delete;
    Py &operator=(const Py &) = delete;
    Py(Py &&other) noexcept : ptr_(std::exchange(other.ptr_, nullptr)) {}
    template <class U, class = std::enable_if_t<is_upcast_v<U, T> && !std::is_same_v<U, T>>>
    Py(Py<U> &&other) noexcept : Py(std::move(other).into_ptr())
    {
    }
    Py &operator=(Py &&other) noexcept
    {
        if (this != &other) {
            PyObject *old = std::exchange(ptr_, std::exchange(other.ptr_, nullptr));
            detail::debug_check_py_release(old, "Py<T>::operator=");
            pyo3cpp_release_ref(old);
        }
        return *this;
    }
    ~Py()
    {
        // Inline null test: moved-from and drop_ref'd owners never call into the library.
        if (ptr_ == nullptr) return;
        detail::debug_check_py_release(ptr_, "Py<T>::~Py");
        pyo3cpp_release_ref(ptr_);
    }

    Py clone_ref(Python) const noexcept
    {
        if (ptr_ != nullptr) detail::incref(ptr_);
        return Py(ptr_);
    }

    Bound<T> bind(Python) const noexcept
    {
        detail::incref(ptr_);
        return Bound<T>(ptr_);
    }
    Borrowed<T> bind_borrowed(Python py) const noexcept { return Borrowed<T>::from_ptr(py, ptr_); }
    Bound<T> into_bound(Python) && noexcept { return Bound<T>(std::move(*this).into_ptr()); }

    // Releases now, on an attached thread (no trip through the library): exactly a Py_DECREF.
    // Precondition: not null (moved-from or default-constructed), like bind(); debug checks
    // abort on a null Py, a release build does not test (the decref would crash).
    void drop_ref(Python) && noexcept
    {
#if PYO3CPP_DEBUG_CHECKS
        if (ptr_ == nullptr)
            detail::debug_abort("drop_ref on a null Py<T> (moved from or default-constructed)",
                                "Py<T>::drop_ref");
#endif
        detail::decref(std::move(*this).into_ptr(), "Py<T>::drop_ref");
    }

    PyObject *as_ptr() const noexcept { return ptr_; }
    PyObject *into_ptr() && noexcept
    {
        detail::debug_count_py(ptr_, -1);  // the reference leaves Py<T> (debug accounting)
        return std::exchange(ptr_, nullptr);
    }
    bool is_null() const noexcept { return ptr_ == nullptr; }

    template <class U> Py<U> cast(Python py) &&
    {
        if (!type_traits<U>::check(ptr_)) raise_type_error(type_traits<U>::name, ptr_);
        (void)py;
        return Py<U>(std::move(*this).into_ptr());
    }
    template <class U> Py<U> cast_unchecked() && noexcept
    {
        return Py<U>(std::move(*this).into_ptr());
    }

    template <class Other> bool is(const Other &other) const noexcept
    {
        return ptr_ == other.as_ptr();
    }

private:
    // Every reference a Py takes arrives here (debug accounting of live Py<T>).
    explicit Py(PyObject *ptr) noexcept : ptr_(ptr) { detail::debug_count_py(ptr, +1); }
    template <class> friend class Py;
    template <class> friend class Bound;
    template <class> friend class Borrowed;

    PyObject *ptr_ = nullptr;
};

static_assert(sizeof(Py<PyAny>) == sizeof(PyObject *));

template <class T> Py<T> Bound<T>::unbind() && noexcept { return Py<T>(std::exchange(ptr_, nullptr)); }
template <class T> Py<T> Bound<T>::unbind() const &
{
    detail::incref(ptr_);
    return Py<T>(ptr_);
}
template <class T> Py<T> Borrowed<T>::unbind() const { return to_owned().unbind(); }

inline Bound<PyNone> Python::none() const noexcept
{
    detail::incref(Py_None);
    return Bound<PyNone>::from_owned_ptr_unchecked(*this, Py_None);
}

}  // namespace pyo3cpp

#include "pyo3cpp/error.hpp"
