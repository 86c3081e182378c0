// pyo3cpp_test_virtuals — Python overrides of C++ virtuals (trampoline.hpp) under the conditions
// C++ frameworks create: calls from threads Python never saw, calls while the caller holds the
// instance (lent to the override), C++ keeping objects after Python dropped them. Occupancy
// counters inside the C++ methods check that the instance lock still excludes other threads.
// Driven by tests/python/test_virtuals.py.
#include <pyo3cpp/pyo3cpp.hpp>
#include <pyo3cpp/trampoline.hpp>

#include <atomic>
#include <exception>
#include <string>
#include <thread>
#include <vector>

using namespace pyo3cpp;

namespace {

std::atomic<long> g_violations{0};      // a thread found another inside a mutating method
std::atomic<long> g_trampolines_dead{0};  // ~Probe of trampolines

}  // namespace

// The C++ library's base class: a value with an occupancy check, virtuals of several shapes.
struct Probe {
    long total = 0;
    std::atomic<int> inside{0};
    Probe() = default;
    explicit Probe(long start) : total(start) {}
    Probe(Probe &&other) noexcept : total(other.total) {}
    virtual ~Probe() = default;

    virtual long step(long x) { return x; }
    virtual std::string label(const std::string &prefix) const { return prefix + "probe"; }
    virtual void notify(double value) { total += static_cast<long>(value); }
    virtual long weight() const = 0;

    // Mutating: exclusive. The check sees a second thread inside at once.
    long bump(long n)
    {
        if (inside.fetch_add(1) != 0) ++g_violations;
        const long before = total;
        for (int i = 0; i < 16; ++i) std::atomic_signal_fence(std::memory_order_seq_cst);
        total = before + n;
        inside.fetch_sub(1);
        return total;
    }
    // Mutating, and calls the virtual while the instance is held.
    long bump_step(long x)
    {
        if (inside.fetch_add(1) != 0) ++g_violations;
        inside.fetch_sub(1);
        const long s = step(x);
        total += s;
        return s;
    }
    long read_total() const { return total; }
};
PYO3CPP_CLASS(Probe);

struct PyProbe : Trampoline<Probe> {
    using Trampoline::Trampoline;
    ~PyProbe() override { ++g_trampolines_dead; }
    long step(long x) override { PYO3CPP_OVERRIDE(step, x); }
    std::string label(const std::string &prefix) const override { PYO3CPP_OVERRIDE(label, prefix); }
    void notify(double value) override { PYO3CPP_OVERRIDE(notify, value); }
    long weight() const override { PYO3CPP_OVERRIDE_PURE(weight); }
};
PYO3CPP_TRAMPOLINE(Probe, PyProbe);

// The same shape without a lock (unsynchronized) and built in __new__.
struct Loose {
    virtual ~Loose() = default;
    virtual long twice(long x) { return 2 * x; }
};
PYO3CPP_CLASS(Loose, pyo3cpp::unsynchronized);
struct PyLoose : Trampoline<Loose> {
    using Trampoline::Trampoline;
    long twice(long x) override { PYO3CPP_OVERRIDE(twice, x); }
};
PYO3CPP_TRAMPOLINE(Loose, PyLoose);

namespace {

// Objects C++ keeps after Python let go.
std::vector<Retained<Probe>> g_kept;

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

}  // namespace

PYO3CPP_MODULE(pyo3cpp_test_virtuals, m)
{
    m.add_class<Probe>("Probe", "A C++ base with virtuals.")
        .subclassable()
        .def_init<long>(arg("start") = 0)
        .def("step", &Probe::step, arg("x"))
        .def("label", &Probe::label, arg("prefix"))
        .def("notify", &Probe::notify, arg("value"))
        .def("weight", &Probe::weight)
        .def("bump", &Probe::bump, arg("n"))
        .def("bump_step", &Probe::bump_step, arg("x"))
        .def("read_total", &Probe::read_total);
    m.add_class<Loose>("Loose").subclassable().construct_in_new().def("twice", &Loose::twice, arg("x"));

    // C++ calling through a reference, the instance held as the parameter says.
    m.def("step_exclusive", [](Probe &p, long x) { return p.step(x); });
    m.def("weight_shared", [](const Probe &p) { return p.weight(); });
    m.def("label_of", [](const Probe &p, const std::string &prefix) { return p.label(prefix); });
    m.def("notify_of", [](Probe &p, double v) { p.notify(v); });
    m.def("twice_of", [](Loose &l, long x) { return l.twice(x); });
    // C++ under Bound<T>::lock(): the exclusive guard from C++ code.
    m.def("step_under_guard", [](Bound<Probe> p, long x) { return p.lock(p.py())->step(x); });

    // `threads` std::threads (not attached) each call step(i) `rounds` times on one object, with
    // no lock (the C++ side's own business); the sum of the results comes back.
    m.def("step_from_threads", [](Bound<Probe> p, int threads, int rounds) {
        Retained<Probe> keep(p);
        std::atomic<long> sum{0};
        detach(p.py(), [&] {
            on_threads(threads, [&](int t) {
                for (int i = 0; i < rounds; ++i) sum += keep->step(t * 1000 + i);
            });
        });
        return sum.load();
    });
    // The same through the instance lock: each thread attaches and takes it exclusively (as a
    // bound mutating method would), then calls the virtual: the override's calls back into the
    // instance are lent the hold; other threads wait.
    m.def("bump_step_from_threads", [](Bound<Probe> p, int threads, int rounds) {
        Py<Probe> handle = p.unbind();
        std::atomic<long> sum{0};
        detach(Python::assume_attached(), [&] {
            on_threads(threads, [&](int t) {
                for (int i = 0; i < rounds; ++i) {
                    auto guard = attach();
                    Python py = guard.py();
                    sum += handle.bind(py).lock(py)->bump_step(t + i);
                }
            });
        });
        return sum.load();
    });
    // A pure virtual called from a foreign thread: the C++ exception carries the Python error.
    m.def("weight_from_thread", [](Bound<Probe> p) {
        Retained<Probe> keep(p);
        return detach(p.py(), [&] {
            long w = 0;
            on_threads(1, [&](int) { w = keep->weight(); });
            return w;
        });
    });
    m.def("what_from_thread", [](Bound<Probe> p) {
        // The message a C++ catch site sees.
        Retained<Probe> keep(p);
        return detach(p.py(), [&] {
            std::string what;
            on_threads(1, [&](int) {
                try {
                    (void)keep->weight();
                } catch (const std::exception &e) {
                    what = e.what();
                }
            });
            return what;
        });
    });

    // C++ keeps objects: kept on the calling thread, used and released on foreign threads.
    m.def("keep", [](const Bound<Probe> &p) { g_kept.emplace_back(p); });
    m.def("step_kept_from_thread", [](long x) {
        return detach(Python::assume_attached(), [&] {
            long sum = 0;
            on_threads(1, [&](int) {
                for (auto &k : g_kept) sum += k->step(x);
            });
            return sum;
        });
    });
    m.def("release_kept_from_thread", [] {
        detach(Python::assume_attached(), [&] { on_threads(1, [&](int) { g_kept.clear(); }); });
    });
    m.def("trampolines_dead", [] { return g_trampolines_dead.load(); });
    m.def("violations", [] { return g_violations.load(); });
}
