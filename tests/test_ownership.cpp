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

// ---- exact refcounts for every ownership operation (issue 3)
namespace {

TEST(OwnershipExact, EachOperationMovesTheCountByExactlyOne)
{
    auto guard = attach();
    auto py = guard.py();
    auto obj = new_list(py);
    PyObject *raw = obj.as_ptr();
    const Py_ssize_t start = refcnt(raw);

    Borrowed<PyAny> view = obj.as_borrowed();
    EXPECT_EQ(refcnt(raw), start) << "as_borrowed must not incref";
    Bound<PyAny> owned = view.to_owned();
    EXPECT_EQ(refcnt(raw), start + 1) << "to_owned";
    Bound<PyAny> copy = owned;
    EXPECT_EQ(refcnt(raw), start + 2) << "copy";
    Bound<PyAny> moved = std::move(copy);
    EXPECT_EQ(refcnt(raw), start + 2) << "move";
    Py<PyAny> unbound = std::move(moved).unbind();
    EXPECT_EQ(refcnt(raw), start + 2) << "unbind && steals";
    Py<PyAny> unbound_copy = owned.unbind();
    EXPECT_EQ(refcnt(raw), start + 3) << "unbind const& increfs";
    Py<PyAny> clone = unbound.clone_ref(py);
    EXPECT_EQ(refcnt(raw), start + 4) << "clone_ref";
    Bound<PyAny> bound = clone.bind(py);
    EXPECT_EQ(refcnt(raw), start + 5) << "bind";
    Bound<PyAny> into = std::move(clone).into_bound(py);
    EXPECT_EQ(refcnt(raw), start + 5) << "into_bound";
    std::move(unbound_copy).drop_ref(py);
    EXPECT_EQ(refcnt(raw), start + 4) << "drop_ref";
    { Bound<PyAny> dropped = std::move(into); }
    EXPECT_EQ(refcnt(raw), start + 3) << "drop of Bound";
    { Py<PyAny> dropped = std::move(unbound); }
    EXPECT_EQ(refcnt(raw), start + 2) << "drop of Py while attached";
    Bound<PyAny> assigned = new_list(py);
    assigned = bound;
    EXPECT_EQ(refcnt(raw), start + 3) << "copy assignment";
    assigned = std::move(bound);
    EXPECT_EQ(refcnt(raw), start + 2) << "move assignment releases the old reference";
    assigned = assigned;  // self-assignment keeps the count
    EXPECT_EQ(refcnt(raw), start + 2);
    Bound<PyList> typed = owned.cast<PyList>();
    EXPECT_EQ(refcnt(raw), start + 3) << "cast const& increfs";
    Bound<PyAny> upcast = std::move(typed);
    EXPECT_EQ(refcnt(raw), start + 3) << "upcast move";
    PyObject *released = std::move(upcast).into_ptr();
    EXPECT_EQ(refcnt(raw), start + 3) << "into_ptr hands the reference over";
    Py_DECREF(released);
    EXPECT_EQ(refcnt(raw), start + 2);
}

template <class Body> void expect_cycles_balanced(Python py, Body body)
{
    auto obj = Bound<PyAny>::from_owned_ptr(py, PyList_New(0));
    const Py_ssize_t start = refcnt(obj.as_ptr());
    for (int i = 0; i < 100000; ++i) body(obj);
    EXPECT_EQ(refcnt(obj.as_ptr()), start);
}

TEST(OwnershipExact, HundredThousandCyclesPerOwnerType)
{
    auto guard = attach();
    auto py = guard.py();
    // Borrowed: create / copy / "move" / drop never touch the count.
    expect_cycles_balanced(py, [&](const Bound<PyAny> &obj) {
        Borrowed<PyAny> a = obj.as_borrowed();
        Borrowed<PyAny> b = a;
        Borrowed<PyAny> c = std::move(b);
        (void)c;
    });
    expect_cycles_balanced(py, [&](const Bound<PyAny> &obj) {
        Bound<PyAny> a = obj;
        Bound<PyAny> b = a;
        Bound<PyAny> c = std::move(b);
        a = c;
        c = std::move(a);
    });
    expect_cycles_balanced(py, [&](const Bound<PyAny> &obj) {
        Py<PyAny> a = obj.unbind();
        Py<PyAny> b = a.clone_ref(py);
        Py<PyAny> c = std::move(b);
        a = std::move(c);
        Bound<PyAny> d = a.bind(py);
    });
}

TEST(OwnershipExact, EightThreadsDropPyWhileDetachedManyRounds)
{
    pyo3cpp_test::with_watchdog(120, "pool drop race", [] {
        constexpr int kThreads = 8, kRounds = 50, kPerThread = 200;
        auto guard = attach();
        auto py = guard.py();
        auto obj = new_list(py);
        const Py_ssize_t start = refcnt(obj.as_ptr());
        for (int round = 0; round < kRounds; ++round) {
            std::vector<std::vector<Py<PyAny>>> batches(kThreads);
            for (auto &batch : batches)
                for (int i = 0; i < kPerThread; ++i) batch.push_back(obj.unbind());
            ASSERT_EQ(refcnt(obj.as_ptr()), start + kThreads * kPerThread);
            detach(py, [&] {
                pyo3cpp_test::Barrier barrier(kThreads);
                std::vector<std::thread> threads;
                for (int t = 0; t < kThreads; ++t)
                    threads.emplace_back([&, t] {
                        barrier.arrive_and_wait();  // all drop at once: the queue really races
                        batches[t].clear();         // detached thread: every decref is pooled
                    });
                for (auto &thread : threads) thread.join();
            });
            // detach's re-attach drained the pool.
            ASSERT_EQ(refcnt(obj.as_ptr()), start) << "round " << round;
        }
        EXPECT_EQ(pyo3cpp_pool_pending(), 0);
    });
}

TEST(OwnershipExact, ForeignThreadsAttachingDrainWhatOthersQueued)
{
    pyo3cpp_test::with_watchdog(60, "pool drain by attach", [] {
        auto guard = attach();
        auto py = guard.py();
        auto obj = new_list(py);
        const Py_ssize_t start = refcnt(obj.as_ptr());
        std::vector<Py<PyAny>> held;
        for (int i = 0; i < 64; ++i) held.push_back(obj.unbind());
        detach(py, [&] {
            std::thread([&] { held.clear(); }).join();  // queued: nobody attached there
            EXPECT_GE(pyo3cpp_pool_pending(), 64);
            std::thread([] { auto g = attach(); }).join();  // an attach anywhere drains
            EXPECT_EQ(pyo3cpp_pool_pending(), 0);
        });
        // 3.13t biased reference counting: the last decref by a thread that does not own the
        // object is handed to the owner (this thread) as a queued reference, merged the next
        // time the owner's eval loop checks its breaker. Run a little bytecode to merge it.
        ASSERT_TRUE(pyo3cpp_test::run_python("for _ in range(1000): pass"));
        EXPECT_EQ(refcnt(obj.as_ptr()), start);
    });
}

}  // namespace
