// expect_raises.hpp — the assertions the C++ API suites share: "this body throws a PyErr of this
// Python type and leaves no exception set" and "evaluate a Python expression".
#pragma once

#include <pyo3cpp/pyo3cpp.hpp>

#include <gtest/gtest.h>

namespace pyo3cpp_test {

template <class Body>
void expect_raises(pyo3cpp::Python py, PyObject *type, Body body, const char *what = "")
{
    try {
        body();
        ADD_FAILURE() << "no exception: " << what;
    } catch (const pyo3cpp::PyErr &err) {
        EXPECT_TRUE(err.matches(py, type)) << what << ": got " << err.what();
    }
    EXPECT_FALSE(PyErr_Occurred()) << what;
}

// Evaluates `expression` in __main__ (where run_python defines the suites' helper classes); a
// new reference.
inline pyo3cpp::Bound<pyo3cpp::PyAny> eval(pyo3cpp::Python py, const char *expression)
{
    auto main_dict = pyo3cpp::import(py, "__main__").dict();
    return pyo3cpp::Bound<pyo3cpp::PyAny>::from_owned_ptr(
        py, PyRun_String(expression, Py_eval_input, main_dict.as_ptr(), main_dict.as_ptr()));
}

}  // namespace pyo3cpp_test
