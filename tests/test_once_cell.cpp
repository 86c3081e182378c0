// test_once_cell.cpp — OnceCell<T>: racing initialisers, first stored wins, every loser's value
// released (exact refcounts for Py<T>, exact instance counts for a C++ T), exceptions leave
// the cell as it was, recursion does not hang.
#include <pyo3cpp/once_cell.hpp>
#include <pyo3cpp/pyo3cpp.hpp>

#include <gtest/gtest.h>

#include <memory>
#include <mutex>
#include <stdexcept>
#include <vector>

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

// After a release from this thread, `object` holds `expected` references. On a free-threaded
// build a release of an object that another live thread owns may be queued for that thread to
// merge (biased reference counting): CPython then keeps one reference for the queue and marks
// the object queued, until the owner merges. The workers below keep their thread states between
// rounds (as Python-created threads do), so their objects' releases can be in that state.
bool holds_after_release(PyObject *object, Py_ssize_t expected)
{
#ifdef Py_GIL_DISABLED
    const Py_ssize_t shared = __atomic_load_n(&object->ob_ref_shared, __ATOMIC_RELAXED);
    if ((shared & _Py_REF_SHARED_FLAG_MASK) == _Py_REF_QUEUED) return refcnt(object) == expected + 1;
#endif
    return refcnt(object) == expected;
}
constexpr int kRounds = 1000;

// Every thread saw the one stored object, and each object made in the round holds exactly the
// references it should: the winner the cell's and the test's, every loser only the test's.
TEST(OnceCell, RaceFirstStoredWinsAndLosersAreReleased)
{
    std::unique_ptr<OnceCell<Py<PyAny>>> cell;
    std::mutex made_lock;
    std::vector<PyObject *> made;  // each with one extra reference held by the test
    PyObject *seen[kThreads] = {};
    int bad_rounds = 0;
    long total_made = 0, rounds_with_losers = 0;
    with_watchdog(120, "OnceCell race", [&] {
        once_test::race_rounds(
            kThreads, kRounds,
            [&](Python, int) {
                cell = std::make_unique<OnceCell<Py<PyAny>>>();
                made.clear();
            },
            [&](Python py, int index) {
                const Py<PyAny> &value = cell->get_or_init(py, [&] {
                    pause_detached(py, 20us);  // lets GIL-build threads in to race as well
                    Py<PyAny> fresh = new_list(py);
                    std::lock_guard<std::mutex> hold(made_lock);
                    made.push_back(fresh.clone_ref(py).into_ptr());
                    return fresh;
                });
                seen[index] = value.as_ptr();
            },
            [&](Python, int) {
                ASSERT_NE(cell->get(), nullptr);
                PyObject *stored = cell->get()->as_ptr();
                bool ok = !made.empty();
                for (PyObject *p : seen) ok = ok && p == stored;
                int winners = 0;
                for (PyObject *p : made) {
                    if (p == stored) ++winners;
                    ok = ok && refcnt(p) == (p == stored ? 2 : 1);
                }
                ok = ok && winners == 1;
                total_made += static_cast<long>(made.size());
                if (made.size() > 1) ++rounds_with_losers;
                cell.reset();  // releases the winner's cell reference
                ok = ok && holds_after_release(stored, 1);
                for (PyObject *p : made) Py_DECREF(p);
                if (!ok) ++bad_rounds;
            });
    });
    EXPECT_EQ(bad_rounds, 0);
    EXPECT_GT(rounds_with_losers, 0) << "the initialisers never actually raced";
    std::printf("[ info ] OnceCell race: %ld values made in %d rounds, %ld rounds had losers\n",
                total_made, kRounds, rounds_with_losers);
}

// A C++ T that counts its live instances (moves included) to prove losers are destroyed.
std::atomic<int> g_live{0};
struct Counted {
    int id;
    explicit Counted(int i) : id(i) { g_live.fetch_add(1); }
    Counted(Counted &&other) noexcept : id(other.id) { g_live.fetch_add(1); }
    Counted(const Counted &) = delete;
    ~Counted() { g_live.fetch_sub(1); }
};

TEST(OnceCell, RaceLosersOfACppTypeAreDestroyed)
{
    std::unique_ptr<OnceCell<Counted>> cell;
    std::atomic<int> next_id{0};
    const Counted *seen[kThreads] = {};
    int bad_rounds = 0;
    with_watchdog(120, "OnceCell<Counted> race", [&] {
        once_test::race_rounds(
            kThreads, kRounds / 4,  // the refcount race above runs the full 1,000
            [&](Python, int) { cell = std::make_unique<OnceCell<Counted>>(); },
            [&](Python py, int index) {
                seen[index] = &cell->get_or_init(py, [&] {
                    pause_detached(py, 10us);
                    return Counted(next_id.fetch_add(1));
                });
            },
            [&](Python, int) {
                bool ok = g_live.load() == 1;
                for (const Counted *p : seen) ok = ok && p == cell->get();
                cell.reset();
                ok = ok && g_live.load() == 0;
                if (!ok) ++bad_rounds;
            });
    });
    EXPECT_EQ(bad_rounds, 0);
}

TEST(OnceCell, ExceptionsPropagateAndLeaveTheCellEmpty)
{
    with_watchdog(30, "OnceCell throwing initialisers", [] {
        auto guard = attach();
        auto py = guard.py();
        OnceCell<Py<PyAny>> cell;
        EXPECT_THROW(cell.get_or_init(py, [&]() -> Py<PyAny> { throw std::logic_error("no"); }),
                     std::logic_error);
        EXPECT_EQ(cell.get(), nullptr);
        try {
            cell.get_or_init(py, [&] {
                return Py<PyAny>::from_owned_ptr(py, PyObject_GetAttrString(Py_None, "nope"));
            });
            ADD_FAILURE() << "no exception";
        } catch (const PyErr &e) {
            EXPECT_TRUE(e.matches(py, PyExc_AttributeError)) << e.what();
        }
        EXPECT_FALSE(PyErr_Occurred());
        EXPECT_EQ(cell.get(), nullptr);
        EXPECT_TRUE(PyList_Check(cell.get_or_init(py, [&] { return new_list(py); }).as_ptr()));
    });
}

// Re-entrant initialisation does not deadlock: the inner call stores first and wins, and the
// outer call's value is released.
TEST(OnceCell, RecursiveInitialisationDoesNotHangAndReleasesTheOuterValue)
{
    with_watchdog(30, "OnceCell recursion", [] {
        auto guard = attach();
        auto py = guard.py();
        OnceCell<Py<PyAny>> cell;
        PyObject *inner = nullptr;
        Py<PyAny> outer_watch;
        const Py<PyAny> &value = cell.get_or_init(py, [&] {
            inner = cell.get_or_init(py, [&] { return new_list(py); }).as_ptr();
            Py<PyAny> outer = new_list(py);
            outer_watch = outer.clone_ref(py);
            return outer;
        });
        EXPECT_EQ(value.as_ptr(), inner);
        EXPECT_EQ(refcnt(outer_watch.as_ptr()), 1) << "the losing outer value was released";
        EXPECT_EQ(refcnt(inner), 1);
    });
}

TEST(OnceCell, SetTakeCloneRefAreExact)
{
    auto guard = attach();
    auto py = guard.py();
    OnceCell<Py<PyAny>> cell;
    Py<PyAny> a = new_list(py), b = new_list(py);
    EXPECT_TRUE(cell.set(py, a.clone_ref(py)));
    EXPECT_FALSE(cell.set(py, b.clone_ref(py)));
    EXPECT_EQ(refcnt(b.as_ptr()), 1);
    EXPECT_EQ(refcnt(a.as_ptr()), 2);
    Py<PyAny> clone = cell.clone_ref(py);
    EXPECT_TRUE(clone.is(a));
    EXPECT_EQ(refcnt(a.as_ptr()), 3);
    auto taken = cell.take();
    ASSERT_TRUE(taken.has_value());
    EXPECT_TRUE(taken->is(a));
    EXPECT_EQ(cell.get(), nullptr);
    EXPECT_TRUE(cell.clone_ref(py).is_null());
    taken.reset();
    EXPECT_EQ(refcnt(a.as_ptr()), 2);
    const Py<PyAny> *declined =
        cell.get_or_try_init(py, []() -> std::optional<Py<PyAny>> { return std::nullopt; });
    EXPECT_EQ(declined, nullptr);
    EXPECT_FALSE(cell.is_initialized());
}

}  // namespace
