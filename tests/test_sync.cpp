// test_sync.cpp — critical sections, Mutex and lock_detached: exclusion that loses no update,
// the two-object section that never deadlocks in either order, and the deadlocks these locks
// exist to avoid (a waiter that stays attached while the lock holder needs the GIL or a
// stop-the-world collection). Every test that could hang runs under a watchdog.
#include <pyo3cpp/pyo3cpp.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "embedded_python.hpp"

using namespace pyo3cpp;
using pyo3cpp_test::Barrier;
using pyo3cpp_test::with_watchdog;

namespace {

constexpr int kThreads = 8;
constexpr int kTotalRounds = 100000;
constexpr int kRoundsPerThread = kTotalRounds / kThreads;

// What "read-modify-write inside a critical section" may call. CPython 3.13 (free-threaded)
// opens a critical section on the object inside its own container functions (PyDict_SetItem,
// PyList_SetItem, list.append, ...), and does not recognise a mutex the thread already holds:
// that nested section blocks, blocking detaches, and detaching suspends the outer section, so
// another thread runs inside it (CPython gh-114203; 3.14 skips re-locking the top-most
// section's mutex). So these bodies use only accessors that do not lock the same object again
// (PyList_GET_ITEM / PyList_SET_ITEM, the lock-free PyDict_GetItemWithError), which is exact on
// every version; PyDict_SetItem inside the section is added where CPython makes it exact.
#if defined(Py_GIL_DISABLED) && PY_VERSION_HEX < 0x030E0000
constexpr bool kNestedSectionSuspends = true;
#else
constexpr bool kNestedSectionSuspends = false;
#endif

// list[i] += 1 as a read and a separate write: without exclusion, threads lose updates.
void increment_list_slot(PyObject *list, Py_ssize_t i)
{
    PyObject *old = PyList_GET_ITEM(list, i);
    PyObject *next = PyLong_FromLong(PyLong_AsLong(old) + 1);
    PyList_SET_ITEM(list, i, next);
    Py_DECREF(old);
}

// dict["cell"][0] += 1: the dict's section guards what is reachable from it.
void increment_dict_cell(Python py, PyObject *dict, PyObject *key)
{
    PyObject *cell = PyDict_GetItemWithError(dict, key);  // borrowed: the section keeps it
    if (cell == nullptr) throw_fetched(py);
    increment_list_slot(cell, 0);
}

// dict["n"] = dict["n"] + 1 through PyDict_SetItem (which locks the dict itself).
void increment_dict_setitem(Python py, PyObject *dict, PyObject *key)
{
    PyObject *value = PyDict_GetItemWithError(dict, key);
    if (value == nullptr) throw_fetched(py);
    auto next = Bound<PyAny>::from_owned_ptr(py, PyLong_FromLong(PyLong_AsLong(value) + 1));
    check_status(py, PyDict_SetItem(dict, key, next.as_ptr()));
}

long read_long(PyObject *o) { return PyLong_AsLong(o); }

struct Containers {
    Py<PyAny> dict, list, cell_key, n_key;
    explicit Containers(Python py)
    {
        dict = Bound<PyAny>::from_owned_ptr(py, Py_BuildValue("{s:[i],s:i}", "cell", 0, "n", 0)).unbind();
        list = Bound<PyAny>::from_owned_ptr(py, Py_BuildValue("[i]", 0)).unbind();
        cell_key = Bound<PyAny>::from_owned_ptr(py, PyUnicode_FromString("cell")).unbind();
        n_key = Bound<PyAny>::from_owned_ptr(py, PyUnicode_FromString("n")).unbind();
    }
    long cell() const { return read_long(PyList_GET_ITEM(PyDict_GetItemWithError(dict.as_ptr(), cell_key.as_ptr()), 0)); }
    long n() const { return read_long(PyDict_GetItemWithError(dict.as_ptr(), n_key.as_ptr())); }
    long list0() const { return read_long(PyList_GET_ITEM(list.as_ptr(), 0)); }
};

template <class Body> void run_threads(const char *what, Body body)
{
    Barrier start(kThreads);
    with_watchdog(120, what, [&] {
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t)
            threads.emplace_back([&, t] {
                auto g = attach();
                detach(g.py(), [&] { start.arrive_and_wait(); });
                body(g.py(), t);
            });
        for (auto &thread : threads) thread.join();
    });
}

TEST(CriticalSection, DictAndListReadModifyWriteLoseNoUpdate)
{
    Containers *c;
    {
        auto g = attach();
        c = new Containers(g.py());
    }
    run_threads("one-object critical sections", [&](Python py, int) {
        auto dict = c->dict.bind(py), list = c->list.bind(py);
        for (int i = 0; i < kRoundsPerThread; ++i) {
            critical_section(py, dict, [&] {
                increment_dict_cell(py, dict.as_ptr(), c->cell_key.as_ptr());
                if constexpr (!kNestedSectionSuspends)
                    increment_dict_setitem(py, dict.as_ptr(), c->n_key.as_ptr());
            });
            CriticalSection guard(py, list);
            increment_list_slot(list.as_ptr(), 0);
        }
    });
    auto g = attach();
    EXPECT_EQ(c->cell(), kTotalRounds);
    EXPECT_EQ(c->list0(), kTotalRounds);
    if (!kNestedSectionSuspends) {
        EXPECT_EQ(c->n(), kTotalRounds);
    }
    delete c;
}

TEST(CriticalSection, TwoObjectsInBothOrdersNeverDeadlockAndLoseNoUpdate)
{
    Containers *c;
    {
        auto g = attach();
        c = new Containers(g.py());
    }
    run_threads("two-object critical sections, (a, b) and (b, a)", [&](Python py, int t) {
        auto dict = c->dict.bind(py), list = c->list.bind(py);
        for (int i = 0; i < kRoundsPerThread; ++i) {
            auto body = [&] {
                increment_dict_cell(py, dict.as_ptr(), c->cell_key.as_ptr());
                increment_list_slot(list.as_ptr(), 0);
            };
            if ((t + i) % 2 == 0)
                critical_section(py, dict, list, body);
            else
                critical_section(py, list, dict, body);
        }
    });
    auto g = attach();
    EXPECT_EQ(c->cell(), kTotalRounds);
    EXPECT_EQ(c->list0(), kTotalRounds);
    delete c;
}

TEST(CriticalSection, SameObjectTwiceAndNestedSections)
{
    auto g = attach();
    auto py = g.py();
    auto list = Bound<PyAny>::from_owned_ptr(py, Py_BuildValue("[i]", 0));
    auto dict = Bound<PyAny>::from_owned_ptr(py, PyDict_New());
    const int result = critical_section(py, list, list, [&] {  // a == b locks once
        CriticalSection inner(py, dict);                      // nesting (LIFO) is fine
        return 7;
    });
    EXPECT_EQ(result, 7);
    EXPECT_THROW(critical_section(py, list, [] { throw std::runtime_error("x"); }),
                 std::runtime_error);
    // The section ended with the exception: another thread can take it (joined detached: on
    // a GIL build that thread needs the GIL this one holds).
    with_watchdog(30, "critical section released after an exception", [&] {
        detach(py, [&] {
            std::thread([&] {
                auto g2 = attach();
                CriticalSection again(g2.py(), list);
            }).join();
        });
    });
}

TEST(Mutex, LockTryLockUnlock)
{
    auto g = attach();
    auto py = g.py();
    pyo3cpp::Mutex m;
    EXPECT_FALSE(m.is_locked());
    EXPECT_TRUE(m.try_lock());
    EXPECT_TRUE(m.is_locked());
    EXPECT_FALSE(m.try_lock());
    m.unlock();
    EXPECT_FALSE(m.is_locked());
    EXPECT_THROW(m.unlock(), std::logic_error);  // not locked: refused, state intact
    EXPECT_FALSE(m.is_locked());
    EXPECT_TRUE(m.try_lock());
    m.unlock();
    {
        auto held = m.guard(py);
        EXPECT_TRUE(m.is_locked());
    }
    EXPECT_FALSE(m.is_locked());
    EXPECT_EQ(with_lock(py, m, [&] { return m.is_locked(); }), true);
    EXPECT_THROW(with_lock(py, m, [] { throw std::runtime_error("x"); }), std::runtime_error);
    EXPECT_FALSE(m.is_locked());
    // C code sees the same lock.
    m.lock(py);
    EXPECT_EQ(pyo3cpp_mutex_try_lock(m.raw()), 0);
    EXPECT_EQ(pyo3cpp_mutex_unlock(m.raw()), 0);
    EXPECT_EQ(pyo3cpp_mutex_try_lock(m.raw()), 1);
    m.unlock();
}

TEST(Mutex, ExcludesAcrossThreads)
{
    pyo3cpp::Mutex m;
    long counter = 0;  // a plain C++ value: only the Mutex protects it
    constexpr int kRounds = 20000;
    run_threads("Mutex exclusion", [&](Python py, int) {
        for (int i = 0; i < kRounds; ++i) {
            auto held = m.guard(py);
            const long seen = counter;
            if (i % 1000 == 0) std::this_thread::yield();
            counter = seen + 1;
        }
    });
    EXPECT_EQ(counter, static_cast<long>(kThreads) * kRounds);
    EXPECT_FALSE(m.is_locked());
}

TEST(LockDetached, SharedAndExclusive)
{
    auto g = attach();
    auto py = g.py();
    std::mutex plain;
    {
        auto lock = lock_detached(plain, py);
        EXPECT_TRUE(lock.owns_lock());
        EXPECT_FALSE(plain.try_lock());
    }
    EXPECT_TRUE(plain.try_lock());
    plain.unlock();
    std::shared_mutex shared;
    {
        auto read1 = lock_shared_detached(shared, py);
        auto read2 = lock_shared_detached(shared, py);  // readers share
        EXPECT_TRUE(read1.owns_lock() && read2.owns_lock());
        EXPECT_FALSE(shared.try_lock());
    }
    {
        auto write = lock_detached(shared, py);
        EXPECT_TRUE(write.owns_lock());
        EXPECT_FALSE(shared.try_lock_shared());
    }
    EXPECT_TRUE(Python::is_attached());
}

// The deadlock scenario, one shape for both builds:
//   holder: attached, takes the lock, lets the waiter run (detached sleep), then needs the
//           interpreter — it re-attaches (needs the GIL on 3.11) and runs gc.collect() (a
//           stop-the-world pause on 3.13t) — and only then releases the lock.
//   waiter: attached, blocks on the lock.
// If the waiter blocked while attached, the holder could never re-attach (3.11: the waiter has
// the GIL) or never stop the world (3.13t: the waiter never reaches a safe point). The locks
// under test detach the waiter while it blocks, so the watchdog never fires.
template <class Lock, class Unlock, class Wait>
void holder_needs_interpreter(const char *what, Lock lock, Unlock unlock, Wait wait_for_lock)
{
    std::atomic<bool> held{false}, waiter_done{false};
    with_watchdog(30, what, [&] {
        std::thread holder([&] {
            auto g = attach();
            auto py = g.py();
            lock(py);
            held = true;
            detach(py, [] { std::this_thread::sleep_for(std::chrono::milliseconds(100)); });
            EXPECT_TRUE(pyo3cpp_test::run_python("import gc; gc.collect()"));
            EXPECT_FALSE(waiter_done.load());
            unlock();
        });
        std::thread waiter([&] {
            auto g = attach();
            auto py = g.py();
            while (!held) detach(py, [] { std::this_thread::yield(); });
            wait_for_lock(py);
            waiter_done = true;
            EXPECT_TRUE(Python::is_attached());  // re-attached before returning
            EXPECT_TRUE(pyo3cpp_test::run_python("y = [1] * 3"));
        });
        holder.join();
        waiter.join();
    });
    EXPECT_TRUE(waiter_done.load());
}

TEST(Deadlock, MutexWaiterDetachesWhileHolderNeedsTheInterpreter)
{
    pyo3cpp::Mutex m;
    holder_needs_interpreter(
        "Mutex vs GIL / stop-the-world", [&](Python py) { m.lock(py); }, [&] { m.unlock(); },
        [&](Python py) {
            auto held = m.guard(py);
            EXPECT_TRUE(m.is_locked());
        });
    EXPECT_FALSE(m.is_locked());
}

TEST(Deadlock, CAbiMutexWaiterDetaches)
{
    pyo3cpp_mutex m = PYO3CPP_MUTEX_INIT;
    holder_needs_interpreter(
        "pyo3cpp_mutex vs GIL / stop-the-world",
        [&](Python) { EXPECT_EQ(pyo3cpp_mutex_lock(&m), 0); },
        [&] { EXPECT_EQ(pyo3cpp_mutex_unlock(&m), 0); },
        [&](Python) {
            EXPECT_EQ(pyo3cpp_mutex_lock(&m), 0);
            EXPECT_EQ(pyo3cpp_mutex_unlock(&m), 0);
        });
}

TEST(Deadlock, LockDetachedStdMutex)
{
    std::mutex m;
    holder_needs_interpreter(
        "lock_detached(std::mutex) vs GIL / stop-the-world", [&](Python py) { m.lock(); (void)py; },
        [&] { m.unlock(); }, [&](Python py) { auto lock = lock_detached(m, py); });
}

TEST(Deadlock, LockDetachedSharedMutexExclusiveAndShared)
{
    std::shared_mutex m;
    holder_needs_interpreter(
        "lock_detached(std::shared_mutex) vs GIL / stop-the-world", [&](Python) { m.lock(); },
        [&] { m.unlock(); }, [&](Python py) { auto lock = lock_detached(m, py); });
    holder_needs_interpreter(
        "lock_shared_detached(std::shared_mutex) vs GIL / stop-the-world",
        [&](Python) { m.lock(); }, [&] { m.unlock(); },
        [&](Python py) { auto lock = lock_shared_detached(m, py); });
}

TEST(CAbi, CriticalSectionArguments)
{
    pyo3cpp_critical_section cs;
    // Not attached: -1 without an exception (none can be set).
    EXPECT_EQ(pyo3cpp_critical_section_begin(&cs, Py_None), -1);
    pyo3cpp_critical_section_end(&cs);  // a failed begin leaves an empty section
    auto g = attach();
    EXPECT_EQ(pyo3cpp_critical_section_begin(nullptr, Py_None), -1);
    EXPECT_TRUE(PyErr_ExceptionMatches(PyExc_ValueError));
    PyErr_Clear();
    EXPECT_EQ(pyo3cpp_critical_section_begin(&cs, nullptr), -1);
    EXPECT_TRUE(PyErr_ExceptionMatches(PyExc_ValueError));
    PyErr_Clear();
    pyo3cpp_critical_section_end(&cs);  // still a no-op
    EXPECT_EQ(pyo3cpp_critical_section_begin2(&cs, Py_None, nullptr), -1);
    PyErr_Clear();
    pyo3cpp_critical_section_end(nullptr);
    EXPECT_EQ(pyo3cpp_critical_section_begin2(&cs, Py_None, Py_True), 0);
    pyo3cpp_critical_section_end(&cs);
    EXPECT_FALSE(PyErr_Occurred());
}

}  // namespace
