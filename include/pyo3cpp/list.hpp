// list.hpp — PyList: typed view of a Python list, safe to use while other threads mutate it.
//
//   Bound<PyList> l = make_list(py, 1, "two", other_object);
//   l.append(3.0);
//   Bound<PyAny> first = l.get_item(0);              // strong reference; IndexError if absent
//   for (const Bound<PyAny> &item : l) ...           // PyList_GetItemRef per index
//   locked_for_each(py, l, [&](const Bound<PyAny> &item) { ... });
//
// Contract: requires attachment; failures throw PyErr (IndexError for an index out of range,
// including negative ones: indexes are positions, as in PyList_GetItem). Values may be Python
// objects or anything IntoPython converts.
// Free threading: items come out through PyList_GetItemRef (a shim on 3.11/3.12), a strong
// reference taken atomically, so no borrowed item escapes. Iteration reads index 0, 1, ... until
// the first index past the end: another thread may append or remove meanwhile (the loop never
// crashes; it may miss or repeat an item, as Python's own list iterator may). locked_for_each
// holds the list's critical section for the whole loop instead.
// Cost: each method is its C API call inline; iteration one PyList_GetItemRef per item. No
// allocation beyond what the list itself does.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <cstddef>
#include <iterator>
#include <optional>

#include "pyo3cpp/any.hpp"
#include "pyo3cpp/critical_section.hpp"

namespace pyo3cpp {

namespace detail {

// The C++ iterator over a list: index by index, strong references.
template <class Dep> class ListIterator {
public:
    using iterator_concept = std::input_iterator_tag;
    using value_type = bound_t<Dep>;
    using difference_type = std::ptrdiff_t;

    ListIterator() = default;
    [[gnu::always_inline]] explicit ListIterator(PyObject *list) : list_(list) { advance(); }

    const value_type &operator*() const noexcept { return *current_; }
    const value_type *operator->() const noexcept { return &*current_; }
    [[gnu::always_inline]] ListIterator &operator++()
    {
        advance();
        return *this;
    }
    void operator++(int) { advance(); }
    friend bool operator==(const ListIterator &it, std::default_sentinel_t) noexcept
    {
        return !it.current_.has_value();
    }

private:
    // Forced inline: at -O2 (what most extension builds use) GCC keeps it out of line on
    // free-threaded builds, whose incref/decref are larger, and the loop pays a call per step
    // (bench/bench_objects.cpp, list_iter_1000 at -O2: 1.03x the C loop before).
    [[gnu::always_inline]] void advance() noexcept
    {
        current_.reset();
        // Checking the size first keeps the common end-of-list case free of an IndexError;
        // the strong fetch below still decides, since the list may shrink in between.
        if (index_ >= PyList_GET_SIZE(list_)) return;
#ifdef Py_GIL_DISABLED
        PyObject *item = compat::list_get_item_ref(list_, index_);
        if (item == nullptr) {
            PyErr_Clear();  // IndexError: another thread shortened the list; we are done
            return;
        }
#else
        // With a GIL nothing runs between the size check and this read: the item is there,
        // and the bounds-checking call would only repeat the check (bench: 2.3x the C loop).
        PyObject *item = compat::new_ref(PyList_GET_ITEM(list_, index_));
#endif
        ++index_;
        current_.emplace(value_type::from_owned_ptr_unchecked(Python::assume_attached(), item));
    }

    PyObject *list_ = nullptr;
    Py_ssize_t index_ = 0;
    std::optional<value_type> current_;  // empty at the end
};

}  // namespace detail

template <class Self> struct Methods<Self, PyList> : AnyMethods<Self> {
    // list[index] as a strong reference; IndexError when out of range.
    detail::bound_t<Self> get_item(Py_ssize_t index) const
    {
        return detail::bound_t<Self>::from_owned_ptr(this->token(),
                                                      compat::list_get_item_ref(this->ptr(), index));
    }
    // list[index] = value; IndexError when out of range.
    template <class Value> void set_item(Py_ssize_t index, const Value &value) const
    {
        detail::ObjectArg<std::remove_cvref_t<Value>> held(this->token(), value);
        PyObject *item = held.get();
        Py_INCREF(item);  // PyList_SetItem steals, even when it fails
        detail::check_int(this->token(), PyList_SetItem(this->ptr(), index, item));
    }
    // list.append(value).
    template <class Value> void append(const Value &value) const
    {
        detail::ObjectArg<std::remove_cvref_t<Value>> held(this->token(), value);
        detail::check_int(this->token(), PyList_Append(this->ptr(), held.get()));
    }
    // list.insert(index, value) (Python's clamping and negative indexes apply).
    template <class Value> void insert(Py_ssize_t index, const Value &value) const
    {
        detail::ObjectArg<std::remove_cvref_t<Value>> held(this->token(), value);
        detail::check_int(this->token(), PyList_Insert(this->ptr(), index, held.get()));
    }
    // len(list). Never fails.
    std::size_t len() const noexcept { return static_cast<std::size_t>(PyList_Size(this->ptr())); }
    bool is_empty() const noexcept { return len() == 0; }
    // tuple(list), an atomic snapshot.
    detail::bound_t<Self, PyTuple> to_tuple() const
    {
        return detail::bound_t<Self, PyTuple>::from_owned_ptr(this->token(), PyList_AsTuple(this->ptr()));
    }
    // list.sort() and list.reverse().
    void sort() const { detail::check_int(this->token(), PyList_Sort(this->ptr())); }
    void reverse() const { detail::check_int(this->token(), PyList_Reverse(this->ptr())); }

    [[gnu::always_inline]] detail::ListIterator<Self> begin() const
    {
        return detail::ListIterator<Self>(this->ptr());
    }
    std::default_sentinel_t end() const noexcept { return {}; }
};

// A new empty list.
template <class Dep = void> detail::bound_t<Dep, PyList> new_list(Python py)
{
    return detail::bound_t<Dep, PyList>::from_owned_ptr(py, PyList_New(0));
}
// A new list of `size` Nones (never a list with NULL slots).
template <class Dep = void> detail::bound_t<Dep, PyList> new_list(Python py, std::size_t size)
{
    if (size > static_cast<std::size_t>(PY_SSIZE_T_MAX)) {
        PyErr_SetString(PyExc_OverflowError, "list size too large");
        throw_fetched(py);
    }
    const auto n = static_cast<Py_ssize_t>(size);
    PyObject *list = PyList_New(n);
    auto owned = detail::bound_t<Dep, PyList>::from_owned_ptr(py, list);
    for (Py_ssize_t i = 0; i < n; ++i) PyList_SET_ITEM(list, i, compat::new_ref(Py_None));
    return owned;
}
// [a, b, c]: each argument is a Python object or anything IntoPython converts.
template <class... Values> detail::bound_t<detail::pack<Values...>, PyList> make_list(Python py, const Values &...values)
{
    PyObject *list = PyList_New(static_cast<Py_ssize_t>(sizeof...(Values)));
    auto owned = detail::bound_t<detail::pack<Values...>, PyList>::from_owned_ptr(py, list);
    Py_ssize_t index = 0;
    // A new list's slots are written once with PyList_SET_ITEM, which steals.
    (PyList_SET_ITEM(list, index++, detail::ObjectArg<Values>(py, values).new_reference()), ...);
    return owned;
}

// Calls fn(item) for every item while holding the list's critical section for the whole loop
// (nothing else can change the list meanwhile). Items are strong references; fn may throw;
// fn must not detach or block. If fn itself shortens the list, the loop stops at the new end.
template <class View, class F>
    requires std::is_same_v<typename View::tag, PyList>
void locked_for_each(Python py, const View &list, F &&fn)
{
    CriticalSection section(py, list);
    PyObject *raw = list.as_ptr();
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(raw); ++i) {
        PyObject *item = PyList_GET_ITEM(raw, i);
        Py_INCREF(item);
        const auto owned = detail::bound_t<View>::from_owned_ptr_unchecked(py, item);
        fn(owned);
    }
}

}  // namespace pyo3cpp

#ifndef PYO3CPP_DECLARING_METHODS
#include "pyo3cpp/borrowed.hpp"
#endif
