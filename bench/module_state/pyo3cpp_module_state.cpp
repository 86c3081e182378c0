// bench_module_state: a module function reading one long from its module state (ModuleState<S>)
// against one reading a C++ static, and the same read from a method through its class
// (module_state_of_type<S>). bench/module_state.sh counts their instructions per call.
#include <pyo3cpp/pyo3cpp.hpp>

using namespace pyo3cpp;

namespace {
struct Settings {
    long value = 7;
};
long g_value = 7;
struct Reader {};
}  // namespace

PYO3CPP_CLASS(Reader, pyo3cpp::frozen);

PYO3CPP_MODULE(bench_module_state, m)
{
    m.state<Settings>();
    m.def("read_state", [](ModuleState<Settings> state) { return state->value; });
    m.def("read_static", [] { return g_value; });
    m.add_class<Reader>("Reader")
        .def_init<>()
        .def("read_state", [](Borrowed<Reader> self) { return module_state_of_type<Settings>(self).value; })
        .def("read_static", [](Borrowed<Reader>) { return g_value; });
}
