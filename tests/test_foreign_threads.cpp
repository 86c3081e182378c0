// test_foreign_threads.cpp — threads Python did not create (std::thread) keep one thread state
// from their first attach to their exit (attach.cpp, "foreign thread states"): what that means
// for thread exit (nothing left behind, however many threads come and go), for threading.local
// and for threading.enumerate(), as README.md ("Threads Python did not create") documents.
#include <pyo3cpp/pyo3cpp.hpp>

#include <gtest/gtest.h>

#include "embedded_python.hpp"

using namespace pyo3cpp;
using pyo3cpp_test::Barrier;
using pyo3cpp_test::run_python;
using pyo3cpp_test::with_watchdog;

namespace {

// Thread states of the main interpreter (attached; call it while no other thread starts or ends).
int count_thread_states()
{
    int n = 0;
    for (PyThreadState *t = PyInterpreterState_ThreadHead(PyInterpreterState_Main()); t != nullptr;
         t = PyThreadState_Next(t))
        ++n;
    return n;
}

// 10,000 short-lived foreign threads, 8 at a time (started together, so their first attaches,
// thread-state creations and exits overlap), each attaching once and touching Python: when they
// have all exited, the interpreter has exactly the thread states it had before, and resident
// memory has not grown with the thread count.
TEST(ForeignThreads, TenThousandShortLivedThreadsLeaveNothingBehind)
{
    constexpr int kThreads = 10000, kWave = 8;
    int before = 0;
    {
        auto g = attach();
        before = count_thread_states();
    }
    std::atomic<int> failures{0};
    long resident_warm = 0;
    with_watchdog(240, "10,000 short-lived foreign threads", [&] {
        for (int started = 0; started < kThreads; started += kWave) {
            Barrier barrier(kWave);
            std::vector<std::thread> wave;
            for (int t = 0; t < kWave; ++t)
                wave.emplace_back([&, t] {
                    barrier.arrive_and_wait();
                    auto g = attach();
                    if (!g.attached_here()) ++failures;
                    PyObject *value = PyLong_FromLong(1000000 + started + t);  // not cached
                    if (value == nullptr) ++failures;
                    Py_XDECREF(value);
                });
            for (auto &thread : wave) thread.join();
            if (started == 1000) resident_warm = pyo3cpp_test::resident_bytes();
        }
    });
    EXPECT_EQ(failures.load(), 0);
    auto g = attach();
    EXPECT_EQ(count_thread_states(), before) << "thread states of exited foreign threads remain";
    if (pyo3cpp_test::kMemoryIsMeasurable) {
        // A leaked thread state is several KiB (more with its mimalloc heaps on 3.13t): 9,000 of
        // them would be tens of MiB.
        const long grown = pyo3cpp_test::resident_bytes() - resident_warm;
        EXPECT_LT(grown, 8L << 20) << "resident memory grew by " << grown << " bytes";
    }
}

// While a foreign thread lives, its thread state is the same at every attach; it is counted by
// the interpreter only until the thread exits.
TEST(ForeignThreads, KeepOneThreadStateUntilExit)
{
    int before = 0;
    {
        auto g = attach();
        before = count_thread_states();
    }
    std::atomic<int> step{0};
    auto advance = [&](int to) {
        step = to;
        step.notify_all();
    };
    auto await = [&](int value) {
        for (int seen = step.load(); seen < value; seen = step.load()) step.wait(seen);
    };
    std::atomic<int> failures{0};
    with_watchdog(60, "a foreign thread's thread state", [&] {
        std::thread foreign([&] {
            PyThreadState *first = nullptr;
            for (int round = 0; round < 100; ++round) {
                auto g = attach();
                if (round == 0) first = PyThreadState_Get();
                if (PyThreadState_Get() != first) ++failures;
            }
            advance(1);
            await(2);
        });
        await(1);
        {
            auto g = attach();
            EXPECT_EQ(count_thread_states(), before + 1);  // kept while the thread is detached
        }
        advance(2);
        foreign.join();
    });
    EXPECT_EQ(failures.load(), 0);
    auto g = attach();
    EXPECT_EQ(count_thread_states(), before);  // deleted when the thread exited
}

// threading.local and threading.enumerate() from a foreign thread (README, "Threads Python did
// not create"):
//   - a threading.local value set during one attach is still there at the thread's next attach
//     (same thread state), and is released when the thread exits;
//   - threading.current_thread() is a _DummyThread, listed by threading.enumerate() from then on
//     while the thread lives; on 3.12+ it leaves the list when the thread exits (its thread state
//     is deleted then), on 3.11 CPython keeps it listed after exit (as for any thread that used
//     PyGILState: CPython 3.11 never removes dummy threads).
TEST(ForeignThreads, ThreadingLocalAndEnumerate)
{
    {
        auto g = attach();
        ASSERT_TRUE(run_python(
            "import threading, weakref, sys\n"
            "class _Value: pass\n"
            "_fl_local = threading.local()\n"
            "_fl_result = {}\n"));
    }
    std::atomic<int> step{0};
    auto advance = [&](int to) {
        step = to;
        step.notify_all();
    };
    auto await = [&](int value) {
        for (int seen = step.load(); seen < value; seen = step.load()) step.wait(seen);
    };
    with_watchdog(60, "threading.local from a foreign thread", [&] {
        std::thread foreign([&] {
            {
                auto g = attach();
                EXPECT_TRUE(run_python(
                    "_fl_local.value = _Value()\n"
                    "_fl_result['ref'] = weakref.ref(_fl_local.value)\n"
                    "_me = threading.current_thread()\n"
                    "_fl_result['dummy'] = isinstance(_me, threading._DummyThread)\n"
                    "_fl_result['ident'] = _me.ident\n"
                    "_fl_result['listed'] = _me in threading.enumerate()\n"
                    "del _me\n"));
            }
            for (int round = 0; round < 50; ++round) {
                auto g = attach();
                EXPECT_TRUE(run_python(
                    "assert getattr(_fl_local, 'value', None) is _fl_result['ref'](), 'lost'\n"
                    "assert threading.current_thread().ident == _fl_result['ident']\n"));
            }
            advance(1);
            await(2);
        });
        await(1);
        {
            auto g = attach();
            EXPECT_TRUE(run_python(
                "assert _fl_result['dummy'] and _fl_result['listed']\n"
                "assert _fl_result['ident'] in [t.ident for t in threading.enumerate()]\n"
                "assert not hasattr(_fl_local, 'value')  # per thread\n"
                "assert _fl_result['ref']() is not None  # alive while the thread lives\n"));
        }
        advance(2);
        foreign.join();
    });
    auto g = attach();
    EXPECT_TRUE(run_python(
        "import gc; gc.collect()\n"
        "assert _fl_result['ref']() is None, 'the thread-local value outlived its thread'\n"
        "_listed = _fl_result['ident'] in [t.ident for t in threading.enumerate()]\n"
        "assert _listed == (sys.version_info < (3, 12)), _listed\n"));
}

}  // namespace
