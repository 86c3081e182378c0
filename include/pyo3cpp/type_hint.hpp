// type_hint.hpp — the Python typing text of a C++ type, for signatures and error messages.
// (Interim version: the complete one lands with the conversion error-message work.)
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pyo3cpp/fwd.hpp"
#include "pyo3cpp/type_traits.hpp"

namespace pyo3cpp {

// Specialise for your own types: static std::string text();
template <class T> struct TypeHint;

template <class T> std::string type_hint();

namespace detail {
template <class T> struct hint_of {
    static std::string text()
    {
        if constexpr (requires { TypeHint<T>::text(); })
            return TypeHint<T>::text();
        else if constexpr (requires { FromPython<T>::type_name; })
            return FromPython<T>::type_name;
        else if constexpr (std::is_void_v<T>)
            return "None";
        else if constexpr (std::is_same_v<T, bool>)
            return "bool";
        else if constexpr (std::is_integral_v<T>)
            return "int";
        else if constexpr (std::is_floating_point_v<T>)
            return "float";
        else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::string_view> ||
                           std::is_same_v<T, const char *>)
            return "str";
        else
            return "object";
    }
};
template <class T> struct hint_of<std::optional<T>> {
    static std::string text() { return type_hint<T>() + " | None"; }
};
template <class T, class A> struct hint_of<std::vector<T, A>> {
    static std::string text() { return "list[" + type_hint<T>() + "]"; }
};
template <class K, class V, class C, class A> struct hint_of<std::map<K, V, C, A>> {
    static std::string text() { return "dict[" + type_hint<K>() + ", " + type_hint<V>() + "]"; }
};
template <class K, class V, class H, class E, class A> struct hint_of<std::unordered_map<K, V, H, E, A>> {
    static std::string text() { return "dict[" + type_hint<K>() + ", " + type_hint<V>() + "]"; }
};
template <class A, class B> struct hint_of<std::pair<A, B>> {
    static std::string text() { return "tuple[" + type_hint<A>() + ", " + type_hint<B>() + "]"; }
};
template <class... T> struct hint_of<std::tuple<T...>> {
    static std::string text()
    {
        if constexpr (sizeof...(T) == 0) {
            return "tuple[()]";
        } else {
            std::string out = "tuple[";
            bool first = true;
            ((out += (first ? "" : ", "), out += type_hint<T>(), first = false), ...);
            return out + "]";
        }
    }
};
template <class T> struct hint_of<Borrowed<T>> {
    static std::string text() { return type_traits<T>::name; }
};
template <class T> struct hint_of<Bound<T>> {
    static std::string text() { return type_traits<T>::name; }
};
template <class T> struct hint_of<Py<T>> {
    static std::string text() { return type_traits<T>::name; }
};
}  // namespace detail

template <class T> std::string type_hint() { return detail::hint_of<std::remove_cvref_t<T>>::text(); }

}  // namespace pyo3cpp
