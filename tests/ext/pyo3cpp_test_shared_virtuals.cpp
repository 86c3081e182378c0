// pyo3cpp_test_shared_virtuals — a class held by std::shared_ptr with a trampoline: a Python
// subclass's instance holds the trampoline on the heap, a std::shared_ptr handed to C++ keeps the
// Python object alive, C++ calls the override from threads Python never saw and releases the last
// std::shared_ptr there. Driven by tests/python/test_shared_virtuals.py.
#include <pyo3cpp/pyo3cpp.hpp>
#include <pyo3cpp/trampoline.hpp>

#include <atomic>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

using namespace pyo3cpp;

namespace {
std::atomic<long> g_trampolines_dead{0};  // ~PyTask, ~PyJob
}  // namespace

struct Task {
    explicit Task(long base = 0) : base(base) {}
    virtual ~Task() = default;
    virtual long run(long x) { return base + x; }
    long base;
};
PYO3CPP_CLASS(Task, std::shared_ptr<Task>);

struct PyTask : Trampoline<Task> {
    using Trampoline::Trampoline;
    ~PyTask() override { ++g_trampolines_dead; }
    long run(long x) override { PYO3CPP_OVERRIDE(run, x); }
};
PYO3CPP_TRAMPOLINE(Task, PyTask);

// Abstract: Job() from Python holds the trampoline too.
struct Job {
    virtual ~Job() = default;
    virtual long work() const = 0;
};
PYO3CPP_CLASS(Job, std::shared_ptr<Job>);

struct PyJob : Trampoline<Job> {
    using Trampoline::Trampoline;
    ~PyJob() override { ++g_trampolines_dead; }
    long work() const override { PYO3CPP_OVERRIDE_PURE(work); }
};
PYO3CPP_TRAMPOLINE(Job, PyJob);

// Built by a factory (def_init(factory)): a Python subclass's trampoline is moved from its Stage.
struct Stage {
    explicit Stage(long k) : k(k) {}
    Stage(Stage &&) = default;
    virtual ~Stage() = default;
    virtual long apply(long x) { return k * x; }
    long k;
};
PYO3CPP_CLASS(Stage, std::shared_ptr<Stage>);

struct PyStage : Trampoline<Stage> {
    using Trampoline::Trampoline;
    long apply(long x) override { PYO3CPP_OVERRIDE(apply, x); }
};
PYO3CPP_TRAMPOLINE(Stage, PyStage);

namespace {

std::mutex g_mutex;
std::vector<std::shared_ptr<Task>> g_kept;  // C++'s own references (under g_mutex)

// Runs `body(i)` on `threads` std::threads released together; rethrows the first failure.
template <class Body> void on_threads(int threads, Body body)
{
    std::atomic<int> ready{0};
    std::vector<std::exception_ptr> failures(static_cast<std::size_t>(threads));
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t)
        workers.emplace_back([&, t] {
            ready.fetch_add(1);
            while (ready.load() < threads) std::this_thread::yield();
            try {
                body(t);
            } catch (...) {
                failures[static_cast<std::size_t>(t)] = std::current_exception();
            }
        });
    for (auto &w : workers) w.join();
    for (auto &f : failures)
        if (f) std::rethrow_exception(f);
}

std::vector<std::shared_ptr<Task>> take_kept()
{
    std::lock_guard<std::mutex> lock(g_mutex);
    return std::exchange(g_kept, {});
}

}  // namespace

PYO3CPP_MODULE(pyo3cpp_test_shared_virtuals, m)
{
    m.add_class<Task>("Task", "A C++ base held by std::shared_ptr, with a virtual.")
        .subclassable()
        .def_init<long>(arg("base") = 0)
        .def("run", &Task::run, arg("x"));
    m.add_class<Job>("Job", "An abstract C++ base held by std::shared_ptr.").subclassable().def_init<>().def(
        "work", &Job::work);

    m.add_class<Stage>("Stage").subclassable().def_init([](long k) { return Stage(k); }, arg("k")).def(
        "apply", &Stage::apply, arg("x"));
    m.def("apply_stage", [](std::shared_ptr<Stage> s, long x) {
        return std::pair<long, bool>(s->apply(x), dynamic_cast<PyStage *>(s.get()) != nullptr);
    });

    m.def("run_task", [](std::shared_ptr<Task> t, long x) { return t->run(x); });
    m.def("work_of", [](std::shared_ptr<Job> j) { return j->work(); });
    m.def("is_trampoline", [](std::shared_ptr<Task> t) { return dynamic_cast<PyTask *>(t.get()) != nullptr; });
    m.def("is_job_trampoline", [](std::shared_ptr<Job> j) { return dynamic_cast<PyJob *>(j.get()) != nullptr; });
    m.def("take", [](std::unique_ptr<Task> t) { return t->run(0); });

    m.def("keep", [](std::shared_ptr<Task> t) {
        std::lock_guard<std::mutex> lock(g_mutex);
        g_kept.push_back(std::move(t));
        return static_cast<long>(g_kept.size() - 1);
    });
    m.def("kept", [](long i) {
        std::lock_guard<std::mutex> lock(g_mutex);
        return g_kept.at(static_cast<std::size_t>(i));
    });
    m.def("run_kept", [](long i, long x) {
        std::shared_ptr<Task> t;
        {
            std::lock_guard<std::mutex> lock(g_mutex);
            t = g_kept.at(static_cast<std::size_t>(i));
        }
        return t->run(x);
    });
    m.def("drop_kept", [] { take_kept(); });
    // One std::thread (never attached) calls every kept task's run(x) and releases the last
    // std::shared_ptr of each while not attached: the Python objects go through the deferred pool.
    m.def("run_and_drop_kept_on_thread", [](long x) {
        return detach(Python::assume_attached(), [&] {
            long sum = 0;
            on_threads(1, [&](int) {
                std::vector<std::shared_ptr<Task>> mine = take_kept();
                for (auto &t : mine) sum += t->run(x);
                mine.clear();
            });
            return sum;
        });
    });
    // `threads` std::threads, each with its own std::shared_ptr to every kept task, call run(x)
    // `rounds` times and drop their copies as they finish; the caller's copies are dropped first
    // (while detached), so one of the threads releases the last.
    m.def("race_kept_on_threads", [](int threads, int rounds, long x) {
        std::vector<std::vector<std::shared_ptr<Task>>> copies(static_cast<std::size_t>(threads));
        {
            std::lock_guard<std::mutex> lock(g_mutex);
            for (auto &c : copies) c = g_kept;
        }
        std::atomic<long> sum{0};
        detach(Python::assume_attached(), [&] {
            take_kept();
            on_threads(threads, [&](int t) {
                auto mine = std::move(copies[static_cast<std::size_t>(t)]);
                for (int r = 0; r < rounds; ++r)
                    for (auto &task : mine) sum += task->run(x);
            });
        });
        return sum.load();
    });
    // Kept until C++'s static destructors run, after the interpreter is finalised.
    m.def("keep_forever", [](std::shared_ptr<Task> t) {
        static std::vector<std::shared_ptr<Task>> forever;
        forever.push_back(std::move(t));
    });
    m.def("trampolines_dead", [] { return g_trampolines_dead.load(); });
}
