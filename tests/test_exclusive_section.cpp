// test_exclusive_section.cpp — ExclusiveSection keeps read-modify-write sequences atomic even when
// the body calls CPython functions that re-lock the same object (which on 3.13 suspends a plain
// critical section), and the object lock underneath is recursive, detaching and owner-checked.
#include <pyo3cpp/pyo3cpp.hpp>

#include <gtest/gtest.h>

#include "embedded_python.hpp"

using namespace pyo3cpp;
using pyo3cpp_test::Barrier;
using pyo3cpp_test::with_watchdog;

namespace {

constexpr int kThreads = 8;

// 8 threads each try to append the same 300 values "if absent": exactly 300 must remain.
TEST(ExclusiveSection, AppendIfAbsentNeverDuplicates)
{
    Py<PyAny> shared;
    {
        auto g = attach();
        shared = Bound<PyAny>::from_owned_ptr(g.py(), PyList_New(0)).unbind();
    }
    constexpr long kValues = 300;
    Barrier barrier(kThreads);
    with_watchdog(120, "append-if-absent race", [&] {
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t)
            threads.emplace_back([&, t] {
                barrier.arrive_and_wait();
                auto g = attach();
                auto py = g.py();
                auto list = shared.bind_borrowed(py);
                for (long i = 0; i < kValues; ++i) {
                    const long value = (i * 7 + t) % kValues;
                    auto item = Bound<PyAny>::from_owned_ptr(py, PyLong_FromLong(value));
                    exclusive_section(py, list, [&] {
                        const int present = PySequence_Contains(list.as_ptr(), item.as_ptr());
                        ASSERT_GE(present, 0);
                        if (!present) {
                            ASSERT_EQ(PyList_Append(list.as_ptr(), item.as_ptr()), 0);
                        }
                    });
                }
            });
        for (auto &th : threads) th.join();
    });
    auto g = attach();
    EXPECT_EQ(PyList_GET_SIZE(shared.as_ptr()), kValues);
}

// d["n"] = d["n"] + 1 through PyDict_SetItem from 8 threads: no update lost.
TEST(ExclusiveSection, DictIncrementLosesNoUpdate)
{
    Py<PyAny> shared;
    {
        auto g = attach();
        auto d = Bound<PyAny>::from_owned_ptr(g.py(), PyDict_New());
        auto zero = Bound<PyAny>::from_owned_ptr(g.py(), PyLong_FromLong(0));
        ASSERT_EQ(PyDict_SetItemString(d.as_ptr(), "n", zero.as_ptr()), 0);
        shared = std::move(d).unbind();
    }
    constexpr int kRounds = 2000;
    Barrier barrier(kThreads);
    with_watchdog(120, "dict increment race", [&] {
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t)
            threads.emplace_back([&] {
                barrier.arrive_and_wait();
                auto g = attach();
                auto py = g.py();
                auto d = shared.bind_borrowed(py);
                for (int i = 0; i < kRounds; ++i) {
                    exclusive_section(py, d, [&] {
                        PyObject *now = PyDict_GetItemString(d.as_ptr(), "n");  // borrowed, locked
                        auto next = Bound<PyAny>::from_owned_ptr(
                            py, PyLong_FromLong(PyLong_AsLong(now) + 1));
                        ASSERT_EQ(PyDict_SetItemString(d.as_ptr(), "n", next.as_ptr()), 0);
                    });
                }
            });
        for (auto &th : threads) th.join();
    });
    auto g = attach();
    EXPECT_EQ(PyLong_AsLong(PyDict_GetItemString(shared.as_ptr(), "n")), kThreads * kRounds);
}

// The same race with the append run through relocking() (the cheap way on 3.13t): the object
// lock stays held across the gap, so the result is still exact.
TEST(ExclusiveSection, RelockingKeepsOtherExclusiveSectionsOut)
{
    Py<PyAny> shared;
    {
        auto g = attach();
        shared = Bound<PyAny>::from_owned_ptr(g.py(), PyList_New(0)).unbind();
    }
    constexpr long kValues = 300;
    Barrier barrier(kThreads);
    with_watchdog(120, "relocking append-if-absent race", [&] {
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t)
            threads.emplace_back([&, t] {
                barrier.arrive_and_wait();
                auto g = attach();
                auto py = g.py();
                auto list = shared.bind_borrowed(py);
                for (long i = 0; i < kValues; ++i) {
                    auto item =
                        Bound<PyAny>::from_owned_ptr(py, PyLong_FromLong((i * 7 + t) % kValues));
                    ExclusiveSection section(py, list);
                    const int present = PySequence_Contains(list.as_ptr(), item.as_ptr());
                    ASSERT_GE(present, 0);
                    if (!present)
                        section.relocking(py, [&] {
                            ASSERT_EQ(PyList_Append(list.as_ptr(), item.as_ptr()), 0);
                        });
                }
            });
        for (auto &th : threads) th.join();
    });
    auto g = attach();
    EXPECT_EQ(PyList_GET_SIZE(shared.as_ptr()), kValues);
}

// The contended counter of bench_scaling --counter: 8 threads x 20,000 increments of one dict
// entry, the get and the set run through relocking(). Every update lands, under a watchdog.
TEST(ExclusiveSection, ContendedDictCounterIsExact)
{
    Py<PyAny> shared;
    Py<PyAny> key;
    {
        auto g = attach();
        auto d = Bound<PyAny>::from_owned_ptr(g.py(), PyDict_New());
        key = Bound<PyAny>::from_owned_ptr(g.py(), PyUnicode_FromString("n")).unbind();
        auto zero = Bound<PyAny>::from_owned_ptr(g.py(), PyLong_FromLong(0));
        ASSERT_EQ(PyDict_SetItem(d.as_ptr(), key.as_ptr(), zero.as_ptr()), 0);
        shared = std::move(d).unbind();
    }
    constexpr long kIncrements = 20000;
    Barrier barrier(kThreads);
    with_watchdog(120, "8 x 20,000 dict counter increments", [&] {
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t)
            threads.emplace_back([&] {
                barrier.arrive_and_wait();
                auto g = attach();
                auto py = g.py();
                auto d = shared.bind_borrowed(py);
                for (long i = 0; i < kIncrements; ++i) {
                    ExclusiveSection section(py, d);
                    PyObject *now = nullptr;
                    // PyDict_GetItemRef may lock the dict itself on 3.13: through relocking.
                    ASSERT_EQ(section.relocking(py, [&] {
                        return compat::dict_get_item_ref(d.as_ptr(), key.as_ptr(), &now);
                    }), 1);
                    auto next = Bound<PyAny>::from_owned_ptr(
                        py, PyLong_FromLong(PyLong_AsLong(now) + 1));
                    Py_DECREF(now);
                    section.relocking(py, [&] {
                        ASSERT_EQ(PyDict_SetItem(d.as_ptr(), key.as_ptr(), next.as_ptr()), 0);
                    });
                }
            });
        for (auto &th : threads) th.join();
    });
    auto g = attach();
    EXPECT_EQ(PyLong_AsLong(PyDict_GetItemWithError(shared.as_ptr(), key.as_ptr())),
              kThreads * kIncrements);
}

// Waiters that went to sleep (the holder stays inside for a while, detached, so the others
// exhaust their spin and park) are each woken in turn: a lost wake-up hangs here and the
// watchdog fails the run; the count shows that the sections never overlapped.
TEST(ExclusiveSection, SleepingWaitersAreAllWoken)
{
    Py<PyAny> shared;
    {
        auto g = attach();
        shared = Bound<PyAny>::from_owned_ptr(g.py(), PyList_New(0)).unbind();
    }
    constexpr int kRounds = 40;
    std::atomic<int> inside{0};
    std::atomic<long> entered{0};
    Barrier barrier(kThreads);
    with_watchdog(120, "sleeping object-lock waiters", [&] {
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t)
            threads.emplace_back([&] {
                auto g = attach();
                auto py = g.py();
                auto list = shared.bind_borrowed(py);
                for (int round = 0; round < kRounds; ++round) {
                    detach(py, [&] { barrier.arrive_and_wait(); });  // all contend at once
                    exclusive_section(py, list, [&] {
                        EXPECT_EQ(inside.fetch_add(1), 0);
                        // Free-threaded: detached, so the others really park on the object
                        // lock. GIL builds: the section is the GIL's, which a detach would give
                        // up; sleep holding it.
                        auto nap = [] { std::this_thread::sleep_for(std::chrono::microseconds(200)); };
                        if (pyo3cpp_test::free_threaded())
                            detach(py, nap);
                        else
                            nap();
                        inside.fetch_sub(1);
                        entered.fetch_add(1);
                    });
                }
            });
        for (auto &th : threads) th.join();
    });
    EXPECT_EQ(entered.load(), long{kThreads} * kRounds);
}

// relocking() returns fn's value, and begins the section again when fn throws: the section
// (and the one after it) still work and end cleanly.
TEST(ExclusiveSection, RelockingReturnsAndSurvivesExceptions)
{
    auto g = attach();
    auto py = g.py();
    auto list = Bound<PyAny>::from_owned_ptr(py, PyList_New(0));
    with_watchdog(30, "relocking with exceptions", [&] {
        ExclusiveSection section(py, list);
        const int status =
            section.relocking(py, [&] { return PyList_Append(list.as_ptr(), Py_None); });
        EXPECT_EQ(status, 0);
        EXPECT_THROW(section.relocking(py, [&]() -> int {
            throw PyErr::new_err(py, PyExc_ValueError, "from inside relocking");
        }),
                     PyErr);
        EXPECT_EQ(PyList_Insert(list.as_ptr(), 0, Py_True), 0);  // nested lock, section held again
        EXPECT_EQ(PyList_GET_SIZE(list.as_ptr()), 2);
    });
    exclusive_section(py, list, [&] { EXPECT_EQ(PyList_GET_ITEM(list.as_ptr(), 0), Py_True); });
}

TEST(ExclusiveSection, RecursiveOnOneThreadAndTwoObjectFormInEitherOrder)
{
    auto g = attach();
    auto py = g.py();
    auto a = Bound<PyAny>::from_owned_ptr(py, PyList_New(0));
    auto b = Bound<PyAny>::from_owned_ptr(py, PyList_New(0));
    int reached = 0;
    with_watchdog(30, "recursive exclusive sections", [&] {
        exclusive_section(py, a, [&] {
            exclusive_section(py, a, [&] { ++reached; });
            exclusive_section(py, a, b, [&] { ++reached; });
            exclusive_section(py, b, a, [&] { ++reached; });
            exclusive_section(py, a, a, [&] { ++reached; });
        });
    });
    EXPECT_EQ(reached, 4);
}

TEST(ExclusiveSection, OppositeOrderPairsNeverDeadlock)
{
    Py<PyAny> a, b;
    {
        auto g = attach();
        a = Bound<PyAny>::from_owned_ptr(g.py(), PyList_New(0)).unbind();
        b = Bound<PyAny>::from_owned_ptr(g.py(), PyList_New(0)).unbind();
    }
    Barrier barrier(kThreads);
    std::atomic<long> done{0};
    with_watchdog(120, "(a,b)/(b,a) exclusive sections", [&] {
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t)
            threads.emplace_back([&, t] {
                barrier.arrive_and_wait();
                auto g = attach();
                auto py = g.py();
                auto x = a.bind_borrowed(py), y = b.bind_borrowed(py);
                for (int i = 0; i < 2000; ++i) {
                    if (t % 2) exclusive_section(py, x, y, [&] { done.fetch_add(1); });
                    else exclusive_section(py, y, x, [&] { done.fetch_add(1); });
                }
            });
        for (auto &th : threads) th.join();
    });
    EXPECT_EQ(done.load(), kThreads * 2000L);
}

TEST(ExclusiveSection, ObjectLockRejectsBadUse)
{
    auto g = attach();
    auto py = g.py();
    EXPECT_EQ(pyo3cpp_object_lock(nullptr), -1);
    EXPECT_TRUE(PyErr_ExceptionMatches(PyExc_ValueError));
    PyErr_Clear();
    auto obj = Bound<PyAny>::from_owned_ptr(py, PyList_New(0));
    if (pyo3cpp_test::free_threaded()) {
        EXPECT_EQ(pyo3cpp_object_unlock(obj.as_ptr()), -1);  // not held
        EXPECT_TRUE(PyErr_ExceptionMatches(PyExc_RuntimeError));
        PyErr_Clear();
    }
    EXPECT_EQ(pyo3cpp_object_lock(obj.as_ptr()), 0);
    EXPECT_EQ(pyo3cpp_object_unlock(obj.as_ptr()), 0);
    detach(py, [&] {
        EXPECT_EQ(pyo3cpp_object_lock(obj.as_ptr()), -1);  // not attached: refused, no crash
    });
}

}  // namespace
