// test_attach.cpp — attach(), try_attach(), detach() and is_attached(): nesting, threads Python
// never created, results and exceptions through detach, the pool drained on re-attach, and an
// is_attached() that changes nothing. (Before initialisation and during finalisation:
// test_attach_lifecycle.cpp, which owns its interpreter's life cycle.)
#include <pyo3cpp/pyo3cpp.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "embedded_python.hpp"

using namespace pyo3cpp;
using pyo3cpp_test::Barrier;
using pyo3cpp_test::refcnt;

namespace {

TEST(Attach, TestsStartDetached)
{
    EXPECT_FALSE(Python::is_attached());
    EXPECT_EQ(pyo3cpp_is_attached(), 0);
}

TEST(Attach, NestedAttachOnlyCounts)
{
    auto outer = attach();
    EXPECT_TRUE(outer);
    EXPECT_TRUE(outer.attached_here());
    PyThreadState *state = PyThreadState_Get();
    {
        auto inner = attach();
        EXPECT_TRUE(inner);
        EXPECT_FALSE(inner.attached_here());  // already attached: nothing new was taken
        EXPECT_EQ(PyThreadState_Get(), state);
        {
            auto innermost = try_attach();
            EXPECT_TRUE(innermost.has_value());
            EXPECT_FALSE(innermost.attached_here());
        }
        EXPECT_TRUE(Python::is_attached());
    }
    // The inner guards gave nothing back: still attached, same thread state.
    EXPECT_TRUE(Python::is_attached());
    EXPECT_EQ(PyThreadState_Get(), state);
}

TEST(Attach, GuardEndDetaches)
{
    {
        auto guard = attach();
        EXPECT_TRUE(Python::is_attached());
    }
    EXPECT_FALSE(Python::is_attached());
}

// Many threads Python never created, many rounds each: attach, use Python, release. Every
// round's append must land (the list is guarded by a critical section on free-threaded builds,
// by the GIL otherwise).
TEST(Attach, ForeignThreadsManyRounds)
{
    constexpr int kThreads = 8, kRounds = 300;
    Py<PyAny> shared;
    {
        auto g = attach();
        shared = Bound<PyAny>::from_owned_ptr(g.py(), PyList_New(0)).unbind();
    }
    Barrier start(kThreads);
    std::atomic<int> failures{0};
    pyo3cpp_test::with_watchdog(60, "foreign threads attaching", [&] {
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t)
            threads.emplace_back([&, t] {
                if (Python::is_attached()) ++failures;
                start.arrive_and_wait();
                for (int round = 0; round < kRounds; ++round) {
                    auto guard = attach();
                    auto py = guard.py();
                    if (!guard.attached_here() || !Python::is_attached()) ++failures;
                    auto item = Bound<PyAny>::from_owned_ptr(py, PyLong_FromLong(t * kRounds + round));
                    auto list = shared.bind(py);
                    critical_section(py, list, [&] {
                        if (PyList_Append(list.as_ptr(), item.as_ptr()) != 0) ++failures;
                    });
                }
                if (Python::is_attached()) ++failures;
            });
        for (auto &thread : threads) thread.join();
    });
    EXPECT_EQ(failures.load(), 0);
    auto g = attach();
    EXPECT_EQ(PyList_GET_SIZE(shared.as_ptr()), kThreads * kRounds);
}

// A thread that has a thread state of its own but is detached (a foreign thread inside an outer
// PyGILState_Ensure that released the GIL): attach() re-attaches that same thread state, the
// guard's end detaches it again without deleting it, and CPython's own gilstate bookkeeping
// (a nested PyGILState_Ensure inside, the outer PyGILState_Release after) stays consistent.
TEST(Attach, ReattachesAThreadsOwnDetachedThreadState)
{
    std::atomic<int> failures{0};
    pyo3cpp_test::with_watchdog(30, "re-attaching an own thread state", [&] {
        std::thread([&] {
            for (int round = 0; round < 200; ++round) {
                PyGILState_STATE outer = PyGILState_Ensure();
                PyThreadState *own = PyThreadState_Get();
                PyThreadState *saved = PyEval_SaveThread();  // detached, state kept
                if (Python::is_attached()) ++failures;
                {
                    auto guard = attach();
                    if (!guard.attached_here() || PyThreadState_Get() != own) ++failures;
                    PyGILState_STATE nested = PyGILState_Ensure();  // already attached
                    if (nested != PyGILState_LOCKED) ++failures;
                    PyGILState_Release(nested);
                    if (PyThreadState_Get() != own) ++failures;
                }
                if (Python::is_attached()) ++failures;
                if (PyGILState_GetThisThreadState() != own) ++failures;  // not deleted
                PyEval_RestoreThread(saved);
                PyGILState_Release(outer);  // deletes the thread state it created
            }
            if (PyGILState_GetThisThreadState() != nullptr) ++failures;
        }).join();
    });
    EXPECT_EQ(failures.load(), 0);
}

TEST(Detach, ReturnsTheResultDetachedAndReattaches)
{
    auto g = attach();
    auto py = g.py();
    PyThreadState *state = PyThreadState_Get();
    bool attached_inside = true;
    const int result = detach(py, [&] {
        attached_inside = Python::is_attached();
        return 42;
    });
    EXPECT_EQ(result, 42);
    EXPECT_FALSE(attached_inside);
    EXPECT_TRUE(Python::is_attached());
    EXPECT_EQ(PyThreadState_Get(), state);
    // A move-only result comes back too.
    auto owned = detach(py, [] { return std::make_unique<int>(7); });
    EXPECT_EQ(*owned, 7);
    detach(py, [] {});  // void
}

TEST(Detach, PropagatesExceptionsAfterReattaching)
{
    auto g = attach();
    auto py = g.py();
    bool attached_in_handler = false;
    try {
        detach(py, []() -> int { throw std::runtime_error("from detached code"); });
        ADD_FAILURE() << "no exception";
    } catch (const std::runtime_error &e) {
        attached_in_handler = Python::is_attached();
        EXPECT_STREQ(e.what(), "from detached code");
    }
    EXPECT_TRUE(attached_in_handler);
    // The thread is usable: Python works.
    EXPECT_TRUE(pyo3cpp_test::run_python("x = 1 + 1"));
}

TEST(Detach, ReattachDrainsThePool)
{
    auto g = attach();
    auto py = g.py();
    auto list = Bound<PyAny>::from_owned_ptr(py, PyList_New(0));
    const Py_ssize_t start = refcnt(list.as_ptr());
    std::vector<Py<PyAny>> owned;
    for (int i = 0; i < 10; ++i) owned.push_back(list.unbind());
    EXPECT_EQ(refcnt(list.as_ptr()), start + 10);
    long queued = 0;
    detach(py, [&] {
        // A thread Python never created drops them: every decref is queued.
        std::thread([&, refs = std::move(owned)]() mutable {
            const long before = pyo3cpp_pool_pending();
            refs.clear();
            queued = pyo3cpp_pool_pending() - before;
        }).join();
    });
    EXPECT_EQ(queued, 10);
    EXPECT_EQ(pyo3cpp_pool_pending(), 0);  // re-attaching applied them
    EXPECT_EQ(refcnt(list.as_ptr()), start);
}

// A __del__ that queues another object whose __del__ queues another, for ever: one drain must
// take what was queued when it began and return (before: it looped until the producer stopped).
namespace requeue {
PyObject *requeue_fn(PyObject *, PyObject *arg)
{
    pyo3cpp_defer_decref(Py_NewRef(arg));
    Py_RETURN_NONE;
}
PyMethodDef g_def = {"requeue", requeue_fn, METH_O, nullptr};
}  // namespace requeue

TEST(Pool, OneDrainIsBoundedWhileDelKeepsQueueing)
{
    auto g = attach();
    auto py = g.py();
    auto fn = Bound<PyAny>::from_owned_ptr(py, PyCFunction_New(&requeue::g_def, nullptr));
    auto globals = Bound<PyAny>::from_owned_ptr(py, PyDict_New());
    ASSERT_EQ(PyDict_SetItemString(globals.as_ptr(), "requeue", fn.as_ptr()), 0);
    ASSERT_EQ(PyDict_SetItemString(globals.as_ptr(), "__builtins__", PyEval_GetBuiltins()), 0);
    PyObject *ran = PyRun_String("left = [1000]\n"
                         "class Requeue:\n"
                         "    def __del__(self):\n"
                         "        if left[0] > 0:\n"
                         "            left[0] -= 1\n"
                         "            requeue(Requeue())\n",
                         Py_file_input, globals.as_ptr(), globals.as_ptr());
    ASSERT_NE(ran, nullptr);
    Py_DECREF(ran);
    PyObject *cls = PyDict_GetItemString(globals.as_ptr(), "Requeue");  // borrowed
    ASSERT_NE(cls, nullptr);
    pyo3cpp_defer_decref(PyObject_CallNoArgs(cls));
    EXPECT_EQ(pyo3cpp_pool_pending(), 1);
    const long applied = pyo3cpp_pool_drain();
    EXPECT_EQ(applied, 1) << "a drain applied more than what was queued when it began";
    EXPECT_EQ(pyo3cpp_pool_pending(), 1);  // the one its __del__ queued waits for the next drain
    // Stop the chain: the last __del__ queues nothing.
    PyObject *stopped = PyRun_String("left[0] = 0", Py_single_input, globals.as_ptr(), globals.as_ptr());
    ASSERT_NE(stopped, nullptr);
    Py_DECREF(stopped);
    long rounds = 0;
    while (pyo3cpp_pool_pending() != 0 && ++rounds < 2000) (void)pyo3cpp_pool_drain();
    EXPECT_EQ(pyo3cpp_pool_pending(), 0);
}

// A thread Python did not create keeps its thread state between attaches. On a free-threaded
// build a release of an object it owns, made by another thread, may be queued for it to merge;
// it must merge when it next releases an attach (it runs no bytecode that would do it), or the
// object lives as long as the thread. GIL builds: the release is immediate anyway.
TEST(Attach, ForeignThreadMergesReleasesQueuedForIt)
{
    auto g = attach();
    auto py = g.py();
    std::atomic<int> step{0};
    PyObject *made = nullptr, *weak = nullptr;
    auto advance = [&](int to) {
        step = to;
        step.notify_all();
    };
    auto await = [&](int value) {
        for (int seen = step.load(); seen < value; seen = step.load()) step.wait(seen);
    };
    std::thread foreign;
    detach(py, [&] {
        foreign = std::thread([&] {
            {
                auto guard = attach();
                made = PySet_New(nullptr);  // owned by this thread
                weak = PyWeakref_NewRef(made, nullptr);
            }
            advance(1);
            await(2);  // the main thread has dropped `made`
            { auto guard = attach(); }
            advance(3);
            await(4);
        });
        await(1);
    });
    ASSERT_NE(made, nullptr);
    ASSERT_NE(weak, nullptr);
    Py_DECREF(made);  // from a thread that does not own it: may be queued for the owner
    detach(py, [&] {
        advance(2);
        await(3);
    });
    PyObject *target = nullptr;
    ASSERT_GE(compat::weakref_get_ref(weak, &target), 0);
    EXPECT_EQ(target, nullptr) << "the object outlived every reference: its release was never merged";
    Py_XDECREF(target);
    Py_DECREF(weak);
    detach(py, [&] {
        advance(4);
        foreign.join();
    });
}

TEST(Detach, AttachInsideDetachWorks)
{
    // A C library calling back into Python from inside a detached region.
    auto g = attach();
    auto py = g.py();
    const long value = detach(py, [] {
        auto inner = attach();
        EXPECT_TRUE(inner.attached_here());
        auto n = Bound<PyAny>::from_owned_ptr(inner.py(), PyLong_FromLong(5));
        return PyLong_AsLong(n.as_ptr());
    });
    EXPECT_EQ(value, 5);
    EXPECT_TRUE(Python::is_attached());
}

TEST(IsAttached, HasNoSideEffects)
{
    // A thread Python never created: asking must not create a thread state or attach it.
    std::thread([] {
        EXPECT_EQ(PyGILState_GetThisThreadState(), nullptr);
        for (int i = 0; i < 3; ++i) EXPECT_EQ(pyo3cpp_is_attached(), 0);
        EXPECT_FALSE(Python::is_attached());
        EXPECT_EQ(PyGILState_GetThisThreadState(), nullptr);
    }).join();

    // An attached thread: asking must not drain the pool (attach would).
    auto g = attach();
    auto py = g.py();
    auto obj = Bound<PyAny>::from_owned_ptr(py, PyList_New(0));
    Py<PyAny> held = obj.unbind();
    detach(py, [&] {
        std::thread([&] { Py<PyAny> dropped = std::move(held); }).join();
        EXPECT_EQ(pyo3cpp_pool_pending(), 1);
        EXPECT_EQ(pyo3cpp_is_attached(), 0);  // detached now
    });
    // detach's re-attach drained it; queue another while attached elsewhere...
    Py<PyAny> again = obj.unbind();
    std::thread([&] { Py<PyAny> dropped = std::move(again); }).join();  // queued: not attached
    const Py_ssize_t count = refcnt(obj.as_ptr());
    EXPECT_EQ(pyo3cpp_pool_pending(), 1);
    EXPECT_EQ(pyo3cpp_is_attached(), 1);
    EXPECT_TRUE(Python::is_attached());
    EXPECT_EQ(pyo3cpp_pool_pending(), 1);  // asking drained nothing
    EXPECT_EQ(refcnt(obj.as_ptr()), count);
    py.drain_pool();
    EXPECT_EQ(pyo3cpp_pool_pending(), 0);
    EXPECT_EQ(refcnt(obj.as_ptr()), count - 1);
}

TEST(TryAttach, AttachesWhenTheInterpreterRuns)
{
    std::thread([] {
        auto guard = try_attach();
        EXPECT_TRUE(guard);
        EXPECT_TRUE(guard.attached_here());
        EXPECT_TRUE(Python::is_attached());
    }).join();
}

TEST(CAbi, AttachStatesAndNullArguments)
{
    EXPECT_EQ(pyo3cpp_attach(nullptr), -1);
    EXPECT_EQ(pyo3cpp_try_attach(nullptr), -1);
    pyo3cpp_release_attach(nullptr);  // no-op
    EXPECT_EQ(pyo3cpp_detach_begin(), nullptr);  // not attached: nothing to detach
    pyo3cpp_detach_end(nullptr);                 // no-op
    pyo3cpp_attach_state outer{}, inner{};
    ASSERT_EQ(pyo3cpp_attach(&outer), 0);
    EXPECT_EQ(outer.kind, 2);
    ASSERT_EQ(pyo3cpp_try_attach(&inner), 0);
    EXPECT_EQ(inner.kind, 1);
    pyo3cpp_release_attach(&inner);
    EXPECT_EQ(pyo3cpp_is_attached(), 1);
    EXPECT_EQ(pyo3cpp_detach(nullptr, nullptr), -1);
    EXPECT_TRUE(PyErr_ExceptionMatches(PyExc_ValueError));
    PyErr_Clear();
    int seen = -1;
    EXPECT_EQ(pyo3cpp_detach(
                  [](void *ctx) {
                      *static_cast<int *>(ctx) = pyo3cpp_is_attached();
                      return 17;
                  },
                  &seen),
              17);
    EXPECT_EQ(seen, 0);
    EXPECT_EQ(pyo3cpp_is_attached(), 1);
    pyo3cpp_release_attach(&outer);
    EXPECT_EQ(pyo3cpp_is_attached(), 0);
    pyo3cpp_release_attach(&outer);  // a second release is a no-op
    EXPECT_EQ(pyo3cpp_is_attached(), 0);
}

}  // namespace
