// pyo3cpp_test_gil_used — a module that opts out of free-threading with gil_used(): importing it
// on a free-threaded CPython re-enables the GIL (with a RuntimeWarning), as CPython documents.
#include <pyo3cpp/pyo3cpp.hpp>

PYO3CPP_MODULE(pyo3cpp_test_gil_used, m)
{
    m.doc("A pyo3cpp test module that declares it needs the GIL.");
    m.gil_used();
    m.def("answer", [] { return 42L; });
}
