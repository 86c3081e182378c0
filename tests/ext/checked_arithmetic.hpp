// checked_arithmetic.hpp — the test extensions' integer arithmetic: a result past a C long is
// OverflowError (std::overflow_error, translated by the binder), never a wrapped (undefined)
// value. What an example a user copies should do.
#pragma once

#include <stdexcept>

namespace pyo3cpp_tests {

inline long checked_add(long a, long b)
{
    long result;
    if (__builtin_add_overflow(a, b, &result)) throw std::overflow_error("result does not fit in a C long");
    return result;
}
inline long checked_mul(long a, long b)
{
    long result;
    if (__builtin_mul_overflow(a, b, &result)) throw std::overflow_error("result does not fit in a C long");
    return result;
}

}  // namespace pyo3cpp_tests
