// iterator.hpp — Python iterators as C++ input ranges.
//
//   for (const Bound<PyAny> &item : obj.iter()) use(item);   // obj.iter() is iter(obj)
//   while (auto item = it.next()) use(*item);                 // it: Bound<PyIterator>
//
// Contract: requires attachment; the range must outlive its loop (range-for keeps the
// temporary from obj.iter() alive). Each step calls next() on the Python iterator; an
// exception raised by it is thrown as PyErr from operator++ (or begin()). Every yielded item is
// a strong reference owned by the C++ iterator until the next step; copy it (`auto`) to keep
// it, or bind `const auto &` to avoid the incref.
// Thread: the Python iterator's own thread-safety applies (built-in iterators are safe to
// share on 3.13t but may yield an item to only one of the threads calling next()).
// Cost: one PyIter_Next per item, nothing else; no allocation.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <cstddef>
#include <iterator>
#include <optional>

#include "pyo3cpp/any.hpp"

namespace pyo3cpp {

namespace detail {

// The C++ iterator over a Python iterator (borrowed: the Bound<PyIterator> owns it).
template <class Dep> class ObjectIterator {
public:
    using iterator_concept = std::input_iterator_tag;
    using value_type = bound_t<Dep>;
    using difference_type = std::ptrdiff_t;

    ObjectIterator() = default;
    explicit ObjectIterator(PyObject *iterator) : iterator_(iterator) { advance(); }

    const value_type &operator*() const noexcept { return *current_; }
    const value_type *operator->() const noexcept { return &*current_; }
    ObjectIterator &operator++()
    {
        advance();
        return *this;
    }
    void operator++(int) { advance(); }
    friend bool operator==(const ObjectIterator &it, std::default_sentinel_t) noexcept
    {
        return !it.current_.has_value();
    }

private:
    void advance()
    {
        current_.reset();
        PyObject *next = PyIter_Next(iterator_);
        if (next != nullptr)
            current_.emplace(value_type::from_owned_ptr_unchecked(Python::assume_attached(), next));
        else if (PyErr_Occurred())
            throw_fetched(Python::assume_attached());
    }

    PyObject *iterator_ = nullptr;
    std::optional<value_type> current_;  // empty at the end
};

}  // namespace detail

template <class Self> struct Methods<Self, PyIterator> : AnyMethods<Self> {
    // next(it): the next item, or empty when exhausted; exceptions are thrown.
    std::optional<detail::bound_t<Self>> next() const
    {
        PyObject *item = PyIter_Next(this->ptr());
        if (item == nullptr) {
            if (PyErr_Occurred()) throw_fetched(this->token());
            return std::nullopt;
        }
        return detail::bound_t<Self>::from_owned_ptr_unchecked(this->token(), item);
    }
    detail::ObjectIterator<Self> begin() const { return detail::ObjectIterator<Self>(this->ptr()); }
    std::default_sentinel_t end() const noexcept { return {}; }
};

}  // namespace pyo3cpp

#ifndef PYO3CPP_DECLARING_METHODS
#include "pyo3cpp/borrowed.hpp"
#endif
