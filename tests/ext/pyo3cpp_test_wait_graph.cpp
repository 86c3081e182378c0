// pyo3cpp_test_wait_graph — a second extension module with a `locked` class, an object lock and a
// OnceLock, so that tests/python/test_wait_graph.py can close wait cycles that pass through
// another module's instances, an object lock or a once-cell initialiser.
#include <pyo3cpp/pyo3cpp.hpp>

using namespace pyo3cpp;

namespace {

struct Peer {
    long value = 0;
    explicit Peer(long v) : value(v) {}
};

// The cell whose initialiser a test makes wait for an instance.
OnceLock<Py<PyAny>> g_cell("wait_graph.cell");

// Holds obj's object lock (free-threaded builds; nothing on GIL builds) while fn() runs.
Py<PyAny> with_object_lock(Python py, Bound<PyAny> obj, Bound<PyAny> fn)
{
    if (pyo3cpp_object_lock(obj.as_ptr()) != 0) throw_fetched(py);
    struct Unlock {
        PyObject *obj;
        ~Unlock() { (void)pyo3cpp_object_unlock(obj); }
    } unlock{obj.as_ptr()};
    return fn.call().unbind();
}

}  // namespace

PYO3CPP_CLASS(Peer);

PYO3CPP_MODULE(pyo3cpp_test_wait_graph, m)
{
    m.doc("Wait cycles across modules, object locks and once-cells (tests/python/test_wait_graph.py).");
    m.add_class<Peer>("Peer")
        .def_init<long>(arg("value") = 0)
        .def("add", [](Peer &p, long n) { return p.value += n; }, arg("n") = 1)
        .def("get", [](const Peer &p) { return p.value; })
        // Runs fn() with the instance held exclusively.
        .def("call", [](Peer &, Bound<PyAny> fn) { return fn.call(); }, arg("fn"));
    m.def("with_object_lock", with_object_lock, arg("obj"), arg("fn"));
    // The cell's value, made by fn() when it is empty.
    m.def("once_get_or_init", [](Python py, Bound<PyAny> fn) {
        return g_cell.get_or_init(py, [&] { return fn.call().unbind(); }).clone_ref(py);
    }, arg("fn"));
    m.def("once_reset", [] { (void)g_cell.take(); });
}
