/* test_abi_sync.c — attachment, critical sections and the mutex through abi/pyo3cpp.h alone
 * (C99 + pthreads): the life cycle (before Py_Initialize, after Py_FinalizeEx), nesting, detach,
 * bad arguments, and races that must lose no update. */
#include <Python.h>

#include <pthread.h>
#include <string.h>

#include "pyo3cpp.h"
#include "tap.h"

static void test_not_running(const char *when)
{
    pyo3cpp_attach_state st;
    char name[128];
    snprintf(name, sizeof name, "%s: not attached", when);
    TAP_OK(pyo3cpp_is_attached() == 0, name);
    snprintf(name, sizeof name, "%s: attach and try_attach return -1", when);
    TAP_OK(pyo3cpp_attach(&st) == -1 && st.kind == 0 && pyo3cpp_try_attach(&st) == -1, name);
    pyo3cpp_release_attach(&st); /* no-op */
    snprintf(name, sizeof name, "%s: detach_begin returns NULL", when);
    TAP_OK(pyo3cpp_detach_begin() == NULL, name);
}

static int report_attached(void *ctx)
{
    *(int *)ctx = pyo3cpp_is_attached();
    return 23;
}

static void test_attach_nesting_and_detach(void)
{
    pyo3cpp_attach_state outer, inner;
    void *token;
    int inside = -1;
    TAP_OK(pyo3cpp_attach(NULL) == -1 && pyo3cpp_try_attach(NULL) == -1, "NULL state is -1");
    TAP_OK(pyo3cpp_attach(&outer) == 0 && outer.kind == 2, "attach attaches a detached thread");
    TAP_OK(pyo3cpp_try_attach(&inner) == 0 && inner.kind == 1, "nested try_attach only counts");
    pyo3cpp_release_attach(&inner);
    TAP_OK(pyo3cpp_is_attached() == 1, "releasing the nested attach keeps the thread attached");
    TAP_OK(pyo3cpp_detach(report_attached, &inside) == 23 && inside == 0,
           "pyo3cpp_detach runs fn detached and returns its result");
    TAP_OK(pyo3cpp_is_attached() == 1, "and re-attaches");
    TAP_OK(pyo3cpp_detach(NULL, NULL) == -1 && PyErr_ExceptionMatches(PyExc_ValueError),
           "pyo3cpp_detach(NULL) is -1 with ValueError");
    PyErr_Clear();
    token = pyo3cpp_detach_begin();
    TAP_OK(token != NULL && pyo3cpp_is_attached() == 0, "detach_begin detaches");
    pyo3cpp_detach_end(token);
    TAP_OK(pyo3cpp_is_attached() == 1, "detach_end re-attaches");
    pyo3cpp_release_attach(&outer);
    TAP_OK(pyo3cpp_is_attached() == 0, "release detaches the thread it attached");
}

static void test_critical_section_arguments(void)
{
    pyo3cpp_attach_state st;
    pyo3cpp_critical_section cs, cs2;
    PyObject *a, *b;
    TAP_OK(sizeof(pyo3cpp_critical_section) == 32, "critical section storage is 32 bytes");
    TAP_OK(pyo3cpp_critical_section_begin(&cs, Py_None) == -1, "not attached: begin is -1");
    pyo3cpp_critical_section_end(&cs); /* a failed begin ends as a no-op */
    pyo3cpp_attach(&st);
    a = PyList_New(0);
    b = PyDict_New();
    TAP_OK(pyo3cpp_critical_section_begin(NULL, a) == -1 && PyErr_ExceptionMatches(PyExc_ValueError),
           "NULL section: ValueError");
    PyErr_Clear();
    TAP_OK(pyo3cpp_critical_section_begin(&cs, NULL) == -1 && PyErr_ExceptionMatches(PyExc_ValueError),
           "NULL object: ValueError");
    PyErr_Clear();
    pyo3cpp_critical_section_end(&cs);
    TAP_OK(pyo3cpp_critical_section_begin2(&cs, a, NULL) == -1 &&
               PyErr_ExceptionMatches(PyExc_ValueError),
           "NULL second object: ValueError");
    PyErr_Clear();
    pyo3cpp_critical_section_end(NULL);
    TAP_OK(pyo3cpp_critical_section_begin(&cs, a) == 0, "begin on one object");
    TAP_OK(pyo3cpp_critical_section_begin2(&cs2, a, b) == 0, "nested begin2 (a, b)");
    pyo3cpp_critical_section_end(&cs2);
    pyo3cpp_critical_section_end(&cs);
    TAP_OK(pyo3cpp_critical_section_begin2(&cs, b, a) == 0, "begin2 (b, a)");
    pyo3cpp_critical_section_end(&cs);
    TAP_OK(pyo3cpp_critical_section_begin2(&cs, a, a) == 0, "begin2 (a, a) locks once");
    pyo3cpp_critical_section_end(&cs);
    TAP_OK(!PyErr_Occurred(), "no stray exception");
    Py_DECREF(a);
    Py_DECREF(b);
    pyo3cpp_release_attach(&st);
}

static void test_mutex_arguments(void)
{
    static pyo3cpp_mutex m = PYO3CPP_MUTEX_INIT;
    pyo3cpp_attach_state st;
    TAP_OK(sizeof(pyo3cpp_mutex) == 8, "mutex is 8 bytes");
    /* Not attached: errors are codes only. */
    TAP_OK(pyo3cpp_mutex_lock(NULL) == -1 && pyo3cpp_mutex_try_lock(NULL) == -1 &&
               pyo3cpp_mutex_unlock(NULL) == -1,
           "NULL mutex is -1 (detached)");
    TAP_OK(pyo3cpp_mutex_unlock(&m) == -1, "unlocking an unlocked mutex is -1 (detached)");
    TAP_OK(pyo3cpp_mutex_lock(&m) == 0, "lock while detached");
    TAP_OK(pyo3cpp_mutex_try_lock(&m) == 0, "try_lock on a held mutex is 0");
    TAP_OK(pyo3cpp_mutex_unlock(&m) == 0, "unlock");
    pyo3cpp_attach(&st);
    TAP_OK(pyo3cpp_mutex_lock(NULL) == -1 && PyErr_ExceptionMatches(PyExc_ValueError),
           "NULL lock: ValueError (attached)");
    PyErr_Clear();
    TAP_OK(pyo3cpp_mutex_try_lock(NULL) == -1 && PyErr_ExceptionMatches(PyExc_ValueError),
           "NULL try_lock: ValueError");
    PyErr_Clear();
    TAP_OK(pyo3cpp_mutex_unlock(NULL) == -1 && PyErr_ExceptionMatches(PyExc_ValueError),
           "NULL unlock: ValueError");
    PyErr_Clear();
    TAP_OK(pyo3cpp_mutex_unlock(&m) == -1 && PyErr_ExceptionMatches(PyExc_RuntimeError),
           "unlock of an unlocked mutex: RuntimeError");
    PyErr_Clear();
    TAP_OK(pyo3cpp_mutex_try_lock(&m) == 1, "try_lock acquires");
    TAP_OK(pyo3cpp_mutex_unlock(&m) == 0, "and unlocks");
    TAP_OK(pyo3cpp_mutex_try_lock(&m) == 1 && pyo3cpp_mutex_unlock(&m) == 0,
           "still usable after the bad unlock");
    TAP_OK(!PyErr_Occurred(), "no stray exception");
    pyo3cpp_release_attach(&st);
}

/* ------------------------------------------------------------------ races */

enum { kThreads = 8, kRounds = 5000 };
static pyo3cpp_mutex g_lock = PYO3CPP_MUTEX_INIT;
static long g_counter = 0;
static PyObject *g_dict, *g_list, *g_key;
static int g_errors = 0;

/* Half the threads attach (their waits detach), half never do. */
static void *mutex_worker(void *arg)
{
    long id = (long)arg;
    pyo3cpp_attach_state st;
    int i;
    if (id % 2) pyo3cpp_attach(&st);
    for (i = 0; i < kRounds; ++i) {
        long seen;
        if (pyo3cpp_mutex_lock(&g_lock) != 0) ++g_errors;
        seen = g_counter;
        g_counter = seen + 1;
        if (pyo3cpp_mutex_unlock(&g_lock) != 0) ++g_errors;
    }
    if (id % 2) pyo3cpp_release_attach(&st);
    return NULL;
}

/* list[0] += 1 and dict["cell"][0] += 1 as separate reads and writes. Only accessors that do
 * not lock the same object again: on CPython 3.13 a nested critical section on a mutex the
 * thread already holds (PyDict_SetItem and PyList_SetItem open one) suspends the outer one. */
static void increment_slot(PyObject *list)
{
    PyObject *old = PyList_GET_ITEM(list, 0);
    PyList_SET_ITEM(list, 0, PyLong_FromLong(PyLong_AsLong(old) + 1));
    Py_DECREF(old);
}

static void increment(PyObject *dict, PyObject *list)
{
    increment_slot(PyDict_GetItemWithError(dict, g_key));
    increment_slot(list);
}

static void *section_worker(void *arg)
{
    long id = (long)arg;
    pyo3cpp_attach_state st;
    pyo3cpp_critical_section cs;
    int i;
    pyo3cpp_attach(&st);
    for (i = 0; i < kRounds; ++i) {
        /* Alternate (dict, list) and (list, dict): the global order prevents deadlock. */
        int rc = ((id + i) % 2) ? pyo3cpp_critical_section_begin2(&cs, g_dict, g_list)
                                : pyo3cpp_critical_section_begin2(&cs, g_list, g_dict);
        if (rc != 0) ++g_errors;
        increment(g_dict, g_list);
        pyo3cpp_critical_section_end(&cs);
    }
    pyo3cpp_release_attach(&st);
    return NULL;
}

static void run(void *(*worker)(void *))
{
    pthread_t threads[kThreads];
    long t;
    void *token = pyo3cpp_detach_begin(); /* NULL when the caller is not attached */
    for (t = 0; t < kThreads; ++t) pthread_create(&threads[t], NULL, worker, (void *)t);
    for (t = 0; t < kThreads; ++t) pthread_join(threads[t], NULL);
    pyo3cpp_detach_end(token);
}

static void test_races(void)
{
    pyo3cpp_attach_state st;
    run(mutex_worker);
    TAP_OK(g_counter == (long)kThreads * kRounds && g_errors == 0,
           "pyo3cpp_mutex: 8 threads (attached and not) lose no update");
    pyo3cpp_attach(&st);
    g_dict = Py_BuildValue("{s:[i]}", "cell", 0);
    g_list = Py_BuildValue("[i]", 0);
    g_key = PyUnicode_FromString("cell");
    pyo3cpp_release_attach(&st);
    run(section_worker);
    pyo3cpp_attach(&st);
    TAP_OK(PyLong_AsLong(PyList_GET_ITEM(PyDict_GetItemWithError(g_dict, g_key), 0)) ==
                   (long)kThreads * kRounds &&
               PyLong_AsLong(PyList_GET_ITEM(g_list, 0)) == (long)kThreads * kRounds && g_errors == 0,
           "two-object critical sections in both orders: no deadlock, no lost update");
    Py_DECREF(g_dict);
    Py_DECREF(g_list);
    Py_DECREF(g_key);
    pyo3cpp_release_attach(&st);
}

int main(void)
{
    PyThreadState *main_state;
    test_not_running("before Py_Initialize");
    Py_InitializeEx(0);
    main_state = PyEval_SaveThread();
    test_attach_nesting_and_detach();
    test_critical_section_arguments();
    test_mutex_arguments();
    test_races();
    PyEval_RestoreThread(main_state);
    TAP_OK(Py_FinalizeEx() == 0, "interpreter finalised cleanly");
    test_not_running("after Py_FinalizeEx");
    return TAP_DONE();
}
