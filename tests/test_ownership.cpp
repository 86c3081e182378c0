// test_ownership.cpp — Borrowed, Bound and Py: exact refcounts across copy, move, drop, bind.
#include <pyo3cpp/pyo3cpp.hpp>

#include <gtest/gtest.h>

#include "embedded_python.hpp"

using namespace pyo3cpp;
using pyo3cpp_test::refcnt;

namespace {

Bound<PyAny> new_list(Python py) { return Bound<PyAny>::from_owned_ptr(py, PyList_New(0)); }

TEST(Ownership, BoundCopyMoveDropAreExact)
{
    auto guard = attach();
    auto py = guard.py();
    auto list = new_list(py);
    const Py_ssize_t start = refcnt(list.as_ptr());
    {
        Bound<PyAny> copy = list;
        EXPECT_EQ(refcnt(list.as_ptr()), start + 1);
        Bound<PyAny> moved = std::move(copy);
        EXPECT_TRUE(copy.is_null());
        EXPECT_EQ(refcnt(list.as_ptr()), start + 1);
    }
    EXPECT_EQ(refcnt(list.as_ptr()), start);
}

TEST(Ownership, PyCloneRefBindUnbindAreExact)
{
    auto guard = attach();
    auto py = guard.py();
    auto list = new_list(py);
    const Py_ssize_t start = refcnt(list.as_ptr());
    {
        Py<PyAny> held = list.unbind();
        EXPECT_EQ(refcnt(list.as_ptr()), start + 1);
        Py<PyAny> clone = held.clone_ref(py);
        EXPECT_EQ(refcnt(list.as_ptr()), start + 2);
        Bound<PyAny> bound = std::move(clone).into_bound(py);
        EXPECT_EQ(refcnt(list.as_ptr()), start + 2);
        Borrowed<PyAny> view = held.bind_borrowed(py);
        EXPECT_EQ(view.as_ptr(), list.as_ptr());
        EXPECT_EQ(refcnt(list.as_ptr()), start + 2);
    }
    EXPECT_EQ(refcnt(list.as_ptr()), start);
}

TEST(Ownership, ManyCyclesLeaveRefcountWhereItStarted)
{
    auto guard = attach();
    auto py = guard.py();
    auto obj = new_list(py);
    const Py_ssize_t start = refcnt(obj.as_ptr());
    for (int i = 0; i < 100000; ++i) {
        Bound<PyAny> a = obj;
        Bound<PyAny> b = std::move(a);
        Py<PyAny> p = b.unbind();
        Py<PyAny> q = p.clone_ref(py);
        Borrowed<PyAny> v = q.bind_borrowed(py);
        Bound<PyAny> c = v.to_owned();
    }
    EXPECT_EQ(refcnt(obj.as_ptr()), start);
}

TEST(Ownership, PyDroppedOnForeignThreadIsPooledThenDrained)
{
    auto guard = attach();
    auto py = guard.py();
    auto obj = new_list(py);
    const Py_ssize_t start = refcnt(obj.as_ptr());
    Py<PyAny> held = obj.unbind();
    detach(py, [&] {
        std::thread([p = std::move(held)]() mutable { p = Py<PyAny>(); }).join();
        EXPECT_GE(pyo3cpp_pool_pending(), 1);
    });
    EXPECT_EQ(refcnt(obj.as_ptr()), start);  // detach's re-attach drained it
}

TEST(Ownership, CastChecksTypeAndRaisesTypeError)
{
    auto guard = attach();
    auto py = guard.py();
    auto obj = new_list(py);
    EXPECT_NO_THROW(obj.as_borrowed().cast<PyList>());
    try {
        obj.as_borrowed().cast<PyDict>();
        FAIL() << "cast<PyDict> of a list did not throw";
    } catch (const PyErr &err) {
        EXPECT_TRUE(err.matches(py, PyExc_TypeError));
        EXPECT_STREQ(err.what(), "TypeError: expected dict, got list");
    }
    EXPECT_FALSE(PyErr_Occurred());
}

TEST(Ownership, BorrowedArrayIsAVectorcallArgumentArray)
{
    auto guard = attach();
    auto py = guard.py();
    auto one = Bound<PyAny>::from_owned_ptr(py, PyLong_FromLong(1));
    auto two = Bound<PyAny>::from_owned_ptr(py, PyLong_FromLong(2));
    Borrowed<PyAny> args[] = {one.as_borrowed(), two.as_borrowed()};
    auto builtins = Bound<PyAny>::from_owned_ptr(py, PyImport_ImportModule("builtins"));
    auto max = builtins.getattr("max");
    auto result = Bound<PyAny>::from_owned_ptr(
        py, PyObject_Vectorcall(max.as_ptr(), as_vectorcall_args(args), 2, nullptr));
    EXPECT_EQ(PyLong_AsLong(result.as_ptr()), 2);
}

}  // namespace
