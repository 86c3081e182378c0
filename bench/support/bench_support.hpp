// bench_support.hpp — what every pyo3cpp benchmark binary shares: one embedded interpreter per
// binary, a registry of benchmark bodies named BM_<operation>/<form>, and the three ways of
// running them (bench_main.cpp):
//
//   bench_x                                   the Google Benchmark suite (all its flags work)
//   bench_x --smoke                           every body a handful of iterations (meson test)
//   bench_x --callgrind=REGEX --iterations=N  under `valgrind --tool=callgrind
//                                             --collect-atstart=no`: each matching body runs
//                                             once to warm up, then exactly N and 2N times with
//                                             collection on, dumping the counters after each
//                                             run ("<name>@N"); scripts/bench subtracts the two
//                                             dumps, so set-up and tear-down cancel.
//
// Forms: `capi` (hand-written CPython C API, the way a careful author writes it for the same
// guarantees), `pyo3cpp`, `pybind11` (only where PYO3CPP_BENCH_PYBIND11 is defined: Debian's
// pybind11 2.10 on the GIL build). Extra capi variants carry a suffix (`capi_plain`).
//
// Thread: the main thread is DETACHED while bodies run; every body attaches itself outside its
// timed loop (`auto guard = pyo3cpp::attach();` or PyGILState_Ensure), exactly like the tests.
//
// Example:
//     PYO3CPP_BENCH(dict_new, capi)
//     {
//         auto guard = pyo3cpp::attach();
//         for (auto _ : state) Py_DECREF(PyDict_New());
//     }
#pragma once

#include <Python.h>

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "pyo3cpp/pyo3cpp.hpp"

namespace pyo3cpp_bench {

using Body = void (*)(benchmark::State &);
// Applied to the registered benchmark in the normal suite run only (threads, real time...).
using Configure = void (*)(benchmark::internal::Benchmark *);

struct Entry {
    std::string name;
    Body body;
    Configure configure;
};

std::vector<Entry> &registry();
inline bool add(const char *name, Body body, Configure configure = nullptr)
{
    registry().push_back(Entry{name, body, configure});
    return true;
}

// True in --smoke mode: bodies with large fixed inputs (the 10,000,000-item memory benchmark)
// shrink them so the smoke test stays fast.
bool smoke_mode();

// Runs Python source in __main__ (attached caller); aborts the binary on error (a benchmark
// whose fixture failed to build must not report numbers).
void run_python_or_die(const char *source);
// __main__.<name> as a new reference (attached caller); aborts if missing.
PyObject *main_global(const char *name);

// Peak resident set size since the last reset_peak_resident(), and the current one, in bytes
// (Linux /proc/self/status VmHWM / VmRSS; reset through /proc/self/clear_refs).
long peak_resident_bytes();
long resident_bytes();
void reset_peak_resident();

// The raw-C counterpart of the deferred-decref pool, as a careful C author would write it
// for "release a reference from a thread that may not be attached": a lock-free stack of
// malloc'd nodes (push = one CAS), drained by whoever attaches next.
class HandDeferredStack {
public:
    void push(PyObject *object) noexcept
    {
        auto *node = static_cast<Node *>(std::malloc(sizeof(Node)));
        node->object = object;
        node->next = head_.load(std::memory_order_relaxed);
        while (!head_.compare_exchange_weak(node->next, node, std::memory_order_release,
                                            std::memory_order_relaxed)) {
        }
    }
    // Attached caller. With nothing queued: one relaxed load.
    void drain() noexcept
    {
        if (head_.load(std::memory_order_relaxed) == nullptr) return;
        for (Node *node = head_.exchange(nullptr, std::memory_order_acquire); node != nullptr;) {
            Node *next = node->next;
            Py_DECREF(node->object);
            std::free(node);
            node = next;
        }
    }

private:
    struct Node {
        PyObject *object;
        Node *next;
    };
    std::atomic<Node *> head_{nullptr};
};
extern HandDeferredStack hand_pool;

// "Release a reference from an unknown context" in raw C: decref when this thread holds the
// interpreter, otherwise queue it.
inline void hand_release_ref(PyObject *object) noexcept
{
    if (PyGILState_Check())
        Py_DECREF(object);
    else
        hand_pool.push(object);
}

}  // namespace pyo3cpp_bench

#define PYO3CPP_BENCH_CAT2(a, b) a##b
#define PYO3CPP_BENCH_CAT(a, b) PYO3CPP_BENCH_CAT2(a, b)

// Defines the body of BM_<op>/<form>; `state` is the benchmark::State.
#define PYO3CPP_BENCH(op, form) PYO3CPP_BENCH_CONFIGURED(op, form, nullptr)
#define PYO3CPP_BENCH_CONFIGURED(op, form, configure)                                      \
    static void bm_##op##__##form(benchmark::State &state);                                \
    [[maybe_unused]] static const bool bm_registered_##op##__##form =                      \
        pyo3cpp_bench::add("BM_" #op "/" #form, bm_##op##__##form, configure);             \
    static void bm_##op##__##form([[maybe_unused]] benchmark::State &state)
