// scaling.cpp — wall-clock throughput of the library's thread-facing operations with 1, 2 and 4
// threads that Python did not create (std::thread), the README's free-threaded scaling table,
// and the contended-counter comparison (8 threads x 20,000 increments of one dict entry).
//
//   bench_scaling [--seconds S] [--threads 1,2,4] [--rounds R] [OP...]
//   bench_scaling --counter [--threads 8] [--increments 20000]
//
// Every thread does the same fixed number of operations (calibrated so that one thread runs
// about S seconds); throughput = threads x operations / wall time from the common start to the
// last thread's end. Each configuration runs R times and the best is kept (other processes on
// the machine only ever slow a run down). The main thread is detached throughout, as in an
// application whose C++ worker pool calls into Python.
//
// Run by ./scripts/bench-scaling (3.13t; any interpreter with --python: with a GIL the attached
// rows serialise, a thread runs its whole loop before the next one gets the GIL). Not a test:
// numbers, never assertions
// (the counter mode does check the final count, as a sanity check of the measurement).
#include <pyo3cpp/pyo3cpp.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace pyo3cpp;
using Clock = std::chrono::steady_clock;

namespace {

template <class T> inline void keep(T &&value) { asm volatile("" : : "g"(value) : "memory"); }

// What one thread of one operation does: `prepare` runs first (outside the timing, with the
// thread's own index), then `run(iterations)` is timed. Both are called on the worker thread.
struct Worker {
    virtual ~Worker() = default;
    virtual void prepare(long iterations) { (void)iterations; }
    // Around the wait for the common start: a worker that stays attached detaches there (with
    // a GIL, an attached thread waiting would keep the others from ever attaching).
    virtual void before_start() {}
    virtual void after_start() {}
    virtual void run(long iterations) = 0;
    virtual void finish() {}
};

struct Shared {  // state shared by the threads of one configuration
    Py<PyAny> object;     // one object for the "one object" rows
    Py<PyAny> instance;   // one Tally for the class rows
    pyo3cpp::Mutex mutex;  // one mutex for the "shared" rows
};

struct Operation {
    const char *name;
    const char *what;
    std::function<std::unique_ptr<Worker>(Shared &)> make;
};

OnceLock<Py<PyAny>> g_cell;

// ---------------------------------------------------------------------- the operations

struct AttachWorker : Worker {
    void prepare(long) override { auto g = attach(); }  // the first attach makes the thread state
    void run(long n) override
    {
        for (long i = 0; i < n; ++i) {
            auto g = attach();
            keep(g.attached_here());
        }
    }
};

// The raw C API's way for a thread Python did not create.
struct GilStateWorker : Worker {
    void run(long n) override
    {
        for (long i = 0; i < n; ++i) {
            PyGILState_STATE s = PyGILState_Ensure();
            keep(s);
            PyGILState_Release(s);
        }
    }
};

// A thread that owns a thread state (as a Python-created thread does) re-attaching it.
struct RestoreWorker : Worker {
    PyThreadState *tstate = nullptr;
    void prepare(long) override
    {
        tstate = PyThreadState_New(PyInterpreterState_Main());
        PyEval_RestoreThread(tstate);
        (void)PyEval_SaveThread();
    }
    void run(long n) override
    {
        for (long i = 0; i < n; ++i) {
            PyEval_RestoreThread(tstate);
            keep(tstate);
            (void)PyEval_SaveThread();
        }
    }
    void finish() override
    {
        PyEval_RestoreThread(tstate);
        PyThreadState_Clear(tstate);
        PyThreadState_DeleteCurrent();
    }
};

// Py<T> released by a detached thread: queued to the deferred-decref pool.
struct DropDetachedWorker : Worker {
    PyObject *object = nullptr;
    void prepare(long n) override
    {
        auto g = attach();
        object = PyList_New(0);  // one per thread
        for (long i = 0; i < n; ++i) Py_INCREF(object);
    }
    void run(long n) override
    {
        for (long i = 0; i < n; ++i) {
            keep(object);
            auto owned = Py<PyAny>::from_owned_ptr_unchecked(object);
        }
    }
    void finish() override
    {
        auto g = attach();  // drains what this thread queued
        Py_DECREF(object);
    }
};

// Workers that stay attached for their whole run.
struct AttachedWorker : Worker {
    pyo3cpp_attach_state state{};  // the C ABI's guard: attached from prepare to finish
    void prepare(long) override
    {
        if (pyo3cpp_attach(&state) != 0) std::abort();
    }
    void finish() override { pyo3cpp_release_attach(&state); }
    PyThreadState *waiting = nullptr;
    void before_start() override { waiting = PyEval_SaveThread(); }
    void after_start() override { PyEval_RestoreThread(waiting); }
    Python py() const { return Python::assume_attached(); }
};

struct OnceGetWorker : AttachedWorker {
    void run(long n) override
    {
        for (long i = 0; i < n; ++i) keep(g_cell.get(py()));
    }
};

struct MutexWorker : AttachedWorker {
    pyo3cpp::Mutex own;
    pyo3cpp::Mutex *mutex;
    explicit MutexWorker(pyo3cpp::Mutex *shared) : mutex(shared ? shared : &own) {}
    void run(long n) override
    {
        for (long i = 0; i < n; ++i) {
            mutex->lock(py());
            keep(mutex);
            mutex->unlock();
        }
    }
};

struct ExclusiveWorker : AttachedWorker {
    Shared *shared;
    Py<PyAny> own;
    explicit ExclusiveWorker(Shared *one) : shared(one) {}
    void prepare(long n) override
    {
        AttachedWorker::prepare(n);
        if (shared == nullptr) own = Bound<PyAny>::from_owned_ptr(py(), PyDict_New()).unbind();
    }
    void run(long n) override
    {
        auto object = (shared ? shared->object : own).bind_borrowed(py());
        for (long i = 0; i < n; ++i)
            exclusive_section(py(), object, [&] { keep(object.as_ptr()); });
    }
    void finish() override
    {
        own = Py<PyAny>();
        AttachedWorker::finish();
    }
};

struct CriticalWorker : AttachedWorker {
    Py<PyAny> own;
    void prepare(long n) override
    {
        AttachedWorker::prepare(n);
        own = Bound<PyAny>::from_owned_ptr(py(), PyList_New(0)).unbind();
    }
    void run(long n) override
    {
        auto object = own.bind_borrowed(py());
        for (long i = 0; i < n; ++i) {
            CriticalSection section(py(), object);
            keep(object.as_ptr());
        }
    }
    void finish() override
    {
        own = Py<PyAny>();
        AttachedWorker::finish();
    }
};

// A locked class (the default policy): const methods share the instance lock, others take it
// exclusively.
struct Tally {
    long n = 0;
    long get() const { return n; }
    void bump() { ++n; }
};
}  // namespace
PYO3CPP_CLASS(Tally);
PYO3CPP_MODULE(bench_scaling_classes, m)
{
    m.add_class<Tally>("Tally", "A counter for the scaling rows.")
        .def_init<>()
        .def("get", &Tally::get)
        .def("bump", &Tally::bump);
}
namespace {

// The Tally type, made once (attached caller).
Borrowed<PyAny> tally_type(Python py)
{
    static OnceLock<Py<PyAny>> type("bench Tally type");
    return type.get_or_init(py, [&] {
        auto def = reinterpret_cast<PyModuleDef *>(PyInit_bench_scaling_classes());
        auto machinery = Bound<PyAny>::from_owned_ptr(py, PyImport_ImportModule("importlib.machinery"));
        auto spec = machinery.getattr("ModuleSpec").call("bench_scaling_classes", py.none());
        auto module = Bound<PyAny>::from_owned_ptr(py, PyModule_FromDefAndSpec(def, spec.as_ptr()));
        check_status(py, PyModule_ExecDef(module.as_ptr(), def));
        return module.getattr("Tally").unbind();
    }).bind_borrowed(py);
}

// Calls a Tally method through its method descriptor, as `instance.get()` does after lookup.
struct ClassCallWorker : AttachedWorker {
    Shared *shared;
    const char *method;
    Py<PyAny> own, descriptor;
    ClassCallWorker(Shared *one, const char *name) : shared(one), method(name) {}
    void prepare(long n) override
    {
        AttachedWorker::prepare(n);
        auto type = tally_type(py());
        descriptor = type.getattr(method).unbind();
        if (shared == nullptr) own = type.call().unbind();
    }
    void run(long n) override
    {
        PyObject *instance = (shared ? shared->instance : own).as_ptr();
        PyObject *callable = descriptor.as_ptr();
        for (long i = 0; i < n; ++i) {
            PyObject *result = PyObject_Vectorcall(callable, &instance, 1, nullptr);
            if (result == nullptr) std::abort();
            Py_DECREF(result);
        }
    }
    void finish() override
    {
        own = Py<PyAny>();
        descriptor = Py<PyAny>();
        AttachedWorker::finish();
    }
};

std::vector<Operation> operations()
{
    return {
        {"attach", "pyo3cpp::attach() + release, foreign std::thread",
         [](Shared &) { return std::make_unique<AttachWorker>(); }},
        {"capi_gilstate", "PyGILState_Ensure + Release, foreign std::thread (raw C API)",
         [](Shared &) { return std::make_unique<GilStateWorker>(); }},
        {"capi_restore", "PyEval_RestoreThread + SaveThread of an own thread state (raw C API)",
         [](Shared &) { return std::make_unique<RestoreWorker>(); }},
        {"py_drop_detached", "Py<T> destroyed detached (deferred to the pool)",
         [](Shared &) { return std::make_unique<DropDetachedWorker>(); }},
        {"once_get", "OnceLock::get, attached",
         [](Shared &) { return std::make_unique<OnceGetWorker>(); }},
        {"mutex", "Mutex lock + unlock, one mutex per thread",
         [](Shared &) { return std::make_unique<MutexWorker>(nullptr); }},
        {"mutex_shared", "Mutex lock + unlock, one mutex for all threads",
         [](Shared &s) { return std::make_unique<MutexWorker>(&s.mutex); }},
        {"critical_section", "critical section, one object per thread",
         [](Shared &) { return std::make_unique<CriticalWorker>(); }},
        {"exclusive_distinct", "exclusive_section, one object per thread",
         [](Shared &) { return std::make_unique<ExclusiveWorker>(nullptr); }},
        {"exclusive_one", "exclusive_section, one object for all threads",
         [](Shared &s) { return std::make_unique<ExclusiveWorker>(&s); }},
        {"class_const_distinct", "locked-class const method (shared lock), one instance per thread",
         [](Shared &) { return std::make_unique<ClassCallWorker>(nullptr, "get"); }},
        {"class_const_one", "locked-class const method (shared lock), one instance for all threads",
         [](Shared &s) { return std::make_unique<ClassCallWorker>(&s, "get"); }},
        {"class_mutating_one", "locked-class mutating method (exclusive), one instance for all threads",
         [](Shared &s) { return std::make_unique<ClassCallWorker>(&s, "bump"); }},
    };
}

// Runs `threads` workers of `op`, each doing `iterations`; returns the wall time in seconds.
double run_once(const Operation &op, int threads, long iterations)
{
    Shared shared;
    {
        auto g = attach();
        shared.object = Bound<PyAny>::from_owned_ptr(g.py(), PyDict_New()).unbind();
        shared.instance = tally_type(g.py()).call().unbind();
    }
    std::atomic<int> ready{0};
    std::atomic<int> go{0};
    std::vector<Clock::time_point> ends(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            auto worker = op.make(shared);
            worker->prepare(iterations);
            worker->before_start();
            ready.fetch_add(1);
            ready.notify_all();
            go.wait(0);
            worker->after_start();
            worker->run(iterations);
            ends[t] = Clock::now();
            worker->finish();
        });
    for (int n = ready.load(); n != threads; n = ready.load()) ready.wait(n);
    const auto start = Clock::now();
    go.store(1);
    go.notify_all();
    for (auto &th : pool) th.join();
    {
        auto g = attach();
        shared.object = Py<PyAny>();
        shared.instance = Py<PyAny>();
    }
    return std::chrono::duration<double>(*std::max_element(ends.begin(), ends.end()) - start)
        .count();
}

std::string grouped(double value)
{
    char digits[64];
    std::snprintf(digits, sizeof digits, "%.0f", value);
    std::string s = digits, out;
    int n = static_cast<int>(s.size());
    for (int i = 0; i < n; ++i) {
        out += s[i];
        if ((n - 1 - i) % 3 == 0 && i != n - 1) out += ',';
    }
    return out;
}

// ---------------------------------------------------------------------- the contended counter

// d["n"] = d["n"] + 1 by `threads` threads, `increments` each, under `exclusive` (exclusive
// section, the set through relocking) or one pyo3cpp::Mutex held across get and set.
double counter_once(bool exclusive, int threads, long increments, long *final_count)
{
    Py<PyAny> dict;
    Py<PyAny> key;
    pyo3cpp::Mutex mutex;
    {
        auto g = attach();
        auto d = Bound<PyAny>::from_owned_ptr(g.py(), PyDict_New());
        key = Bound<PyAny>::from_owned_ptr(g.py(), PyUnicode_FromString("n")).unbind();
        auto zero = Bound<PyAny>::from_owned_ptr(g.py(), PyLong_FromLong(0));
        PyDict_SetItem(d.as_ptr(), key.as_ptr(), zero.as_ptr());
        dict = std::move(d).unbind();
    }
    std::atomic<int> ready{0};
    std::atomic<int> go{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
            auto g = attach();
            auto py = g.py();
            auto d = dict.bind_borrowed(py);
            PyObject *k = key.as_ptr();
            auto increment = [&] {
                PyObject *now = nullptr;
                if (pyo3cpp::compat::dict_get_item_ref(d.as_ptr(), k, &now) != 1) std::abort();
                PyObject *next = PyLong_FromLong(PyLong_AsLong(now) + 1);
                Py_DECREF(now);
                return next;
            };
            ready.fetch_add(1);
            ready.notify_all();
            detach(py, [&] { go.wait(0); });
            for (long i = 0; i < increments; ++i) {
                if (exclusive) {
                    // On 3.13 both calls lock the dict themselves (PyDict_GetItemRef does in
                    // its fallback, taken whenever the value has no shared reference count yet,
                    // which is always here: each value was made by the previous holder), so both
                    // run through relocking (exclusive_section.hpp); inside the plain section
                    // each would park on the section's own mutex (measured: 9 us per increment).
                    ExclusiveSection section(py, d);
                    PyObject *next = section.relocking(py, increment);
                    section.relocking(py, [&] { PyDict_SetItem(d.as_ptr(), k, next); });
                    Py_DECREF(next);
                } else {
                    mutex.lock(py);
                    PyObject *next = increment();
                    PyDict_SetItem(d.as_ptr(), k, next);
                    Py_DECREF(next);
                    mutex.unlock();
                }
            }
        });
    for (int n = ready.load(); n != threads; n = ready.load()) ready.wait(n);
    const auto start = Clock::now();
    go.store(1);
    go.notify_all();
    for (auto &th : pool) th.join();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    auto g = attach();
    PyObject *now = PyDict_GetItemWithError(dict.as_ptr(), key.as_ptr());
    *final_count = now ? PyLong_AsLong(now) : -1;
    dict = Py<PyAny>();
    key = Py<PyAny>();
    return seconds;
}

std::vector<int> parse_threads(const char *text)
{
    std::vector<int> out;
    for (const char *p = text; *p;) {
        out.push_back(std::atoi(p));
        while (*p && *p != ',') ++p;
        if (*p == ',') ++p;
    }
    return out;
}

}  // namespace

int main(int argc, char **argv)
{
    double seconds = 0.2;
    int rounds = 3;
    bool counter = false;
    // --control: after each row, the raw C API's capi_restore at 1 and 2 threads, measured the
    // same way right then: its 2/1 says whether the machine gave this row two cores (on a shared
    // machine another process's burst shows up as lost scaling in every row, the C API's too).
    bool control = false;
    long increments = 20000;
    std::vector<int> thread_counts;
    std::vector<std::string> wanted;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--seconds") && i + 1 < argc) seconds = std::atof(argv[++i]);
        else if (!std::strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) thread_counts = parse_threads(argv[++i]);
        else if (!std::strcmp(argv[i], "--increments") && i + 1 < argc) increments = std::atol(argv[++i]);
        else if (!std::strcmp(argv[i], "--counter")) counter = true;
        else if (!std::strcmp(argv[i], "--control")) control = true;
        else if (argv[i][0] == '-') {
            std::fprintf(stderr, "usage: bench_scaling [--seconds S] [--threads 1,2,4] [--rounds R] [OP...]\n"
                                 "       bench_scaling --counter [--threads 8] [--increments 20000] [--rounds R]\n");
            return 2;
        } else wanted.emplace_back(argv[i]);
    }
    Py_InitializeEx(0);
    {
        auto g = attach();  // arms the runtime, as an extension's import does
        g_cell.get_or_init(g.py(), [&] { return Bound<PyAny>::from_owned_ptr(g.py(), PyList_New(0)).unbind(); });
    }
    PyThreadState *main_state = PyEval_SaveThread();

    if (counter) {
        if (thread_counts.empty()) thread_counts = {8};
        for (int threads : thread_counts) {
            double best[2] = {1e300, 1e300};
            for (int r = 0; r < rounds; ++r)
                for (int form = 0; form < 2; ++form) {
                    long count = 0;
                    double s = counter_once(form == 0, threads, increments, &count);
                    if (count != threads * increments) {
                        std::fprintf(stderr, "counter: %ld increments, expected %ld\n", count,
                                     threads * increments);
                        return 1;
                    }
                    best[form] = std::min(best[form], s);
                }
            std::printf("counter %d threads x %ld increments: exclusive_section %.3f s (%.2f us/increment)"
                        "   Mutex %.3f s (%.2f us/increment)   exclusive/Mutex %.2fx\n",
                        threads, increments, best[0], best[0] * 1e6 / (threads * increments), best[1],
                        best[1] * 1e6 / (threads * increments), best[0] / best[1]);
        }
        std::fflush(stdout);
        std::_Exit(0);
    }

    if (thread_counts.empty()) thread_counts = {1, 2, 4};
    std::printf("| operation | what |");
    for (int t : thread_counts) std::printf(" %d thread%s |", t, t == 1 ? "" : "s");
    for (std::size_t i = 1; i < thread_counts.size(); ++i) std::printf(" %d/%d |", thread_counts[i], thread_counts[0]);
    if (control) std::printf(" control 2/1 |");
    std::printf("\n|---|---|");
    for (std::size_t i = 0; i < 2 * thread_counts.size() - 1 + (control ? 1 : 0); ++i) std::printf("---:|");
    std::printf("\n");
    std::fflush(stdout);
    for (const Operation &op : operations()) {
        if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), op.name) == wanted.end())
            continue;
        // Calibrate: one thread runs about `seconds`.
        long iterations = 1000;
        for (;;) {
            double s = run_once(op, 1, iterations);
            if (s >= seconds / 4 || iterations > (1L << 34)) {
                iterations = static_cast<long>(iterations * seconds / std::max(s, 1e-9));
                break;
            }
            iterations *= s < seconds / 100 ? 16 : 4;
        }
        iterations = std::clamp(iterations, 100L, 4'000'000L * (op.name == std::string("py_drop_detached") ? 1 : 1000));
        std::printf("| %s | %s |", op.name, op.what);
        std::fflush(stdout);
        std::vector<double> rates;
        for (int threads : thread_counts) {
            double best = 0;
            for (int r = 0; r < rounds; ++r)
                best = std::max(best, threads * iterations / run_once(op, threads, iterations));
            rates.push_back(best);
            std::printf(" %s/s |", grouped(best).c_str());
            std::fflush(stdout);
        }
        for (std::size_t i = 1; i < rates.size(); ++i) std::printf(" %.2fx |", rates[i] / rates[0]);
        if (control) {
            const Operation restore = operations()[2];  // capi_restore
            const long n = 2'000'000;
            double one = 0, two = 0;
            for (int r = 0; r < rounds; ++r) {
                one = std::max(one, n / run_once(restore, 1, n));
                two = std::max(two, 2 * n / run_once(restore, 2, n));
            }
            std::printf(" %.2fx |", two / one);
        }
        std::printf("\n");
        std::fflush(stdout);
    }
    PyEval_RestoreThread(main_state);
    std::fflush(stdout);
    std::_Exit(0);  // the measurement ends here; finalisation is not part of it
}
