// test_intern_import.cpp — intern<"...">: one interned str per literal, the same object every
// time and from every thread; import_cached<...>: cached, clear ImportError / AttributeError,
// failures not cached (the next call retries).
#include <pyo3cpp/import.hpp>
#include <pyo3cpp/intern.hpp>
#include <pyo3cpp/pyo3cpp.hpp>

#include <gtest/gtest.h>

#include <string>

#include "embedded_python.hpp"
#include "once_race.hpp"

using namespace pyo3cpp;
using pyo3cpp_test::with_watchdog;

namespace {

// Two call sites, one literal: one cache.
Borrowed<PyString> name_here(Python py) { return intern<"pyo3cpp_test_name">(py); }
Borrowed<PyString> name_there(Python py) { return intern<"pyo3cpp_test_name">(py); }

TEST(Intern, SameInternedObjectEveryTime)
{
    auto guard = attach();
    auto py = guard.py();
    Borrowed<PyString> first = name_here(py);
    EXPECT_EQ(first.as_ptr(), name_here(py).as_ptr());
    EXPECT_EQ(first.as_ptr(), name_there(py).as_ptr());
    EXPECT_TRUE(PyUnicode_CheckExact(first.as_ptr()));
    EXPECT_TRUE(PyUnicode_CHECK_INTERNED(first.as_ptr()));
    EXPECT_STREQ(PyUnicode_AsUTF8(first.as_ptr()), "pyo3cpp_test_name");
    PyObject *reference = PyUnicode_InternFromString("pyo3cpp_test_name");
    EXPECT_EQ(reference, first.as_ptr()) << "the cached str is the interpreter's interned one";
    Py_DECREF(reference);
    EXPECT_NE(intern<"pyo3cpp_other_name">(py).as_ptr(), first.as_ptr());
}

TEST(Intern, EveryThreadGetsTheSameObject)
{
    PyObject *seen[8] = {};
    bool ok = true;
    with_watchdog(60, "intern race", [&] {
        once_test::race_rounds(
            8, 1, [](Python, int) {},
            [&](Python py, int index) {
                seen[index] = intern<"pyo3cpp_raced_name">(py).as_ptr();
            },
            [&](Python py, int) {
                for (PyObject *p : seen) ok = ok && p == intern<"pyo3cpp_raced_name">(py).as_ptr();
            });
    });
    EXPECT_TRUE(ok);
}

TEST(ImportCached, ModuleAndAttributeAreCached)
{
    auto guard = attach();
    auto py = guard.py();
    Borrowed<PyAny> path = import_cached<"os", "path">(py);
    EXPECT_EQ(path.as_ptr(), (import_cached<"os", "path">(py).as_ptr()));
    PyObject *os = PyImport_ImportModule("os");
    PyObject *expected = PyObject_GetAttrString(os, "path");
    EXPECT_EQ(path.as_ptr(), expected);
    EXPECT_EQ(import_cached<"os">(py).as_ptr(), os);
    EXPECT_EQ(import_cached<"os.path">(py).as_ptr(), expected) << "a dotted name gives the leaf";
    Py_DECREF(expected);
    Py_DECREF(os);
}

TEST(ImportCached, MissingModuleIsImportErrorAndNotCached)
{
    auto guard = attach();
    auto py = guard.py();
    for (int attempt = 0; attempt < 2; ++attempt) {
        try {
            import_cached<"pyo3cpp_no_such_module_xyz">(py);
            ADD_FAILURE() << "no exception";
        } catch (const PyErr &e) {
            EXPECT_TRUE(e.matches(py, PyExc_ImportError)) << e.what();
            EXPECT_NE(std::string(e.what()).find("pyo3cpp_no_such_module_xyz"), std::string::npos);
        }
    }
    // Make it importable: the same cache now succeeds (the failure was not cached).
    ASSERT_TRUE(pyo3cpp_test::run_python(
        "import sys, types\n"
        "m = types.ModuleType('pyo3cpp_no_such_module_xyz')\n"
        "m.answer = 42\n"
        "sys.modules['pyo3cpp_no_such_module_xyz'] = m\n"));
    Borrowed<PyAny> module = import_cached<"pyo3cpp_no_such_module_xyz">(py);
    EXPECT_TRUE(PyModule_Check(module.as_ptr()));
}

TEST(ImportCached, MissingAttributeIsAttributeErrorNamingBothAndRetries)
{
    auto guard = attach();
    auto py = guard.py();
    try {
        import_cached<"json", "pyo3cpp_missing_attr">(py);
        ADD_FAILURE() << "no exception";
    } catch (const PyErr &e) {
        EXPECT_TRUE(e.matches(py, PyExc_AttributeError)) << e.what();
        const std::string text = e.what();
        EXPECT_NE(text.find("json"), std::string::npos) << text;
        EXPECT_NE(text.find("pyo3cpp_missing_attr"), std::string::npos) << text;
    }
    ASSERT_TRUE(pyo3cpp_test::run_python("import json; json.pyo3cpp_missing_attr = 'now here'"));
    Borrowed<PyAny> attr = import_cached<"json", "pyo3cpp_missing_attr">(py);
    EXPECT_STREQ(PyUnicode_AsUTF8(attr.as_ptr()), "now here");
    ASSERT_TRUE(pyo3cpp_test::run_python("import json; del json.pyo3cpp_missing_attr"));
    EXPECT_EQ(attr.as_ptr(), (import_cached<"json", "pyo3cpp_missing_attr">(py).as_ptr()))
        << "cached: the attribute is not looked up again";
}

}  // namespace
