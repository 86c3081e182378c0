// buffer.hpp — typed views of any buffer exporter (bytes, bytearray, array.array, memoryview,
// NumPy arrays, a bound class with def_buffer): the buffer protocol from the consumer's side.
//
//   double total(pyo3cpp::BufferView<const double> xs) {           // 1-D, C-contiguous, float64
//       double sum = 0;
//       for (double x : xs) sum += x;
//       return sum;
//   }
//   void scale(pyo3cpp::BufferView<double, pyo3cpp::shape<pyo3cpp::any, 3>> points, double k);
//   double trace(pyo3cpp::BufferView<const float, pyo3cpp::shape<pyo3cpp::any, pyo3cpp::any>,
//                                    pyo3cpp::layout::strided> m);
//   m.def("total", &total);   // total(b"...") -> TypeError: total() argument 'xs' must be a
//                             //   C-contiguous 1-dimensional buffer of float64, not bytes (...)
//
// Contract:
//   - BufferView<T, Shape, Layout>: T is the element (bool, a signed or unsigned integer of 1, 2,
//     4 or 8 bytes, float or double); `const T` views accept read-only buffers, plain `T` views
//     refuse them (TypeError: "must be a writable ..."), as bytes is refused where bytearray is
//     taken. Shape is shape<E...>: one extent per dimension, `any` or a fixed size; default
//     shape<any> (1-D). Layout: layout::c (default), layout::f (Fortran), layout::strided (any
//     strides, negative included).
//   - The element matches the buffer's format by kind and size, in the machine's byte order:
//     'd' '<d' '=d' '@d' are float64 on a little-endian machine, '>d' is refused; 'l' is 8 bytes
//     native but 4 with a standard-size prefix ('<l'), exactly as the struct module reads them.
//     A format with a repeat count, a struct, 'c' or 's' is refused. No conversion, no copy.
//   - A mismatch raises TypeError naming what was expected and what came, in convert.hpp's
//     clause form; a bound function prefixes the function and argument.
//   - As a parameter the view holds the exporter's buffer (PyObject_GetBuffer) for the call and
//     releases it when the call ends, exceptions included: a bytearray passed in cannot be
//     resized meanwhile (BufferError), a bound class with def_buffer neither. Moving the view
//     moves that hold (the Py_buffer struct is moved bitwise: CPython's exporters and NumPy do not
//     depend on its address).
//   - StoredBuffer<T, Shape, Layout> (store(py) of a view, or a parameter type of its own) keeps
//     the memory beyond the call: it holds a memoryview of the exporter as a Py<PyAny>, so it is
//     released like any Py<T> (at once when attached, through the deferred-decref pool from any
//     other thread, leaked after finalisation). Reading its elements needs no attachment; what
//     keeps other threads from writing them meanwhile is up to the program.
//   - Its typing text is "buffer" (type_hint.hpp); stubs write _typeshed.ReadableBuffer, typeshed's
//     name for any exporter (collections.abc.Buffer where the checker knows that, 3.12 on).
// Thread: conversion, release and store() attached; element access on any thread while the view
// lives. Cost: one call into the runtime (PyObject_GetBuffer and the checks) and one
// PyBuffer_Release per call; element access is a pointer and stride multiply, inline
// (bench/buffer_sum.sh measures a 1,000,000-element sum against hand-written C).
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <array>
#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>
#include <utility>

#include "pyo3cpp/convert.hpp"
#include "pyo3cpp/error.hpp"
#include "pyo3cpp/py.hpp"
#include "pyo3cpp/type_hint.hpp"
#include "pyo3cpp.h"

namespace pyo3cpp {

inline constexpr Py_ssize_t any = -1;  // an extent of any size
template <Py_ssize_t... Extents> struct shape {
    static_assert(sizeof...(Extents) >= 1, "pyo3cpp::shape: at least one dimension");
    static constexpr std::size_t ndim = sizeof...(Extents);
    static constexpr std::array<Py_ssize_t, ndim> extents{Extents...};
};
enum class layout : int { strided = 0, c = 1, f = 2 };

namespace detail {

// The element's kind ('i' 'u' 'f' 'b') and the format a buffer of it is exported with.
template <class T> struct buffer_element {
    static_assert(std::is_arithmetic_v<T> && !std::is_same_v<T, long double> && !std::is_same_v<T, char>,
                  "pyo3cpp buffers: the element is bool, a sized integer (not plain char), float or double");
    static constexpr char kind = std::is_same_v<T, bool> ? 'b'
                                 : std::is_floating_point_v<T> ? 'f'
                                 : std::is_signed_v<T> ? 'i'
                                                       : 'u';
    // struct module letters for the native type of that size (what memoryview.cast and NumPy read).
    static constexpr const char *format()
    {
        if constexpr (std::is_same_v<T, bool>) return "?";
        else if constexpr (std::is_same_v<T, float>) return "f";
        else if constexpr (std::is_same_v<T, double>) return "d";
        else if constexpr (std::is_signed_v<T>)
            return sizeof(T) == 1 ? "b" : sizeof(T) == 2 ? "h" : sizeof(T) == 4 ? "i" : "q";
        else
            return sizeof(T) == 1 ? "B" : sizeof(T) == 2 ? "H" : sizeof(T) == 4 ? "I" : "Q";
    }
};

// The geometry both view kinds share: data, shape and strides (bytes), copied out of the
// Py_buffer so that moving the view never leaves them pointing into a moved-from struct.
template <class T, class Shape, layout L> class BufferGeometry {
public:
    static constexpr std::size_t ndim = Shape::ndim;
    using element_type = T;

    T *data() const noexcept { return data_; }
    Py_ssize_t shape(std::size_t i) const noexcept { return shape_[i]; }
    Py_ssize_t stride(std::size_t i) const noexcept { return strides_[i]; }  // in bytes
    Py_ssize_t size() const noexcept
    {
        Py_ssize_t n = 1;
        for (std::size_t i = 0; i < ndim; ++i) n *= shape_[i];
        return n;
    }
    // The element at (i, j, ...): one index per dimension, by the strides; no bounds check.
    template <class... I>
        requires(sizeof...(I) == ndim)
    T &operator()(I... index) const noexcept
    {
        const Py_ssize_t at[] = {static_cast<Py_ssize_t>(index)...};
        Py_ssize_t offset = 0;
        for (std::size_t d = 0; d < ndim; ++d) offset += at[d] * strides_[d];
        using Byte = std::conditional_t<std::is_const_v<T>, const char, char>;
        return *reinterpret_cast<T *>(reinterpret_cast<Byte *>(data_) + offset);
    }
    // Contiguous views: the elements in memory order, as a span.
    std::span<T> span() const noexcept
        requires(L != layout::strided)
    {
        return std::span<T>(data_, static_cast<std::size_t>(size()));
    }
    T *begin() const noexcept
        requires(L != layout::strided)
    {
        return data_;
    }
    T *end() const noexcept
        requires(L != layout::strided)
    {
        return data_ + size();
    }
    T &operator[](Py_ssize_t i) const noexcept
        requires(L != layout::strided && ndim == 1)
    {
        return data_[i];
    }

protected:
    void take_geometry(const Py_buffer &view) noexcept
    {
        data_ = static_cast<T *>(view.buf);
        // Some exporters (ctypes) give no strides, or no shape for one dimension: C order then.
        for (std::size_t i = 0; i < ndim; ++i)
            shape_[i] = view.shape != nullptr ? view.shape[i] : view.len / view.itemsize;
        Py_ssize_t step = view.itemsize;
        for (std::size_t i = ndim; i-- > 0;) {
            strides_[i] = view.strides != nullptr ? view.strides[i] : step;
            step *= shape_[i];
        }
    }
    T *data_ = nullptr;
    Py_ssize_t shape_[ndim] = {};
    Py_ssize_t strides_[ndim] = {};
};

template <class T, class Shape, layout L> void acquire_buffer(Python py, PyObject *object, Py_buffer &view)
{
    using E = std::remove_const_t<T>;
    if (pyo3cpp_buffer_acquire(object, &view, buffer_element<E>::kind, sizeof(E), static_cast<int>(Shape::ndim),
                               Shape::extents.data(), static_cast<int>(L), !std::is_const_v<T>) != 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "pyo3cpp: a buffer needs an attached thread");
        throw_fetched(py);
    }
}

}  // namespace detail

template <class T, class Shape, layout L> class StoredBuffer;

// A typed view of an exporter's buffer, held for the view's life (see the contract above).
template <class T, class Shape = shape<any>, layout L = layout::c>
class BufferView : public detail::BufferGeometry<T, Shape, L> {
public:
    // `object`'s buffer, checked (TypeError, or the exporter's BufferError).
    BufferView(Python py, Borrowed<PyAny> object)
    {
        detail::acquire_buffer<T, Shape, L>(py, object.as_ptr(), view_);
        this->take_geometry(view_);
    }
    BufferView(BufferView &&other) noexcept : detail::BufferGeometry<T, Shape, L>(other), view_(other.view_)
    {
        other.view_.obj = nullptr;
        other.data_ = nullptr;
    }
    BufferView &operator=(BufferView &&other) noexcept
    {
        if (this != &other) {
            release();
            static_cast<detail::BufferGeometry<T, Shape, L> &>(*this) = other;
            view_ = other.view_;
            other.view_.obj = nullptr;
            other.data_ = nullptr;
        }
        return *this;
    }
    BufferView(const BufferView &) = delete;
    BufferView &operator=(const BufferView &) = delete;
    ~BufferView() { release(); }

    // The exporter (borrowed from the view's hold).
    Borrowed<PyAny> object() const noexcept
    {
        return Borrowed<PyAny>::from_ptr(Python::assume_attached(), view_.obj);
    }
    bool readonly() const noexcept { return view_.readonly != 0; }
    // The same memory, kept beyond this view's life (a memoryview of the exporter).
    StoredBuffer<T, Shape, L> store(Python py) const { return StoredBuffer<T, Shape, L>(py, object()); }

protected:
    // A view of a buffer acquired and checked elsewhere (buffer_convert.hpp): it takes the hold over.
    struct adopt_t {};
    BufferView(adopt_t, const Py_buffer &view) noexcept : view_(view) { this->take_geometry(view_); }

private:
    void release() noexcept
    {
        // A view ends where it was made: a bound call's argument, attached. A view destroyed on
        // a thread that is not attached would have to attach: keep StoredBuffer for that.
        if (view_.obj != nullptr) PyBuffer_Release(&view_);
        view_.obj = nullptr;
    }
    Py_buffer view_{};
};

// A typed view that owns what it views: a memoryview of the exporter, released like any Py<T>.
template <class T, class Shape = shape<any>, layout L = layout::c>
class StoredBuffer : public detail::BufferGeometry<T, Shape, L> {
public:
    StoredBuffer(Python py, Borrowed<PyAny> object)
    {
        // Checked on the exporter itself (errors name its type), then kept by a memoryview made
        // while that export still pins the memory: both see the same memory and geometry.
        Py_buffer view{};
        detail::acquire_buffer<T, Shape, L>(py, object.as_ptr(), view);
        PyObject *memoryview = PyMemoryView_FromObject(object.as_ptr());
        if (memoryview == nullptr) {
            PyBuffer_Release(&view);
            throw_fetched(py);
        }
        memoryview_ = Bound<PyAny>::from_owned_ptr(py, memoryview).unbind();
        this->take_geometry(view);
        PyBuffer_Release(&view);
    }
    // The memoryview holding the memory (for handing the same memory back to Python).
    const Py<PyAny> &memoryview() const noexcept { return memoryview_; }

private:
    Py<PyAny> memoryview_;
};

template <class T, class Shape, layout L> struct FromPython<BufferView<T, Shape, L>> {
    static BufferView<T, Shape, L> extract(Borrowed<PyAny> object)
    {
        return BufferView<T, Shape, L>(Python::assume_attached(), object);
    }
};
template <class T, class Shape, layout L> struct FromPython<StoredBuffer<T, Shape, L>> {
    static StoredBuffer<T, Shape, L> extract(Borrowed<PyAny> object)
    {
        return StoredBuffer<T, Shape, L>(Python::assume_attached(), object);
    }
};
template <class T, class Shape, layout L> struct TypeHint<BufferView<T, Shape, L>> {
    static std::string text() { return "buffer"; }
};
template <class T, class Shape, layout L> struct TypeHint<StoredBuffer<T, Shape, L>> {
    static std::string text() { return "buffer"; }
};

}  // namespace pyo3cpp
