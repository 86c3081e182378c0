// array.hpp — returning C++ memory to Python as an N-dimensional array, without a copy.
//
//   pyo3cpp::Array<double> grid(long rows, long cols) {
//       std::vector<double> values(rows * cols, 0.0);
//       return pyo3cpp::Array<double>(std::move(values), {rows, cols});
//   }
//   m.def("grid", &grid);   // grid(2, 3) -> numpy.ndarray of shape (2, 3) (NumPy importable),
//                           //   else memoryview of shape (2, 3), format 'd'
//
//   pyo3cpp::Array<float> image(long h, long w) {          // memory from elsewhere, own deleter
//       std::unique_ptr<float[], FreeDeleter> pixels(static_cast<float *>(std::calloc(h * w, 4)));
//       return pyo3cpp::Array<float>(std::move(pixels), {h, w});
//   }
//
// Contract:
//   - Array<E> owns its memory, never copied: a std::vector<E> moved in (its data() is the
//     array's memory; E = bool excepted, std::vector<bool> has no element memory), or a
//     std::unique_ptr<E[], Deleter> moved in with its element count or shape (the deleter runs
//     when Python lets go). The shape defaults to 1-D; an element count that does not match the
//     vector's, a negative extent, or more than kMaxDims dimensions raise ValueError when the
//     result is converted (and the memory is freed then). E: any buffer element (buffer.hpp).
//   - Returned from a bound function (or into_python(py)), it becomes a writable C-contiguous
//     memoryview over an owner object of the runtime that frees the memory when the last view of
//     it is gone: inside that object's deallocation, so attached, on whichever thread drops the
//     last view (a deleter must not throw; it may not assume which thread). With NumPy importable
//     (looked up once per process, never a build dependency), numpy.asarray of that memoryview:
//     an ndarray whose base chain keeps the memory alive. as_memoryview() skips NumPy.
//   - An Array never converted frees its memory in its destructor, like the vector or
//     unique_ptr it replaced.
//   - Its typing text is "buffer": stubs write _typeshed.ReadableBuffer (type_hint.hpp, stubgen).
// Thread: conversion attached. Cost: one allocation for the memory's new home (made when the
// Array is constructed), one owner object, one memoryview, and numpy.asarray when NumPy is used:
// independent of the array's size (bench/array_return.sh).
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <algorithm>
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
public:
    static constexpr int kMaxDims = 8;

    // A vector's memory (one dimension, or the shape given).
    explicit Array(std::vector<E> values)
        requires(!std::is_same_v<E, bool>)
    {
        auto *home = new std::vector<E>(std::move(values));  // the memory's home until Python lets go
        const auto count = static_cast<Py_ssize_t>(home->size());
        adopt(home->data(), count, home, &delete_home<std::vector<E>>, {count});
    }
    Array(std::vector<E> values, std::initializer_list<Py_ssize_t> shape)
        requires(!std::is_same_v<E, bool>)
    {
        auto *home = new std::vector<E>(std::move(values));  // the memory's home until Python lets go
        adopt(home->data(), static_cast<Py_ssize_t>(home->size()), home, &delete_home<std::vector<E>>, shape);
    }
    // Memory from an allocation of `count` elements, freed by its deleter (delete[] by default).
    template <class Deleter>
    Array(std::unique_ptr<E[], Deleter> memory, Py_ssize_t count) : Array(std::move(memory), {count})
    {
    }
    // The same with a shape: the allocation holds as many elements as the shape says.
    template <class Deleter> Array(std::unique_ptr<E[], Deleter> memory, std::initializer_list<Py_ssize_t> shape)
    {
        using Home = std::unique_ptr<E[], Deleter>;
        E *data = memory.get();
        auto *home = new Home(std::move(memory));
        adopt(data, kSizedByShape, home, &delete_home<Home>, shape);
    }
    Array(Array &&other) noexcept
        : data_(other.data_), count_(other.count_), home_(std::exchange(other.home_, nullptr)),
          free_home_(other.free_home_), ndim_(other.ndim_), numpy_(other.numpy_)
    {
        std::copy(other.shape_, other.shape_ + kMaxDims, shape_);
    }
    Array &operator=(Array &&) = delete;
    Array(const Array &) = delete;
    Array &operator=(const Array &) = delete;
    ~Array()
    {
        if (home_ != nullptr) free_home_(home_);  // never handed to Python
    }

    // The result is a memoryview even where NumPy is importable.
    Array &&as_memoryview() && noexcept
    {
        numpy_ = false;
        return std::move(*this);
    }
    const E *data() const noexcept { return data_; }

    // The array, as a new reference (ValueError for a shape that does not fit the elements).
    Bound<PyAny> into_python(Python py) &&
    {
        PyObject *result = std::move(*this).into_ptr(py);
        if (result == nullptr) throw_fetched(py);
        return Bound<PyAny>::from_owned_ptr(py, result);
    }
    // The same, NULL with an exception set on failure (what a bound function returns). The memory
    // passes to Python either way: on failure it has been freed.
    PyObject *into_ptr(Python) && noexcept
    {
        Py_ssize_t count = 1;
        bool valid = ndim_ <= kMaxDims;
        for (int i = 0; valid && i < ndim_; ++i)
            valid = shape_[i] >= 0 && !__builtin_mul_overflow(count, shape_[i], &count);
        Py_ssize_t bytes = 0;
        valid = valid && !__builtin_mul_overflow(count, static_cast<Py_ssize_t>(sizeof(E)), &bytes);
        if (valid && count_ != kSizedByShape) valid = count == count_;
        if (valid && data_ == nullptr && count != 0) valid = false;
        void *home = std::exchange(home_, nullptr);
        if (!valid) {
            if (count_ != kSizedByShape)
                PyErr_Format(PyExc_ValueError, "an array of %zd elements cannot have the shape it was given (%d dimensions)",
                             count_, ndim_);
            else
                PyErr_Format(PyExc_ValueError, "an array cannot have the shape it was given (%d dimensions%s)", ndim_,
                             data_ == nullptr ? ", no memory" : "");
            if (home != nullptr) free_home_(home);
            return nullptr;
        }
        return pyo3cpp_array_new(data_, detail::buffer_element<E>::format(), sizeof(E), ndim_, shape_, free_home_, home,
                                 numpy_ ? 1 : 0);
    }

private:
    static constexpr Py_ssize_t kSizedByShape = -1;
    template <class Home> static void delete_home(void *home) noexcept { delete static_cast<Home *>(home); }
    void adopt(E *data, Py_ssize_t count, void *home, void (*free_home)(void *) noexcept,
               std::initializer_list<Py_ssize_t> shape) noexcept
    {
        data_ = data;
        count_ = count;
        home_ = home;
        free_home_ = free_home;
        for (Py_ssize_t extent : shape) {
            if (ndim_ == kMaxDims) {
                ndim_ = kMaxDims + 1;  // refused at conversion
                break;
            }
            shape_[ndim_++] = extent;
        }
    }
    E *data_ = nullptr;
    Py_ssize_t count_ = 0;                  // elements in the home, or kSizedByShape
    void *home_ = nullptr;                  // owns the memory; null once handed over
    void (*free_home_)(void *) noexcept = nullptr;
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
