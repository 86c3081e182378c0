// embedded_python.hpp — helpers for GoogleTest suites that host an interpreter.
//
// embedded_main.cpp initialises CPython once for the whole binary and then detaches the main
// thread, so every test starts detached and attaches with pyo3cpp::attach() like real code.
#pragma once

#include <Python.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pyo3cpp_test {

// Runs Python source in __main__ (attached caller); fails the test with the traceback on error.
bool run_python(const char *source);

// Refcount of an object (attached caller).
inline Py_ssize_t refcnt(PyObject *o) { return Py_REFCNT(o); }

// True when the interpreter is the free-threaded build.
inline bool free_threaded()
{
#ifdef Py_GIL_DISABLED
    return true;
#else
    return false;
#endif
}

// A reusable barrier for N threads (std::barrier is avoided so the suites also build with
// older standard libraries).
class Barrier {
public:
    explicit Barrier(int count) : count_(count), waiting_(0), generation_(0) {}
    void arrive_and_wait()
    {
        std::unique_lock<std::mutex> lock(mutex_);
        const long generation = generation_;
        if (++waiting_ == count_) {
            waiting_ = 0;
            ++generation_;
            cv_.notify_all();
        } else {
            cv_.wait(lock, [&] { return generation != generation_; });
        }
    }

private:
    std::mutex mutex_;
    std::condition_variable cv_;
    int count_, waiting_;
    long generation_;
};

// Fails the process (not just the test: a hung thread cannot be unwound) if `body` does not
// finish within `seconds`. Deadlock tests run under it so CI fails instead of hanging.
void with_watchdog(int seconds, const char *what, const std::function<void()> &body);

// Resident set size of this process in bytes (Linux /proc/self/statm).
long resident_bytes();

// False under a sanitizer: quarantines and shadow memory make resident size meaningless, so
// "memory stays flat" checks skip themselves there (GCC and clang spell the test differently).
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool kMemoryIsMeasurable = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool kMemoryIsMeasurable = false;
#else
inline constexpr bool kMemoryIsMeasurable = true;
#endif
#else
inline constexpr bool kMemoryIsMeasurable = true;
#endif

}  // namespace pyo3cpp_test
