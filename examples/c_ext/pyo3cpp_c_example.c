/* pyo3cpp_c_example — a C99 extension written against abi/pyo3cpp.h and CPython's C API only.
 * It shows the four things the C ABI gives C authors, correct on GIL and free-threaded builds:
 *
 *   gate_wait(timeout) / gate_open()   blocking on a C condition variable DETACHED, so the thread
 *                                      that will open the gate can run (GIL build) and a
 *                                      stop-the-world gc.collect() can proceed (free-threaded)
 *   call_from_new_thread(f, n)         a pthread Python never created ATTACHES, calls f(0..n-1),
 *                                      and its exception comes back to the caller
 *   append_if_absent(lst, x)           "contains, else append" made atomic by a pyo3cpp_mutex
 *   locked_sum(lst)                    a consistent snapshot under a CRITICAL SECTION
 *   shared_registry()                  a dict created exactly once: ONCE-CELL (blocking)
 *   flaky_value(fail)                  a failing initialiser leaves the cell empty for a retry
 *   get_name(obj) / json_dumps(obj)    INTERNED attribute name; IMPORT CACHED once
 *
 *   >>> import pyo3cpp_c_example as m
 *   >>> items = []; m.append_if_absent(items, 1), m.append_if_absent(items, 1), items
 *   (True, False, [1])
 *
 * Module state lives in static cells: one interpreter per process (declared below). */
#include <Python.h>

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <time.h>

#include "pyo3cpp.h"

/* ------------------------------------------------------------ detach: gate */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_is_open = 0;

struct gate_wait_job {
    double timeout;
    int opened;
};

/* Runs detached: no Python API here. */
static int gate_wait_detached(void *ctx)
{
    struct gate_wait_job *job = (struct gate_wait_job *)ctx;
    struct timespec deadline;
    int rc = 0;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)job->timeout;
    deadline.tv_nsec += (long)((job->timeout - (double)(time_t)job->timeout) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec += 1;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&gate_lock);
    while (!gate_is_open && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&gate_cond, &gate_lock, &deadline);
    job->opened = gate_is_open;
    pthread_mutex_unlock(&gate_lock);
    return 0;
}

static PyObject *gate_wait(PyObject *module, PyObject *arg)
{
    struct gate_wait_job job;
    (void)module;
    job.timeout = PyFloat_AsDouble(arg);
    job.opened = 0;
    if (job.timeout == -1.0 && PyErr_Occurred()) return NULL;
    if (job.timeout < 0 || job.timeout > 3600) {
        PyErr_SetString(PyExc_ValueError, "gate_wait: timeout must be in [0, 3600] seconds");
        return NULL;
    }
    if (pyo3cpp_detach(gate_wait_detached, &job) != 0) return NULL;
    return PyBool_FromLong(job.opened);
}

static PyObject *gate_set(int open)
{
    pthread_mutex_lock(&gate_lock); /* held for a few instructions: no need to detach */
    gate_is_open = open;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    Py_RETURN_NONE;
}
static PyObject *gate_open(PyObject *module, PyObject *unused) { (void)module; (void)unused; return gate_set(1); }
static PyObject *gate_close(PyObject *module, PyObject *unused) { (void)module; (void)unused; return gate_set(0); }

/* ------------------------------------------------ attach from a foreign thread */

struct call_job {
    PyObject *callable; /* borrowed: the caller's argument outlives the join */
    long count;
    PyObject *results;  /* new reference, or NULL with `error` */
    PyObject *error;    /* the exception raised on the thread (owned), or NULL */
    int attach_failed;
};

static void *call_job_thread(void *raw)
{
    struct call_job *job = (struct call_job *)raw;
    pyo3cpp_attach_state attached;
    long i;
    if (pyo3cpp_attach(&attached) != 0) { /* interpreter finalising: nothing to do */
        job->attach_failed = 1;
        return NULL;
    }
    job->results = PyList_New(0);
    for (i = 0; job->results != NULL && i < job->count; ++i) {
        PyObject *result = PyObject_CallFunction(job->callable, "l", i);
        if (result == NULL || PyList_Append(job->results, result) != 0) Py_CLEAR(job->results);
        Py_XDECREF(result);
    }
    if (job->results == NULL) {
#if PY_VERSION_HEX >= 0x030C0000
        job->error = PyErr_GetRaisedException();
#else
        PyObject *type, *traceback;
        PyErr_Fetch(&type, &job->error, &traceback);
        PyErr_NormalizeException(&type, &job->error, &traceback);
        if (job->error != NULL && traceback != NULL) PyException_SetTraceback(job->error, traceback);
        Py_XDECREF(type);
        Py_XDECREF(traceback);
#endif
    }
    pyo3cpp_release_attach(&attached);
    return NULL;
}

static int join_detached(void *ctx)
{
    return pthread_join(*(pthread_t *)ctx, NULL) == 0 ? 0 : -2;
}

static PyObject *call_from_new_thread(PyObject *module, PyObject *args)
{
    struct call_job job = {NULL, 0, NULL, NULL, 0};
    pthread_t thread;
    int rc;
    (void)module;
    if (!PyArg_ParseTuple(args, "Ol:call_from_new_thread", &job.callable, &job.count)) return NULL;
    if (!PyCallable_Check(job.callable)) {
        PyErr_SetString(PyExc_TypeError, "call_from_new_thread: the first argument must be callable");
        return NULL;
    }
    if (pthread_create(&thread, NULL, call_job_thread, &job) != 0) {
        PyErr_SetString(PyExc_RuntimeError, "call_from_new_thread: pthread_create failed");
        return NULL;
    }
    /* Join detached: the new thread needs to attach (on a GIL build: take the GIL we hold). */
    rc = pyo3cpp_detach(join_detached, &thread);
    if (rc != 0) {
        PyErr_SetString(PyExc_RuntimeError, "call_from_new_thread: pthread_join failed");
        return NULL;
    }
    if (job.attach_failed) {
        PyErr_SetString(PyExc_RuntimeError, "call_from_new_thread: the thread could not attach");
        return NULL;
    }
    if (job.results == NULL) {
#if PY_VERSION_HEX >= 0x030C0000
        PyErr_SetRaisedException(job.error);
#else
        PyObject *type = (PyObject *)Py_TYPE(job.error);
        Py_INCREF(type);
        PyErr_Restore(type, job.error, PyException_GetTraceback(job.error)); /* steals all three */
#endif
        return NULL;
    }
    return job.results;
}

/* ------------------------------------------------------- critical section */

/* Appends `item` unless the list already contains it, atomically with respect to other
 * append_if_absent calls. A pyo3cpp_mutex, not a critical section: PyList_Append locks the list
 * itself, and on CPython 3.13t a nested section on the same object SUSPENDS the outer one (it
 * has no recursive fast path), so another thread could slip in between the check and the
 * append. The mutex detaches while it waits, so it cannot deadlock with the GIL or a GC. */
static pyo3cpp_mutex append_lock = PYO3CPP_MUTEX_INIT;

static PyObject *append_if_absent(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *list, *item;
    int found, appended = 0;
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "append_if_absent(list, item) takes exactly 2 arguments");
        return NULL;
    }
    list = args[0];
    item = args[1];
    if (!PyList_Check(list)) {
        PyErr_Format(PyExc_TypeError, "append_if_absent: expected a list, got %.100s",
                     Py_TYPE(list)->tp_name);
        return NULL;
    }
    if (pyo3cpp_mutex_lock(&append_lock) != 0) return NULL;
    found = PySequence_Contains(list, item);
    if (found == 0) appended = PyList_Append(list, item) == 0 ? 1 : -1;
    pyo3cpp_mutex_unlock(&append_lock);
    if (found < 0 || appended < 0) return NULL;
    return PyBool_FromLong(appended);
}

/* Sum of a list of ints read under a CRITICAL SECTION on the list: a consistent snapshot
 * while other threads append (free-threaded: no item array is freed under us). Only macros
 * that take no lock of their own are used inside the section, for the reason above. */
static PyObject *locked_sum(PyObject *module, PyObject *list)
{
    pyo3cpp_critical_section section;
    Py_ssize_t i, size;
    long long total = 0;
    /* Why the loop stopped early. Errors are raised after the section ends, so every exit
     * passes through the one pyo3cpp_critical_section_end below. */
    enum { SUM_OK, SUM_NOT_INT, SUM_ITEM_TOO_BIG, SUM_TOTAL_TOO_BIG } failure = SUM_OK;
    (void)module;
    if (!PyList_Check(list)) {
        PyErr_SetString(PyExc_TypeError, "locked_sum: expected a list");
        return NULL;
    }
    if (pyo3cpp_critical_section_begin(&section, list) != 0) return NULL;
    size = PyList_GET_SIZE(list);
    for (i = 0; i < size && failure == SUM_OK; ++i) {
        PyObject *item = PyList_GET_ITEM(list, i);
        long long value;
        if (!PyLong_CheckExact(item)) {
            failure = SUM_NOT_INT;
            break;
        }
        /* -1 is also a valid value: only -1 with an error set is a failure (the item does
         * not fit in a long long: OverflowError, replaced below by one naming locked_sum). */
        value = PyLong_AsLongLong(item);
        if (value == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            failure = SUM_ITEM_TOO_BIG;
            break;
        }
        /* Signed overflow is undefined behaviour in C: check before adding. */
        if ((value > 0 && total > LLONG_MAX - value) || (value < 0 && total < LLONG_MIN - value)) {
            failure = SUM_TOTAL_TOO_BIG;
            break;
        }
        total += value;
    }
    pyo3cpp_critical_section_end(&section);
    switch (failure) {
    case SUM_NOT_INT:
        PyErr_SetString(PyExc_TypeError, "locked_sum: items must be ints");
        return NULL;
    case SUM_ITEM_TOO_BIG:
        PyErr_Format(PyExc_OverflowError,
                     "locked_sum: item %zd does not fit in a 64-bit signed integer", i);
        return NULL;
    case SUM_TOTAL_TOO_BIG:
        PyErr_Format(PyExc_OverflowError,
                     "locked_sum: the sum overflows a 64-bit signed integer at item %zd", i);
        return NULL;
    case SUM_OK:
        break;
    }
    return Py_BuildValue("(nL)", size, total);
}

/* --------------------------------------------------------------- once-cells */

static pyo3cpp_object_cell registry_cell = PYO3CPP_OBJECT_CELL_INIT;
static long registry_inits = 0; /* how many times the initialiser ran (atomic) */

static int sleep_20ms(void *ctx)
{
    struct timespec pause = {0, 20 * 1000 * 1000};
    (void)ctx;
    nanosleep(&pause, NULL);
    return 0;
}

static PyObject *make_registry(void *ctx)
{
    PyObject *registry;
    (void)ctx;
    __atomic_fetch_add(&registry_inits, 1, __ATOMIC_RELAXED);
    /* Slow on purpose, and detached meanwhile: concurrent callers must wait, not run it too. */
    if (pyo3cpp_detach(sleep_20ms, NULL) != 0) return NULL;
    registry = PyDict_New();
    if (registry != NULL && PyDict_SetItemString(registry, "created_by", Py_None) != 0) Py_CLEAR(registry);
    return registry;
}

static PyObject *shared_registry(PyObject *module, PyObject *unused)
{
    PyObject *registry;
    (void)module;
    (void)unused;
    registry = pyo3cpp_object_cell_get_or_init(&registry_cell, make_registry, NULL, "registry");
    Py_XINCREF(registry); /* the cell lends it; the caller gets its own reference */
    return registry;
}

static PyObject *registry_init_count(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyLong_FromLong(__atomic_load_n(&registry_inits, __ATOMIC_RELAXED));
}

static pyo3cpp_object_cell flaky_cell = PYO3CPP_OBJECT_CELL_INIT;

static PyObject *make_flaky(void *ctx)
{
    if (*(int *)ctx) {
        PyErr_SetString(PyExc_ValueError, "flaky_value: initialiser failed as asked");
        return NULL;
    }
    return PyUnicode_FromString("initialised");
}

static PyObject *flaky_value(PyObject *module, PyObject *arg)
{
    int fail = PyObject_IsTrue(arg);
    PyObject *value;
    (void)module;
    if (fail < 0) return NULL;
    value = pyo3cpp_object_cell_get_or_init(&flaky_cell, make_flaky, &fail, "flaky");
    Py_XINCREF(value);
    return value;
}

/* ---------------------------------------------------- interning and imports */

static PyObject *get_name(PyObject *module, PyObject *obj)
{
    static pyo3cpp_object_cell name_cell = PYO3CPP_OBJECT_CELL_INIT;
    PyObject *name = pyo3cpp_intern(&name_cell, "name"); /* borrowed, created once */
    (void)module;
    return name == NULL ? NULL : PyObject_GetAttr(obj, name);
}

static PyObject *interned_name(PyObject *module, PyObject *unused)
{
    static pyo3cpp_object_cell name_cell = PYO3CPP_OBJECT_CELL_INIT;
    PyObject *name = pyo3cpp_intern(&name_cell, "pyo3cpp_c_example.interned");
    (void)module;
    (void)unused;
    Py_XINCREF(name);
    return name;
}

static PyObject *json_dumps(PyObject *module, PyObject *obj)
{
    static pyo3cpp_object_cell dumps_cell = PYO3CPP_OBJECT_CELL_INIT;
    PyObject *dumps = pyo3cpp_import_cached(&dumps_cell, "json", "dumps");
    (void)module;
    return dumps == NULL ? NULL : PyObject_CallOneArg(dumps, obj);
}

/* ------------------------------------------------------------------ module */

static PyMethodDef methods[] = {
    {"gate_wait", gate_wait, METH_O,
     "gate_wait(timeout) -> bool: wait detached until gate_open(); False on timeout."},
    {"gate_open", gate_open, METH_NOARGS, "Open the gate, waking every gate_wait()."},
    {"gate_close", gate_close, METH_NOARGS, "Close the gate again."},
    {"call_from_new_thread", call_from_new_thread, METH_VARARGS,
     "call_from_new_thread(f, n) -> [f(0), ..., f(n-1)] called on a new pthread that attaches."},
    {"append_if_absent", (PyCFunction)(void (*)(void))append_if_absent, METH_FASTCALL,
     "append_if_absent(list, item) -> bool: append unless present, atomically."},
    {"locked_sum", locked_sum, METH_O, "locked_sum(list) -> (len, sum) read under a critical section."},
    {"shared_registry", shared_registry, METH_NOARGS, "The process-wide dict, created once."},
    {"registry_init_count", registry_init_count, METH_NOARGS,
     "How many times shared_registry's initialiser ran."},
    {"flaky_value", flaky_value, METH_O,
     "flaky_value(fail) -> str: a once-cell whose initialiser raises when `fail` is true."},
    {"get_name", get_name, METH_O, "obj.name, through an interned attribute name."},
    {"interned_name", interned_name, METH_NOARGS, "The interned str 'pyo3cpp_c_example.interned'."},
    {"json_dumps", json_dumps, METH_O, "json.dumps(obj), with json.dumps imported once."},
    {NULL, NULL, 0, NULL}};

static int exec_module(PyObject *module)
{
    int major = 0, minor = 0, free_threaded = 0;
    /* First: refuse to run against a libpyo3cpp.so built for another ABI or Python. */
    if (PYO3CPP_CHECK_RUNTIME("pyo3cpp_c_example") != 0) return -1;
    pyo3cpp_runtime_python(&major, &minor, &free_threaded);
    return PyModule_AddIntConstant(module, "RUNTIME_FREE_THREADED", free_threaded);
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, (void *)(uintptr_t)exec_module}, /* ISO C: via an integer */
#if PY_VERSION_HEX >= 0x030C0000
    /* The once-cells are static: their objects belong to one interpreter. */
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED},
#endif
#if PY_VERSION_HEX >= 0x030D0000
    /* Safe without the GIL: shared state is behind critical sections, once-cells and a mutex. */
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "pyo3cpp_c_example",
    "A C99 extension using pyo3cpp's C ABI: detach, attach, critical sections, once-cells.",
    0, methods, slots, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit_pyo3cpp_c_example(void);
PyMODINIT_FUNC PyInit_pyo3cpp_c_example(void) { return PyModuleDef_Init(&module_def); }
