// result.hpp — PyResult<T>: a value or the PyErr that prevented it, returned instead of thrown.
//
//   PyResult<Bound<PyAny>> r = getitem.try_call(key);        // call.hpp
//   if (r) use(*r);                                          // the value
//   else if (r.error().matches(py, PyExc_KeyError)) ...;     // expected: no unwinding at all
//   else return r.error().restore(py), nullptr;              // or hand it back to CPython
//   Bound<PyAny> v = f.try_call(x).value();                  // throws the PyErr itself
//
// Which functions throw and which return PyResult:
//   - The plain forms (call, call_method, getattr, ... : any.hpp, call.hpp) throw PyErr. Use
//     them where a failure is a real error that should unwind to the module boundary.
//   - The try_ forms (try_call, try_call_method: call.hpp; dict try_get_item: dict.hpp) return
//     PyResult and never throw PyErr: the callee's exception and any failure preparing the
//     arguments (a conversion, a null argument, a keyword name) come back as the error. Only
//     std::bad_alloc can escape.
//   - The optional forms (dict get_item, getattr_opt) answer "absent" with an empty optional
//     and throw for other failures.
// Why: throwing and catching a C++ exception costs about 13,000 instructions of unwinder work
// (bench raise_catch_keyerror), twenty times the whole failed call; a PyResult is a branch.
//
// Contract (std::expected's shape, which C++20 lacks; names follow it):
//   - has_value() / explicit operator bool: success.
//   - value(): the value; on failure it throws the held PyErr (a copy for an lvalue, moved out
//     of an rvalue). operator* / operator-> : unchecked access (precondition: has_value()).
//   - error(): the PyErr (precondition: !has_value()).
//   - value_or(fallback): the value or `fallback`.
// Thread: a PyResult<Bound<T>>, PyResult<Borrowed<T>> or PyResult<std::optional<Bound<T>>>
// (what the try_ forms return) follows
// Bound's rule in either state: use and destroy it on an attached thread (its error is then
// dropped with plain decrefs, no attachment check). To take the error elsewhere, move it out:
// PyErr e = std::move(r).error(). A PyResult of anything else (Py<T>, long, ...) may be used
// and destroyed on any thread, like PyErr.
// Cost: the larger of T and PyErr plus a flag; constructing the error is PyErr::fetch (no
// allocation, no normalisation, no formatting); nothing on the success path but the flag.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "pyo3cpp/error.hpp"

namespace pyo3cpp {

template <class T> class [[nodiscard]] PyResult {
    static_assert(!std::is_reference_v<T> && !std::is_same_v<std::remove_cv_t<T>, PyErr>,
                  "PyResult holds a value type other than PyErr");

public:
    using value_type = T;
    using error_type = PyErr;

    PyResult(T value) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(true)
    {
        ::new (static_cast<void *>(&value_)) T(std::move(value));
    }
    PyResult(PyErr error) noexcept : ok_(false)
    {
        ::new (static_cast<void *>(&error_)) PyErr(std::move(error));
    }
    // The thread's pending exception, fetched straight into the result (no intermediate move).
    static PyResult fetch(Python py) noexcept { return PyResult(Fetch{}, py); }

    PyResult(const PyResult &other) : ok_(other.ok_)
    {
        if (ok_)
            ::new (static_cast<void *>(&value_)) T(other.value_);
        else
            ::new (static_cast<void *>(&error_)) PyErr(other.error_);
    }
    PyResult(PyResult &&other) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(other.ok_)
    {
        if (ok_)
            ::new (static_cast<void *>(&value_)) T(std::move(other.value_));
        else
            ::new (static_cast<void *>(&error_)) PyErr(std::move(other.error_));
    }
    PyResult &operator=(const PyResult &other)
    {
        if (this != &other) {
            PyResult copy(other);
            destroy();
            construct_from(std::move(copy));
        }
        return *this;
    }
    PyResult &operator=(PyResult &&other) noexcept(std::is_nothrow_move_constructible_v<T>)
    {
        if (this != &other) {
            destroy();
            construct_from(std::move(other));
        }
        return *this;
    }
    ~PyResult() { destroy(); }

    bool has_value() const noexcept { return ok_; }
    explicit operator bool() const noexcept { return ok_; }

    T &value() &
    {
        if (!ok_) throw error_;
        return value_;
    }
    const T &value() const &
    {
        if (!ok_) throw error_;
        return value_;
    }
    // By value, so `auto &&v = f.try_call().value()` cannot dangle.
    T value() &&
    {
        if (!ok_) throw std::move(error_);
        return std::move(value_);
    }
    template <class U> T value_or(U &&fallback) const &
    {
        return ok_ ? value_ : static_cast<T>(std::forward<U>(fallback));
    }
    template <class U> T value_or(U &&fallback) &&
    {
        return ok_ ? std::move(value_) : static_cast<T>(std::forward<U>(fallback));
    }

    T &operator*() & noexcept { return value_; }
    const T &operator*() const & noexcept { return value_; }
    T operator*() && noexcept(std::is_nothrow_move_constructible_v<T>) { return std::move(value_); }
    T *operator->() noexcept { return &value_; }
    const T *operator->() const noexcept { return &value_; }

    PyErr &error() & noexcept { return error_; }
    const PyErr &error() const & noexcept { return error_; }
    PyErr error() && noexcept { return std::move(error_); }

private:
    // A PyResult holding a Bound or Borrowed lives on an attached thread (Bound's rule, in
    // either state), so its error is dropped without asking whether the thread is attached.
    template <class U> struct is_view : std::false_type {};
    template <class U> struct is_view<Bound<U>> : std::true_type {};
    template <class U> struct is_view<Borrowed<U>> : std::true_type {};
    template <class U> struct is_view<std::optional<U>> : is_view<U> {};
    static constexpr bool attached_only = is_view<std::remove_cv_t<T>>::value;

    struct Fetch {};
    PyResult(Fetch, Python py) noexcept : ok_(false)
    {
        ::new (static_cast<void *>(&error_)) PyErr(PyErr::fetch(py));
    }
    void destroy() noexcept
    {
        // Qualified calls: the types are known, so no virtual dispatch for PyErr.
        if (ok_) {
            std::destroy_at(&value_);
        } else if constexpr (attached_only) {
            // Attached (see Thread above): release with plain decrefs and end the PyErr's
            // lifetime without its destructor, which would only test the released fields and
            // run std::exception's empty one. Allowed: nothing depends on a destructor's side
            // effects here ([basic.life]: a destructor need not be called before storage ends).
            error_.release_attached();
        } else {
            error_.PyErr::~PyErr();
        }
    }
    void construct_from(PyResult &&other) noexcept(std::is_nothrow_move_constructible_v<T>)
    {
        ok_ = other.ok_;
        if (ok_)
            ::new (static_cast<void *>(&value_)) T(std::move(other.value_));
        else
            ::new (static_cast<void *>(&error_)) PyErr(std::move(other.error_));
    }

    union {
        T value_;
        PyErr error_;
    };
    bool ok_;
};

}  // namespace pyo3cpp
