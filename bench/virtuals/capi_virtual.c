/* capi_virtual.c — bench/virtuals.sh's reference: the Python method called by hand through the
 * C API, PyObject_VectorcallMethod with an interned name, the argument made and the result
 * converted per call, in the same loop. */
#include <Python.h>

static PyObject *run_name;

static PyObject *loop(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "loop(obj, n)");
        return NULL;
    }
    long n = PyLong_AsLong(args[1]);
    if (n == -1 && PyErr_Occurred()) return NULL;
    long sum = 0;
    for (long i = 0; i < n; ++i) {
        PyObject *arg = PyLong_FromLong(i);
        if (arg == NULL) return NULL;
        PyObject *call[3] = {NULL, args[0], arg};
        PyObject *result = PyObject_VectorcallMethod(run_name, call + 1, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        Py_DECREF(arg);
        if (result == NULL) return NULL;
        long value = PyLong_AsLong(result);
        Py_DECREF(result);
        if (value == -1 && PyErr_Occurred()) return NULL;
        sum += value;
    }
    return PyLong_FromLong(sum);
}

static PyMethodDef methods[] = {{"loop", (PyCFunction)(void (*)(void))loop, METH_FASTCALL, NULL},
                                {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "bench_virtuals_capi", NULL, -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_bench_virtuals_capi(void)
{
    run_name = PyUnicode_InternFromString("run");
    if (run_name == NULL) return NULL;
    PyObject *m = PyModule_Create(&module);
#ifdef Py_GIL_DISABLED
    if (m != NULL) PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);
#endif
    return m;
}
