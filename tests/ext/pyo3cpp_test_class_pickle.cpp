// pyo3cpp_test_class_pickle — def_pickle with states pickle would take for "no state" (None) or
// that are falsy (0, "", empty containers), and Python subclasses with __dict__ and __slots__.
// Driven by tests/python/test_class_pickle.py.
#include <pyo3cpp/pyo3cpp.hpp>

#include <optional>
#include <utility>

using namespace pyo3cpp;

namespace {

// The shape: the state is a std::optional, None when empty.
struct Maybe {
    std::optional<long> value;
    explicit Maybe(std::optional<long> v) : value(v) {}
};
// Any Python value as the state.
struct Keeper {
    Py<PyAny> state;
    explicit Keeper(Py<PyAny> s) : state(std::move(s)) {}
};

}  // namespace

PYO3CPP_CLASS(Maybe);
PYO3CPP_CLASS(Keeper);

PYO3CPP_MODULE(pyo3cpp_test_class_pickle, m)
{
    m.add_class<Maybe>("Maybe")
        .def_init<std::optional<long>>(arg("value"))
        .def("get", [](const Maybe &x) { return x.value; })
        .def_pickle([](const Maybe &x) { return x.value; },
                    [](std::optional<long> v) { return Maybe(v); });
    m.add_class<Keeper>("Keeper")
        .def_init<Py<PyAny>>(arg("state"))
        .def("get", [](const Keeper &k) { return k.state.bind(Python::assume_attached()); })
        .def_pickle([](const Keeper &k) { return k.state.bind(Python::assume_attached()); },
                    [](Py<PyAny> s) { return Keeper(std::move(s)); })
        .traverse<&Keeper::state>()
        .subclassable();
}
