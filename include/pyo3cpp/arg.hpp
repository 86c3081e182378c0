// arg.hpp — naming the Python parameters of a bound function: arg("x"), arg("lo") = 0,
// kw_only(), pos_only(), and the variadic parameter types Args (*args) and Kwargs (**kwargs).
//
//   m.def("find", find, arg("haystack"), arg("needle"), kw_only(), arg("start") = 0);
//       -> find(haystack, needle, *, start=0)
//   m.def("norm", norm, arg("x"), arg("y"), pos_only());          -> norm(x, y, /)
//   m.def("log", [](const std::string &fmt, Args args, Kwargs kwargs) {...}, arg("fmt"));
//       -> log(fmt, *args, **kwargs)
//
// Contract:
//   - Give one arg() per Python parameter (Args/Kwargs parameters take none: they are named
//     `args` and `kwargs`), or none at all: then every parameter is positional-only and shown as
//     arg0, arg1, ... in signatures, and errors say "argument 1".
//   - arg("x") = value: the parameter may be omitted; `value` is a C++ value converted to the
//     parameter's type when the call omits it (no Python object is made at definition). Its
//     Python spelling for __text_signature__ is computed at definition: None, True/False, ints,
//     floats (shortest round-trip text), strings (Python repr); any other value shows as `...`
//     (inspect still works; the stub says `= ...`).
//   - std::optional<T> parameters without a default may be omitted and accept None; they show
//     as `=None`.
//   - pos_only(): the parameters before it are positional-only. kw_only(): the ones after it are
//     keyword-only. Parameters after an Args parameter are keyword-only too, as in Python.
//   - arg("x").keep_alive(): the argument lives as long as self (methods, constructors) or the
//     result (functions, static methods, classmethods); see keep_alive.hpp.
//   - Args holds a tuple (Bound<PyTuple>), Kwargs a dict (Bound<PyDict>), both new objects
//     owned by the call; Args must come after the positional parameters, Kwargs last.
// Thread: definition-time values; no Python involved. Cost: none per call.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <charconv>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "pyo3cpp/borrowed.hpp"

namespace pyo3cpp {

// *args of a bound function: the positional arguments beyond the named ones, as a tuple.
class Args : public Bound<PyTuple> {
public:
    explicit Args(Bound<PyTuple> tuple) : Bound<PyTuple>(std::move(tuple)) {}
};

// **kwargs of a bound function: the keyword arguments no parameter took, as a new dict.
class Kwargs : public Bound<PyDict> {
public:
    explicit Kwargs(Bound<PyDict> dict) : Bound<PyDict>(std::move(dict)) {}
};

namespace detail {

// The Python source text of a default value, or "..." when it has none we can write.
inline std::string python_string_literal(std::string_view text)
{
    const bool has_single = text.find('\'') != std::string_view::npos;
    const bool has_double = text.find('"') != std::string_view::npos;
    const char quote = has_single && !has_double ? '"' : '\'';
    std::string out(1, quote);
    for (unsigned char c : text) {
        if (c == '\\' || c == static_cast<unsigned char>(quote)) {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c == 0x7f) {
            static const char digits[] = "0123456789abcdef";
            out += "\\x";
            out += digits[c >> 4];
            out += digits[c & 15];
        } else {
            out += static_cast<char>(c);  // UTF-8 passes through, as repr() shows printable text
        }
    }
    out += quote;
    return out;
}

inline std::string python_float_literal(double value)
{
    if (!std::isfinite(value)) return "...";
    char buffer[64];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
    if (ec != std::errc()) return "...";
    std::string text(buffer, end);
    if (text.find_first_of(".en") == std::string::npos) text += ".0";  // 2 -> 2.0: still a float
    return text;
}

template <class V> std::string default_text(const V &value)
{
    if constexpr (std::is_same_v<V, std::nullopt_t>) {
        return "None";
    } else if constexpr (std::is_same_v<V, bool>) {
        return value ? "True" : "False";
    } else if constexpr (std::is_integral_v<V>) {
        return std::to_string(value);
    } else if constexpr (std::is_floating_point_v<V>) {
        return python_float_literal(static_cast<double>(value));
    } else if constexpr (std::is_convertible_v<const V &, std::string_view>) {
        return python_string_literal(std::string_view(value));
    } else if constexpr (requires { value.has_value(); *value; }) {
        if (!value.has_value()) return "None";
        return default_text(*value);
    } else {
        return "...";
    }
}

struct KwOnlyMarker {};
struct PosOnlyMarker {};

}  // namespace detail

template <class V> struct ArgDefault {
    const char *name;
    V value;
};

// arg("chain").keep_alive() (= value): the argument lives as long as the call's nurse (self for
// methods and constructors, the result otherwise; keep_alive.hpp).
template <class V> struct KeptArgDefault {
    const char *name;
    V value;
};
struct KeptArg {
    const char *name;
    template <class V> KeptArgDefault<std::decay_t<V>> operator=(V &&value) const
    {
        return KeptArgDefault<std::decay_t<V>>{name, std::forward<V>(value)};
    }
};

struct Arg {
    const char *name;
    // arg("lo") = 0: the parameter may be omitted; the value is converted to its C++ type.
    template <class V> ArgDefault<std::decay_t<V>> operator=(V &&value) const
    {
        return ArgDefault<std::decay_t<V>>{name, std::forward<V>(value)};
    }
    // The argument is kept alive as long as self (methods, constructors) or the result
    // (functions, static methods, classmethods): keep_alive.hpp.
    constexpr KeptArg keep_alive() const noexcept { return KeptArg{name}; }
};

// arg("name"): names a Python parameter (see the contract above).
constexpr Arg arg(const char *name) noexcept { return Arg{name}; }
// The parameters after this marker are keyword-only (Python's bare `*`).
constexpr detail::KwOnlyMarker kw_only() noexcept { return {}; }
// The parameters before this marker are positional-only (Python's `/`).
constexpr detail::PosOnlyMarker pos_only() noexcept { return {}; }

namespace detail {

template <class T> struct is_arg_spec : std::false_type {};
template <> struct is_arg_spec<Arg> : std::true_type {};
template <class V> struct is_arg_spec<ArgDefault<V>> : std::true_type {};
template <> struct is_arg_spec<KwOnlyMarker> : std::true_type {};
template <> struct is_arg_spec<PosOnlyMarker> : std::true_type {};
template <> struct is_arg_spec<KeptArg> : std::true_type {};
template <class V> struct is_arg_spec<KeptArgDefault<V>> : std::true_type {};
template <class T> inline constexpr bool is_arg_spec_v = is_arg_spec<std::remove_cvref_t<T>>::value;

template <class T> inline constexpr bool is_marker_v =
    std::is_same_v<T, KwOnlyMarker> || std::is_same_v<T, PosOnlyMarker>;

template <class T> struct spec_default : std::false_type {};
template <class V> struct spec_default<ArgDefault<V>> : std::true_type {};
template <class V> struct spec_default<KeptArgDefault<V>> : std::true_type {};

// The spec asks for keep-alive (arg("x").keep_alive()).
template <class T> struct spec_keeps_alive : std::false_type {};
template <> struct spec_keeps_alive<KeptArg> : std::true_type {};
template <class V> struct spec_keeps_alive<KeptArgDefault<V>> : std::true_type {};

}  // namespace detail
}  // namespace pyo3cpp
