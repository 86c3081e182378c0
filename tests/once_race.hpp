// once_race.hpp — the round-based race harness shared by the once-cell suites.
//
// race_rounds(threads, rounds, prepare, work, check): for each round, prepare(py, round) runs on
// the main thread (attached), then `threads` workers, parked detached on a Barrier, are
// released together and each runs work(py, index) attached; when all are done, check(py, round)
// runs on the main thread (attached). The workers live for all rounds, so a round costs two
// barrier crossings rather than thread creation. An exception escaping work() fails the test.
#pragma once

#include <pyo3cpp/pyo3cpp.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "embedded_python.hpp"

namespace once_test {

template <class Prepare, class Work, class Check>
void race_rounds(int threads, int rounds, Prepare prepare, Work work, Check check)
{
    pyo3cpp_test::Barrier start(threads + 1), done(threads + 1);
    std::atomic<bool> stop{false};
    std::vector<std::thread> workers;
    for (int index = 0; index < threads; ++index) {
        workers.emplace_back([&, index] {
            for (;;) {
                start.arrive_and_wait();
                if (stop.load()) return;
                try {
                    auto guard = pyo3cpp::attach();
                    work(guard.py(), index);
                } catch (const std::exception &e) {
                    ADD_FAILURE() << "worker " << index << " threw: " << e.what();
                }
                done.arrive_and_wait();
            }
        });
    }
    for (int round = 0; round < rounds; ++round) {
        {
            auto guard = pyo3cpp::attach();
            prepare(guard.py(), round);
        }
        start.arrive_and_wait();  // detached here: the workers attach and race
        done.arrive_and_wait();
        auto guard = pyo3cpp::attach();
        check(guard.py(), round);
    }
    stop.store(true);
    start.arrive_and_wait();
    for (auto &worker : workers) worker.join();
}

// Detached for a moment inside an initialiser: others find it running (OnceLock) or get in and
// run their own (OnceCell on a GIL build).
inline void pause_detached(pyo3cpp::Python py, std::chrono::microseconds how_long)
{
    pyo3cpp::detach(py, [&] { std::this_thread::sleep_for(how_long); });
}

// A fresh list as a Py, for identity and refcount checks.
inline pyo3cpp::Py<pyo3cpp::PyAny> new_list(pyo3cpp::Python py)
{
    return pyo3cpp::Py<pyo3cpp::PyAny>::from_owned_ptr(py, PyList_New(0));
}

}  // namespace once_test
