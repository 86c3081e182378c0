// test_once_finalize.cpp — once-cells across interpreter finalisation and re-initialisation.
//
// Three cycles of Py_InitializeEx / fill every kind of cell / Py_FinalizeEx: C++ OnceLock and
// OnceCell of Py<T>, a C pyo3cpp_object_cell (blocking and racing), intern<> and
// import_cached<>. After each finalisation every cell must be empty (forgotten: no decref into
// the dead interpreter); in the next cycle each fills again with objects of the new
// interpreter. A heap cell filled in one cycle is destroyed after finalisation (leaks, no
// crash), and the process must exit cleanly with static cells in place. Output is TAP.
#include <pyo3cpp/import.hpp>
#include <pyo3cpp/intern.hpp>
#include <pyo3cpp/once_cell.hpp>
#include <pyo3cpp/once_lock.hpp>
#include <pyo3cpp/pyo3cpp.hpp>

#include <cstdio>
#include <memory>
#include <thread>

using namespace pyo3cpp;

namespace {

int g_count = 0, g_failed = 0;

void check(bool ok, const char *what, int cycle)
{
    ++g_count;
    if (!ok) ++g_failed;
    std::printf("%s %d - cycle %d: %s\n", ok ? "ok" : "not ok", g_count, cycle, what);
    std::fflush(stdout);
}

OnceLock<Py<PyAny>> g_lock("finalize.lock");
OnceCell<Py<PyAny>> g_cell;
pyo3cpp_object_cell g_c_blocking = PYO3CPP_OBJECT_CELL_INIT;
pyo3cpp_object_cell g_c_racing = PYO3CPP_OBJECT_CELL_INIT;

PyObject *make_marker(void *cycle) { return PyLong_FromLong(1000 + *static_cast<int *>(cycle)); }

long as_long(PyObject *o) { return o ? PyLong_AsLong(o) : -1; }

}  // namespace

int main()
{
    std::unique_ptr<OnceLock<Py<PyAny>>> survivor;  // outlives its interpreter
    Py<PyAny> orphan;
    for (int cycle = 0; cycle < 3; ++cycle) {
        Py_InitializeEx(0);
        {
            auto guard = attach();
            auto py = guard.py();
            check(g_lock.get() == nullptr && g_cell.get() == nullptr &&
                      pyo3cpp_object_cell_get(&g_c_blocking) == nullptr &&
                      pyo3cpp_object_cell_get(&g_c_racing) == nullptr,
                  "every cell starts empty", cycle);
            // Markers are lists holding the cycle number: fresh objects of this interpreter.
            auto marker = [&] {
                return Py<PyAny>::from_owned_ptr(py, Py_BuildValue("[i]", cycle));
            };
            const Py<PyAny> &lock_value = g_lock.get_or_init(py, marker);
            const Py<PyAny> &cell_value = g_cell.get_or_init(py, marker);
            PyObject *c1 = pyo3cpp_object_cell_get_or_init(&g_c_blocking, make_marker, &cycle,
                                                           "finalize.c_blocking");
            PyObject *c2 = pyo3cpp_object_cell_get_or_race(&g_c_racing, make_marker, &cycle);
            check(PyList_Check(lock_value.as_ptr()) &&
                      as_long(PyList_GetItem(lock_value.as_ptr(), 0)) == cycle &&
                      as_long(PyList_GetItem(cell_value.as_ptr(), 0)) == cycle,
                  "C++ cells hold this interpreter's objects", cycle);
            check(as_long(c1) == 1000 + cycle && as_long(c2) == 1000 + cycle,
                  "C cells hold this interpreter's objects", cycle);
            Borrowed<PyString> name = intern<"pyo3cpp_finalize_name">(py);
            check(PyUnicode_CHECK_INTERNED(name.as_ptr()) &&
                      std::string(PyUnicode_AsUTF8(name.as_ptr())) == "pyo3cpp_finalize_name",
                  "intern works", cycle);
            Borrowed<PyAny> dumps = import_cached<"json", "dumps">(py);
            PyObject *text = PyObject_CallOneArg(dumps.as_ptr(), lock_value.as_ptr());
            check(text != nullptr &&
                      std::string(PyUnicode_AsUTF8(text)) == "[" + std::to_string(cycle) + "]",
                  "import_cached gives this interpreter's json.dumps", cycle);
            Py_XDECREF(text);
            // A cell on the heap, filled now and destroyed only after this interpreter is gone
            // (the previous cycle's one, forgotten then, is destroyed here: nothing to do).
            survivor = std::make_unique<OnceLock<Py<PyAny>>>("finalize.survivor");
            survivor->get_or_init(py, marker);
            orphan = marker();  // a plain Py that outlives the interpreter
        }
        check(Py_FinalizeEx() == 0, "Py_FinalizeEx succeeds", cycle);
        orphan = Py<PyAny>();  // released after finalisation: leaked, not decref'd
        check(g_lock.get() == nullptr && g_cell.get() == nullptr,
              "C++ cells were forgotten at finalisation", cycle);
        check(pyo3cpp_object_cell_get(&g_c_blocking) == nullptr &&
                  pyo3cpp_object_cell_get(&g_c_racing) == nullptr,
              "C cells were forgotten at finalisation", cycle);
        check(survivor->get() == nullptr, "the heap cell was forgotten too", cycle);
        check(!pyo3cpp_is_attached(), "nothing is attached after finalisation", cycle);
    }
    survivor.reset();  // after finalisation: nothing to release, no crash
    std::printf("1..%d\n", g_count);
    return g_failed ? 1 : 0;
}
