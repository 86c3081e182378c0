// pyo3cpp_test_holders — classes held by std::shared_ptr (class_holder.hpp): identity, sharing
// with C++, std::unique_ptr taking ownership, the last owner in C++ on a thread that is not
// attached or after finalisation, the instance lock beside C++ owners, and the hook that keeps
// the Python object alive while C++ holds T. Driven by tests/python/test_holders.py.
#include <pyo3cpp/pyo3cpp.hpp>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

using namespace pyo3cpp;

namespace {

std::atomic<long> g_live{0};

struct Widget {
    long value = 0;
    bool announce = false;  // ~Widget says so on stderr (seen after finalisation)
    Py<PyAny> payload;      // released wherever ~Widget runs
    explicit Widget(long v = 0) : value(v) { g_live.fetch_add(1); }
    Widget(Widget &&o) noexcept : value(o.value), announce(o.announce), payload(std::move(o.payload)) { g_live.fetch_add(1); }
    ~Widget()
    {
        if (announce) std::fprintf(stderr, "~Widget(%ld) ran\n", value);
        g_live.fetch_sub(1);
    }
    long get() const { return value; }
    // A read-modify-write with a pause inside: an unlocked concurrent call loses updates.
    void add(long k)
    {
        long v = value;
        for (int i = 0; i < 200; ++i) __asm__ volatile("" ::: "memory");
        value = v + k;
    }
};

// A value member of a held class (an inline class): f.pos reads as a reference into the owner.
struct Pos {
    double x = 0;
};
struct Body {
    Pos pos;
};
// A held class with a member of a held class type (read as a reference into the owner).
struct Inner {
    long v = 0;
};
struct Outer {
    Inner inner;
};

// A class whose std::shared_ptr parameters keep the Python object alive (shares_python_object).
struct Node {
    long id = 0;
    explicit Node(long i = 0) : id(i) {}
};

// An unsynchronized held class, for the unique_ptr path without a lock.
struct Token {
    long id = 0;
    explicit Token(long i = 0) : id(i) {}
};

// A held class exporting its memory (def_buffer): no std::unique_ptr may take it meanwhile.
struct Samples {
    std::vector<double> values;
    BufferExports exports;
    explicit Samples(long n = 0) : values(static_cast<std::size_t>(n > 0 ? n : 0), 1.0) {}
    BufferInfo buffer() { return BufferInfo::of(values); }
};

std::mutex g_mutex;
std::shared_ptr<Widget> g_global;         // shared_global(): one T returned again and again
std::vector<std::shared_ptr<Widget>> g_kept;
std::shared_ptr<Widget> g_forever;        // released by the static destructor, after finalisation
std::shared_ptr<Node> g_node;

}  // namespace

PYO3CPP_CLASS(Widget, std::shared_ptr<Widget>);
PYO3CPP_CLASS(Pos);
PYO3CPP_CLASS(Body, pyo3cpp::locked, std::shared_ptr<Body>);
PYO3CPP_CLASS(Node, std::shared_ptr<Node>);
PYO3CPP_CLASS(Token, std::shared_ptr<Token>, pyo3cpp::unsynchronized);
PYO3CPP_CLASS(Samples, std::shared_ptr<Samples>);
PYO3CPP_CLASS(Inner, std::shared_ptr<Inner>);
PYO3CPP_CLASS(Outer, std::shared_ptr<Outer>);
template <> struct pyo3cpp::shares_python_object<Node> : std::true_type {};

PYO3CPP_MODULE(pyo3cpp_test_holders, m)
{
    m.add_class<Widget>("Widget", "A value held by std::shared_ptr.")
        .def_init<long>(arg("value") = 0L)
        .def("get", &Widget::get)
        .def("add", &Widget::add, arg("k"))
        .def("set_payload", [](Widget &w, Bound<PyAny> o) { w.payload = o.unbind(); }, arg("o"))
        .def("announce", [](Widget &w) { w.announce = true; })
        .def("__repr__", [](const Widget &w) { return "Widget(" + std::to_string(w.value) + ")"; })
        .subclassable()
        .weakref();
    m.add_class<Pos>("Pos").def_init<>().def_readwrite("x", &Pos::x);
    m.add_class<Body>("Body").def_init<>().def_readwrite("pos", &Body::pos);
    m.add_class<Node>("Node").def_init<long>(arg("id") = 0L).def_readonly("id", &Node::id).subclassable().dict().weakref();
    m.add_class<Token>("Token").def_init<long>(arg("id") = 0L).def_readonly("id", &Token::id);

    m.add_class<Samples>("Samples").def_init<long>(arg("n") = 0L).def_buffer(&Samples::buffer, &Samples::exports);

    m.add_class<Inner>("Inner").def_init<>().def_readwrite("v", &Inner::v);
    m.add_class<Outer>("Outer").def_init<>().def_readwrite("inner", &Outer::inner);
    m.def("consume_inner", [](std::unique_ptr<Inner> i) { return i->v; }, arg("i"));
    m.def("share_inner", [](std::shared_ptr<Inner> i) { return i; }, arg("i"));

    m.def("live", [] { return g_live.load(); });
    m.def("consume_samples", [](std::unique_ptr<Samples> s) { return static_cast<long>(s->values.size()); },
          arg("s"));
    m.def("make_shared", [](long v) { return std::make_shared<Widget>(v); }, arg("value"));
    m.def("make_unique", [](long v) { return std::make_unique<Widget>(v); }, arg("value"));
    m.def("nothing", [] { return std::shared_ptr<Widget>(); });
    m.def("nothing_unique", [] { return std::unique_ptr<Widget>(); });
    m.def("by_value", [](long v) { return Widget(v); }, arg("value"));
    m.def("reset_global", [](long v) {
        std::lock_guard<std::mutex> lock(g_mutex);
        g_global = std::make_shared<Widget>(v);
    }, arg("value"));
    m.def("drop_global", [] {
        std::lock_guard<std::mutex> lock(g_mutex);
        g_global.reset();
    });
    m.def("shared_global", [] {
        std::shared_ptr<Widget> copy;
        {
            std::lock_guard<std::mutex> lock(g_mutex);
            copy = g_global;
        }
        return copy;
    });
    m.def("keep", [](std::shared_ptr<Widget> w) {
        std::lock_guard<std::mutex> lock(g_mutex);
        g_kept.push_back(std::move(w));
        return static_cast<long>(g_kept.size() - 1);
    }, arg("w"));
    m.def("kept", [](long i) {
        std::lock_guard<std::mutex> lock(g_mutex);
        return g_kept.at(static_cast<std::size_t>(i));
    }, arg("i"));
    m.def("clear_kept", [] {
        std::vector<std::shared_ptr<Widget>> gone;
        {
            std::lock_guard<std::mutex> lock(g_mutex);
            gone.swap(g_kept);
        }
    });
    // The last owners let go on a thread Python never knew, while the caller is detached.
    m.def("release_kept_on_native_thread", [](Python py) {
        std::vector<std::shared_ptr<Widget>> gone;
        {
            std::lock_guard<std::mutex> lock(g_mutex);
            gone.swap(g_kept);
        }
        detach(py, [&] { std::thread([list = std::move(gone)]() mutable { list.clear(); }).join(); });
    });
    m.def("use_count", [](const std::shared_ptr<Widget> &w) { return static_cast<long>(w.use_count()); }, arg("w"));
    m.def("address", [](std::shared_ptr<Widget> w) { return reinterpret_cast<std::uintptr_t>(w.get()); }, arg("w"));
    m.def("consume", [](std::unique_ptr<Widget> w) { return w->value; }, arg("w"));
    m.def("consume_and_touch", [](std::unique_ptr<Widget> w, const Widget &again) { return w->value + again.value; },
          arg("w"), arg("again"));
    m.def("consume_body", [](std::unique_ptr<Body> b) { return b->pos.x; }, arg("b"));
    m.def("consume_token", [](std::unique_ptr<Token> t) { return t->id; }, arg("t"));
    m.def("keep_forever", [](std::shared_ptr<Widget> w) { g_forever = std::move(w); }, arg("w"));
    // C++ adding under the instance lock: through the Python object standing for its T.
    m.def("add_locked_from_cpp", [](Python py, long i, long times) {
        std::shared_ptr<Widget> w;
        {
            std::lock_guard<std::mutex> lock(g_mutex);
            w = g_kept.at(static_cast<std::size_t>(i));
        }
        Bound<Widget> object = into_py(py, w).cast<Widget>();
        for (long k = 0; k < times; ++k) object.lock(py)->add(1);
    }, arg("i"), arg("times"));

    // Threads Python never created wrap one T and drop the object, as fast as they can: a wrap
    // racing the last decref must get a live object (a new one), never the dying one. Returns
    // how many wraps got something else than a live Widget(42).
    m.def("race_wrap_and_drop", [](Python py, int threads, long rounds) {
        auto target = std::make_shared<Widget>(42);
        std::atomic<long> bad{0};
        std::atomic<int> arrived{0};
        detach(py, [&] {
            std::vector<std::thread> pool;
            for (int t = 0; t < threads; ++t)
                pool.emplace_back([&] {
                    arrived.fetch_add(1);
                    while (arrived.load() < threads) std::this_thread::yield();
                    auto guard = attach();
                    Python p = guard.py();
                    for (long r = 0; r < rounds; ++r) {
                        try {
                            Bound<Widget> o = into_py(p, target).cast<Widget>();
                            if (o.read(p)->value != 42) bad.fetch_add(1);
                        } catch (PyErr &) {
                            bad.fetch_add(1);
                        }
                    }
                });
            for (std::thread &t : pool) t.join();
        });
        return bad.load();
    }, arg("threads"), arg("rounds"));
    m.def("stash_node", [](std::shared_ptr<Node> n) { g_node = std::move(n); }, arg("n"));
    m.def("stashed_node", [] { return g_node; });
    m.def("drop_node_on_native_thread", [](Python py) {
        std::shared_ptr<Node> gone = std::move(g_node);
        detach(py, [&] { std::thread([n = std::move(gone)]() mutable { n.reset(); }).join(); });
    });
}
