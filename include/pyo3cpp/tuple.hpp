// tuple.hpp — PyTuple: typed view of a Python tuple.
//
//   Bound<PyTuple> t = make_tuple(py, 1, "two", obj);     // Python objects or C++ values
//   Bound<PyAny> second = t.get_item(1);                  // IndexError when out of range
//   auto [a, b, c] = t.unpack<3>();                       // ValueError unless len(t) == 3
//   for (const Bound<PyAny> &item : t) ...
//
// Contract: requires attachment; failures throw PyErr. Tuples are immutable, so reading one
// needs no critical section on any build, and items are handed out as strong references.
// Cost: each method is its C API call inline; iteration is one incref per item.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <cstddef>
#include <iterator>
#include <tuple>
#include <utility>

#include "pyo3cpp/any.hpp"

namespace pyo3cpp {

namespace detail {

// std::tuple<T, T, ..., T> with N elements (the result of unpack<N>).
template <class T, std::size_t> using repeat_type = T;
template <class T, class Indices> struct repeat_tuple;
template <class T, std::size_t... I> struct repeat_tuple<T, std::index_sequence<I...>> {
    using type = std::tuple<repeat_type<T, I>...>;
};
template <class T, std::size_t N>
using repeat_tuple_t = typename repeat_tuple<T, std::make_index_sequence<N>>::type;

template <class Dep> class TupleIterator {
public:
    using iterator_concept = std::input_iterator_tag;
    using value_type = bound_t<Dep>;
    using difference_type = std::ptrdiff_t;

    TupleIterator() = default;
    explicit TupleIterator(PyObject *tuple) : tuple_(tuple) { advance(); }

    const value_type &operator*() const noexcept { return *current_; }
    const value_type *operator->() const noexcept { return &*current_; }
    TupleIterator &operator++()
    {
        advance();
        return *this;
    }
    void operator++(int) { advance(); }
    friend bool operator==(const TupleIterator &it, std::default_sentinel_t) noexcept
    {
        return !it.current_.has_value();
    }

private:
    void advance() noexcept
    {
        current_.reset();
        if (index_ >= PyTuple_GET_SIZE(tuple_)) return;
        PyObject *item = PyTuple_GET_ITEM(tuple_, index_++);
        Py_INCREF(item);
        current_.emplace(value_type::from_owned_ptr_unchecked(Python::assume_attached(), item));
    }

    PyObject *tuple_ = nullptr;
    Py_ssize_t index_ = 0;
    std::optional<value_type> current_;
};

}  // namespace detail

template <class Self> struct Methods<Self, PyTuple> : AnyMethods<Self> {
    // t[index] as a strong reference; IndexError when out of range (negative included).
    detail::bound_t<Self> get_item(Py_ssize_t index) const
    {
        PyObject *item = PyTuple_GetItem(this->ptr(), index);
        return detail::bound_t<Self>::from_borrowed_ptr(this->token(), item);
    }
    // A borrowed view of t[index]: the tuple (immutable) keeps it alive as long as you hold
    // the tuple. IndexError when out of range.
    detail::borrowed_t<Self> get_borrowed_item(Py_ssize_t index) const
    {
        PyObject *item = PyTuple_GetItem(this->ptr(), index);
        if (item == nullptr) throw_fetched(this->token());
        return detail::borrowed_t<Self>::from_ptr(this->token(), item);
    }
    std::size_t len() const noexcept { return static_cast<std::size_t>(PyTuple_GET_SIZE(this->ptr())); }
    bool is_empty() const noexcept { return len() == 0; }
    // The items as N strong references, for structured bindings; ValueError unless len == N.
    // A std::tuple of N Bounds rather than a std::array: each element's destructor is then its
    // own inline decref, where an array's is a loop (twice the C cost on free-threaded builds).
    template <std::size_t N> detail::repeat_tuple_t<detail::bound_t<Self>, N> unpack() const
    {
        const Py_ssize_t size = PyTuple_GET_SIZE(this->ptr());
        if (size != static_cast<Py_ssize_t>(N)) {
            PyErr_Format(PyExc_ValueError, "expected a tuple of length %zu, got length %zd", N, size);
            throw_fetched(this->token());
        }
        // The slots of a built tuple are never NULL: no null test per item (unpack<3> cost
        // twice the hand-written C with from_borrowed_ptr's test-and-throw), and saying so lets
        // the compiler drop the Bound destructors' null tests too.
        const auto item = [&](Py_ssize_t index) {
            PyObject *slot = PyTuple_GET_ITEM(this->ptr(), index);
            if (slot == nullptr) __builtin_unreachable();
            return detail::bound_t<Self>::from_owned_ptr_unchecked(this->token(),
                                                                   compat::new_ref(slot));
        };
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            return detail::repeat_tuple_t<detail::bound_t<Self>, N>{
                item(static_cast<Py_ssize_t>(I))...};
        }(std::make_index_sequence<N>());
    }
    // list(t).
    detail::bound_t<Self, PyList> to_list() const
    {
        return detail::bound_t<Self, PyList>::from_owned_ptr(this->token(), PySequence_List(this->ptr()));
    }

    detail::TupleIterator<Self> begin() const { return detail::TupleIterator<Self>(this->ptr()); }
    std::default_sentinel_t end() const noexcept { return {}; }
};

// (a, b, c): each argument is a Python object (no conversion) or anything IntoPython converts.
template <class... Values> detail::bound_t<detail::pack<Values...>, PyTuple> make_tuple(Python py, const Values &...values)
{
    PyObject *tuple = PyTuple_New(static_cast<Py_ssize_t>(sizeof...(Values)));
    auto owned = detail::bound_t<detail::pack<Values...>, PyTuple>::from_owned_ptr(py, tuple);
    Py_ssize_t index = 0;
    // Slots of a new tuple are written once with PyTuple_SET_ITEM, which steals.
    (PyTuple_SET_ITEM(tuple, index++, detail::ObjectArg<Values>(py, values).new_reference()), ...);
    return owned;
}

}  // namespace pyo3cpp

#ifndef PYO3CPP_DECLARING_METHODS
#include "pyo3cpp/borrowed.hpp"
#endif
