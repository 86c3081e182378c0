// test_once_lock.cpp — OnceLock<T>: exactly one initialiser under a real race, waiters detached
// (gc.collect() proceeds while they wait), failure leaves the cell empty and the next caller
// retries, recursion raises RuntimeError naming the cell, exact refcounts for Py<T> values.
#include <pyo3cpp/once_lock.hpp>
#include <pyo3cpp/pyo3cpp.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>

#include "embedded_python.hpp"
#include "once_race.hpp"

using namespace pyo3cpp;
using namespace std::chrono_literals;
using once_test::new_list;
using once_test::pause_detached;
using pyo3cpp_test::refcnt;
using pyo3cpp_test::with_watchdog;

namespace {

constexpr int kThreads = 8;
constexpr int kRounds = 1000;

TEST(OnceLock, EmptyCellGetIsNull)
{
    OnceLock<Py<PyAny>> cell;
    EXPECT_EQ(cell.get(), nullptr);
    EXPECT_FALSE(cell.is_initialized());
}

// 8 threads released by a barrier call get_or_init on a fresh cell, 1,000 rounds. Exactly one
// initialiser ran per round, everyone got the same object, and the references add up exactly.
TEST(OnceLock, RaceRunsTheInitialiserExactlyOncePerRound)
{
    std::unique_ptr<OnceLock<Py<PyAny>>> cell;
    std::atomic<int> init_calls{0};
    PyObject *made = nullptr;
    PyObject *seen[kThreads] = {};
    int bad_rounds = 0;
    with_watchdog(120, "OnceLock race", [&] {
        once_test::race_rounds(
            kThreads, kRounds,
            [&](Python, int) {
                cell = std::make_unique<OnceLock<Py<PyAny>>>("race cell");
                init_calls = 0;
                made = nullptr;
            },
            [&](Python py, int index) {
                const Py<PyAny> &value = cell->get_or_init(py, [&] {
                    init_calls.fetch_add(1);
                    pause_detached(py, 20us);  // waiters find it running and wait detached
                    Py<PyAny> fresh = new_list(py);
                    made = fresh.as_ptr();
                    return fresh;
                });
                seen[index] = value.as_ptr();
            },
            [&](Python, int) {
                bool ok = init_calls.load() == 1 && made != nullptr && cell->get() != nullptr &&
                          cell->get()->as_ptr() == made;
                for (PyObject *p : seen) ok = ok && p == made;
                ok = ok && refcnt(made) == 1;  // the cell's reference only
                Py_INCREF(made);               // watch it through the cell's destruction
                cell.reset();                  // attached: decref now, unregisters finalisation
                ok = ok && refcnt(made) == 1;
                Py_DECREF(made);
                if (!ok) ++bad_rounds;
            });
    });
    EXPECT_EQ(bad_rounds, 0);
}

TEST(OnceLock, CppExceptionLeavesTheCellEmptyAndTheNextCallerRetries)
{
    with_watchdog(30, "OnceLock throwing initialiser", [] {
        auto guard = attach();
        auto py = guard.py();
        OnceLock<Py<PyAny>> cell("throwing");
        EXPECT_THROW(cell.get_or_init(py, [&]() -> Py<PyAny> { throw std::runtime_error("boom"); }),
                     std::runtime_error);
        EXPECT_EQ(cell.get(), nullptr);
        EXPECT_FALSE(PyErr_Occurred());
        const Py<PyAny> &value = cell.get_or_init(py, [&] { return new_list(py); });
        EXPECT_TRUE(PyList_Check(value.as_ptr()));
        EXPECT_EQ(cell.get(), &value);
    });
}

TEST(OnceLock, PythonExceptionPropagatesAsPyErrAndTheNextCallerRetries)
{
    with_watchdog(30, "OnceLock raising initialiser", [] {
        auto guard = attach();
        auto py = guard.py();
        OnceLock<Py<PyAny>> cell("raising");
        try {
            cell.get_or_init(py, [&] {
                // A failing C API call: int("not a number") raises ValueError.
                return Py<PyAny>::from_owned_ptr(py, PyLong_FromString("nope", nullptr, 10));
            });
            ADD_FAILURE() << "no exception";
        } catch (const PyErr &e) {
            EXPECT_TRUE(e.matches(py, PyExc_ValueError)) << e.what();
        }
        EXPECT_FALSE(PyErr_Occurred());
        EXPECT_EQ(cell.get(), nullptr);
        const Py<PyAny> &value = cell.get_or_init(
            py, [&] { return Py<PyAny>::from_owned_ptr(py, PyLong_FromLong(1234567)); });
        EXPECT_EQ(PyLong_AsLong(value.as_ptr()), 1234567);
    });
}

// The first initialiser fails after the others started waiting: exactly one caller sees the
// exception, one waiter then runs its own initialiser, and everyone else gets that value.
TEST(OnceLock, WaitersRetryAfterTheInitialiserFails)
{
    with_watchdog(60, "OnceLock waiters retry", [] {
        OnceLock<Py<PyAny>> cell("retry after failure");
        std::atomic<int> calls{0}, failures{0}, successes{0};
        std::atomic<PyObject *> first_seen{nullptr};
        std::atomic<bool> mismatch{false};
        pyo3cpp_test::Barrier start(4);
        std::vector<std::thread> threads;
        for (int i = 0; i < 4; ++i) {
            threads.emplace_back([&] {
                start.arrive_and_wait();
                auto guard = attach();
                auto py = guard.py();
                try {
                    const Py<PyAny> &value = cell.get_or_init(py, [&] {
                        const int call = calls.fetch_add(1);
                        pause_detached(py, 50ms);  // long enough for the others to wait
                        if (call == 0) throw std::runtime_error("first initialiser fails");
                        return new_list(py);
                    });
                    PyObject *expected = nullptr;
                    if (!first_seen.compare_exchange_strong(expected, value.as_ptr()) &&
                        expected != value.as_ptr())
                        mismatch = true;
                    successes.fetch_add(1);
                } catch (const std::runtime_error &) {
                    failures.fetch_add(1);
                }
            });
        }
        for (auto &t : threads) t.join();
        EXPECT_EQ(calls.load(), 2);
        EXPECT_EQ(failures.load(), 1);
        EXPECT_EQ(successes.load(), 3);
        EXPECT_FALSE(mismatch.load());
        auto guard = attach();
        (void)cell.take();  // drop the list while attached
    });
}

// An initialiser sleeps (detached) while three threads wait on the cell and a fourth runs
// gc.collect(), which on 3.13t stops the world: it must not hang.
TEST(OnceLock, SleepingInitialiserWithWaitersAndGcCollectDoesNotHang)
{
    with_watchdog(60, "OnceLock sleeping initialiser + gc.collect", [] {
        OnceLock<Py<PyAny>> cell("sleepy");
        std::atomic<int> calls{0};
        std::atomic<bool> started{false}, gc_done{false};
        PyObject *results[3] = {};
        std::thread initialiser([&] {
            auto guard = attach();
            auto py = guard.py();
            cell.get_or_init(py, [&] {
                calls.fetch_add(1);
                started = true;
                pause_detached(py, 300ms);
                return new_list(py);
            });
        });
        while (!started.load()) std::this_thread::sleep_for(1ms);
        std::vector<std::thread> waiters;
        for (int i = 0; i < 3; ++i) {
            waiters.emplace_back([&, i] {
                auto guard = attach();
                auto py = guard.py();
                results[i] = cell.get_or_init(py, [&] {
                                      calls.fetch_add(1);
                                      return new_list(py);
                                  })
                                 .as_ptr();
            });
        }
        std::thread collector([&] {
            std::this_thread::sleep_for(50ms);  // while the initialiser sleeps, others wait
            auto guard = attach();
            pyo3cpp_test::run_python("import gc; gc.collect()");
            gc_done = true;
        });
        collector.join();
        initialiser.join();
        for (auto &t : waiters) t.join();
        EXPECT_TRUE(gc_done.load());
        EXPECT_EQ(calls.load(), 1);
        ASSERT_NE(cell.get(), nullptr);
        for (PyObject *r : results) EXPECT_EQ(r, cell.get()->as_ptr());
        auto guard = attach();
        (void)cell.take();
    });
}

TEST(OnceLock, RecursiveInitialisationRaisesRuntimeErrorNamingTheCell)
{
    with_watchdog(30, "OnceLock recursion", [] {
        auto guard = attach();
        auto py = guard.py();
        OnceLock<int> named("my.module.CACHE");
        try {
            named.get_or_init(py, [&] { return named.get_or_init(py, [] { return 1; }) + 1; });
            ADD_FAILURE() << "no exception";
        } catch (const PyErr &e) {
            EXPECT_TRUE(e.matches(py, PyExc_RuntimeError)) << e.what();
            EXPECT_NE(std::string(e.what()).find("my.module.CACHE"), std::string::npos)
                << e.what();
        }
        EXPECT_EQ(named.get(), nullptr);
        EXPECT_EQ(named.get_or_init(py, [] { return 7; }), 7);  // usable afterwards

        OnceLock<int> unnamed;  // default name: where it was declared
        try {
            unnamed.get_or_init(py, [&] { return unnamed.get_or_init(py, [] { return 1; }); });
            ADD_FAILURE() << "no exception";
        } catch (const PyErr &e) {
            EXPECT_NE(std::string(e.what()).find("OnceLock at"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("test_once_lock.cpp"), std::string::npos)
                << e.what();
        }
        OnceLock<int> target("set inside init");
        EXPECT_THROW(target.get_or_init(py, [&] { return target.set(py, 3) ? 1 : 2; }), PyErr);
    });
}

TEST(OnceLock, SetTakeCloneRefAreExact)
{
    auto guard = attach();
    auto py = guard.py();
    OnceLock<Py<PyAny>> cell("accessors");
    Py<PyAny> a = new_list(py), b = new_list(py);
    PyObject *pa = a.as_ptr(), *pb = b.as_ptr();
    EXPECT_TRUE(cell.set(py, a.clone_ref(py)));
    EXPECT_EQ(refcnt(pa), 2);
    EXPECT_FALSE(cell.set(py, b.clone_ref(py)));
    EXPECT_EQ(refcnt(pb), 1) << "the rejected value was released";
    {
        Py<PyAny> clone = cell.clone_ref(py);
        EXPECT_EQ(clone.as_ptr(), pa);
        EXPECT_EQ(refcnt(pa), 3);
    }
    EXPECT_EQ(refcnt(pa), 2);
    std::optional<Py<PyAny>> taken = cell.take();
    ASSERT_TRUE(taken.has_value());
    EXPECT_EQ(taken->as_ptr(), pa);
    EXPECT_EQ(cell.get(), nullptr);
    EXPECT_TRUE(cell.clone_ref(py).is_null());
    EXPECT_FALSE(cell.take().has_value());
    taken.reset();
    EXPECT_EQ(refcnt(pa), 1);
    EXPECT_TRUE(cell.set(py, std::move(b)));  // refills after take
    EXPECT_EQ(refcnt(pb), 1);
}

TEST(OnceLock, GetOrTryInitWithNulloptLeavesEmpty)
{
    auto guard = attach();
    auto py = guard.py();
    OnceLock<std::string> cell("try");
    EXPECT_EQ(cell.get_or_try_init(py, []() -> std::optional<std::string> { return {}; }),
              nullptr);
    EXPECT_FALSE(cell.is_initialized());
    const std::string *value =
        cell.get_or_try_init(py, []() -> std::optional<std::string> { return "made"; });
    ASSERT_NE(value, nullptr);
    EXPECT_EQ(*value, "made");
    EXPECT_EQ(cell.get_or_try_init(py, []() -> std::optional<std::string> { return "x"; }), value);
}

// Generic T: a vector of references is released exactly when the cell dies.
TEST(OnceLock, ContainerOfPyIsReleasedWithTheCell)
{
    auto guard = attach();
    auto py = guard.py();
    Py<PyAny> item = new_list(py);
    {
        OnceLock<std::vector<Py<PyAny>>> cell;
        cell.get_or_init(py, [&] {
            std::vector<Py<PyAny>> v;
            for (int i = 0; i < 3; ++i) v.push_back(item.clone_ref(py));
            return v;
        });
        EXPECT_EQ(refcnt(item.as_ptr()), 4);
    }
    EXPECT_EQ(refcnt(item.as_ptr()), 1);
}

}  // namespace
