// type_hint.hpp — the Python typing text of a C++ parameter or return type, for error messages
// ("must be list[int], not str") and for .pyi stubs.
//
//   pyo3cpp::type_hint<std::vector<long>>()                    // "list[int]"
//   pyo3cpp::type_hint<std::map<std::string, double>>()        // "dict[str, float]"
//   pyo3cpp::type_hint<std::optional<std::pair<int, bool>>>()  // "tuple[int, bool] | None"
//   pyo3cpp::type_hint_c_str<Bound<PyDict>>()                  // "dict", a stable const char*
//
// Contract: cv-qualifiers and references are ignored. What each type gives:
//   bool "bool"; other integers (char included) "int"; float/double/long double "float";
//   std::string, std::string_view, const char*, char*, char[N] "str"; void, std::nullopt_t
//   "None"; std::vector<T> "list[T]"; std::map / std::unordered_map<K, V> "dict[K, V]";
//   std::pair<A, B> / std::tuple<A, B> "tuple[A, B]" (std::tuple<> "tuple[()]");
//   std::optional<T> "T | None"; Borrowed/Bound/Py<PyAny> "object"; Borrowed/Bound/Py<Tag>
//   for another tag: type_traits<Tag>::name (list, dict, tuple, str, bytes, int, float, bool,
//   type, None, ...), except the abstract tags, which have no builtin name:
//   PyIterator "collections.abc.Iterator", PySequence "collections.abc.Sequence", PyMapping
//   "collections.abc.Mapping", PyModule "types.ModuleType". Anything else: "object".
// param_hint<T>(): the hint of a parameter of type T, which says what it accepts: the same
//   text except that std::vector<T> is "collections.abc.Iterable[T]" (it converts from any
//   iterable but str), also inside std::optional, std::pair / std::tuple and map values. A
//   function's signature (stubs, help()) uses it for parameters and type_hint for its result;
//   conversion errors use type_hint ("must be list[int], not str"). Specialise
//   pyo3cpp::ParamHint<T> for a type of yours that accepts more than it returns.
// Extension points, most specific first:
//   1. template <> struct pyo3cpp::TypeHint<Point> { static std::string text() { return "Point"; } };
//   2. `static constexpr const char *type_name = "Point";` in FromPython<Point>, else in
//      IntoPython<Point>.
// Texts compose: a vector of your type is "list[Point]".
// Thread: any thread, attached or not (no Python call). Cost: builds a std::string each call;
// type_hint_c_str builds it once per type (a function-local static) and returns it after that.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pyo3cpp/type_traits.hpp"

namespace pyo3cpp {

// Specialise for your own types: static std::string text(). The primary template is the
// built-in table below.
template <class T, class Enable = void> struct TypeHint;

template <class T> std::string type_hint() { return TypeHint<std::remove_cvref_t<T>>::text(); }

namespace detail {
// Out of line: failure paths name it, and its first-call initialisation must not be inlined
// into the conversions that do.
template <class T> [[gnu::noinline]] const char *stored_type_hint()
{
    static const std::string text = TypeHint<T>::text();
    return text.c_str();
}
}  // namespace detail

// The same text, kept for the life of the program (for tables of const char*): one per type,
// whatever its qualifiers.
template <class T> const char *type_hint_c_str()
{
    return detail::stored_type_hint<std::remove_cvref_t<T>>();
}

namespace detail {

template <class T> std::string type_hint_list(std::string_view sep)
{
    (void)sep;
    return type_hint<T>();
}
template <class T, class U, class... Rest> std::string type_hint_list(std::string_view sep)
{
    std::string text = type_hint<T>();
    text += sep;
    text += type_hint_list<U, Rest...>(sep);
    return text;
}

template <class Tag> constexpr const char *tag_hint()
{
    if constexpr (std::is_same_v<Tag, PyIterator>)
        return "collections.abc.Iterator";
    else if constexpr (std::is_same_v<Tag, PySequence>)
        return "collections.abc.Sequence";
    else if constexpr (std::is_same_v<Tag, PyMapping>)
        return "collections.abc.Mapping";
    else if constexpr (std::is_same_v<Tag, PyModule>)
        return "types.ModuleType";
    else if constexpr (requires { type_traits<Tag>::name; })
        return type_traits<Tag>::name;
    else
        return "object";
}

template <class T> struct is_string_like : std::false_type {};
template <> struct is_string_like<std::string> : std::true_type {};
template <> struct is_string_like<std::string_view> : std::true_type {};
template <> struct is_string_like<const char *> : std::true_type {};
template <> struct is_string_like<char *> : std::true_type {};
template <std::size_t N> struct is_string_like<char[N]> : std::true_type {};
template <std::size_t N> struct is_string_like<const char[N]> : std::true_type {};

}  // namespace detail

// The built-in table (the primary template): scalars, then the user's declared type_name, then
// "object".
template <class T, class Enable> struct TypeHint {
    static std::string text()
    {
        if constexpr (requires { FromPython<T>::type_name; })
            return FromPython<T>::type_name;
        else if constexpr (requires { IntoPython<T>::type_name; })
            return IntoPython<T>::type_name;
        else if constexpr (std::is_void_v<T> || std::is_same_v<T, std::nullopt_t>)
            return "None";
        else if constexpr (std::is_same_v<T, bool>)
            return "bool";
        else if constexpr (std::is_integral_v<T>)
            return "int";
        else if constexpr (std::is_floating_point_v<T>)
            return "float";
        else if constexpr (detail::is_string_like<T>::value)
            return "str";
        else
            return "object";
    }
};

template <class T, class A> struct TypeHint<std::vector<T, A>> {
    static std::string text() { return "list[" + type_hint<T>() + "]"; }
};
template <class K, class V, class C, class A> struct TypeHint<std::map<K, V, C, A>> {
    static std::string text() { return "dict[" + detail::type_hint_list<K, V>(", ") + "]"; }
};
template <class K, class V, class H, class E, class A>
struct TypeHint<std::unordered_map<K, V, H, E, A>> {
    static std::string text() { return "dict[" + detail::type_hint_list<K, V>(", ") + "]"; }
};
template <class A, class B> struct TypeHint<std::pair<A, B>> {
    static std::string text() { return "tuple[" + detail::type_hint_list<A, B>(", ") + "]"; }
};
template <class... Ts> struct TypeHint<std::tuple<Ts...>> {
    static std::string text()
    {
        if constexpr (sizeof...(Ts) == 0)
            return "tuple[()]";
        else
            return "tuple[" + detail::type_hint_list<Ts...>(", ") + "]";
    }
};
template <class T> struct TypeHint<std::optional<T>> {
    static std::string text() { return type_hint<T>() + " | None"; }
};
template <class Tag> struct TypeHint<Borrowed<Tag>> {
    static std::string text() { return detail::tag_hint<Tag>(); }
};
template <class Tag> struct TypeHint<Bound<Tag>> {
    static std::string text() { return detail::tag_hint<Tag>(); }
};
template <class Tag> struct TypeHint<Py<Tag>> {
    static std::string text() { return detail::tag_hint<Tag>(); }
};

// What a parameter accepts (see the contract): type_hint's text but for the containers that
// convert from any iterable.
template <class T, class Enable = void> struct ParamHint {
    static std::string text() { return TypeHint<T>::text(); }
};
template <class T> std::string param_hint() { return ParamHint<std::remove_cvref_t<T>>::text(); }

namespace detail {
template <class T> std::string param_hint_list(std::string_view sep)
{
    (void)sep;
    return param_hint<T>();
}
template <class T, class U, class... Rest> std::string param_hint_list(std::string_view sep)
{
    std::string text = param_hint<T>();
    text += sep;
    text += param_hint_list<U, Rest...>(sep);
    return text;
}
}  // namespace detail

template <class T, class A> struct ParamHint<std::vector<T, A>> {
    static std::string text() { return "collections.abc.Iterable[" + param_hint<T>() + "]"; }
};
template <class T> struct ParamHint<std::optional<T>> {
    static std::string text() { return param_hint<T>() + " | None"; }
};
template <class K, class V, class C, class A> struct ParamHint<std::map<K, V, C, A>> {
    static std::string text() { return "dict[" + type_hint<K>() + ", " + param_hint<V>() + "]"; }
};
template <class K, class V, class H, class E, class A>
struct ParamHint<std::unordered_map<K, V, H, E, A>> {
    static std::string text() { return "dict[" + type_hint<K>() + ", " + param_hint<V>() + "]"; }
};
template <class A, class B> struct ParamHint<std::pair<A, B>> {
    static std::string text() { return "tuple[" + detail::param_hint_list<A, B>(", ") + "]"; }
};
template <class... Ts>
    requires(sizeof...(Ts) > 0)
struct ParamHint<std::tuple<Ts...>> {
    static std::string text() { return "tuple[" + detail::param_hint_list<Ts...>(", ") + "]"; }
};

}  // namespace pyo3cpp
