#include <pyo3cpp/pyo3cpp.hpp>

#include <atomic>
#include <string>

using namespace pyo3cpp;

// What used to be `static` in the module: one per module object, shared by all its threads.
struct Counters {
    std::atomic<long> calls{0};  // free-threaded builds call concurrently: synchronise
    Py<PyAny> on_call;           // a Python reference: the GC must see it

    void traverse(Visit &visit) const { visit(on_call); }
    void clear() { on_call = {}; }
};

struct Greeter {
    std::string name;
};
PYO3CPP_CLASS(Greeter);

PYO3CPP_MODULE(pyo3cpp_docs_module_state, m)
{
    m.state<Counters>();  // made when the module's exec starts, destroyed with the module

    // A leading ModuleState<S> is filled in from the function's module: not a Python argument.
    m.def("calls", [](ModuleState<Counters> state) { return state->calls.load(); });
    m.def("set_hook", [](ModuleState<Counters> state, Py<PyAny> hook) {
        state->on_call = std::move(hook);
    }, arg("hook"));

    // A method finds its module through its class (PyType_GetModuleByDef).
    m.add_class<Greeter>("Greeter")
        .def_init<std::string>(arg("name"))
        .def("greet", [](Borrowed<Greeter> self) {
            Python py = self.py();
            Counters &counters = module_state_of_type<Counters>(self);
            counters.calls.fetch_add(1);
            if (counters.on_call.as_ptr() != nullptr) counters.on_call.bind(py).call();
            return "Hello, " + self.read(py)->name + "!";
        });
}
