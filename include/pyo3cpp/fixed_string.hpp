// fixed_string.hpp — FixedString: a string literal usable as a template argument, so that a
// name known at compile time (an attribute, a method, a keyword) gets its own static cache.
//
//   template <pyo3cpp::FixedString Name> void f();   f<"append">();
//
// Contract: constexpr only; holds the characters and the terminating NUL. No Python involved.
// Cost: none at run time (the characters live in read-only data).
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <cstddef>
#include <string_view>

namespace pyo3cpp {

template <std::size_t N> struct FixedString {
    char chars[N]{};
    constexpr FixedString(const char (&text)[N]) noexcept
    {
        for (std::size_t i = 0; i < N; ++i) chars[i] = text[i];
    }
    constexpr const char *c_str() const noexcept { return chars; }
    constexpr std::string_view view() const noexcept { return {chars, N - 1}; }
    static constexpr std::size_t size() noexcept { return N - 1; }
};

}  // namespace pyo3cpp
