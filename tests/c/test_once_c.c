/* test_once_c.c — once-cells from C99 through abi/pyo3cpp.h and CPython's C API alone (plus
 * libc and pthreads): the blocking object cell (exactly one initialiser, waiters detached),
 * the racing one (losers released), set/take/clear, recursion, failure and retry, intern and
 * import_cached. Output is TAP. */
#include <Python.h>

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "pyo3cpp.h"
#include "tap.h"

#define THREADS 8
#define ROUNDS 1000
#define MAX_MADE (THREADS * 2)

/* ------------------------------------------------------------ race harness */

/* One race: THREADS workers and the main thread meet at `start`, the workers each call the
 * cell once (attached), record what they saw, and meet the main thread again at `done`. */
struct race {
    pthread_barrier_t start, done;
    pyo3cpp_object_cell cell;
    int blocking;              /* 1: get_or_init, 0: get_or_race */
    int stop;
    long init_calls;           /* initialiser runs this round (atomic) */
    long made_count;           /* objects made this round (atomic) */
    PyObject *made[MAX_MADE];  /* each made object, with one extra reference held by the test */
    PyObject *seen[THREADS];   /* what each worker got back */
};

static struct race g_race;

static void pause_detached_briefly(void)
{
    /* Widen the window in which others find the initialiser running; must not touch Python. */
    struct timespec ts = {0, 20000};
    nanosleep(&ts, NULL);
}

static int sleep_cb(void *ctx)
{
    (void)ctx;
    pause_detached_briefly();
    return 0;
}

static PyObject *race_init(void *ctx)
{
    struct race *r = (struct race *)ctx;
    PyObject *obj;
    long slot;
    __atomic_fetch_add(&r->init_calls, 1, __ATOMIC_SEQ_CST);
    /* Detached for a moment: waiters must really wait (blocking), and on a GIL build other
     * threads get in and run their own initialiser (racing). */
    pyo3cpp_detach(sleep_cb, NULL);
    obj = PyList_New(0);
    if (obj == NULL) return NULL;
    slot = __atomic_fetch_add(&r->made_count, 1, __ATOMIC_SEQ_CST);
    if (slot < MAX_MADE) {
        Py_INCREF(obj); /* the test's own reference, to check refcounts after the round */
        r->made[slot] = obj;
    }
    return obj;
}

static void *race_worker(void *arg)
{
    long index = (long)arg;
    for (;;) {
        pyo3cpp_attach_state st;
        PyObject *got;
        pthread_barrier_wait(&g_race.start);
        if (g_race.stop) break;
        if (pyo3cpp_attach(&st) != 0) {
            g_race.seen[index] = NULL;
        } else {
            got = g_race.blocking
                      ? pyo3cpp_object_cell_get_or_init(&g_race.cell, race_init, &g_race, "race")
                      : pyo3cpp_object_cell_get_or_race(&g_race.cell, race_init, &g_race);
            if (got == NULL) PyErr_Clear();
            g_race.seen[index] = got;
            pyo3cpp_release_attach(&st);
        }
        pthread_barrier_wait(&g_race.done);
    }
    return NULL;
}

/* Runs ROUNDS rounds; returns the number of rounds that broke the contract (0 expected). */
static int run_race(int blocking, long *total_init_calls)
{
    pthread_t threads[THREADS];
    int bad_rounds = 0, round, i;
    long t;
    memset(&g_race, 0, sizeof g_race);
    g_race.blocking = blocking;
    pthread_barrier_init(&g_race.start, NULL, THREADS + 1);
    pthread_barrier_init(&g_race.done, NULL, THREADS + 1);
    for (t = 0; t < THREADS; ++t) pthread_create(&threads[t], NULL, race_worker, (void *)t);
    *total_init_calls = 0;
    for (round = 0; round < ROUNDS; ++round) {
        pyo3cpp_object_cell fresh = PYO3CPP_OBJECT_CELL_INIT;
        pyo3cpp_attach_state st;
        PyObject *stored;
        int ok = 1;
        g_race.cell = fresh;
        g_race.init_calls = 0;
        g_race.made_count = 0;
        pthread_barrier_wait(&g_race.start); /* detached: workers attach and race */
        pthread_barrier_wait(&g_race.done);
        *total_init_calls += g_race.init_calls;
        pyo3cpp_attach(&st);
        stored = pyo3cpp_object_cell_get(&g_race.cell);
        if (stored == NULL) ok = 0;
        if (blocking && g_race.init_calls != 1) ok = 0;
        if (g_race.made_count > MAX_MADE || g_race.made_count < 1) ok = 0;
        for (i = 0; i < THREADS; ++i)
            if (g_race.seen[i] != stored) ok = 0;
        /* Exact reference accounting: the stored object has the cell's reference and ours; every
         * loser only ours (its maker's reference was released when it lost). */
        for (i = 0; i < g_race.made_count && i < MAX_MADE; ++i) {
            Py_ssize_t expected = g_race.made[i] == stored ? 2 : 1;
            if (Py_REFCNT(g_race.made[i]) != expected) ok = 0;
        }
        for (i = 0; i < g_race.made_count && i < MAX_MADE; ++i) Py_DECREF(g_race.made[i]);
        pyo3cpp_object_cell_clear(&g_race.cell); /* not static: unregister before reuse */
        if (pyo3cpp_object_cell_get(&g_race.cell) != NULL) ok = 0;
        pyo3cpp_release_attach(&st);
        if (!ok) {
            if (bad_rounds < 3)
                printf("#   round %d: init_calls=%ld made=%ld\n", round, g_race.init_calls,
                       g_race.made_count);
            ++bad_rounds;
        }
    }
    g_race.stop = 1;
    pthread_barrier_wait(&g_race.start);
    for (t = 0; t < THREADS; ++t) pthread_join(threads[t], NULL);
    pthread_barrier_destroy(&g_race.start);
    pthread_barrier_destroy(&g_race.done);
    return bad_rounds;
}

static void test_races(void)
{
    long inits = 0;
    int bad = run_race(1, &inits);
    TAP_OK(bad == 0, "get_or_init: 8 threads x 1000 rounds: one initialiser per round, one object");
    printf("#   get_or_init: %ld initialiser runs in %d rounds\n", inits, ROUNDS);
    bad = run_race(0, &inits);
    TAP_OK(bad == 0, "get_or_race: 8 threads x 1000 rounds: all saw the stored object, losers "
                     "released exactly");
    printf("#   get_or_race: %ld initialiser runs in %d rounds (more than one: real races)\n",
           inits, ROUNDS);
}

/* --------------------------------------------------------------- semantics */

static pyo3cpp_object_cell g_recursive = PYO3CPP_OBJECT_CELL_INIT;

static PyObject *recursive_init(void *ctx)
{
    (void)ctx;
    /* Re-enters the cell whose initialiser is running on this thread. */
    return pyo3cpp_object_cell_get_or_init(&g_recursive, recursive_init, NULL, "my.recursive");
}

static int error_message_contains(const char *needle)
{
    PyObject *type, *value, *tb, *text;
    int found = 0;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    text = value ? PyObject_Str(value) : NULL;
    if (text != NULL) {
        const char *utf8 = PyUnicode_AsUTF8(text);
        found = utf8 != NULL && strstr(utf8, needle) != NULL;
        if (!found) printf("#   message was: %s\n", utf8 ? utf8 : "(none)");
    }
    PyErr_Clear();
    Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return found;
}

static void test_recursion(void)
{
    PyObject *got = pyo3cpp_object_cell_get_or_init(&g_recursive, recursive_init, NULL,
                                                    "my.recursive");
    TAP_OK(got == NULL && PyErr_ExceptionMatches(PyExc_RuntimeError),
           "recursive get_or_init raises RuntimeError (no hang)");
    TAP_OK(error_message_contains("my.recursive"), "the RuntimeError names the cell");
    TAP_OK(pyo3cpp_object_cell_get(&g_recursive) == NULL, "the cell stays empty");
}

static int g_fail_calls = 0;

static PyObject *failing_then_ok(void *ctx)
{
    (void)ctx;
    if (++g_fail_calls == 1) {
        PyErr_SetString(PyExc_ValueError, "first attempt fails");
        return NULL;
    }
    return PyLong_FromLong(12345678);
}

static PyObject *null_without_error(void *ctx)
{
    (void)ctx;
    return NULL;
}

static void test_failure_and_retry(void)
{
    static pyo3cpp_object_cell cell = PYO3CPP_OBJECT_CELL_INIT;
    static pyo3cpp_object_cell silent = PYO3CPP_OBJECT_CELL_INIT;
    PyObject *got = pyo3cpp_object_cell_get_or_init(&cell, failing_then_ok, NULL, "retry");
    TAP_OK(got == NULL && PyErr_ExceptionMatches(PyExc_ValueError),
           "failing init propagates its exception");
    PyErr_Clear();
    TAP_OK(pyo3cpp_object_cell_get(&cell) == NULL, "failed init leaves the cell empty");
    got = pyo3cpp_object_cell_get_or_init(&cell, failing_then_ok, NULL, "retry");
    TAP_OK(got != NULL && PyLong_AsLong(got) == 12345678 && g_fail_calls == 2,
           "the next call retries and succeeds");
    TAP_OK(pyo3cpp_object_cell_get(&cell) == got, "fast getter returns the stored object");
    got = pyo3cpp_object_cell_get_or_race(&silent, null_without_error, NULL);
    TAP_OK(got == NULL && PyErr_ExceptionMatches(PyExc_SystemError),
           "init returning NULL without an exception becomes SystemError");
    PyErr_Clear();
    got = pyo3cpp_object_cell_get_or_init(&silent, null_without_error, NULL, "silent");
    TAP_OK(got == NULL && PyErr_ExceptionMatches(PyExc_SystemError),
           "same through get_or_init");
    PyErr_Clear();
    TAP_OK(pyo3cpp_object_cell_get_or_init(NULL, failing_then_ok, NULL, "x") == NULL &&
               PyErr_ExceptionMatches(PyExc_ValueError),
           "NULL cell is a ValueError");
    PyErr_Clear();
    TAP_OK(pyo3cpp_once_run(NULL, NULL, NULL, NULL) == -1 &&
               PyErr_ExceptionMatches(PyExc_ValueError),
           "once_run with NULL is a ValueError");
    PyErr_Clear();
}

/* get_or_race whose initialiser fills the cell itself before returning: its own object loses
 * deterministically and must be released. */
static pyo3cpp_object_cell g_reentrant = PYO3CPP_OBJECT_CELL_INIT;
static PyObject *g_inner_value = NULL, *g_outer_value = NULL;

static PyObject *inner_init(void *ctx)
{
    (void)ctx;
    g_inner_value = PyList_New(0);
    return g_inner_value;
}

static PyObject *outer_init(void *ctx)
{
    (void)ctx;
    if (pyo3cpp_object_cell_get_or_race(&g_reentrant, inner_init, NULL) == NULL) return NULL;
    g_outer_value = PyList_New(0);
    Py_XINCREF(g_outer_value); /* ours, to watch its count */
    return g_outer_value;
}

static void test_race_loser_released(void)
{
    PyObject *got = pyo3cpp_object_cell_get_or_race(&g_reentrant, outer_init, NULL);
    TAP_OK(got != NULL && got == g_inner_value, "the first value stored wins");
    TAP_OK(g_outer_value != NULL && Py_REFCNT(g_outer_value) == 1,
           "the loser's reference was released (only ours is left)");
    TAP_OK(Py_REFCNT(g_inner_value) == 1, "the winner holds exactly the cell's reference");
    Py_XDECREF(g_outer_value);
}

static void test_set_take_clear(void)
{
    pyo3cpp_object_cell cell = PYO3CPP_OBJECT_CELL_INIT;
    PyObject *a = PyList_New(0), *b = PyList_New(0), *taken;
    Py_INCREF(a);
    Py_INCREF(b);
    TAP_OK(pyo3cpp_object_cell_set(&cell, a) == 1, "set on an empty cell stores");
    TAP_OK(pyo3cpp_object_cell_get(&cell) == a, "get sees the set value");
    TAP_OK(pyo3cpp_object_cell_set(&cell, b) == 0 && Py_REFCNT(b) == 1,
           "set on a full cell returns 0 and releases the value");
    taken = pyo3cpp_object_cell_take(&cell);
    TAP_OK(taken == a && Py_REFCNT(a) == 2 && pyo3cpp_object_cell_get(&cell) == NULL,
           "take returns the reference and empties the cell");
    Py_DECREF(taken);
    TAP_OK(pyo3cpp_object_cell_take(&cell) == NULL && !PyErr_Occurred(),
           "take on an empty cell is NULL without an exception");
    Py_INCREF(b); /* the reference the cell will own */
    TAP_OK(pyo3cpp_object_cell_set(&cell, b) == 1, "set again after take");
    pyo3cpp_object_cell_clear(&cell);
    TAP_OK(Py_REFCNT(b) == 1 && pyo3cpp_object_cell_get(&cell) == NULL,
           "clear releases the object and empties the cell");
    TAP_OK(pyo3cpp_object_cell_set(&cell, NULL) == -1 && PyErr_ExceptionMatches(PyExc_ValueError),
           "set NULL is a ValueError");
    PyErr_Clear();
    pyo3cpp_object_cell_clear(NULL);
    pyo3cpp_on_finalize_cancel(NULL, NULL);
    Py_DECREF(a);
    Py_DECREF(b);
}

static void test_intern(void)
{
    static pyo3cpp_object_cell cell = PYO3CPP_OBJECT_CELL_INIT;
    static pyo3cpp_object_cell bad = PYO3CPP_OBJECT_CELL_INIT;
    PyObject *first = pyo3cpp_intern(&cell, "pyo3cpp_c_interned_name");
    PyObject *second = pyo3cpp_intern(&cell, "pyo3cpp_c_interned_name");
    PyObject *reference = PyUnicode_InternFromString("pyo3cpp_c_interned_name");
    TAP_OK(first != NULL && first == second, "intern returns the same object each time");
    TAP_OK(first == reference, "the cached str is the interned one");
    Py_XDECREF(reference);
    TAP_OK(pyo3cpp_intern(&bad, "\xff\xfe") == NULL &&
               PyErr_ExceptionMatches(PyExc_UnicodeDecodeError),
           "invalid UTF-8 is a UnicodeDecodeError");
    PyErr_Clear();
    TAP_OK(pyo3cpp_intern(&bad, NULL) == NULL && PyErr_ExceptionMatches(PyExc_ValueError),
           "NULL string is a ValueError");
    PyErr_Clear();
}

static void test_import_cached(void)
{
    static pyo3cpp_object_cell path = PYO3CPP_OBJECT_CELL_INIT;
    static pyo3cpp_object_cell missing_module = PYO3CPP_OBJECT_CELL_INIT;
    static pyo3cpp_object_cell missing_attr = PYO3CPP_OBJECT_CELL_INIT;
    static pyo3cpp_object_cell later = PYO3CPP_OBJECT_CELL_INIT;
    PyObject *os_path = pyo3cpp_import_cached(&path, "os", "path");
    PyObject *module, *got;
    TAP_OK(os_path != NULL && pyo3cpp_import_cached(&path, "os", "path") == os_path,
           "import_cached returns the same object each time");
    TAP_OK(pyo3cpp_import_cached(&missing_module, "pyo3cpp_no_such_module", NULL) == NULL &&
               PyErr_ExceptionMatches(PyExc_ImportError),
           "missing module is an ImportError");
    PyErr_Clear();
    TAP_OK(pyo3cpp_import_cached(&missing_attr, "os", "pyo3cpp_no_such_attr") == NULL &&
               PyErr_ExceptionMatches(PyExc_AttributeError),
           "missing attribute is an AttributeError");
    TAP_OK(error_message_contains("pyo3cpp_no_such_attr") , "the AttributeError names the attr");
    /* Failure is not cached: make the module appear, and the same cell succeeds. */
    TAP_OK(pyo3cpp_import_cached(&later, "pyo3cpp_c_late_module", "value") == NULL,
           "module absent at first");
    PyErr_Clear();
    module = PyModule_New("pyo3cpp_c_late_module");
    PyModule_AddObject(module, "value", PyLong_FromLong(99));
    PyDict_SetItemString(PyImport_GetModuleDict(), "pyo3cpp_c_late_module", module);
    Py_DECREF(module);
    got = pyo3cpp_import_cached(&later, "pyo3cpp_c_late_module", "value");
    TAP_OK(got != NULL && PyLong_AsLong(got) == 99, "failure was not cached: the retry imports");
    PyErr_Clear();
}

int main(void)
{
    PyThreadState *main_state;
    pyo3cpp_attach_state st;
    int rc;
    Py_InitializeEx(0);
    main_state = PyEval_SaveThread();

    test_races(); /* the main thread is detached while the workers race */

    pyo3cpp_attach(&st);
    test_recursion();
    test_failure_and_retry();
    test_race_loser_released();
    test_set_take_clear();
    test_intern();
    test_import_cached();
    TAP_OK(!PyErr_Occurred(), "no exception left behind");
    pyo3cpp_release_attach(&st);

    PyEval_RestoreThread(main_state);
    rc = Py_FinalizeEx();
    TAP_OK(rc == 0, "interpreter finalised cleanly with filled static cells");
    return TAP_DONE();
}
