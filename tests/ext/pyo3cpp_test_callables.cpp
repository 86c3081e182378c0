// pyo3cpp_test_callables — callbacks both ways (callable.hpp): Callable<R(A...)> and
// std::function parameters and results, calls from C++ threads that are not attached, a held
// callable replaced while 8 threads call it, released off-thread and after finalisation.
// Driven by tests/python/test_callables.py.
#include <pyo3cpp/pyo3cpp.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace pyo3cpp;

namespace {

// One stored callback, replaced and called from many threads: copied out under the lock, called
// outside it, and the replaced one released after the unlock (its release may run Python code).
std::mutex g_store_mutex;
Callable<long(long)> g_store;

void store(Python py, Callable<long(long)> f)
{
    {
        auto lock = lock_detached(g_store_mutex, py);
        std::swap(g_store, f);
    }
    // `f`, the previous callback, is released here, unlocked.
}

Callable<long(long)> stored(Python py)
{
    auto lock = lock_detached(g_store_mutex, py);
    return g_store;
}

// Lives until the process exits, after Py_FinalizeEx: its thread calls and drops a callable then.
struct AfterExit {
    std::thread thread;
    std::atomic<bool> go{false};
    ~AfterExit()
    {
        go = true;
        if (thread.joinable()) thread.join();
    }
};
AfterExit g_after_exit;
std::function<long(long)> g_kept_forever;  // destroyed after finalisation, at exit

}  // namespace

// A bound class crossing in both directions: by reference into a C++ function called from
// Python (the instance itself, locked for the call), as a copy into a Python callback.
struct Tally {
    long total = 0;
};
PYO3CPP_CLASS(Tally);

PYO3CPP_MODULE(pyo3cpp_test_callables, m)
{
    m.def("apply", [](Callable<long(long)> f, long x) { return f(x); }, "f(x).", arg("f"), arg("x"));
    m.def("apply_std", [](std::function<long(long)> f, long x) { return f(x); }, arg("f"), arg("x"));
    m.def("apply_optional", [](std::optional<Callable<long(long)>> f, long x) { return f ? (*f)(x) : -1; },
          arg("f"), arg("x") = 0);
    m.def("join", [](Callable<std::string(std::string, long)> f, const std::string &s) { return f(s, 2); },
          arg("f"), arg("s"));
    m.def("call_void", [](std::function<void(std::vector<long>)> f) { f({1, 2, 3}); }, arg("f"));
    m.def("call_list", [](Callable<std::vector<long>()> f) { return f(); }, arg("f"));
    m.def("call_object", [](Callable<Bound<PyAny>(Bound<PyAny>)> f, Bound<PyAny> x) { return f(x); },
          arg("f"), arg("x"));
    m.def("call_twice_with_token", [](Python py, Callable<long(long)> f) { return f.call(py, f.call(py, 1)); },
          arg("f"));

    m.add_class<Tally>("Tally").def_init<>().def_readonly("total", &Tally::total);
    m.def("tally_adder", [] {
        return std::function<void(Tally &, long)>([](Tally &t, long n) { t.total += n; });
    });
    m.def("read_tally", [](Callable<long(const Tally &)> f) {
        Tally t;
        t.total = 41;
        return f(t);
    }, arg("f"));

    // C++ functions out: a built-in with a signature.
    m.def("adder", [](long k) { return std::function<long(long)>([k](long x) { return x + k; }); },
          arg("k"));
    m.def("joiner", [] {
        return std::function<std::string(const std::string &, long, std::optional<double>)>(
            [](const std::string &s, long n, std::optional<double> d) {
                return s + std::to_string(n) + (d ? "+" : "-");
            });
    });
    m.def("thrower", [] {
        return std::function<void()>([] { throw std::invalid_argument("from C++"); });
    });
    m.def("empty_function", [] { return std::function<long(long)>(); });
    m.def("empty_callable", [] { return Callable<long(long)>(); });
    // Goes through C++ and back: a Python callable comes back as itself, a C++ built-in as a new
    // built-in around the same std::function.
    m.def("roundtrip", [](std::function<long(long)> f) { return f; }, arg("f"));
    m.def("roundtrip_callable", [](Callable<long(long)> f) { return f; }, arg("f"));
    m.def("compose", [](std::function<long(long)> f, std::function<long(long)> g) {
        return std::function<long(long)>([f, g](long x) { return f(g(x)); });
    }, arg("f"), arg("g"));

    // Threads: the callable called on C++ threads that never attached; this thread waits
    // detached. A failure on a thread comes back as it was thrown.
    m.def("call_on_thread", [](Python py, Callable<long(long)> f, long x) {
        long result = 0;
        std::exception_ptr failure;
        detach(py, [&] {
            std::thread([&] {
                try {
                    result = f(x);
                } catch (...) {
                    failure = std::current_exception();
                }
            }).join();
        });
        if (failure) std::rethrow_exception(failure);
        return result;
    }, arg("f"), arg("x"));
    // Dropped on a thread that is not attached: the decref waits in the pool (drained when this
    // thread re-attaches).
    m.def("drop_on_thread", [](Python py, Callable<long(long)> f) {
        detach(py, [&] { std::thread([g = std::move(f)]() mutable { g = Callable<long(long)>(); }).join(); });
    }, arg("f"));

    m.def("store", store, arg("f"));
    m.def("fire", [](Python py, long x) { return stored(py).call(py, x); }, arg("x"));
    // `threads` C++ threads call the stored callback `calls` times each (attaching per call):
    // the sum of the results.
    m.def("fire_on_threads", [](Python py, long threads, long calls) {
        std::atomic<long> sum{0};
        std::exception_ptr failure;
        std::mutex failure_mutex;
        detach(py, [&] {
            std::vector<std::thread> pool;
            for (long t = 0; t < threads; ++t)
                pool.emplace_back([&, t] {
                    try {
                        for (long i = 0; i < calls; ++i) {
                            Callable<long(long)> f;
                            {
                                auto guard = attach();
                                f = stored(guard.py());
                            }
                            sum += f(t * calls + i);  // attaches again, for the call
                        }
                    } catch (...) {
                        std::lock_guard<std::mutex> lock(failure_mutex);
                        failure = std::current_exception();
                    }
                });
            for (auto &th : pool) th.join();
        });
        if (failure) std::rethrow_exception(failure);
        return sum.load();
    }, arg("threads"), arg("calls"));

    // Finalisation: a thread that calls (refused: the interpreter is gone) and drops a callable
    // after Py_FinalizeEx, and a std::function kept in a static until exit.
    m.def("call_after_exit", [](Callable<long(long)> f) {
        g_after_exit.thread = std::thread([f = std::move(f)]() mutable {
            while (!g_after_exit.go) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            try {
                f(1);
                std::printf("called after exit\n");
            } catch (const std::runtime_error &) {
                std::printf("refused after exit\n");
            }
            f = Callable<long(long)>();  // the last reference, released after finalisation
            std::printf("dropped after exit\n");
            std::fflush(stdout);
        });
    }, arg("f"));
    // bench/callable_calls.sh: n calls of f(i) from C++, summed; the same with a raw vectorcall.
    m.def("sum_calls", [](Callable<long(long)> f, long n) {
        long sum = 0;
        for (long i = 0; i < n; ++i) sum += f(i);
        return sum;
    }, arg("f"), arg("n"));
    m.def("sum_calls_token", [](Python py, Callable<long(long)> f, long n) {
        long sum = 0;
        for (long i = 0; i < n; ++i) sum += f.call(py, i);
        return sum;
    }, arg("f"), arg("n"));
    m.def("sum_calls_std", [](const std::function<long(long)> &f, long n) {
        long sum = 0;
        for (long i = 0; i < n; ++i) sum += f(i);
        return sum;
    }, arg("f"), arg("n"));
    m.def("sum_calls_raw", [](Python py, Borrowed<PyAny> f, long n) {
        long sum = 0;
        for (long i = 0; i < n; ++i) {
            PyObject *argv[2] = {nullptr, PyLong_FromLong(i)};
            if (argv[1] == nullptr) throw_fetched(py);
            PyObject *r = PyObject_Vectorcall(f.as_ptr(), argv + 1, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
            Py_DECREF(argv[1]);
            if (r == nullptr) throw_fetched(py);
            const long v = PyLong_AsLong(r);
            Py_DECREF(r);
            if (v == -1 && PyErr_Occurred()) throw_fetched(py);
            sum += v;
        }
        return sum;
    }, arg("f"), arg("n"));
    m.def("keep_forever", [](std::function<long(long)> f) { g_kept_forever = std::move(f); }, arg("f"));
}
