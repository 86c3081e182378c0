// pyo3cpp_test_classes — classes as Python users meet them: a locked Counter with a constructor,
// methods, properties, special methods, a Py<> callback member (GC), subclassing, weak
// references and pickling; a frozen Point; an unsynchronized Tally; an iterator; a mapping;
// typed handles in module functions. Driven by tests/python/test_classes.py.
#include <pyo3cpp/pyo3cpp.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>

using namespace pyo3cpp;

namespace {

std::atomic<long> g_live_counters{0};  // constructed and not yet destroyed

struct Counter {
    long count = 0;
    long step = 1;
    Py<PyAny> callback;
    mutable std::atomic<int> readers{0};
    mutable std::atomic<int> max_readers{0};
    std::atomic<int> writers{0};
    std::atomic<int> max_writers{0};

    Counter(long start, long step_) : count(start), step(step_)
    {
        if (start < 0) throw std::invalid_argument("start must be >= 0");
        ++g_live_counters;
    }
    Counter(const Counter &other) : count(other.count), step(other.step) { ++g_live_counters; }
    Counter(Counter &&other) noexcept : count(other.count), step(other.step), callback(std::move(other.callback))
    {
        ++g_live_counters;
    }
    ~Counter() { --g_live_counters; }

    long add(std::optional<long> n)
    {
        // A read-modify-write spread out, so that unlocked concurrent calls would lose updates.
        long value = count;
        for (int i = 0; i < 3; ++i) std::atomic_signal_fence(std::memory_order_seq_cst);
        long sum;
        if (__builtin_add_overflow(value, n.value_or(step), &sum))
            throw std::overflow_error("Counter.add() result does not fit in a C long");
        count = sum;
        return count;
    }
    long get() const { return count; }
    void fail(const std::string &why) { throw std::invalid_argument(why); }
    void set_callback(Py<PyAny> cb) { callback = std::move(cb); }

    // Runs the callback with the instance held exclusively (re-entrance tests).
    static Bound<PyAny> fire(Python py, Counter &self, Bound<PyAny> arg)
    {
        if (self.callback.as_ptr() == nullptr) throw std::runtime_error("no callback");
        return self.callback.bind(py).call(arg);
    }
    // Sleeps detached while holding the instance shared (const) or exclusively: records how
    // many threads were inside at once.
    static int read_slowly(Python py, const Counter &self, double seconds)
    {
        int now = ++self.readers;
        int seen = self.max_readers.load();
        while (now > seen && !self.max_readers.compare_exchange_weak(seen, now)) {}
        detach(py, [&] { std::this_thread::sleep_for(std::chrono::duration<double>(seconds)); });
        --self.readers;
        return self.max_readers.load();
    }
    static int write_slowly(Python py, Counter &self, double seconds)
    {
        int now = ++self.writers;
        int seen = self.max_writers.load();
        while (now > seen && !self.max_writers.compare_exchange_weak(seen, now)) {}
        detach(py, [&] { std::this_thread::sleep_for(std::chrono::duration<double>(seconds)); });
        --self.writers;
        return self.max_writers.load();
    }
};

struct Point {
    double x, y;
    Point(double x_, double y_) : x(x_), y(y_) {}
    double norm2() const { return x * x + y * y; }
    double sum() const { return x + y; }  // norm2's type: the second such method, a shared entry
};

struct Tally {
    std::atomic<long> n{0};
    Tally() = default;
    Tally(const Tally &other) : n(other.n.load()) {}
    void add(long k)
    {
        // Atomic (the class is unsynchronized: the counter itself is), and never wrapped.
        long now = n.load(), sum;
        do {
            if (__builtin_add_overflow(now, k, &sum))
                throw std::overflow_error("Tally.add() result does not fit in a C long");
        } while (!n.compare_exchange_weak(now, sum));
    }
};

struct Countdown {
    long left;
    explicit Countdown(long from) : left(from) {}
    std::optional<long> next()
    {
        if (left <= 0) return std::nullopt;
        return left--;
    }
};

struct Bag {
    std::map<std::string, long> items;
};

struct Token {
    std::string label;
};

// A node of a linked structure: its Py<> member can close a cycle (GC tests).
struct Node {
    Py<PyAny> next;
    std::string name;
    explicit Node(std::string n) : name(std::move(n)) {}
};

// Single inheritance between bound classes: Shape is the base, Circle and Square extend it.
std::atomic<long> g_live_shapes{0};
struct Shape {
    std::string label;
    Py<PyAny> tag;  // a reference the base declares (traversal is inherited)
    explicit Shape(std::string l) : label(std::move(l)) { ++g_live_shapes; }
    Shape(const Shape &other) : label(other.label) { ++g_live_shapes; }
    ~Shape() { --g_live_shapes; }
    std::string describe() const { return label + " with area " + std::to_string(area_hint); }
    void rename(std::string l) { label = std::move(l); }
    double area_hint = 0;
};
struct Circle : Shape {
    double r;
    Circle(std::string l, double r_) : Shape(std::move(l)), r(r_) { area_hint = 3.0 * r * r; }
    void grow(double by) { r += by; area_hint = 3.0 * r * r; }
};
struct Square : Shape {
    double side;
    Py<PyAny> extra;
    Square(double s) : Shape("square"), side(s) { area_hint = s * s; }
};
// Circle extended once more (three levels).
struct Ring : Circle {
    double inner;
    Ring(double r_, double in) : Circle("ring", r_), inner(in) {}
};

// Built in __new__ on top of a base built in __init__.
struct Label : Shape {
    Label() : Shape("label") {}
};

// Constructed in __new__ (construct_in_new), seeded again by __init__: the shape of
// CPython's _random.Random, whose Python subclass never calls the base __init__.
struct Seeded {
    long seed = 7;
    long draws = 0;
    long next() { return seed * 31 + ++draws; }
};
struct Plain {
    long value = 42;
};

}  // namespace

PYO3CPP_CLASS(Shape);
PYO3CPP_CLASS(Circle);
PYO3CPP_CLASS(Square);
PYO3CPP_CLASS(Ring);
PYO3CPP_CLASS(Label);
PYO3CPP_CLASS(Seeded);
PYO3CPP_CLASS(Plain);

// Methods bound with the member function as a template argument (def<&T::m>), the inlined form.
struct Fixed {
    long count = 0;
    explicit Fixed(long start) : count(start) {}
    long get() const noexcept { return count; }
    long add(long n)
    {
        count += n;
        return count;
    }
};
PYO3CPP_CLASS(Fixed, pyo3cpp::unsynchronized);
PYO3CPP_CLASS(Counter);
PYO3CPP_CLASS(Point, pyo3cpp::frozen);
PYO3CPP_CLASS(Tally, pyo3cpp::unsynchronized);
PYO3CPP_CLASS(Countdown);
PYO3CPP_CLASS(Bag);
PYO3CPP_CLASS(Token);
PYO3CPP_CLASS(Node);

PYO3CPP_MODULE(pyo3cpp_test_classes, m)
{
    m.doc("Classes defined with pyo3cpp, for tests/python/test_classes.py.");

    m.add_class<Counter>("Counter", "Counts things.")
        .def_init<long, long>(arg("start") = 0, kw_only(), arg("step") = 1)
        .def("add", &Counter::add, "Add n (default: the step); return the new count.",
             arg("n") = std::nullopt)
        .def("get", &Counter::get, "The count.")
        .def("fail", &Counter::fail, arg("why"))
        .def("set_callback", &Counter::set_callback, arg("cb"))
        .def("fire", [](Counter &self, Bound<PyAny> arg) { return Counter::fire(arg.py(), self, arg); },
             arg("arg"))
        .def("peek", [](const Counter &self, Bound<PyAny> fn) { return fn.call(self.count); }, arg("fn"))
        .def("read_slowly", [](const Counter &self, Python py, double s) { return Counter::read_slowly(py, self, s); },
             arg("seconds"))
        .def("write_slowly", [](Counter &self, Python py, double s) { return Counter::write_slowly(py, self, s); },
             arg("seconds"))
        .def("same", [](Bound<Counter> self, Bound<PyAny> other) { return self.is(other); }, arg("other"))
        .def("merge", [](Counter &self, const Counter &other) { self.count += other.count; return self.count; },
             arg("other"))
        .def_classmethod("with_start", [](Bound<PyType> cls, long start) { return cls.call(start); },
                         "A new instance of cls starting at start.", arg("start"))
        .def_classmethod("class_name", [](Borrowed<PyType> cls) { return cls.name().to_string(); })
        .def_static("from_text", [](const std::string &text) { return Counter(std::stol(text), 1); },
                    "A Counter starting at int(text).", arg("text"))
        .def_readwrite("count", &Counter::count, "The current count.")
        .def_readonly("step", &Counter::step)
        .def_property("doubled", [](const Counter &c) { return 2 * c.count; },
                      [](Counter &c, long v) { c.count = v / 2; })
        .def("__len__", [](const Counter &c) { return c.count; })
        .def("__repr__", [](const Counter &c) { return "Counter(" + std::to_string(c.count) + ")"; })
        .def("__str__", [](const Counter &c) { return std::to_string(c.count); })
        .def("__eq__", [](const Counter &a, const Counter &b) { return a.count == b.count; })
        .def("__lt__", [](const Counter &a, const Counter &b) { return a.count < b.count; })
        .def("__hash__", [](const Counter &c) { return c.count; })
        .def("__bool__", [](const Counter &c) { return c.count != 0; })
        .def("__call__", [](Counter &c, long n) { return c.add(n); }, arg("n"))
        .def_pickle([](const Counter &c) { return std::make_pair(c.count, c.step); },
                    [](std::pair<long, long> state) { return Counter(state.first, state.second); })
        .traverse<&Counter::callback>()
        .subclassable()
        .weakref();

    m.add_class<Point>("Point", "An immutable point.")
        .def_init<double, double>(arg("x"), arg("y"))
        .def("norm2", &Point::norm2)
        .def("sum", &Point::sum)
        .def_readonly("x", &Point::x)
        .def_readonly("y", &Point::y)
        .def("__repr__", [](const Point &p) {
            return "Point(" + std::to_string(p.x) + ", " + std::to_string(p.y) + ")";
        })
        .def("__eq__", [](const Point &a, const Point &b) { return a.x == b.x && a.y == b.y; })
        .def("__hash__", [](const Point &p) { return static_cast<long>(p.x * 31 + p.y); });

    m.add_class<Tally>("Tally")
        .def_init<>()
        .def("add", &Tally::add, arg("k"))
        .def_property("n", [](const Tally &t) { return t.n.load(); })
        .subclassable();  // not a GC type itself: a Python subclass with __dict__ is one

    m.add_class<Countdown>("Countdown")
        .def_init<long>(arg("start"))
        .def("__iter__", [](Bound<Countdown> self) { return self; })
        .def("__next__", &Countdown::next)
        .def("__eq__", [](const Countdown &a, const Countdown &b) { return a.left == b.left; });

    m.add_class<Bag>("Bag")
        .def_init<>()
        .def("__getitem__", [](const Bag &b, const std::string &key) {
            auto it = b.items.find(key);
            if (it == b.items.end()) throw PyErr::new_err(Python::assume_attached(), PyExc_KeyError, key);
            return it->second;
        })
        .def("__setitem__", [](Bag &b, const std::string &key, long v) { b.items[key] = v; })
        .def("__delitem__", [](Bag &b, const std::string &key) { b.items.erase(key); })
        .def("__contains__", [](const Bag &b, const std::string &key) { return b.items.count(key) > 0; })
        .def("__len__", [](const Bag &b) { return b.items.size(); })
        .dict();

    m.add_class<Token>("Token").def_readonly("label", &Token::label);

    m.add_class<Node>("Node")
        .def_init<std::string>(arg("name"))
        .def_property("next", [](const Node &n) -> Bound<PyAny> {
            Python py = Python::assume_attached();
            if (n.next.as_ptr() == nullptr) return py.none().into_any();
            return n.next.bind(py);
        }, [](Node &n, Py<PyAny> v) { n.next = std::move(v); })
        .traverse<&Node::next>()
        .weakref();

    m.add_class<Shape>("Shape", "A base class bound from C++.")
        .def_init<std::string>(arg("label"))
        .def("describe", &Shape::describe)
        .def("rename", &Shape::rename, arg("label"))
        .def_readwrite("label", &Shape::label)
        .def_property("tag", [](const Shape &s) -> Bound<PyAny> {
            Python py = Python::assume_attached();
            return s.tag.as_ptr() == nullptr ? py.none().into_any() : s.tag.bind(py);
        }, [](Shape &s, Py<PyAny> v) { s.tag = std::move(v); })
        .def("__repr__", [](const Shape &s) { return "<shape " + s.label + ">"; })
        .def("__eq__", [](const Shape &a, const Shape &b) { return a.label == b.label; })
        .def("__hash__", [](const Shape &s) { return static_cast<long>(s.label.size()); })
        .traverse<&Shape::tag>()
        .subclassable();
    m.add_class<Circle>("Circle")
        .extends<Shape>()
        .def_init<std::string, double>(arg("label"), arg("r"))
        .def("grow", &Circle::grow, arg("by"))
        .def("base_describe", &Shape::describe)  // a base member function on the derived class
        .def_readonly("r", &Circle::r)
        .subclassable();
    m.add_class<Square>("Square")
        .extends<Shape>()
        .def_init<double>(arg("side"))
        .def_readonly("side", &Square::side)
        .def_property("extra", [](const Square &s) -> Bound<PyAny> {
            Python py = Python::assume_attached();
            return s.extra.as_ptr() == nullptr ? py.none().into_any() : s.extra.bind(py);
        }, [](Square &s, Py<PyAny> v) { s.extra = std::move(v); })
        .traverse<&Square::extra>()
        .weakref();
    m.add_class<Ring>("Ring").extends<Circle>().def_init<double, double>(arg("r"), arg("inner"))
        .def_readonly("inner", &Ring::inner);
    m.add_class<Label>("Label").extends<Shape>().construct_in_new();
    m.def("shape_label", [](const Shape &s) { return s.label; }, arg("s"));
    m.def("rename_shape", [](Shape &s, std::string l) { s.label = std::move(l); }, arg("s"), arg("label"));
    m.def("circle_r", [](Bound<Circle> c) { return c.read(c.py())->r; }, arg("c"));
    m.def("shape_copy", [](Shape s) { return s.label; }, arg("s"));
    m.def("make_circle", [](double r) { return Circle("made", r); }, arg("r"));
    m.def("live_shapes", [] { return g_live_shapes.load(); });

    m.add_class<Seeded>("Seeded", "Constructed in __new__; __init__ reseeds.")
        .construct_in_new()
        .def("__init__", [](Seeded &s, long seed) { s.seed = seed; s.draws = 0; }, arg("seed") = 7)
        .def("next", &Seeded::next)
        .def_readonly("seed", &Seeded::seed)
        .subclassable();
    m.add_class<Plain>("Plain").construct_in_new().def_readonly("value", &Plain::value);
    m.add_class<Fixed>("Fixed")
        .def_init<long>(arg("start"))
        .def<&Fixed::get>("get")
        .def<&Fixed::add>("add", "Add n; return the new count.", arg("n") = 1)
        .def<&Fixed::get>("__len__");

    // Typed handles in module functions.
    m.def("total", [](const Counter &a, const Counter &b) {
              long sum;
              if (__builtin_add_overflow(a.count, b.count, &sum)) throw std::overflow_error("total overflows");
              return sum;
          }, arg("a"), arg("b"));
    m.def("bump", [](Counter &c) { c.count += 1; }, arg("c"));
    m.def("transfer", [](Counter &from, Counter &to, long n) { from.count -= n; to.count += n; },
          arg("from_"), arg("to"), arg("n"));
    m.def("bump_both", [](Counter &a, Counter &b) { a.count += 1; b.count += 1; }, arg("a"), arg("b"));
    m.def("make_counter", [](long start) { return Counter(start, 1); }, arg("start"));
    m.def("copy_count", [](Counter c) { return c.count; }, arg("c"));
    m.def("bound_count", [](Bound<Counter> c) { return c.read(c.py())->count; }, arg("c"));
    m.def("py_count", [](Python py, Py<Counter> c) { return c.bind(py).read(py)->count; }, arg("c"));
    m.def("cast_count", [](Bound<PyAny> o) { return o.cast<Counter>().read(o.py())->count; }, arg("o"));
    m.def("locked_add", [](Python py, Bound<Counter> c, long n) {
        auto held = c.lock(py);
        held->count += n;
        return held->count;
    }, arg("c"), arg("n"));
    m.def("point_x", [](Bound<Point> p) { return p.get().x; }, arg("p"));
    m.def("make_token", [](Python py, const std::string &label) { return make_instance<Token>(py, Token{label}); },
          arg("label"));
    m.def("live_counters", [] { return g_live_counters.load(); });
    m.def("typed_signature", [](Python py, Borrowed<PyAny> f) {
        return Bound<PyAny>::from_owned_ptr(py, pyo3cpp_function_signature(f.as_ptr()));
    }, arg("f"));
}
