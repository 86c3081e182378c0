// dict.hpp — PyDict: typed view of a Python dict, safe to use while other threads mutate it.
//
//   Bound<PyDict> d = new_dict(py);
//   d.set_item("answer", 42);                         // keys/values: Python objects or C++
//   if (auto v = d.get_item("answer")) use(*v);       // strong reference, or empty
//   for (const auto &[key, value] : d) ...            // one critical section per step
//   locked_for_each(py, d, [&](const Bound<PyAny> &k, const Bound<PyAny> &v) { ... });
//
// Contract: requires attachment; failures (unhashable key, KeyError from del_item, ...) throw
// PyErr, except in try_get_item, which returns them in a PyResult (result.hpp). Keys and values may be Python objects (no conversion) or any C++ value IntoPython
// converts (convert.hpp).
// Free threading: no borrowed reference ever leaves the dict. get_item uses PyDict_GetItemRef
// (a shim on 3.11/3.12). Iteration takes the dict's critical section for each PyDict_Next step
// and increfs the key and value inside it, so another thread may insert or delete between
// steps: the loop never crashes and every item is a valid strong reference, but (as with any
// concurrent mutation) an item may be skipped or seen twice. To see a consistent snapshot, use
// locked_for_each, which holds one critical section for the whole loop — the callback must
// then not block or call code that may detach, or the section is suspended (critical_section.hpp).
// Cost: each method is its C API call inline. Iteration: PyDict_Next + two increfs per step,
// plus the critical section (free-threaded builds; nothing on GIL builds). No allocation.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <cstddef>
#include <iterator>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "pyo3cpp/any.hpp"
#include "pyo3cpp/critical_section.hpp"

namespace pyo3cpp {

namespace detail {

// The C++ iterator over a dict's items: (key, value), both strong references.
template <class Dep> class DictIterator {
public:
    using iterator_concept = std::input_iterator_tag;
    using value_type = std::pair<bound_t<Dep>, bound_t<Dep>>;
    using difference_type = std::ptrdiff_t;

    DictIterator() = default;
    [[gnu::always_inline]] explicit DictIterator(PyObject *dict) : dict_(dict) { advance(); }

    const value_type &operator*() const noexcept { return current_; }
    const value_type *operator->() const noexcept { return &current_; }
    [[gnu::always_inline]] DictIterator &operator++()
    {
        advance();
        return *this;
    }
    void operator++(int) { advance(); }
    friend bool operator==(const DictIterator &it, std::default_sentinel_t) noexcept
    {
        return it.current_.first.is_null();
    }

private:
    // Forced inline: at -O2 (what most extension builds use) GCC keeps it out of line on
    // free-threaded builds, whose incref/decref are larger, and the loop pays a call per step
    // (dict iteration was 1.17x the C loop; bench/bench_objects.cpp, dict_iter_1000).
    [[gnu::always_inline]] void advance() noexcept
    {
        const Python py = Python::assume_attached();
        // Release the previous item first. Key and value are both held or both null (before
        // the first step, at the end), so one test decides for both.
        if (PyObject *old_key = std::move(current_.first).into_ptr()) {
            Py_DECREF(old_key);
            Py_DECREF(std::move(current_.second).into_ptr());
        }
        // Locals for PyDict_Next's out-parameters: the iterator's own address never escapes,
        // so in a range-for it stays in registers and the test above folds away.
        PyObject *key, *value;
        Py_ssize_t position = position_;
        {
            // The borrowed key/value are valid only while the dict cannot change: take our
            // references before the section ends.
            CriticalSection section(py, borrowed_t<Dep>::from_ptr(py, dict_));
            if (PyDict_Next(dict_, &position, &key, &value)) {
                Py_INCREF(key);
                Py_INCREF(value);
            } else {
                key = value = nullptr;  // the end: a null key
            }
        }
        position_ = position;
        // Both Bounds are null here (released above, or never set): construct the new ones over
        // them, with no assignment that would test the old values for a decref (at -O2, with the
        // iterator in memory, GCC cannot prove them null across the calls above).
        ::new (static_cast<void *>(&current_.first)) bound_t<Dep>(bound_t<Dep>::from_owned_ptr_unchecked(py, key));
        ::new (static_cast<void *>(&current_.second)) bound_t<Dep>(bound_t<Dep>::from_owned_ptr_unchecked(py, value));
    }

    PyObject *dict_ = nullptr;
    Py_ssize_t position_ = 0;
    // The current item; null Bounds (the moved-from state) before the first step and at the end.
    value_type current_{null_item(), null_item()};

    static bound_t<Dep> null_item() noexcept
    {
        return bound_t<Dep>::from_owned_ptr_unchecked(Python::assume_attached(), nullptr);
    }
};

}  // namespace detail

template <class Self> struct Methods<Self, PyDict> : AnyMethods<Self> {
    // d.get(key): a strong reference to the value, or empty when absent. TypeError for an
    // unhashable key (and whatever the key's __hash__/__eq__ raise).
    template <class Key> std::optional<detail::bound_t<Self>> get_item(const Key &key) const
    {
        detail::ObjectArg<std::remove_cvref_t<Key>> held(this->token(), key);
        PyObject *value = nullptr;
        if (detail::check_int(this->token(), compat::dict_get_item_ref(this->ptr(), held.get(), &value)) == 0)
            return std::nullopt;
        return detail::bound_t<Self>::from_owned_ptr_unchecked(this->token(), value);
    }
    // The same lookup without throwing (result.hpp): an absent key is an empty optional, an
    // unhashable key (or what the key's __hash__/__eq__ raise) the PyResult's error.
    //   auto r = d.try_get_item(key);
    //   if (!r) handle(r.error()); else if (*r) use(**r);
    template <class Key>
    detail::result_of_t<Self, std::optional<detail::bound_t<Self>>> try_get_item(const Key &key) const
    {
        using Result = detail::result_of_t<Self, std::optional<detail::bound_t<Self>>>;
        const Python py = this->token();
        try {
            detail::ObjectArg<std::remove_cvref_t<Key>> held(py, key);
            PyObject *value = nullptr;
            const int found = compat::dict_get_item_ref(this->ptr(), held.get(), &value);
            if (found < 0) return Result::fetch(py);
            if (found == 0) return Result(std::nullopt);
            return Result(detail::bound_t<Self>::from_owned_ptr_unchecked(py, value));
        } catch (std::conditional_t<sizeof(Key) != 0, PyErr, PyErr> &err) {
            // The key's conversion failed. (A dependent spelling of PyErr: this header may be
            // read before PyErr is complete, and clang checks non-dependent catch types early.)
            return Result(std::move(err));
        }
    }
    // d[key] = value.
    template <class Key, class Value> void set_item(const Key &key, const Value &value) const
    {
        detail::ObjectArg<std::remove_cvref_t<Key>> held_key(this->token(), key);
        detail::ObjectArg<std::remove_cvref_t<Value>> held_value(this->token(), value);
        detail::check_int(this->token(), PyDict_SetItem(this->ptr(), held_key.get(), held_value.get()));
    }
    // del d[key]; KeyError when absent.
    template <class Key> void del_item(const Key &key) const
    {
        detail::ObjectArg<std::remove_cvref_t<Key>> held(this->token(), key);
        detail::check_int(this->token(), PyDict_DelItem(this->ptr(), held.get()));
    }
    // d.pop(key, None) without the None: the removed value, or empty when absent.
    template <class Key> std::optional<detail::bound_t<Self>> pop_item(const Key &key) const
    {
        detail::ObjectArg<std::remove_cvref_t<Key>> held(this->token(), key);
        PyObject *value = nullptr;
        if (detail::check_int(this->token(), compat::dict_pop(this->ptr(), held.get(), &value)) == 0)
            return std::nullopt;
        return detail::bound_t<Self>::from_owned_ptr_unchecked(this->token(), value);
    }
    // key in d.
    template <class Key> bool contains(const Key &key) const
    {
        detail::ObjectArg<std::remove_cvref_t<Key>> held(this->token(), key);
        return detail::check_int(this->token(), PyDict_Contains(this->ptr(), held.get())) == 1;
    }
    // len(d). Never fails.
    std::size_t len() const noexcept { return static_cast<std::size_t>(PyDict_Size(this->ptr())); }
    bool is_empty() const noexcept { return len() == 0; }
    // list(d.keys()), list(d.values()), list(d.items()): snapshots taken atomically.
    detail::bound_t<Self, PyList> keys() const
    {
        return detail::bound_t<Self, PyList>::from_owned_ptr(this->token(), PyDict_Keys(this->ptr()));
    }
    detail::bound_t<Self, PyList> values() const
    {
        return detail::bound_t<Self, PyList>::from_owned_ptr(this->token(), PyDict_Values(this->ptr()));
    }
    detail::bound_t<Self, PyList> items() const
    {
        return detail::bound_t<Self, PyList>::from_owned_ptr(this->token(), PyDict_Items(this->ptr()));
    }
    void clear() const noexcept { PyDict_Clear(this->ptr()); }
    // A shallow copy.
    detail::bound_t<Self, PyDict> copy() const
    {
        return detail::bound_t<Self, PyDict>::from_owned_ptr(this->token(), PyDict_Copy(this->ptr()));
    }

    // Iteration over (key, value) pairs; see the contract above.
    [[gnu::always_inline]] detail::DictIterator<Self> begin() const
    {
        return detail::DictIterator<Self>(this->ptr());
    }
    std::default_sentinel_t end() const noexcept { return {}; }
};

// A new empty dict.
template <class Dep = void> detail::bound_t<Dep, PyDict> new_dict(Python py)
{
    return detail::bound_t<Dep, PyDict>::from_owned_ptr(py, PyDict_New());
}

// Calls fn(key, value) for every item while holding the dict's critical section for the whole
// loop, so no other thread can change the dict meanwhile (free-threaded builds; the GIL does
// this on others). Items are strong references. fn may throw: the section ends and the
// exception propagates. fn must not detach or block (that suspends the section), and must not
// add or remove keys (RuntimeError, as in Python, when the size changes).
template <class View, class F>
    requires std::is_same_v<typename View::tag, PyDict>
void locked_for_each(Python py, const View &dict, F &&fn)
{
    CriticalSection section(py, dict);
    PyObject *raw = dict.as_ptr();
    const Py_ssize_t size = PyDict_Size(raw);
    Py_ssize_t position = 0;
    PyObject *key = nullptr, *value = nullptr;
    while (PyDict_Next(raw, &position, &key, &value)) {
        Py_INCREF(key);
        Py_INCREF(value);
        const auto owned_key = detail::bound_t<View>::from_owned_ptr_unchecked(py, key);
        const auto owned_value = detail::bound_t<View>::from_owned_ptr_unchecked(py, value);
        fn(owned_key, owned_value);
        if (PyDict_Size(raw) != size) {
            PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during iteration");
            throw_fetched(py);
        }
    }
}

}  // namespace pyo3cpp

#ifndef PYO3CPP_DECLARING_METHODS
#include "pyo3cpp/borrowed.hpp"
#endif
