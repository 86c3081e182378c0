/* consumer.c — the smallest extension built out of tree against an installed pyo3cpp. */
#include <Python.h>

#include <pyo3cpp.h>

static PyObject *abi_version(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyLong_FromLong(pyo3cpp_abi_version());
}

static PyObject *hello(PyObject *module, PyObject *unused)
{
    static pyo3cpp_object_cell cell = PYO3CPP_OBJECT_CELL_INIT;
    PyObject *text = pyo3cpp_intern(&cell, "hello from an installed pyo3cpp");
    (void)module;
    (void)unused;
    Py_XINCREF(text);
    return text;
}

static int exec_module(PyObject *module)
{
    (void)module;
    return PYO3CPP_CHECK_RUNTIME("pyo3cpp_consumer");
}

static PyMethodDef methods[] = {{"abi_version", abi_version, METH_NOARGS, NULL},
                                {"hello", hello, METH_NOARGS, NULL},
                                {NULL, NULL, 0, NULL}};
static PyModuleDef_Slot slots[] = {{Py_mod_exec, (void *)(uintptr_t)exec_module},
#if PY_VERSION_HEX >= 0x030D0000
                                   {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
                                   {0, NULL}};
static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "pyo3cpp_consumer", NULL, 0,
                                        methods, slots, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_pyo3cpp_consumer(void);
PyMODINIT_FUNC PyInit_pyo3cpp_consumer(void) { return PyModuleDef_Init(&module_def); }
