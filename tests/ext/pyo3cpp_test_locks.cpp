// pyo3cpp_test_locks — the instance lock (instance_lock.hpp) under pressure: occupancy counters
// inside the methods check exclusion, callbacks nest calls, module functions name several
// instances (aliasing included). Driven by tests/python/test_instance_lock.py.
#include <pyo3cpp/pyo3cpp.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <stdexcept>
#include <thread>

using namespace pyo3cpp;

namespace {

std::atomic<long> g_violations{0};  // a writer saw anyone else inside, or a reader saw a writer
constexpr long kWrap = 1'000'000'007;  // merge doubles values: the stress keeps them bounded

// A value whose methods record who is inside: `writers` and `readers` are changed only by the
// methods themselves, so any overlap the lock should have prevented is counted.
struct Box {
    long value = 0;
    mutable std::atomic<int> readers{0};
    std::atomic<int> writers{0};

    explicit Box(long v) : value(v) {}
    Box(const Box &other) : value(other.value) {}

    void enter_write()
    {
        if (writers.fetch_add(1) != 0 || readers.load() != 0) ++g_violations;
    }
    void leave_write() { writers.fetch_sub(1); }
    void enter_read() const
    {
        readers.fetch_add(1);
        if (writers.load() != 0) ++g_violations;
    }
    void leave_read() const { readers.fetch_sub(1); }

    long add(long n)
    {
        enter_write();
        long v = value;
        for (int i = 0; i < 8; ++i) std::atomic_signal_fence(std::memory_order_seq_cst);
        value = v + n;
        leave_write();
        return value;
    }
    long get() const
    {
        enter_read();
        long v = value;
        leave_read();
        return v;
    }
};

// The same, as a second class (wait-cycle messages name both).
struct Other : Box {
    using Box::Box;
};

void sleep_detached(Python py, double seconds)
{
    detach(py, [&] { std::this_thread::sleep_for(std::chrono::duration<double>(seconds)); });
}

template <class T> void box_methods(ClassDef<T> &cls)
{
    cls.template def_init<long>(arg("value") = 0)
        .def("add", [](T &b, long n) { return b.add(n); }, arg("n") = 1)
        .def("get", [](const T &b) { return b.get(); })
        // Holds the instance exclusively (or shared) while sleeping detached.
        .def("hold", [](T &b, Python py, double seconds) {
            b.enter_write();
            sleep_detached(py, seconds);
            b.leave_write();
        }, arg("seconds"))
        .def("read_hold", [](const T &b, Python py, double seconds) {
            b.enter_read();
            sleep_detached(py, seconds);
            b.leave_read();
        }, arg("seconds"))
        // Runs fn() with the instance held exclusively / shared (nested calls, exceptions).
        .def("call", [](T &b, Bound<PyAny> fn) {
            b.enter_write();
            struct Leave {
                T &b;
                ~Leave() { b.leave_write(); }
            } leave{b};
            return fn.call();
        }, arg("fn"))
        .def("peek", [](const T &b, Bound<PyAny> fn) {
            b.enter_read();
            struct Leave {
                const T &b;
                ~Leave() { b.leave_read(); }
            } leave{b};
            return fn.call();
        }, arg("fn"))
        // Self-aliasing: `b.merge(b)` (a mutating method whose argument may be self).
        .def("merge", [](T &self, const T &other) {
            self.enter_write();
            self.value = (self.value + other.value) % kWrap;
            self.leave_write();
            return self.value;
        }, arg("other"))
        .def("absorb", [](const T &self, T &other) { other.value = (other.value + self.value) % kWrap; return other.value; },
             arg("other"));
}

}  // namespace

PYO3CPP_CLASS(Box);
PYO3CPP_CLASS(Other);

PYO3CPP_MODULE(pyo3cpp_test_locks, m)
{
    m.doc("The instance lock under pressure, for tests/python/test_instance_lock.py.");
    auto &box = m.add_class<Box>("Box");
    box_methods(box);
    auto &other = m.add_class<Other>("Other");
    box_methods(other);

    // Several instances in one call, aliasing allowed.
    m.def("total", [](const Box &a, const Box &b, const Box &c) {
        a.enter_read();
        if (&b != &a) b.enter_read();
        if (&c != &a && &c != &b) c.enter_read();
        long sum = a.value + b.value + c.value;
        a.leave_read();
        if (&b != &a) b.leave_read();
        if (&c != &a && &c != &b) c.leave_read();
        return sum;
    }, arg("a"), arg("b"), arg("c"));
    m.def("move", [](Box &from, Box &to, long n) {
        from.enter_write();
        if (&to != &from) to.enter_write();
        from.value -= n;
        to.value += n;
        from.leave_write();
        if (&to != &from) to.leave_write();
    }, arg("from_"), arg("to"), arg("n"));
    // const first, then the same instance mutably (read to write within one call).
    m.def("read_then_write", [](const Box &a, Box &b) {
        b.enter_write();
        b.value += a.value;
        b.leave_write();
        return b.value;
    }, arg("a"), arg("b"));
    m.def("violations", [] { return g_violations.load(); });
    // Diagnostics for a hang: every registered waiter, its lock's state and what it holds.
    m.def("dump_waiters", [] {
        using namespace pyo3cpp::detail;
        std::string out;
        LockRegistry &registry = lock_registry();
        std::lock_guard<std::mutex> hold(registry.mutex);
        char line[256];
        for (LockWaiter *w = registry.waiters; w != nullptr; w = w->next) {
            std::uint32_t words[2];
            std::memcpy(words, static_cast<const void *>(w->lock), sizeof words);
            std::snprintf(line, sizeof line, "waiter %p for %p (%s) state=%08x wake=%u in %s.%s holds:",
                          static_cast<void *>(w), static_cast<void *>(w->lock), w->exclusive ? "excl" : "shared",
                          words[0], words[1], w->cls, w->method ? w->method : "(arg)");
            out += line;
            for (const HeldLock *h = w->held; h != nullptr; h = h->older) {
                std::snprintf(line, sizeof line, " %p:%d", static_cast<void *>(h->lock), h->mode);
                out += line;
            }
            out += "\n";
        }
        return out;
    });
    m.def("reset_violations", [] { g_violations = 0; });
}
