/* quickstart_c.c — the README's C extension, compiled and tested exactly as shown there. */
#include <Python.h>
#include <pyo3cpp.h>

/* "hello, " + name, with the prefix interned once per process. */
static PyObject *greet(PyObject *module, PyObject *name)
{
    static pyo3cpp_object_cell prefix_cell = PYO3CPP_OBJECT_CELL_INIT;
    PyObject *prefix = pyo3cpp_intern(&prefix_cell, "hello, "); /* borrowed; NULL on error */
    (void)module;
    return prefix ? PyUnicode_Concat(prefix, name) : NULL;
}

/* len(items) and items[-1], read together under one critical section: a consistent pair. */
static PyObject *last_and_len(PyObject *module, PyObject *items)
{
    pyo3cpp_critical_section cs;
    PyObject *result;
    Py_ssize_t n;
    (void)module;
    if (!PyList_Check(items)) return PyErr_Format(PyExc_TypeError, "expected a list");
    if (pyo3cpp_critical_section_begin(&cs, items) != 0) return NULL;
    n = PyList_GET_SIZE(items);
    result = n ? Py_BuildValue("(On)", PyList_GET_ITEM(items, n - 1), n)
               : Py_BuildValue("(On)", Py_None, n);
    pyo3cpp_critical_section_end(&cs);
    return result;
}

static int exec_module(PyObject *module)
{
    (void)module;
    return PYO3CPP_CHECK_RUNTIME("quickstart_c"); /* ImportError if libpyo3cpp.so mismatches */
}

static PyMethodDef methods[] = {
    {"greet", greet, METH_O, "Say hello."},
    {"last_and_len", last_and_len, METH_O, "(items[-1], len(items)), read consistently."},
    {NULL, NULL, 0, NULL}};

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, (void *)(uintptr_t)exec_module}, /* C99: no direct function-to-object cast */
#ifdef Py_GIL_DISABLED
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL}};

static PyModuleDef def = {PyModuleDef_HEAD_INIT, "quickstart_c", NULL, 0, methods, slots,
                          NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_quickstart_c(void) { return PyModuleDef_Init(&def); }
