// pyo3cpp_test_module_state — per-module state (module_state.hpp), driven from
// tests/python/test_module_state.py: one state per module object, made at exec, destroyed at
// clear/free, seen by the GC, reached from functions (ModuleState<S>), from module objects and
// from methods of the module's classes; misuse raises.
#include <pyo3cpp/pyo3cpp.hpp>

#include <atomic>
#include <cstdint>

using namespace pyo3cpp;

namespace {

// Process-wide counters (plain C++ statics: they outlive every module object).
std::atomic<long> g_constructed{0};
std::atomic<long> g_destroyed{0};
std::atomic<long> g_cleared{0};
long g_static_value = 7;

struct Registry {
    std::atomic<long> count{0};
    long value = 7;
    Py<PyAny> held;  // may close a cycle through the module

    Registry() { g_constructed.fetch_add(1); }
    ~Registry() { g_destroyed.fetch_add(1); }
    Registry(const Registry &) = delete;
    Registry &operator=(const Registry &) = delete;

    void traverse(Visit &visit) const { visit(held); }
    void clear()
    {
        g_cleared.fetch_add(1);
        held = {};
    }
};

struct Probe {
    long id = 0;
};

}  // namespace

PYO3CPP_CLASS(Probe);

PYO3CPP_MODULE(pyo3cpp_test_module_state, m)
{
    m.doc("Per-module state, for tests/python/test_module_state.py.");
    m.state<Registry>();

    m.def("bump", [](ModuleState<Registry> state) { return state->count.fetch_add(1) + 1; });
    m.def("count", [](ModuleState<Registry> state) { return state->count.load(); });
    // n increments in a loop (the race test: one call per round, no Python in between).
    m.def("bump_many", [](ModuleState<Registry> state, Python, long n) {
        for (long i = 0; i < n; ++i) state->count.fetch_add(1, std::memory_order_relaxed);
    }, arg("n"));
    // A capturing lambda: not a unique type, so reached through its vectorcall entry.
    long step = 10;
    m.def("bump_by_ten", [step](ModuleState<Registry> state) { return state->count.fetch_add(step) + step; });
    m.def("state_address", [](ModuleState<Registry> state) {
        return static_cast<long long>(reinterpret_cast<std::intptr_t>(&state.get()));
    });
    m.def("hold", [](ModuleState<Registry> state, Py<PyAny> object) { state->held = std::move(object); });
    m.def("held", [](ModuleState<Registry> state, Python py) {
        PyObject *held = state->held.as_ptr() != nullptr ? state->held.as_ptr() : Py_None;
        return Bound<PyAny>::from_owned_ptr(py, Py_NewRef(held));
    });
    // The explicit form, on any object: raises for what is not a live module with this state.
    m.def("count_of", [](Python py, Borrowed<PyAny> module) { return module_state<Registry>(py, module.as_ptr()).count.load(); });
    // What the GC's clear does to a module (its m_clear), on demand: the state is destroyed.
    m.def("clear_module_state", [](Python py, Borrowed<PyAny> module) {
        PyModuleDef *def = PyModule_Check(module.as_ptr()) ? PyModule_GetDef(module.as_ptr()) : nullptr;
        if (def == nullptr || def->m_clear == nullptr) throw PyErr::new_err(py, PyExc_TypeError, "no m_clear");
        def->m_clear(module.as_ptr());
    });
    m.def("constructed", [] { return g_constructed.load(); });
    m.def("destroyed", [] { return g_destroyed.load(); });
    m.def("cleared", [] { return g_cleared.load(); });
    // The bench pair (bench/module_state.sh): a state read against a C++ static read.
    m.def("read_state", [](ModuleState<Registry> state) { return state->value; });
    m.def("read_static", [] { return g_static_value; });

    m.add_class<Probe>("Probe", "Reaches its module's state from a method.")
        .def_init<>()
        .def("module_count", [](Borrowed<Probe> self) {
            return module_state_of_type<Registry>(self).count.load();
        });
}
