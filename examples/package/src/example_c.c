/* example_c.c — the example wheel's C extension, pyo3cpp_example._example_c: C99 against
 * <pyo3cpp.h> and CPython's C API. Besides two ordinary functions it exposes the runtime's
 * shared state (pool, gate, object locks) so the tests can show that every extension wheel in a
 * process uses the same runtime (tests/ship/test_one_runtime.py). */
#include <Python.h>
#include <pyo3cpp.h>
#include <pthread.h>

/* "hello, " + name, with the prefix interned once per process. */
static PyObject *greet(PyObject *module, PyObject *name)
{
    static pyo3cpp_object_cell prefix_cell = PYO3CPP_OBJECT_CELL_INIT;
    PyObject *prefix = pyo3cpp_intern(&prefix_cell, "hello, ");
    (void)module;
    return prefix ? PyUnicode_Concat(prefix, name) : NULL;
}

/* Identity of the runtime this extension was bound to by the loader: the address of one of its
 * functions, and what it says about itself. */
static PyObject *runtime_info(PyObject *module, PyObject *unused)
{
    int major = 0, minor = 0, free_threaded = 0;
    long (*fn)(void) = pyo3cpp_pool_pending;
    (void)module;
    (void)unused;
    pyo3cpp_runtime_python(&major, &minor, &free_threaded);
    return Py_BuildValue("{s:K,s:l,s:(iii)}", "address", (unsigned long long)(uintptr_t)fn,
                         "abi", pyo3cpp_abi_version(), "python", major, minor, free_threaded);
}

/* Queues a decref of a new reference to obj in the runtime's deferred-decref pool. */
static PyObject *defer_decref(PyObject *module, PyObject *obj)
{
    (void)module;
    Py_INCREF(obj);
    pyo3cpp_defer_decref(obj);
    Py_RETURN_NONE;
}

static PyObject *pool_pending(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyLong_FromLong(pyo3cpp_pool_pending());
}

/* Takes / releases the runtime's object lock on obj (released by the same thread). */
static PyObject *object_lock(PyObject *module, PyObject *obj)
{
    (void)module;
    if (pyo3cpp_object_lock(obj) != 0) return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_RuntimeError, "not attached");
    Py_RETURN_NONE;
}

static PyObject *object_unlock(PyObject *module, PyObject *obj)
{
    (void)module;
    if (pyo3cpp_object_unlock(obj) != 0) return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_RuntimeError, "not attached");
    Py_RETURN_NONE;
}

/* A thread Python never created attaches once through the runtime (and so passes its gate). */
static void *attach_once(void *result)
{
    pyo3cpp_attach_state state;
    *(int *)result = pyo3cpp_attach(&state);
    if (*(int *)result == 0) pyo3cpp_release_attach(&state);
    return NULL;
}

static PyObject *attach_from_thread(PyObject *module, PyObject *unused)
{
    pthread_t thread;
    int result = -1, started;
    void *token;
    (void)module;
    (void)unused;
    token = pyo3cpp_detach_begin();
    started = pthread_create(&thread, NULL, attach_once, &result) == 0;
    if (started) pthread_join(thread, NULL);
    pyo3cpp_detach_end(token);
    if (!started || result != 0) return PyErr_Format(PyExc_RuntimeError, "attach failed");
    Py_RETURN_NONE;
}

static int exec_module(PyObject *module)
{
    (void)module;
    return PYO3CPP_CHECK_RUNTIME("pyo3cpp_example._example_c");
}

static PyMethodDef methods[] = {
    {"greet", greet, METH_O, "Say hello."},
    {"runtime_info", runtime_info, METH_NOARGS, "The runtime this module is bound to."},
    {"defer_decref", defer_decref, METH_O, "Queue a decref of a new reference to obj."},
    {"pool_pending", pool_pending, METH_NOARGS, "Decrefs queued in the runtime's pool."},
    {"object_lock", object_lock, METH_O, "Take the runtime's object lock on obj."},
    {"object_unlock", object_unlock, METH_O, "Release the runtime's object lock on obj."},
    {"attach_from_thread", attach_from_thread, METH_NOARGS, "Attach once from a new thread."},
    {NULL, NULL, 0, NULL}};

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, (void *)(uintptr_t)exec_module},
#ifdef Py_GIL_DISABLED
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL}};

static PyModuleDef def = {PyModuleDef_HEAD_INIT, "pyo3cpp_example._example_c",
                          "The example wheel's C extension.", 0, methods, slots, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__example_c(void);
PyMODINIT_FUNC PyInit__example_c(void) { return PyModuleDef_Init(&def); }
