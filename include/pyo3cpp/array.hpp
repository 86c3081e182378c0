// array.hpp — returning C++ memory to Python as an N-dimensional array, without a copy.
//
//   pyo3cpp::Array<double> grid(long rows, long cols) {
//       std::vector<double> values(rows * cols, 0.0);
//       return pyo3cpp::Array<double>(std::move(values), {rows, cols});
//   }
//   m.def("grid", &grid);   // grid(2, 3) -> numpy.ndarray of shape (2, 3) (NumPy importable),
//                           //   else memoryview of shape (2, 3), format 'd'
//
// Contract:
//   - Array<E> owns a std::vector<E> (moved in: its memory is the array's memory, never copied)
//     and a shape (default: 1-D, the vector's size; an element count that does not match the
//     shape raises ValueError when the result is converted). E: bool excepted (std::vector<bool>
//     has no element memory), any buffer element (buffer.hpp).
//   - Returned from a bound function (or into_python(py)), it becomes a writable C-contiguous
//     memoryview over an owner object of the runtime that frees the vector when the last view of
//     it is gone (on whichever thread drops it; freeing a vector needs no Python); with NumPy
//     importable (checked once per process, never a build dependency), numpy.asarray of that
//     memoryview: an ndarray whose base chain keeps the memory alive. as_memoryview() skips NumPy.
//   - Its typing text is "buffer": stubs write _typeshed.ReadableBuffer (type_hint.hpp, stubgen).
// Thread: conversion attached. Cost: one allocation for the vector's new home, one owner object,
// one memoryview, and numpy.asarray when NumPy is used: independent of the array's size.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "pyo3cpp/buffer.hpp"
#include "pyo3cpp/function.hpp"

namespace pyo3cpp {

template <class E> class Array {
    static_assert(!std::is_same_v<E, bool>, "pyo3cpp::Array<bool>: std::vector<bool> has no element memory");

public:
    static constexpr int kMaxDims = 8;
    explicit Array(std::vector<E> values) : values_(std::move(values)), ndim_(1)
    {
        shape_[0] = static_cast<Py_ssize_t>(values_.size());
    }
    Array(std::vector<E> values, std::initializer_list<Py_ssize_t> shape) : values_(std::move(values))
    {
        for (Py_ssize_t extent : shape) {
            if (ndim_ == kMaxDims) {
                ndim_ = kMaxDims + 1;  // refused at conversion
                break;
            }
            shape_[ndim_++] = extent;
        }
    }
    // The result is a memoryview even where NumPy is importable.
    Array &&as_memoryview() && noexcept
    {
        numpy_ = false;
        return std::move(*this);
    }
    const E *data() const noexcept { return values_.data(); }

    // The array, as a new reference (ValueError for a shape that does not fit the elements).
    Bound<PyAny> into_python(Python py) &&
    {
        PyObject *result = std::move(*this).into_ptr(py);
        if (result == nullptr) throw_fetched(py);
        return Bound<PyAny>::from_owned_ptr(py, result);
    }
    // The same, NULL with an exception set on failure (what a bound function returns).
    PyObject *into_ptr(Python) && noexcept
    {
        Py_ssize_t count = 1;
        bool valid = ndim_ <= kMaxDims;
        for (int i = 0; valid && i < ndim_; ++i) {
            valid = shape_[i] >= 0;
            count *= shape_[i];
        }
        if (!valid || count != static_cast<Py_ssize_t>(values_.size())) {
            PyErr_Format(PyExc_ValueError, "an array of %zd elements cannot have the shape it was given (%d dimensions)",
                         static_cast<Py_ssize_t>(values_.size()), ndim_);
            return nullptr;
        }
        std::vector<E> *home = new (std::nothrow) std::vector<E>(std::move(values_));  // keeps the memory
        if (home == nullptr) return PyErr_NoMemory();
        return pyo3cpp_array_new(home->data(), detail::buffer_element<E>::format(), sizeof(E), ndim_, shape_,
                                 &free_home, home, numpy_ ? 1 : 0);
    }

private:
    static void free_home(void *home) noexcept { delete static_cast<std::vector<E> *>(home); }
    std::vector<E> values_;
    Py_ssize_t shape_[kMaxDims] = {};
    int ndim_ = 0;
    bool numpy_ = true;
};

template <class E> struct TypeHint<Array<E>> {
    static std::string text() { return "buffer"; }
};

namespace detail {
template <class E> struct moves_into_python<Array<E>> : std::true_type {
    template <class R> static PyObject *convert(Python py, R &&value)
    {
        static_assert(!std::is_lvalue_reference_v<R>, "return a pyo3cpp::Array by value (it moves its memory out)");
        return std::move(value).into_ptr(py);
    }
};
}  // namespace detail

}  // namespace pyo3cpp
