/* test_refs_c.c — the strong-reference container lookups of abi/pyo3cpp.h from C:
 * pyo3cpp_dict_get_item_ref, pyo3cpp_dict_get_item_string_ref, pyo3cpp_list_get_item_ref,
 * pyo3cpp_dict_set_default_ref and pyo3cpp_weakref_get_ref. Found, missing and error cases with
 * exact reference counts (a shim that forgets its incref, or increfs twice, fails here), and a
 * race on pyo3cpp_dict_set_default_ref: threads released together insert different defaults
 * under one key, and all of them must get back the one value the dict holds. A lookup followed
 * by a separate insertion fails that on free-threaded builds, and on GIL builds too with a key
 * whose __hash__ lets other threads run (the second key kind below).
 * C99 + CPython's C API only; TAP output. */
#include <Python.h>

#include <pthread.h>
#include <string.h>

#include "pyo3cpp.h"
#include "tap.h"

/* 1 when the pending exception is `type` and, if `needle` is not NULL, its message contains it.
 * Clears the exception either way. */
static int raised(PyObject *type, const char *needle)
{
    PyObject *etype, *value, *tb, *text;
    int ok;
    if (!PyErr_Occurred()) return 0;
    ok = PyErr_ExceptionMatches(type);
    PyErr_Fetch(&etype, &value, &tb);
    PyErr_NormalizeException(&etype, &value, &tb);
    if (needle != NULL) {
        text = value ? PyObject_Str(value) : NULL;
        ok = ok && text != NULL && strstr(PyUnicode_AsUTF8(text), needle) != NULL;
        if (!ok && text) printf("#   message was: %s\n", PyUnicode_AsUTF8(text));
        Py_XDECREF(text);
    }
    Py_XDECREF(etype);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    PyErr_Clear();
    return ok;
}

static int no_error(void) { return PyErr_Occurred() == NULL; }

/* Python helpers for the cases C cannot build directly, run in a private namespace. */
static PyObject *g_namespace;

static PyObject *helper(const char *name)
{
    PyObject *value = PyDict_GetItemString(g_namespace, name); /* borrowed, the namespace holds it */
    if (value == NULL) printf("# helper %s missing\n", name);
    return value;
}

static int define_helpers(void)
{
    static const char source[] =
        "import time\n"
        "class Referent:\n"
        "    pass\n"
        "class BadEq:\n"
        "    def __hash__(self): return 1\n"
        "    def __eq__(self, other): raise ArithmeticError('from __eq__')\n"
        "class DictSub(dict):\n"
        "    pass\n"
        "class YieldingKey:\n"
        "    # Equal by name; hashing lets other threads run (even under a GIL), which is\n"
        "    # where a lookup-then-insert loses the race.\n"
        "    def __init__(self, name): self.name = name\n"
        "    def __hash__(self):\n"
        "        time.sleep(0)\n"
        "        return hash(self.name)\n"
        "    def __eq__(self, other):\n"
        "        return isinstance(other, YieldingKey) and self.name == other.name\n";
    PyObject *result;
    g_namespace = PyDict_New();
    if (g_namespace == NULL) return -1;
    if (PyDict_SetItemString(g_namespace, "__builtins__", PyEval_GetBuiltins()) < 0) return -1;
    result = PyRun_String(source, Py_file_input, g_namespace, g_namespace);
    if (result == NULL) {
        PyErr_Print();
        return -1;
    }
    Py_DECREF(result);
    return 0;
}

/* ------------------------------------------------------------------- dicts */

static void test_dict_get_item_ref(void)
{
    PyObject *dict = PyDict_New(), *key = PyUnicode_FromString("present");
    PyObject *missing = PyUnicode_FromString("absent"), *value = PyList_New(0);
    PyObject *unhashable = PyList_New(0), *out, *bad_eq, *sub;
    Py_ssize_t value_refs, key_refs;

    PyDict_SetItem(dict, key, value);
    value_refs = Py_REFCNT(value);
    key_refs = Py_REFCNT(key);
    out = NULL;
    TAP_OK(pyo3cpp_dict_get_item_ref(dict, key, &out) == 1 && out == value && no_error(),
           "dict_get_item_ref found: 1 and the value");
    TAP_OK(Py_REFCNT(value) == value_refs + 1 && Py_REFCNT(key) == key_refs,
           "dict_get_item_ref found: exactly one new reference to the value, key untouched");
    Py_DECREF(out);
    TAP_OK(Py_REFCNT(value) == value_refs, "...which the caller releases back to the start");

    out = value;
    TAP_OK(pyo3cpp_dict_get_item_ref(dict, missing, &out) == 0 && out == NULL && no_error(),
           "dict_get_item_ref missing: 0, NULL, no exception (no KeyError)");
    out = value;
    TAP_OK(pyo3cpp_dict_get_item_ref(dict, unhashable, &out) == -1 && out == NULL &&
               raised(PyExc_TypeError, "unhashable"),
           "dict_get_item_ref unhashable key: -1, NULL, TypeError");

    /* An __eq__ that raises: the lookup reports it (only called on a hash collision). */
    bad_eq = PyObject_CallNoArgs(helper("BadEq"));
    PyDict_SetItem(dict, bad_eq, value);
    {
        PyObject *other = PyObject_CallNoArgs(helper("BadEq"));
        out = value;
        TAP_OK(pyo3cpp_dict_get_item_ref(dict, other, &out) == -1 && out == NULL &&
                   raised(PyExc_ArithmeticError, "from __eq__"),
               "dict_get_item_ref: the key's __eq__ raising propagates, NULL");
        Py_DECREF(other);
    }

    /* A dict subclass is a dict. */
    sub = PyObject_CallNoArgs(helper("DictSub"));
    PyDict_SetItem(sub, key, value);
    value_refs = Py_REFCNT(value); /* now also held by bad_eq's and sub's slots */
    out = NULL;
    TAP_OK(pyo3cpp_dict_get_item_ref(sub, key, &out) == 1 && out == value &&
               Py_REFCNT(value) == value_refs + 1,
           "dict_get_item_ref on a dict subclass: found, one new reference");
    Py_XDECREF(out);

    /* The string-key form. */
    out = NULL;
    TAP_OK(pyo3cpp_dict_get_item_string_ref(dict, "present", &out) == 1 && out == value &&
               Py_REFCNT(value) == value_refs + 1,
           "dict_get_item_string_ref found: 1, one new reference");
    Py_XDECREF(out);
    out = value;
    TAP_OK(pyo3cpp_dict_get_item_string_ref(dict, "absent", &out) == 0 && out == NULL &&
               no_error(),
           "dict_get_item_string_ref missing: 0, NULL, no exception");
    out = value;
    TAP_OK(pyo3cpp_dict_get_item_string_ref(dict, "bad \xff utf-8", &out) == -1 && out == NULL &&
               raised(PyExc_UnicodeDecodeError, NULL),
           "dict_get_item_string_ref invalid UTF-8: -1, NULL, UnicodeDecodeError");
    TAP_OK(Py_REFCNT(value) == value_refs, "no reference leaked by any lookup");

    Py_DECREF(sub);
    Py_DECREF(bad_eq);
    Py_DECREF(unhashable);
    Py_DECREF(value);
    Py_DECREF(missing);
    Py_DECREF(key);
    Py_DECREF(dict);
}

static void test_dict_set_default_ref(void)
{
    PyObject *dict = PyDict_New(), *key = PyUnicode_FromString("k"), *key2;
    PyObject *first = PyList_New(0), *second = PyList_New(0), *unhashable = PyList_New(0), *out;
    Py_ssize_t first_refs = Py_REFCNT(first), second_refs = Py_REFCNT(second);

    out = NULL;
    TAP_OK(pyo3cpp_dict_set_default_ref(dict, key, first, &out) == 0 && out == first &&
               no_error(),
           "dict_set_default_ref on a missing key: 0, the default inserted and returned");
    TAP_OK(Py_REFCNT(first) == first_refs + 2 && PyDict_GetItem(dict, key) == first,
           "...refcount +2: one held by the dict, one returned");
    Py_XDECREF(out);

    out = NULL;
    TAP_OK(pyo3cpp_dict_set_default_ref(dict, key, second, &out) == 1 && out == first &&
               no_error(),
           "dict_set_default_ref on a present key: 1, the present value returned");
    TAP_OK(Py_REFCNT(first) == first_refs + 2 && Py_REFCNT(second) == second_refs &&
               PyDict_GetItem(dict, key) == first,
           "...one new reference to the present value, the default untouched, dict unchanged");
    Py_XDECREF(out);

    TAP_OK(pyo3cpp_dict_set_default_ref(dict, key, second, NULL) == 1 &&
               Py_REFCNT(first) == first_refs + 1 && Py_REFCNT(second) == second_refs,
           "dict_set_default_ref(present, NULL result): 1, no reference handed out");
    key2 = PyUnicode_FromString("k2");
    TAP_OK(pyo3cpp_dict_set_default_ref(dict, key2, second, NULL) == 0 &&
               Py_REFCNT(second) == second_refs + 1 && PyDict_GetItem(dict, key2) == second,
           "dict_set_default_ref(missing, NULL result): 0, only the dict's reference added");
    TAP_OK(pyo3cpp_dict_set_default_ref(dict, key2, second, NULL) == 1 && no_error(),
           "dict_set_default_ref when the key already maps to the default itself: 1");

    out = first;
    TAP_OK(pyo3cpp_dict_set_default_ref(dict, unhashable, first, &out) == -1 && out == NULL &&
               raised(PyExc_TypeError, "unhashable") && PyDict_GET_SIZE(dict) == 2,
           "dict_set_default_ref unhashable key: -1, NULL, TypeError, nothing inserted");
    TAP_OK(Py_REFCNT(first) == first_refs + 1, "no reference leaked by the failed call");

    Py_DECREF(dict);
    TAP_OK(Py_REFCNT(first) == first_refs && Py_REFCNT(second) == second_refs,
           "dropping the dict returns both values to their starting counts");
    Py_DECREF(key2);
    Py_DECREF(unhashable);
    Py_DECREF(second);
    Py_DECREF(first);
    Py_DECREF(key);
}

/* ------------------------------------------------------------------- lists */

static void test_list_get_item_ref(void)
{
    PyObject *list = PyList_New(0), *a = PyList_New(0), *b = PyList_New(0), *got;
    Py_ssize_t a_refs, b_refs;

    PyList_Append(list, a);
    PyList_Append(list, b);
    a_refs = Py_REFCNT(a);
    b_refs = Py_REFCNT(b);
    got = pyo3cpp_list_get_item_ref(list, 0);
    TAP_OK(got == a && Py_REFCNT(a) == a_refs + 1 && no_error(),
           "list_get_item_ref(0): the first item, one new reference");
    Py_XDECREF(got);
    got = pyo3cpp_list_get_item_ref(list, 1);
    TAP_OK(got == b && Py_REFCNT(b) == b_refs + 1, "list_get_item_ref(len-1): the last item");
    Py_XDECREF(got);
    TAP_OK(pyo3cpp_list_get_item_ref(list, 2) == NULL &&
               raised(PyExc_IndexError, "list index out of range"),
           "list_get_item_ref(len): IndexError");
    TAP_OK(pyo3cpp_list_get_item_ref(list, -1) == NULL &&
               raised(PyExc_IndexError, "list index out of range"),
           "list_get_item_ref(-1): IndexError (negative indexes do not count from the end)");
    TAP_OK(pyo3cpp_list_get_item_ref(list, PY_SSIZE_T_MAX) == NULL &&
               raised(PyExc_IndexError, NULL),
           "list_get_item_ref(PY_SSIZE_T_MAX): IndexError");
    TAP_OK(pyo3cpp_list_get_item_ref(a, 0) == NULL && raised(PyExc_IndexError, NULL),
           "list_get_item_ref on an empty list: IndexError");
    {
        PyObject *tuple = PyTuple_Pack(1, a);
        TAP_OK(pyo3cpp_list_get_item_ref(tuple, 0) == NULL &&
                   raised(PyExc_TypeError, "expected a list"),
               "list_get_item_ref on a tuple: TypeError");
        Py_DECREF(tuple);
    }
    TAP_OK(Py_REFCNT(a) == a_refs && Py_REFCNT(b) == b_refs, "no reference leaked");
    Py_DECREF(b);
    Py_DECREF(a);
    Py_DECREF(list);
}

/* ---------------------------------------------------------- weak references */

static void test_weakref_get_ref(void)
{
    PyObject *referent = PyObject_CallNoArgs(helper("Referent"));
    PyObject *ref = PyWeakref_NewRef(referent, NULL), *proxy = PyWeakref_NewProxy(referent, NULL);
    PyObject *out;
    Py_ssize_t refs = Py_REFCNT(referent);

    out = NULL;
    TAP_OK(pyo3cpp_weakref_get_ref(ref, &out) == 1 && out == referent && no_error(),
           "weakref_get_ref alive: 1 and the referent");
    TAP_OK(Py_REFCNT(referent) == refs + 1, "...exactly one new reference");
    Py_XDECREF(out);
    out = NULL;
    TAP_OK(pyo3cpp_weakref_get_ref(proxy, &out) == 1 && out == referent &&
               Py_REFCNT(referent) == refs + 1,
           "weakref_get_ref on a proxy: 1, one new reference");
    Py_XDECREF(out);

    Py_DECREF(referent); /* the last strong reference: the referent dies */
    out = ref;
    TAP_OK(pyo3cpp_weakref_get_ref(ref, &out) == 0 && out == NULL && no_error(),
           "weakref_get_ref dead: 0, NULL, no exception");
    out = ref;
    TAP_OK(pyo3cpp_weakref_get_ref(proxy, &out) == 0 && out == NULL && no_error(),
           "weakref_get_ref on a dead proxy: 0, NULL");
    out = ref;
    TAP_OK(pyo3cpp_weakref_get_ref(Py_None, &out) == -1 && out == NULL &&
               raised(PyExc_TypeError, "expected a weakref"),
           "weakref_get_ref(None): TypeError");
    Py_DECREF(proxy);
    Py_DECREF(ref);
}

/* -------------------------------------------------------------------- race */

#define THREADS 4
#define ROUNDS 300

static struct {
    pthread_barrier_t start, done;
    PyObject *dict;
    PyObject *keys[THREADS];     /* one key object per thread, all equal */
    PyObject *defaults[THREADS]; /* a different default per thread */
    PyObject *got[THREADS];
    int rc[THREADS];
    int stop;
} g_race;

static void *race_worker(void *arg)
{
    const long t = (long)arg;
    for (;;) {
        pyo3cpp_attach_state st;
        pthread_barrier_wait(&g_race.start);
        if (g_race.stop) return NULL;
        g_race.got[t] = NULL;
        if (pyo3cpp_attach(&st) != 0) {
            g_race.rc[t] = -2;
        } else {
            g_race.rc[t] = pyo3cpp_dict_set_default_ref(g_race.dict, g_race.keys[t],
                                                        g_race.defaults[t], &g_race.got[t]);
            if (g_race.rc[t] < 0) PyErr_Print();
            pyo3cpp_release_attach(&st);
        }
        pthread_barrier_wait(&g_race.done);
    }
}

/* Runs ROUNDS rounds, each with a fresh dict and THREADS equal keys from make_key(); returns
 * the number of rounds that broke the property. */
static int race(PyObject *(*make_key)(void), const char *what)
{
    pthread_t threads[THREADS];
    long t;
    int round, bad = 0, reported = 0;
    char name[200];

    g_race.stop = 0;
    pthread_barrier_init(&g_race.start, NULL, THREADS + 1);
    pthread_barrier_init(&g_race.done, NULL, THREADS + 1);
    for (t = 0; t < THREADS; ++t) pthread_create(&threads[t], NULL, race_worker, (void *)t);

    for (round = 0; round < ROUNDS; ++round) {
        PyObject *winner, *held;
        Py_ssize_t winner_refs_expected;
        int inserted = 0, same = 1, i;
        void *token;

        g_race.dict = PyDict_New();
        for (i = 0; i < THREADS; ++i) {
            g_race.keys[i] = make_key();
            g_race.defaults[i] = PyList_New(0); /* distinct objects, refcount 1 each */
        }
        token = pyo3cpp_detach_begin(); /* the workers attach and race */
        pthread_barrier_wait(&g_race.start);
        pthread_barrier_wait(&g_race.done);
        pyo3cpp_detach_end(token);

        winner = g_race.got[0];
        for (i = 0; i < THREADS; ++i) {
            if (g_race.rc[i] == 0) ++inserted;
            if (g_race.rc[i] < 0 || g_race.got[i] != winner) same = 0;
        }
        held = PyDict_GetItem(g_race.dict, g_race.keys[0]); /* borrowed */
        /* The winner: one reference from its creator, one from the dict, one per thread. */
        winner_refs_expected = 1 + 1 + THREADS;
        if (!same || inserted != 1 || held != winner || PyDict_GET_SIZE(g_race.dict) != 1 ||
            Py_REFCNT(winner) != winner_refs_expected) {
            ++bad;
            if (reported++ < 3) {
                printf("#   %s round %d: rc", what, round);
                for (i = 0; i < THREADS; ++i) printf(" %d", g_race.rc[i]);
                printf("; got");
                for (i = 0; i < THREADS; ++i) printf(" %p", (void *)g_race.got[i]);
                printf("; dict holds %p, size %zd, winner refcount %zd (expected %zd)\n",
                       (void *)held, PyDict_GET_SIZE(g_race.dict),
                       winner ? Py_REFCNT(winner) : (Py_ssize_t)0, winner_refs_expected);
            }
        }
        for (i = 0; i < THREADS; ++i) {
            Py_XDECREF(g_race.got[i]);
            Py_DECREF(g_race.keys[i]);
            Py_DECREF(g_race.defaults[i]);
        }
        Py_DECREF(g_race.dict);
    }

    g_race.stop = 1;
    {
        void *token = pyo3cpp_detach_begin();
        pthread_barrier_wait(&g_race.start);
        for (t = 0; t < THREADS; ++t) pthread_join(threads[t], NULL);
        pyo3cpp_detach_end(token);
    }
    pthread_barrier_destroy(&g_race.start);
    pthread_barrier_destroy(&g_race.done);
    snprintf(name, sizeof name,
             "dict_set_default_ref race (%s, %d threads x %d rounds): one inserts, all get the "
             "dict's value, refcounts exact",
             what, THREADS, ROUNDS);
    TAP_OK(bad == 0, name);
    return bad;
}

static PyObject *make_str_key(void) { return PyUnicode_FromString("shared-key"); }
static PyObject *make_yielding_key(void)
{
    return PyObject_CallFunction(helper("YieldingKey"), "s", "shared-key");
}

int main(void)
{
    pyo3cpp_attach_state st;
    PyThreadState *main_state;
    int rc;

    Py_InitializeEx(0);
    TAP_OK(define_helpers() == 0, "Python helpers defined");
    main_state = PyEval_SaveThread();
    TAP_OK(pyo3cpp_attach(&st) == 0, "attach");

    test_dict_get_item_ref();
    test_dict_set_default_ref();
    test_list_get_item_ref();
    test_weakref_get_ref();
    race(make_str_key, "str key");
    race(make_yielding_key, "key whose __hash__ yields the GIL");
    TAP_OK(no_error(), "no exception left behind");

    Py_CLEAR(g_namespace);
    pyo3cpp_release_attach(&st);
    PyEval_RestoreThread(main_state);
    rc = Py_FinalizeEx();
    TAP_OK(rc == 0, "interpreter finalised cleanly");
    return TAP_DONE();
}
