// test_leaks.cpp — leak accounting: every public operation, run 100,000 times, leaves the
// refcounts of the objects it touches unchanged (RefcountWatch) and resident memory flat.
//
// A leak of one reference or one small allocation per iteration shows up as ~1.6 MB or more
// over 100,000 iterations, far above the 1 MiB tolerance (which absorbs allocator warm-up).
// Under AddressSanitizer freed memory sits in ASan's quarantine, so resident memory grows by
// design: the memory half of the check is skipped there (the refcount half and LeakSanitizer
// still apply).
#include <pyo3cpp/pyo3cpp.hpp>
#include <pyo3cpp/import.hpp>
#include <pyo3cpp/intern.hpp>
#include <pyo3cpp/mutex.hpp>
#include <pyo3cpp/once_cell.hpp>
#include <pyo3cpp/once_lock.hpp>

#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "embedded_python.hpp"
#include "refcount_watch.hpp"

using namespace pyo3cpp;
using pyo3cpp_test::RefcountWatch;

namespace {

using pyo3cpp_test::kMemoryIsMeasurable;
constexpr int kIterations = 100000;
constexpr long kTolerance = 1L << 20;

struct Operation {
    const char *name;
    std::function<void(Python)> run;
};

// The objects the operations use, created once per test so their refcounts can be watched.
struct Objects {
    Bound<PyAny> list, other, text, number;
    explicit Objects(Python py)
        : list(Bound<PyAny>::from_owned_ptr(py, PyList_New(0))),
          other(Bound<PyAny>::from_owned_ptr(py, PyDict_New())),
          text(Bound<PyAny>::from_owned_ptr(py, PyUnicode_FromString("leak-check text"))),
          number(Bound<PyAny>::from_owned_ptr(py, PyLong_FromLong(1234567)))
    {
    }
};

OnceLock<Py<PyAny>> g_lock_cell("test_leaks.g_lock_cell");
OnceCell<Py<PyAny>> g_race_cell;
Mutex g_mutex;
pyo3cpp_object_cell g_c_cell = PYO3CPP_OBJECT_CELL_INIT;
pyo3cpp_once_state g_once = PYO3CPP_ONCE_STATE_INIT;

std::vector<Operation> public_operations(const Objects &o)
{
    return {
        {"Bound copy, move, drop",
         [&](Python) {
             Bound<PyAny> copy = o.list;
             Bound<PyAny> moved = std::move(copy);
         }},
        {"Bound upcast and checked cast (success and TypeError)",
         [&](Python) {
             Bound<PyAny> any = o.list;
             (void)any.cast<PyList>();
             try {
                 (void)any.cast<PyDict>();
             } catch (const PyErr &) {
             }
         }},
        {"Py unbind, clone_ref, bind, into_bound, drop_ref",
         [&](Python py) {
             Py<PyAny> held = o.list.unbind();
             Py<PyAny> clone = held.clone_ref(py);
             Bound<PyAny> bound = clone.bind(py);
             Bound<PyAny> back = std::move(clone).into_bound(py);
             std::move(held).drop_ref(py);
         }},
        {"Py released while detached (deferred pool), drained on re-attach",
         [&](Python py) {
             Py<PyAny> held = o.list.unbind();
             detach(py, [&] { Py<PyAny> dropped = std::move(held); });
         }},
        {"Borrowed view, to_owned",
         [&](Python py) {
             auto view = Borrowed<PyAny>::from_ptr(py, o.text.as_ptr());
             Bound<PyAny> owned = view.to_owned();
         }},
        {"nested attach and try_attach",
         [&](Python) {
             auto again = attach();
             auto maybe = try_attach();
         }},
        {"detach round trip", [&](Python py) { (void)detach(py, [] { return 1; }); }},
        {"critical section on one and two objects",
         [&](Python py) {
             critical_section(py, o.list, [] {});
             critical_section(py, o.list, o.other, [] {});
         }},
        {"Mutex guard", [&](Python py) { auto held = g_mutex.guard(py); }},
        {"OnceLock and OnceCell fast paths",
         [&](Python py) {
             g_lock_cell.get_or_init(py, [&] { return o.number.unbind(); });
             g_race_cell.get_or_init(py, [&] { return o.text.unbind(); });
         }},
        {"C once-cells: object cell and once_run fast paths",
         [&](Python) {
             PyObject *v = pyo3cpp_object_cell_get_or_init(
                 &g_c_cell, [](void *ctx) { return Py_NewRef(static_cast<PyObject *>(ctx)); },
                 o.number.as_ptr(), "g_c_cell");
             (void)v;
             (void)pyo3cpp_once_run(&g_once, [](void *) { return 0; }, nullptr, "g_once");
         }},
        {"intern and import_cached",
         [&](Python py) {
             (void)intern<"leak_check_name">(py);
             (void)import_cached<"math", "pi">(py);
         }},
        {"PyErr raise, fetch, restore, clear",
         [&](Python py) {
             try {
                 PyErr::raise(py, PyExc_ValueError, "leak check");
             } catch (const PyErr &e) {
                 e.restore(py);
                 PyErr_Clear();
             }
         }},
        {"conversions: extract and into_py",
         [&](Python py) {
             long n = extract<long>(o.number.as_borrowed());
             Bound<PyAny> back = into_py(py, n);
             std::string s = extract<std::string>(o.text.as_borrowed());
             Bound<PyAny> text = into_py(py, s);
             Bound<PyAny> list = into_py(py, std::vector<long>{1, 2, 3});
             (void)extract<std::vector<long>>(list.as_borrowed());
         }},
        {"typed views: list append/get_item/set_item, dict set_item/get_item/del_item",
         [&](Python) {
             auto list = o.list.cast<PyList>();
             list.append(o.text);
             (void)list.get_item(0);
             list.set_item(0, o.number);
             PyList_SetSlice(list.as_ptr(), 0, 1, nullptr);
             auto dict = o.other.cast<PyDict>();
             dict.set_item(o.text, o.number);
             (void)dict.get_item(o.text);
             (void)dict.contains(o.text);
             dict.del_item(o.text);
         }},
        {"getattr, call_method, failed getattr (AttributeError) caught",
         [&](Python) {
             (void)o.text.getattr("upper");
             (void)o.text.call_method<"upper">();
             try {
                 (void)o.text.getattr("no_such_attribute");
             } catch (const PyErr &) {
             }
         }},
        {"conversion failure (TypeError) caught",
         [&](Python) {
             try {
                 (void)extract<long>(o.text.as_borrowed());
             } catch (const PyErr &) {
             }
         }},
    };
}

TEST(Leaks, RefcountWatchCatchesALeakAndAnOverRelease)
{
    // The helper must be able to fail, or every test using it proves nothing.
    auto g = attach();
    PyObject *obj = PyList_New(0);
    EXPECT_NONFATAL_FAILURE(
        {
            RefcountWatch watch{obj};
            Py_INCREF(obj);  // leaked reference
        },
        "leaked 1");
    Py_DECREF(obj);
    Py_INCREF(obj);  // a spare reference the "over-release" below gives up
    EXPECT_NONFATAL_FAILURE(
        {
            RefcountWatch watch{obj};
            Py_DECREF(obj);
        },
        "over-released 1");
    {
        RefcountWatch watch{obj};
        Bound<PyAny> owned = Bound<PyAny>::from_borrowed_ptr(g.py(), obj);
    }  // balanced: no failure
    Py_DECREF(obj);
}

TEST(Leaks, EveryPublicOperation100kTimesKeepsRefcountsAndMemoryFlat)
{
    auto g = attach();
    auto py = g.py();
    Objects objects(py);
    for (const Operation &op : public_operations(objects)) {
        SCOPED_TRACE(op.name);
        for (int i = 0; i < 2000; ++i) op.run(py);  // warm-up: caches, free lists, arenas
        ASSERT_FALSE(PyErr_Occurred());
        RefcountWatch watch{objects.list.as_ptr(), objects.other.as_ptr(), objects.text.as_ptr(),
                            objects.number.as_ptr()};
        const long before = pyo3cpp_test::resident_bytes();
        for (int i = 0; i < kIterations; ++i) op.run(py);
        const long growth = pyo3cpp_test::resident_bytes() - before;
        EXPECT_FALSE(PyErr_Occurred());
        EXPECT_EQ(pyo3cpp_pool_pending(), 0);
        if (kMemoryIsMeasurable) {
            EXPECT_LT(growth, kTolerance) << op.name << ": resident memory grew by " << growth
                                          << " bytes over " << kIterations << " iterations";
        }
    }
}

TEST(Leaks, AttachFromFreshThreadsKeepsMemoryFlat)
{
    // Each thread that never attached gets a thread state on attach and must lose it on release.
    constexpr int kThreads = 2000;
    PyObject *obj;
    {
        auto g = attach();
        obj = PyList_New(0);
    }
    auto one_thread = [&] {
        std::thread([&] {
            auto g = attach();
            Bound<PyAny> owned = Bound<PyAny>::from_borrowed_ptr(g.py(), obj);
        }).join();
    };
    for (int i = 0; i < 200; ++i) one_thread();
    long before;
    {
        auto g = attach();
        RefcountWatch watch{obj};
        before = pyo3cpp_test::resident_bytes();
        detach(g.py(), [&] {
            for (int i = 0; i < kThreads; ++i) one_thread();
        });
    }
    const long growth = pyo3cpp_test::resident_bytes() - before;
    if (kMemoryIsMeasurable) {
        EXPECT_LT(growth, kTolerance) << "grew " << growth << " bytes";
    }
    auto g = attach();
    Py_DECREF(obj);
}

TEST(Leaks, PyDroppedOnManyThreadsConcurrentlyIsDrainedExactly)
{
    // Racing releases into the deferred pool: every reference is applied exactly once.
    constexpr int kThreads = 4, kPerThread = 5000;
    auto g = attach();
    auto py = g.py();
    auto list = Bound<PyAny>::from_owned_ptr(py, PyList_New(0));
    {
        RefcountWatch watch{list.as_ptr()};
        std::vector<std::vector<Py<PyAny>>> per_thread(kThreads);
        for (auto &refs : per_thread)
            for (int i = 0; i < kPerThread; ++i) refs.push_back(list.unbind());
        pyo3cpp_test::Barrier start(kThreads);
        detach(py, [&] {
            std::vector<std::thread> threads;
            for (auto &refs : per_thread)
                threads.emplace_back([&refs, &start] {
                    start.arrive_and_wait();
                    refs.clear();  // released on a thread that is not attached: pooled
                });
            for (auto &t : threads) t.join();
        });
        py.drain_pool();
        EXPECT_EQ(pyo3cpp_pool_pending(), 0);
    }
}

}  // namespace
