// convert_containers.hpp — conversions of std::optional, std::vector, std::tuple, std::pair,
// std::map and std::unordered_map (the contract, messages included, is convert.hpp's; include
// that header, which includes this one).
// Safe against the Python code an element's conversion runs (an __index__, an iterator, a
// __del__), which may mutate or free the container being converted:
//   - a list is read by index, its size read again at each step, each item held strongly while
//     it converts;
//   - a dict is walked as CPython's own iteration walks it: a dict that changes size raises
//     RuntimeError "dictionary changed size during iteration", one that yields more keys than it
//     had raises "dictionary keys changed during iteration" (so nothing walks for ever);
//   - an element type holding a view (view_scope.hpp) keeps its source object alive in the
//     thread's innermost ViewScope, so no view outlives what it points into;
//   - a __length_hint__ is a hint: the first reservation is capped (an iterable's hint never
//     allocates more than max_hinted_reserve elements up front), allocation failures are
//     std::bad_alloc (MemoryError in a bound function).
// Thread: any attached thread. Containers are read through the free-threading-safe paths of
// dict.hpp/list.hpp; a list into a std::vector is read under one critical section.
// Cost: one conversion per element, plus the container's own walk; for a dict, one size
// comparison per item.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pyo3cpp/convert.hpp"
#include "pyo3cpp/view_scope.hpp"

namespace pyo3cpp {

// ---------------------------------------------------------------- optional

template <class T> struct FromPython<std::optional<T>> {
    static std::optional<T> extract(Borrowed<PyAny> obj)
    {
        if (obj.as_ptr() == Py_None) return std::nullopt;
        try {
            return FromPython<T>::extract(obj);
        } catch (const PyErr &err) {
            detail::rethrow_optional(obj.py(), err, obj.as_ptr(), type_hint_c_str<T>());
        }
    }
};
template <class T> struct IntoPython<std::optional<T>> {
    static Bound<PyAny> convert(Python py, const std::optional<T> &value)
    {
        if (!value) return py.none();
        return into_py(py, *value);
    }
};
template <> struct IntoPython<std::nullopt_t> {
    static Bound<PyAny> convert(Python py, std::nullopt_t) noexcept { return py.none(); }
};

// ---------------------------------------------------------------- sequences

namespace detail {
// The most elements a length hint reserves up front: past it the vector grows as it fills (a
// lying hint of 2**62 must not become one huge allocation; ASan's operator new aborts on one).
inline constexpr Py_ssize_t max_hinted_reserve = 4096;
// Keeps an element's source alive when its C++ value points into it (view_scope.hpp).
template <class T> inline void keep_view_source(Python py, PyObject *source)
{
    if constexpr (holds_view<T>::value) ViewScope::keep(py, source);
}
}  // namespace detail

template <class T, class Allocator> struct FromPython<std::vector<T, Allocator>> {
    static std::vector<T, Allocator> extract(Borrowed<PyAny> obj)
    {
        // As in PyO3: a str is iterable, but turning it into a vector is almost always a bug.
        if (PyUnicode_Check(obj.as_ptr())) [[unlikely]]
            detail::raise_mismatch(obj.as_ptr(), type_hint_c_str<std::vector<T, Allocator>>());
        std::vector<T, Allocator> result;
        const Python py = obj.py();
        if (PyList_Check(obj.as_ptr())) {
            PyObject *list = obj.as_ptr();
            // Free-threaded builds: one critical section on the list for the whole loop (a
            // consistent snapshot, unless an item's conversion runs code that detaches, which
            // suspends the section as usual; it is held again whenever this loop reads).
            CriticalSection section(py, obj);
            result.reserve(static_cast<std::size_t>(PyList_GET_SIZE(list)));
            // The size is read again each step: a conversion may run code that shrinks the list.
            // Each item is held strongly while it converts, since that code may also drop it.
            Py_ssize_t i = 0;
            try {
                for (; i < PyList_GET_SIZE(list); ++i) {
                    struct Held {
                        PyObject *item;
                        ~Held() { Py_DECREF(item); }
                    } held{compat::new_ref(PyList_GET_ITEM(list, i))};
                    detail::keep_view_source<T>(py, held.item);
                    result.push_back(FromPython<T>::extract(Borrowed<PyAny>::from_ptr(py, held.item)));
                }
            } catch (const PyErr &err) {
                detail::rethrow_item(py, err, i);
            }
            return result;
        }
        PyObject *iterator = PyObject_GetIter(obj.as_ptr());
        if (iterator == nullptr) [[unlikely]]
            detail::raise_not_iterable(obj.as_ptr(), type_hint_c_str<std::vector<T, Allocator>>());
        const auto items = Bound<PyIterator>::from_owned_ptr_unchecked(py, iterator);
        const Py_ssize_t hint = PyObject_LengthHint(obj.as_ptr(), 0);
        if (hint < 0) throw_fetched(py);
        result.reserve(static_cast<std::size_t>(std::min(hint, detail::max_hinted_reserve)));
        for (const Bound<PyAny> &item : items) {
            // A try per item, not around the loop: the iterator's own errors are not about an
            // item. The failing item's index is the number converted so far.
            try {
                detail::keep_view_source<T>(py, item.as_ptr());
                result.push_back(FromPython<T>::extract(item.as_borrowed()));
            } catch (const PyErr &err) {
                detail::rethrow_item(py, err, static_cast<Py_ssize_t>(result.size()));
            }
        }
        return result;
    }
};
template <class T, class Allocator> struct IntoPython<std::vector<T, Allocator>> {
    static Bound<PyAny> convert(Python py, const std::vector<T, Allocator> &values)
    {
        PyObject *list = PyList_New(static_cast<Py_ssize_t>(values.size()));
        auto owned = Bound<PyAny>::from_owned_ptr(py, list);
        Py_ssize_t index = 0;
        for (const auto &value : values)
            PyList_SET_ITEM(list, index++, into_py(py, value).into_ptr());
        return owned;
    }
};

namespace detail {
// The tuple of exactly `length` items a pair or tuple converts from.
template <class Cpp> Borrowed<PyTuple> expect_tuple(Borrowed<PyAny> obj, std::size_t length)
{
    if (!PyTuple_Check(obj.as_ptr())) [[unlikely]]
        raise_mismatch(obj.as_ptr(), type_hint_c_str<Cpp>());
    const Py_ssize_t size = PyTuple_GET_SIZE(obj.as_ptr());
    if (size != static_cast<Py_ssize_t>(length)) [[unlikely]]
        raise_tuple_length(length, size);
    return obj.cast_unchecked<PyTuple>();
}
// Item `index` of a checked tuple, converted; `at` records which item is converting.
template <class T> T extract_tuple_item(Borrowed<PyTuple> tuple, std::size_t index, std::size_t &at)
{
    at = index;
    return FromPython<T>::extract(tuple.get_borrowed_item(index));
}
}  // namespace detail

template <class... Ts> struct FromPython<std::tuple<Ts...>> {
    static std::tuple<Ts...> extract(Borrowed<PyAny> obj)
    {
        const auto tuple = detail::expect_tuple<std::tuple<Ts...>>(obj, sizeof...(Ts));
        std::size_t at = 0;  // the item being converted, for a failure's message
        try {
            return [&]<std::size_t... I>(std::index_sequence<I...>) {
                // Braced initialisation evaluates the elements in order.
                return std::tuple<Ts...>{detail::extract_tuple_item<Ts>(tuple, I, at)...};
            }(std::index_sequence_for<Ts...>());
        } catch (const PyErr &err) {
            detail::rethrow_item(obj.py(), err, static_cast<Py_ssize_t>(at));
        }
    }
};
template <class... Ts> struct IntoPython<std::tuple<Ts...>> {
    static Bound<PyAny> convert(Python py, const std::tuple<Ts...> &values)
    {
        return std::apply([&](const auto &...items) { return Bound<PyAny>(make_tuple(py, items...)); },
                          values);
    }
};
template <class A, class B> struct FromPython<std::pair<A, B>> {
    static std::pair<A, B> extract(Borrowed<PyAny> obj)
    {
        const auto tuple = detail::expect_tuple<std::pair<A, B>>(obj, 2);
        Py_ssize_t at = 0;  // the item being converted, for a failure's message
        try {
            A first = FromPython<A>::extract(tuple.get_borrowed_item(0));
            at = 1;
            return std::pair<A, B>(std::move(first), FromPython<B>::extract(tuple.get_borrowed_item(1)));
        } catch (const PyErr &err) {
            detail::rethrow_item(obj.py(), err, at);
        }
    }
};
template <class A, class B> struct IntoPython<std::pair<A, B>> {
    static Bound<PyAny> convert(Python py, const std::pair<A, B> &value)
    {
        return Bound<PyAny>(make_tuple(py, value.first, value.second));
    }
};

// ---------------------------------------------------------------- maps

namespace detail {
// Where a map conversion is: the key being converted (a strong reference, so that a failure's
// handler can still show it), and whether its value is being converted.
struct MapCursor {
    PyObject *key = nullptr;
    bool in_value = false;
};

// The dict changed while it converted: CPython's words for its own iteration.
[[noreturn, gnu::cold, gnu::noinline]] inline void raise_dict_changed(Python py, bool size_changed)
{
    PyErr_SetString(PyExc_RuntimeError, size_changed ? "dictionary changed size during iteration"
                                                     : "dictionary keys changed during iteration");
    throw_fetched(py);
}

// Converts every item, key first, then value (each moved into the node once, as a single
// emplace would). Out of line and with no try block: a handler in the same function made GCC
// stop inlining the map's emplace (about 35 instructions more per item). Each step reads the
// dict under a critical section and takes strong references (as dict.hpp's iteration does), and
// checks, as CPython's dict iterator does, that the conversions run so far (which may run Python
// code) left the dict's size alone and that it yields no more keys than it had: without that a
// value whose __index__ inserts a key would keep the walk going for ever.
template <class Map> [[gnu::noinline]] void fill_map(Python py, Borrowed<PyDict> dict, Map &result,
                                                     MapCursor &cursor)
{
    Py_ssize_t position = 0;
    Py_ssize_t size = -1, left = 0;
    for (;;) {
        PyObject *key, *value;
        {
            CriticalSection section(py, dict);
            const Py_ssize_t now = PyDict_GET_SIZE(dict.as_ptr());
            if (size < 0) {
                size = left = now;
            } else if (now != size) [[unlikely]] {
                raise_dict_changed(py, true);
            }
            if (!PyDict_Next(dict.as_ptr(), &position, &key, &value)) break;
            if (left-- == 0) [[unlikely]]
                raise_dict_changed(py, false);
            Py_INCREF(key);
            Py_INCREF(value);
        }
        cursor.key = key;
        cursor.in_value = false;
        struct Held {
            PyObject *item;
            ~Held() { Py_DECREF(item); }
        } held_value{value};
        keep_view_source<typename Map::key_type>(py, key);
        typename Map::key_type converted_key =
            FromPython<typename Map::key_type>::extract(Borrowed<PyAny>::from_ptr(py, key));
        cursor.in_value = true;
        keep_view_source<typename Map::mapped_type>(py, value);
        result.emplace(std::move(converted_key),
                       FromPython<typename Map::mapped_type>::extract(Borrowed<PyAny>::from_ptr(py, value)));
        cursor.key = nullptr;
        Py_DECREF(key);
    }
}

template <class Map> Map extract_map(Borrowed<PyAny> obj)
{
    if (!PyDict_Check(obj.as_ptr())) [[unlikely]]
        raise_mismatch(obj.as_ptr(), type_hint_c_str<Map>());
    const Python py = obj.py();
    Map result;
    MapCursor cursor;
    try {
        fill_map(py, obj.cast_unchecked<PyDict>(), result, cursor);
    } catch (const PyErr &err) {
        struct Release {
            PyObject *key;
            ~Release() { Py_XDECREF(key); }
        } release{cursor.key};
        if (cursor.key == nullptr) throw;  // not from a conversion
        if (cursor.in_value) rethrow_value(py, err, cursor.key);
        rethrow_in_context(py, err, "key");
    } catch (...) {
        Py_XDECREF(cursor.key);
        throw;
    }
    return result;
}
template <class Map> Bound<PyAny> map_into_py(Python py, const Map &map)
{
    auto dict = new_dict(py);
    for (const auto &[key, value] : map) dict.set_item(key, value);
    return Bound<PyAny>(std::move(dict));
}
}  // namespace detail

template <class K, class V, class C, class A> struct FromPython<std::map<K, V, C, A>> {
    static std::map<K, V, C, A> extract(Borrowed<PyAny> obj)
    {
        return detail::extract_map<std::map<K, V, C, A>>(obj);
    }
};
template <class K, class V, class C, class A> struct IntoPython<std::map<K, V, C, A>> {
    static Bound<PyAny> convert(Python py, const std::map<K, V, C, A> &map)
    {
        return detail::map_into_py(py, map);
    }
};
template <class K, class V, class H, class E, class A>
struct FromPython<std::unordered_map<K, V, H, E, A>> {
    static std::unordered_map<K, V, H, E, A> extract(Borrowed<PyAny> obj)
    {
        return detail::extract_map<std::unordered_map<K, V, H, E, A>>(obj);
    }
};
template <class K, class V, class H, class E, class A>
struct IntoPython<std::unordered_map<K, V, H, E, A>> {
    static Bound<PyAny> convert(Python py, const std::unordered_map<K, V, H, E, A> &map)
    {
        return detail::map_into_py(py, map);
    }
};


}  // namespace pyo3cpp
