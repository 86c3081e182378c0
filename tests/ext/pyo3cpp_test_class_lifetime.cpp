// pyo3cpp_test_class_lifetime — how bound objects end: chains and nestings deep enough to
// overflow the C stack if each level freed the next recursively (class_dealloc.hpp), and values
// replaced or dropped while an instance lock is held, whose __del__ or weakref callback touches
// the instance again; and two edges of how values and errors pass through a call (keyword values
// of a dict a conversion changes, a PyErr rethrown nested in itself). Driven by
// tests/python/test_class_lifetime.py.
#include <pyo3cpp/pyo3cpp.hpp>

#include <atomic>
#include <exception>
#include <string>
#include <optional>
#include <utility>
#include <vector>

using namespace pyo3cpp;

namespace {

std::atomic<long> g_live{0};  // Link, GcLink and Holder values alive

// A link of a chain, without GC support (its Py<> is never traversed).
struct Link {
    Py<PyAny> next;
    explicit Link(Py<PyAny> n) : next(std::move(n)) { ++g_live; }
    ~Link() { --g_live; }
};
// The same with GC support (traverse), so a chain can close into a cycle.
struct GcLink {
    Py<PyAny> next;
    explicit GcLink(Py<PyAny> n) : next(std::move(n)) { ++g_live; }
    ~GcLink() { --g_live; }
};
// A bound subclass of GcLink (extends<>): its own tp_dealloc.
struct SubLink : GcLink {
    explicit SubLink(Py<PyAny> n) : GcLink(std::move(n)) {}
};
// Holds any value (a list, nested lists ...), without GC support.
struct Holder {
    Py<PyAny> value;
    explicit Holder(Py<PyAny> v) : value(std::move(v)) { ++g_live; }
    ~Holder() { --g_live; }
};

// Values replaced or dropped under the instance lock.
struct Slot {
    Py<PyAny> item;
    std::vector<Py<PyAny>> items;
    Slot() = default;
    Slot(const Slot &) = delete;
    Slot(Slot &&) = default;
};

struct Pair {
    long first;
    std::string second;
    Pair(long f, std::string s) : first(f), second(std::move(s)) {}
};

}  // namespace

PYO3CPP_CLASS(Pair);
PYO3CPP_CLASS(Link);
PYO3CPP_CLASS(GcLink);
PYO3CPP_CLASS(SubLink);
PYO3CPP_CLASS(Holder);
PYO3CPP_CLASS(Slot);

PYO3CPP_MODULE(pyo3cpp_test_class_lifetime, m)
{
    m.add_class<Link>("Link").def_init<Py<PyAny>>(arg("next"));
    m.add_class<GcLink>("GcLink")
        .def_init<Py<PyAny>>(arg("next"))
        .def_readwrite("next", &GcLink::next)
        .traverse<&GcLink::next>()
        .subclassable();
    m.add_class<SubLink>("SubLink").extends<GcLink>().def_init<Py<PyAny>>(arg("next"));
    m.add_class<Holder>("Holder").def_init<Py<PyAny>>(arg("value"));
    m.def("live", [] { return g_live.load(); });

    // Keywords through tp_init's (args, kwargs) path: the values are converted in order.
    m.add_class<Pair>("Pair")
        .def_init<long, std::string>(arg("first"), arg("second"))
        .def_readonly("first", &Pair::first)
        .def_readonly("second", &Pair::second);
    // catch (PyErr &e) { std::throw_with_nested(e); }: the same exception, not its own cause.
    m.def("rethrow_nested", [](Bound<PyAny> fn) {
        try {
            fn.call();
        } catch (PyErr &e) {
            std::throw_with_nested(e);
        }
    }, arg("fn"));

    // Slot: every place the library replaces or drops a value while the lock is held.
    m.add_class<Slot>("Slot")
        .construct_in_new()
        .def("__init__", [](Slot &s, std::optional<Py<PyAny>> item) {
            s.item = item ? std::move(*item) : Py<PyAny>();
        }, arg("item"))
        .def_readwrite("item", &Slot::item)
        .def_property("via_setter", [](const Slot &s) { return s.item.as_ptr() != nullptr; },
                      [](Slot &s, Py<PyAny> v) { s.item = std::move(v); })
        .def("peek", [](const Slot &s) { return s.item.as_ptr() != nullptr; })
        .def("put", [](Slot &s, Py<PyAny> v) { s.item = std::move(v); }, arg("v"))
        .def("take", [](Slot &s) { return std::exchange(s.item, Py<PyAny>()); })
        .def("add", [](Slot &s, Py<PyAny> v) { s.items.push_back(std::move(v)); }, arg("v"))
        .def("clear_items", [](Slot &s) { s.items.clear(); })
        .traverse<&Slot::item>()
        .weakref();
}
