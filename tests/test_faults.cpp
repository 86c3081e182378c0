// test_faults.cpp — fault injection: C++ and Python exceptions thrown from every callback the
// library invokes (once-cell initialisers, functions run detached or inside critical sections,
// conversion hooks, C ABI callbacks), and MemoryError from allocation failures. After each
// fault the thread must be attached as before, the failed cell empty and retryable, locks
// released, no Python error left pending, and every involved refcount unchanged.
// (Interpreter finalisation with live objects needs its own process: tests/faults/.)
#include <pyo3cpp/pyo3cpp.hpp>
#include <pyo3cpp/mutex.hpp>
#include <pyo3cpp/once_cell.hpp>
#include <pyo3cpp/once_lock.hpp>

#include <gtest/gtest.h>

#include <climits>
#include <stdexcept>
#include <string>
#include <thread>

#include "embedded_python.hpp"
#include "refcount_watch.hpp"

using namespace pyo3cpp;
using pyo3cpp_test::RefcountWatch;

namespace {

struct Boom : std::runtime_error {
    Boom() : std::runtime_error("boom") {}
};

// A new object nobody else references, so a leak or over-release shows in its refcount.
Bound<PyAny> fresh(Python py) { return Bound<PyAny>::from_owned_ptr(py, PyList_New(0)); }

// A Python exception, as a PyErr (what a C++ callback throws for "a Python exception").
PyErr python_error(Python py) { return PyErr::new_err(py, PyExc_ValueError, "injected"); }

// Shows the thread is attached and the library works: build, copy and drop objects.
void expect_usable(Python py)
{
    EXPECT_TRUE(Python::is_attached());
    EXPECT_FALSE(PyErr_Occurred());
    auto obj = fresh(py);
    Bound<PyAny> copy = obj;
    Py<PyAny> held = std::move(copy).unbind();
    EXPECT_EQ(pyo3cpp_test::refcnt(obj.as_ptr()), 2);
}

// ---------------------------------------------------------------- detach

TEST(Faults, CppExceptionFromDetachedFunctionRethrownAttached)
{
    auto g = attach();
    auto py = g.py();
    auto obj = fresh(py);
    {
        RefcountWatch watch{obj.as_ptr()};
        Py<PyAny> carried = obj.unbind();
        EXPECT_THROW(detach(py,
                            [&] {
                                Py<PyAny> dropped = std::move(carried);  // released detached
                                throw Boom();
                            }),
                     Boom);
        EXPECT_TRUE(Python::is_attached());
        EXPECT_EQ(pyo3cpp_pool_pending(), 0);  // drained by the re-attach
    }
    expect_usable(py);
}

TEST(Faults, PythonExceptionFromDetachedFunctionRethrownAttached)
{
    auto g = attach();
    auto py = g.py();
    PyErr prepared = python_error(py);  // made attached; copies share one exception object
    auto exc = prepared.value(py);
    {
        RefcountWatch watch{exc.as_ptr()};
        try {
            detach(py, [&] { throw prepared; });  // copying a PyErr touches no refcount
            ADD_FAILURE() << "no exception";
        } catch (const PyErr &e) {
            EXPECT_TRUE(e.matches(py, PyExc_ValueError));
        }
    }
    expect_usable(py);
}

TEST(Faults, CAbiDetachTurnsEscapingCppExceptionIntoRuntimeError)
{
    auto g = attach();
    const int rc = pyo3cpp_detach([](void *) -> int { throw Boom(); }, nullptr);
    EXPECT_EQ(rc, -1);
    EXPECT_TRUE(Python::is_attached());
    ASSERT_TRUE(PyErr_ExceptionMatches(PyExc_RuntimeError));
    PyErr_Clear();
    expect_usable(g.py());
}

// ---------------------------------------------------------- critical sections

// After a faulting section another thread must be able to lock the same object at once.
void expect_lockable_from_another_thread(Python py, const Bound<PyAny> &obj)
{
    pyo3cpp_test::with_watchdog(20, "critical section left locked by an exception", [&] {
        detach(py, [&] {
            std::thread([&] {
                auto g = attach();
                critical_section(g.py(), obj, [] {});
            }).join();
        });
    });
}

TEST(Faults, ExceptionsFromCriticalSectionBodiesReleaseTheLocks)
{
    auto g = attach();
    auto py = g.py();
    auto a = fresh(py), b = fresh(py);
    {
        RefcountWatch watch{a.as_ptr(), b.as_ptr()};
        EXPECT_THROW(critical_section(py, a, [] { throw Boom(); }), Boom);
        expect_lockable_from_another_thread(py, a);
        EXPECT_THROW(critical_section(py, a, [&] { throw python_error(py); }), PyErr);
        expect_lockable_from_another_thread(py, a);
        EXPECT_THROW(critical_section(py, a, b, [] { throw Boom(); }), Boom);
        expect_lockable_from_another_thread(py, a);
        expect_lockable_from_another_thread(py, b);
        try {
            CriticalSection guard(py, b);
            throw python_error(py);
        } catch (const PyErr &) {
        }
        expect_lockable_from_another_thread(py, b);
    }
    expect_usable(py);
}

TEST(Faults, ExceptionUnderMutexGuardUnlocks)
{
    static Mutex mutex;
    auto g = attach();
    auto py = g.py();
    try {
        auto held = mutex.guard(py);
        throw Boom();
    } catch (const Boom &) {
    }
    EXPECT_TRUE(mutex.try_lock());
    mutex.unlock();
}

// ---------------------------------------------------------- once-cells

template <class Cell> void exercise_failing_initialisers(Cell &cell)
{
    auto g = attach();
    auto py = g.py();
    auto value = fresh(py);
    {
        RefcountWatch watch{value.as_ptr()};
        EXPECT_THROW(cell.get_or_init(py, []() -> Py<PyAny> { throw Boom(); }), Boom);
        EXPECT_FALSE(cell.is_initialized());
        EXPECT_THROW(cell.get_or_init(py, [&]() -> Py<PyAny> { throw python_error(py); }), PyErr);
        EXPECT_FALSE(cell.is_initialized());
        EXPECT_FALSE(PyErr_Occurred());
        // An initialiser that made its value and then failed must not leak it.
        EXPECT_THROW(cell.get_or_init(py,
                                      [&]() -> Py<PyAny> {
                                          Py<PyAny> made = value.unbind();
                                          throw Boom();
                                      }),
                     Boom);
        // The next caller retries and succeeds.
        const Py<PyAny> &stored = cell.get_or_init(py, [&] { return value.unbind(); });
        EXPECT_EQ(stored.as_ptr(), value.as_ptr());
        auto taken = cell.take();  // give the reference back before the watch compares
        ASSERT_TRUE(taken.has_value());
    }
    expect_usable(py);
}

TEST(Faults, OnceLockInitialiserThrowingLeavesCellEmptyAndRetryable)
{
    static OnceLock<Py<PyAny>> cell("faults.once_lock");
    exercise_failing_initialisers(cell);
}

TEST(Faults, OnceCellInitialiserThrowingLeavesCellEmptyAndRetryable)
{
    static OnceCell<Py<PyAny>> cell;
    exercise_failing_initialisers(cell);
}

TEST(Faults, OnceLockWaitersRetryAfterConcurrentFailure)
{
    // Several threads race; the first initialisers fail: a later one must succeed, all agree.
    static OnceLock<Py<PyAny>> cell("faults.racing");
    constexpr int kThreads = 4;
    std::atomic<int> attempts{0};
    pyo3cpp_test::Barrier start(kThreads);
    auto g = attach();
    auto py = g.py();
    auto value = fresh(py);
    std::vector<PyObject *> seen(kThreads, nullptr);
    pyo3cpp_test::with_watchdog(30, "once-lock retry after failure", [&] {
        detach(py, [&] {
            std::vector<std::thread> threads;
            for (int t = 0; t < kThreads; ++t)
                threads.emplace_back([&, t] {
                    start.arrive_and_wait();
                    auto tg = attach();
                    for (;;) {
                        try {
                            seen[t] = cell.get_or_init(tg.py(), [&] {
                                                  if (attempts.fetch_add(1) < 2) throw Boom();
                                                  return value.unbind();
                                              }).as_ptr();
                            break;
                        } catch (const Boom &) {
                        }
                    }
                });
            for (auto &th : threads) th.join();
        });
    });
    for (PyObject *p : seen) EXPECT_EQ(p, value.as_ptr());
    EXPECT_GE(attempts.load(), 3);
    auto taken = cell.take();
}

PyObject *c_init_raises(void *) { return PyErr_Format(PyExc_KeyError, "injected"), nullptr; }
PyObject *c_init_throws(void *) { throw Boom(); }
PyObject *c_init_ok(void *ctx) { return Py_NewRef(static_cast<PyObject *>(ctx)); }

TEST(Faults, CObjectCellInitialiserFailuresLeaveCellEmpty)
{
    static pyo3cpp_object_cell cell = PYO3CPP_OBJECT_CELL_INIT;
    auto g = attach();
    auto value = fresh(g.py());
    {
        RefcountWatch watch{value.as_ptr()};
        EXPECT_EQ(pyo3cpp_object_cell_get_or_init(&cell, c_init_raises, nullptr, "c"), nullptr);
        EXPECT_TRUE(PyErr_ExceptionMatches(PyExc_KeyError));
        PyErr_Clear();
        EXPECT_EQ(pyo3cpp_object_cell_get_or_init(&cell, c_init_throws, nullptr, "c"), nullptr);
        EXPECT_TRUE(PyErr_ExceptionMatches(PyExc_RuntimeError));  // no C++ exception crosses
        PyErr_Clear();
        EXPECT_EQ(pyo3cpp_object_cell_get_or_race(&cell, c_init_raises, nullptr), nullptr);
        EXPECT_TRUE(PyErr_ExceptionMatches(PyExc_KeyError));
        PyErr_Clear();
        EXPECT_EQ(pyo3cpp_object_cell_get(&cell), nullptr);
        EXPECT_EQ(pyo3cpp_object_cell_get_or_init(&cell, c_init_ok, value.as_ptr(), "c"),
                  value.as_ptr());
        Py_XDECREF(pyo3cpp_object_cell_take(&cell));
    }
    expect_usable(g.py());
}

TEST(Faults, CObjectCellRaceInitialiserThrowingCppIsContained)
{
    static pyo3cpp_object_cell cell = PYO3CPP_OBJECT_CELL_INIT;
    auto g = attach();
    bool escaped = false;
    try {
        EXPECT_EQ(pyo3cpp_object_cell_get_or_race(&cell, c_init_throws, nullptr), nullptr);
    } catch (...) {
        escaped = true;
    }
    EXPECT_FALSE(escaped) << "a C++ exception crossed the C ABI";
    EXPECT_TRUE(PyErr_ExceptionMatches(PyExc_RuntimeError));
    PyErr_Clear();
    EXPECT_EQ(pyo3cpp_object_cell_get(&cell), nullptr);
}

// ---------------------------------------------------------- conversion hooks

struct Faulty {
    int mode;  // 0: fine, 1: C++ exception, 2: Python exception
};

}  // namespace

template <> struct pyo3cpp::FromPython<Faulty> {
    static Faulty extract(Borrowed<PyAny> obj)
    {
        const long mode = pyo3cpp::extract<long>(obj);
        if (mode == 1) throw Boom();
        if (mode == 2) PyErr::raise(obj.py(), PyExc_OverflowError, "injected by FromPython");
        return Faulty{static_cast<int>(mode)};
    }
};
template <> struct pyo3cpp::IntoPython<Faulty> {
    static Bound<PyAny> convert(Python py, const Faulty &f)
    {
        if (f.mode == 1) throw Boom();
        if (f.mode == 2) PyErr::raise(py, PyExc_OverflowError, "injected by IntoPython");
        return Bound<PyAny>::from_owned_ptr(py, PyLong_FromLong(f.mode));
    }
};

namespace {

TEST(Faults, ConversionHooksThrowingInsideContainersLeakNothing)
{
    auto g = attach();
    auto py = g.py();
    auto zero = Bound<PyAny>::from_owned_ptr(py, PyLong_FromLong(0));
    auto list = Bound<PyAny>::from_owned_ptr(py, Py_BuildValue("[lll]", 0L, 0L, 1L));
    auto list_py = Bound<PyAny>::from_owned_ptr(py, Py_BuildValue("[ll]", 0L, 2L));
    {
        RefcountWatch watch{list.as_ptr(), list_py.as_ptr()};
        EXPECT_THROW((void)extract<std::vector<Faulty>>(list.as_borrowed()), Boom);
        try {
            (void)extract<std::vector<Faulty>>(list_py.as_borrowed());
            ADD_FAILURE() << "no exception";
        } catch (const PyErr &e) {
            EXPECT_TRUE(e.matches(py, PyExc_OverflowError));
        }
        std::vector<Faulty> out{{0}, {0}, {1}};
        EXPECT_THROW((void)into_py(py, out), Boom);
        out.back().mode = 2;
        EXPECT_THROW((void)into_py(py, out), PyErr);
        std::map<std::string, Faulty> m{{"a", {0}}, {"b", {2}}};
        EXPECT_THROW((void)into_py(py, m), PyErr);
        EXPECT_THROW((void)into_py(py, std::make_tuple(Faulty{0}, Faulty{1})), Boom);
    }
    expect_usable(py);
}

// ---------------------------------------------------------- MemoryError

TEST(Faults, HugeAllocationsRaiseMemoryErrorAndTheLibraryStaysUsable)
{
    auto g = attach();
    auto py = g.py();
    const Py_ssize_t huge = PY_SSIZE_T_MAX / 2;
    try {
        auto bytes = Bound<PyAny>::from_owned_ptr(py, PyBytes_FromStringAndSize(nullptr, huge));
        ADD_FAILURE() << "a " << huge << "-byte allocation succeeded";
    } catch (const PyErr &e) {
        EXPECT_TRUE(e.matches(py, PyExc_MemoryError)) << e.what();
    }
#ifndef Py_GIL_DISABLED
    // Not on 3.13t: there PyList_New's own failure path decrefs a list taken from the free list
    // before setting its ob_item, so the stale item array is freed a second time (a CPython
    // 3.13 free-threaded bug this test found: Objects/listobject.c, PyList_New).
    try {
        auto list = Bound<PyAny>::from_owned_ptr(py, PyList_New(huge / 8));
        ADD_FAILURE() << "a huge list was allocated";
    } catch (const PyErr &e) {
        EXPECT_TRUE(e.matches(py, PyExc_MemoryError)) << e.what();
    }
#endif
    // A once-cell whose initialiser hits MemoryError stays empty and retries.
    static OnceLock<Py<PyAny>> cell("faults.nomem");
    EXPECT_THROW(cell.get_or_init(py,
                                  [&] {
                                      return Py<PyAny>::from_owned_ptr(
                                          py, PyBytes_FromStringAndSize(nullptr, huge));
                                  }),
                 PyErr);
    EXPECT_FALSE(cell.is_initialized());
    EXPECT_NE(cell.get_or_init(py, [&] { return fresh(py).unbind(); }).as_ptr(), nullptr);
    auto taken = cell.take();
    expect_usable(py);
}

TEST(Faults, InjectedAllocationFailuresRaiseMemoryError)
{
    // _testcapi.set_nomemory(start, stop) makes the start-th..stop-th allocations fail. Use it
    // around library paths that allocate Python objects; skip where the module is not built.
    auto g = attach();
    auto py = g.py();
    PyObject *testcapi = PyImport_ImportModule("_testcapi");
    if (testcapi == nullptr) {
        PyErr_Clear();
        GTEST_SKIP() << "_testcapi is not available in this CPython build";
    }
    auto mod = Bound<PyAny>::from_owned_ptr(py, testcapi);
    if (!PyObject_HasAttrString(mod.as_ptr(), "set_nomemory"))
        GTEST_SKIP() << "_testcapi.set_nomemory is not available";
    // Looked up in advance: removing the hooks must not need an allocation itself.
    auto set_nomemory =
        Bound<PyAny>::from_owned_ptr(py, PyObject_GetAttrString(mod.as_ptr(), "set_nomemory"));
    auto remove_hooks =
        Bound<PyAny>::from_owned_ptr(py, PyObject_GetAttrString(mod.as_ptr(), "remove_mem_hooks"));
    int memory_errors = 0;
    for (int start = 0; start < 12; ++start) {
        PyObject *r = PyObject_CallFunction(set_nomemory.as_ptr(), "ii", start, 0);
        ASSERT_NE(r, nullptr);
        Py_DECREF(r);
        static pyo3cpp_object_cell cell = PYO3CPP_OBJECT_CELL_INIT;
        try {
            // Allocations: the list, its items, the conversion, the intern'd key.
            Bound<PyAny> list = into_py(py, std::vector<std::string>{"alpha", "beta", "gamma"});
            PyObject *key = pyo3cpp_intern(&cell, "faults_nomem_key");
            if (key == nullptr) throw PyErr::fetch(py);
            auto back = extract<std::vector<std::string>>(list.as_borrowed());
        } catch (const PyErr &e) {
            memory_errors += e.matches(py, PyExc_MemoryError) ? 1 : 0;
        }
        PyObject *removed = PyObject_CallNoArgs(remove_hooks.as_ptr());
        ASSERT_NE(removed, nullptr);
        Py_DECREF(removed);
        ASSERT_FALSE(PyErr_Occurred());
        Py_XDECREF(pyo3cpp_object_cell_take(&cell));
        expect_usable(py);
    }
    EXPECT_GT(memory_errors, 0) << "no allocation failure was provoked";
}

// The C ABI's own allocations fail as MemoryError, never as a C++ exception (before, the cached
// import's name was a std::string: an allocation the interpreter's allocators could not see).
namespace failing_raw {
PyMemAllocatorEx g_saved{};
void *fail_malloc(void *, size_t) { return nullptr; }
void *fail_calloc(void *, size_t, size_t) { return nullptr; }
void *fail_realloc(void *, void *, size_t) { return nullptr; }
void pass_free(void *, void *p) { g_saved.free(g_saved.ctx, p); }
}  // namespace failing_raw

TEST(Faults, CachedImportAllocationFailureIsMemoryError)
{
    auto g = attach();
    auto py = g.py();
    static pyo3cpp_object_cell cell = PYO3CPP_OBJECT_CELL_INIT;
    PyMemAllocatorEx failing = {nullptr, failing_raw::fail_malloc, failing_raw::fail_calloc,
                                failing_raw::fail_realloc, failing_raw::pass_free};
    PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &failing_raw::g_saved);
    PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &failing);
    PyObject *result = pyo3cpp_import_cached(&cell, "json", "dumps");
    PyMem_SetAllocator(PYMEM_DOMAIN_RAW, &failing_raw::g_saved);
    EXPECT_EQ(result, nullptr);
    ASSERT_TRUE(PyErr_Occurred());
    EXPECT_TRUE(PyErr_ExceptionMatches(PyExc_MemoryError));
    PyErr_Clear();
    // The cell stayed empty and works once memory is back.
    EXPECT_NE(pyo3cpp_import_cached(&cell, "json", "dumps"), nullptr);
    pyo3cpp_object_cell_clear(&cell);
    expect_usable(py);
}

}  // namespace
