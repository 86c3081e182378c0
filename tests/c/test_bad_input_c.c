/* test_bad_input_c.c — every exported function of abi/pyo3cpp.h given bad input: NULL pointers,
 * wrong objects or values, and calls while not attached (on a detached Python thread and on a
 * thread Python never created). Each must return its documented error with the documented
 * Python exception, or no exception where the caller is not attached — never crash, never leak.
 * tests/abi/check_symbols.py fails if an exported function is missing from this file.
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
    if (ok && needle != NULL) {
        text = value ? PyObject_Str(value) : NULL;
        ok = text != NULL && strstr(PyUnicode_AsUTF8(text), needle) != NULL;
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

static int count_calls;
static int fn_returns_7(void *ctx) { (void)ctx; ++count_calls; return 7; }
static int init_fails_silently(void *ctx) { (void)ctx; return -1; }
static PyObject *object_init_returns_null(void *ctx) { (void)ctx; return NULL; }
static PyObject *object_init_raises(void *ctx)
{
    (void)ctx;
    PyErr_SetString(PyExc_KeyError, "from the initialiser");
    return NULL;
}
static PyObject *object_init_list(void *ctx) { (void)ctx; return PyList_New(0); }
static void forget_nothing(void *ctx) { (void)ctx; }
static int released_arrays;
static void release_array(void *ctx) { (void)ctx; ++released_arrays; }

/* Overload attempts: context "int" takes one exact int; "num" takes one int or float, but only
 * with conversions. */
static int attempt_one(void *ctx, PyObject *self, PyObject *const *args, ptrdiff_t nargs,
                       PyObject *kwnames, int convert, PyObject **result)
{
    const int exact_int = strcmp((const char *)ctx, "int") == 0;
    (void)self;
    if (nargs != 1 || kwnames != NULL) return 0;
    if (exact_int ? !PyLong_CheckExact(args[0])
                  : !(convert && (PyLong_Check(args[0]) || PyFloat_Check(args[0]))))
        return 0;
    *result = PyUnicode_FromString((const char *)ctx);
    return 1;
}

static pyo3cpp_once_state recursive_once = PYO3CPP_ONCE_STATE_INIT;
static int recursive_result;
static int init_recurses(void *ctx)
{
    (void)ctx;
    recursive_result = pyo3cpp_once_run(&recursive_once, init_recurses, NULL, "recursive_cell");
    return recursive_result == -1 ? -1 : 0;
}

/* ------------------------------------------------------------ not attached */

/* Everything that requires attachment, called without it: documented error, and afterwards
 * (re-attached) no exception is pending and nothing changed. */
static void not_attached(const char *where)
{
    char name[160];
    pyo3cpp_critical_section cs;
    pyo3cpp_once_state once = PYO3CPP_ONCE_STATE_INIT;
    pyo3cpp_object_cell cell = PYO3CPP_OBJECT_CELL_INIT;
    pyo3cpp_mutex mutex = PYO3CPP_MUTEX_INIT;
    PyObject *fake = (PyObject *)&cell; /* never dereferenced: every call must refuse first */
    PyObject *out;
    int major = 0, minor = 0, ft = -1;
    long pending;
    pyo3cpp_attach_state st;

#define NAMED(text) (snprintf(name, sizeof name, "%s: %s", where, text), name)
    TAP_OK(pyo3cpp_is_attached() == 0, NAMED("pyo3cpp_is_attached is 0"));
    TAP_OK(pyo3cpp_abi_version() == PYO3CPP_ABI_VERSION, NAMED("pyo3cpp_abi_version works"));
    pyo3cpp_runtime_python(&major, &minor, &ft);
    TAP_OK(major == PY_MAJOR_VERSION && minor == PY_MINOR_VERSION,
           NAMED("pyo3cpp_runtime_python works"));
    TAP_OK(pyo3cpp_check_runtime(PYO3CPP_ABI_VERSION, PY_MAJOR_VERSION, PY_MINOR_VERSION,
                                 PYO3CPP_COMPILED_FREE_THREADED, "x") == -1,
           NAMED("pyo3cpp_check_runtime: -1"));
    TAP_OK(pyo3cpp_detach_begin() == NULL, NAMED("pyo3cpp_detach_begin: NULL"));
    pyo3cpp_detach_end(NULL);
    count_calls = 0;
    TAP_OK(pyo3cpp_detach(fn_returns_7, NULL) == 7 && count_calls == 1,
           NAMED("pyo3cpp_detach just calls fn"));
    TAP_OK(pyo3cpp_detach(NULL, NULL) == -1, NAMED("pyo3cpp_detach(NULL fn): -1"));
    {
        pyo3cpp_signature sig = {"f", NULL, 0, NULL, NULL};
        PyObject *slots[1];
        TAP_OK(pyo3cpp_signature_prepare(&sig, NULL) == NULL && sig.prepared == NULL,
               NAMED("pyo3cpp_signature_prepare: NULL"));
        TAP_OK(pyo3cpp_bind_arguments(&sig, NULL, 0, NULL, slots) == -1,
               NAMED("pyo3cpp_bind_arguments: -1"));
        TAP_OK(pyo3cpp_argument_error(&sig, 0, fake, NULL, 0) == NULL,
               NAMED("pyo3cpp_argument_error: NULL"));
        TAP_OK(pyo3cpp_function_new(NULL, NULL, &sig, fake) == NULL,
               NAMED("pyo3cpp_function_new: NULL"));
        TAP_OK(pyo3cpp_function_signature(fake) == NULL, NAMED("pyo3cpp_function_signature: NULL"));
        TAP_OK(pyo3cpp_function_shared_entry(NULL, NULL) == NULL,
               NAMED("pyo3cpp_function_shared_entry(NULL invoke): NULL"));
        TAP_OK(pyo3cpp_method_shared_entry(NULL, NULL) == NULL,
               NAMED("pyo3cpp_method_shared_entry(NULL invoke): NULL"));
        {
            /* No input to get wrong; needs no attachment. */
            void *a = pyo3cpp_function_misuse_entry(), *b = pyo3cpp_function_misuse_entry();
            TAP_OK(a != NULL && b != NULL && a != b,
                   NAMED("pyo3cpp_function_misuse_entry: distinct pointers"));
        }
        TAP_OK(pyo3cpp_method_register(&sig, &sig) == -1, NAMED("pyo3cpp_method_register: -1"));
        TAP_OK(pyo3cpp_class_member_register(&sig, "f", &sig) == -1,
               NAMED("pyo3cpp_class_member_register: -1"));
        TAP_OK(pyo3cpp_class_member_signature(fake, "f") == NULL,
               NAMED("pyo3cpp_class_member_signature: NULL"));
        TAP_OK(pyo3cpp_overload_prepare(&sig, NULL, 1, 0) == NULL && sig.prepared == NULL,
               NAMED("pyo3cpp_overload_prepare: NULL"));
        TAP_OK(pyo3cpp_overload_call(&sig, NULL, 1, NULL, NULL, 0, NULL) == NULL,
               NAMED("pyo3cpp_overload_call: NULL"));
    }
    TAP_OK(pyo3cpp_pool_drain() == -1, NAMED("pyo3cpp_pool_drain: -1"));
    pending = pyo3cpp_pool_pending();
    pyo3cpp_release_ref(NULL);
    pyo3cpp_defer_decref(NULL);
    TAP_OK(pyo3cpp_pool_pending() == pending, NAMED("release_ref/defer_decref(NULL) queue nothing"));
    TAP_OK(pyo3cpp_keep_alive(fake, fake, 1) == -1, NAMED("pyo3cpp_keep_alive: -1"));
    {
        PyObject *function = fake, *owner = fake;
        unsigned int version = 7;
        TAP_OK(pyo3cpp_override_lookup(fake, fake, fake, &function, &owner, &version) == -1 &&
                   function == NULL && owner == NULL && version == 0,
               NAMED("pyo3cpp_override_lookup: -1, outputs cleared"));
    }
    pyo3cpp_keep_alive_release(fake);
    TAP_OK(pyo3cpp_keep_alive_traverse(NULL, NULL, NULL) == 0,
           NAMED("pyo3cpp_keep_alive_traverse(NULL): 0"));
    {
        Py_buffer view;
        const ptrdiff_t extent = 1;
        TAP_OK(pyo3cpp_buffer_acquire(fake, &view, 'f', 8, 1, NULL, 1, 0) == -1,
               NAMED("pyo3cpp_buffer_acquire: -1"));
        TAP_OK(pyo3cpp_buffer_acquire_converted(fake, &view, 'f', 8, 1, NULL, 1, NULL) == -1,
               NAMED("pyo3cpp_buffer_acquire_converted: -1"));
        TAP_OK(pyo3cpp_buffer_fill(&view, fake, NULL, "B", 1, 0, NULL, NULL, 0, 0) == -1,
               NAMED("pyo3cpp_buffer_fill: -1"));
        pyo3cpp_buffer_fill_release(NULL);
        released_arrays = 0;
        TAP_OK(pyo3cpp_array_new(NULL, "d", 8, 1, &extent, release_array, NULL, 0) == NULL &&
                   released_arrays == 1,
               NAMED("pyo3cpp_array_new: NULL, the memory released"));
    }
    {
        pyo3cpp_wait wait = {0};
        wait.kind = PYO3CPP_WAIT_ONCE;
        TAP_OK(pyo3cpp_wait_begin(&wait) == -1 && wait.linked == 0, NAMED("pyo3cpp_wait_begin: -1"));
        pyo3cpp_wait_end(&wait); /* never begun: a no-op */
    }
    pyo3cpp_drop_scope_exit();  /* without an enter: nothing to close */
    pyo3cpp_drop_scope_enter();
    pyo3cpp_drop_scope_exit();
    TAP_OK(pyo3cpp_pool_pending() == pending, NAMED("drop scopes unbalanced or empty: no effect"));
    TAP_OK(pyo3cpp_critical_section_begin(&cs, fake) == -1,
           NAMED("pyo3cpp_critical_section_begin: -1"));
    TAP_OK(pyo3cpp_critical_section_begin2(&cs, fake, fake) == -1,
           NAMED("pyo3cpp_critical_section_begin2: -1"));
    pyo3cpp_critical_section_end(NULL);
    TAP_OK(pyo3cpp_object_lock(fake) == -1 && pyo3cpp_object_unlock(fake) == -1,
           NAMED("pyo3cpp_object_lock/unlock: -1"));
    TAP_OK(pyo3cpp_mutex_lock(NULL) == -1 && pyo3cpp_mutex_try_lock(NULL) == -1 &&
               pyo3cpp_mutex_unlock(NULL) == -1,
           NAMED("pyo3cpp_mutex_*(NULL): -1"));
    TAP_OK(pyo3cpp_mutex_lock(&mutex) == 0 && pyo3cpp_mutex_try_lock(&mutex) == 0 &&
               pyo3cpp_mutex_unlock(&mutex) == 0 && pyo3cpp_mutex_unlock(&mutex) == -1,
           NAMED("pyo3cpp_mutex works detached; unlocking twice: -1"));
    TAP_OK(pyo3cpp_once_run(&once, init_fails_silently, NULL, "x") == -1 && once.state == 0,
           NAMED("pyo3cpp_once_run: -1, cell untouched"));
    pyo3cpp_once_reset(NULL);
    TAP_OK(pyo3cpp_on_finalize(NULL, NULL) == -1, NAMED("pyo3cpp_on_finalize(NULL): -1"));
    TAP_OK(pyo3cpp_object_cell_get_or_init(&cell, object_init_list, NULL, "x") == NULL &&
               pyo3cpp_object_cell_get_or_race(&cell, object_init_list, NULL) == NULL &&
               pyo3cpp_object_cell_get(&cell) == NULL,
           NAMED("pyo3cpp_object_cell_get_or_init/get_or_race: NULL, cell empty"));
    TAP_OK(pyo3cpp_object_cell_set(&cell, NULL) == -1, NAMED("pyo3cpp_object_cell_set: -1"));
    TAP_OK(pyo3cpp_object_cell_take(&cell) == NULL && pyo3cpp_object_cell_take(NULL) == NULL,
           NAMED("pyo3cpp_object_cell_take of empty/NULL: NULL"));
    TAP_OK(pyo3cpp_intern(&cell, "x") == NULL, NAMED("pyo3cpp_intern: NULL"));
    TAP_OK(pyo3cpp_import_cached(&cell, "sys", NULL) == NULL,
           NAMED("pyo3cpp_import_cached: NULL"));
    TAP_OK(pyo3cpp_debug_checks_enabled() == 0 || pyo3cpp_debug_checks_enabled() == 1,
           NAMED("pyo3cpp_debug_checks_enabled is 0 or 1"));
    TAP_OK((pyo3cpp_debug_thread_state() & PYO3CPP_DEBUG_ATTACHED) == 0,
           NAMED("pyo3cpp_debug_thread_state: not attached"));
    pyo3cpp_debug_traverse_leave(); /* unbalanced leave: clamped at zero */
    TAP_OK((pyo3cpp_debug_thread_state() & PYO3CPP_DEBUG_IN_TRAVERSE) == 0,
           NAMED("pyo3cpp_debug_traverse_leave without enter is a no-op"));
    pyo3cpp_on_finalize_cancel(NULL, NULL);
    pyo3cpp_on_finalize_cancel(forget_nothing, &cell); /* never registered */
    pyo3cpp_object_cell_clear(NULL);
    pyo3cpp_object_cell_clear(&cell); /* empty */
    TAP_OK(pyo3cpp_object_cell_get(&cell) == NULL,
           NAMED("on_finalize_cancel/object_cell_clear on NULL/absent/empty are no-ops"));
    out = fake;
    TAP_OK(pyo3cpp_dict_get_item_ref(fake, fake, &out) == -1 && out == NULL,
           NAMED("pyo3cpp_dict_get_item_ref: -1, *result NULL"));
    out = fake;
    TAP_OK(pyo3cpp_dict_get_item_string_ref(fake, "k", &out) == -1 && out == NULL,
           NAMED("pyo3cpp_dict_get_item_string_ref: -1, *result NULL"));
    TAP_OK(pyo3cpp_list_get_item_ref(fake, 0) == NULL, NAMED("pyo3cpp_list_get_item_ref: NULL"));
    out = fake;
    TAP_OK(pyo3cpp_dict_set_default_ref(fake, fake, fake, &out) == -1 && out == NULL &&
               pyo3cpp_dict_set_default_ref(fake, fake, fake, NULL) == -1,
           NAMED("pyo3cpp_dict_set_default_ref: -1, *result NULL"));
    out = fake;
    TAP_OK(pyo3cpp_weakref_get_ref(fake, &out) == -1 && out == NULL,
           NAMED("pyo3cpp_weakref_get_ref: -1, *pobj NULL"));
    TAP_OK(pyo3cpp_attach(NULL) == -1 && pyo3cpp_try_attach(NULL) == -1 &&
               pyo3cpp_is_attached() == 0,
           NAMED("pyo3cpp_attach/try_attach(NULL): -1, still not attached"));
    pyo3cpp_release_attach(NULL);
    TAP_OK(pyo3cpp_holder_find(fake, fake) == NULL && pyo3cpp_holder_register(fake, fake, fake) == NULL,
           NAMED("pyo3cpp_holder_find/register: NULL"));
    pyo3cpp_holder_forget(fake, fake, fake); /* no entry names it: nothing happens */

    /* Re-attach: none of the above may have left an exception behind. */
    TAP_OK(pyo3cpp_attach(&st) == 0, NAMED("attach"));
    TAP_OK(no_error(), NAMED("no exception was set by any refusal"));
    pyo3cpp_release_attach(&st);
#undef NAMED
}

static void *foreign_thread(void *arg)
{
    (void)arg;
    not_attached("thread Python never created");
    return NULL;
}

/* ----------------------------------------------------------------- attached */

/* The container lookups given NULL where an object or an out-pointer is required. */
static void attached_null_lookups(PyObject *list)
{
    PyObject *dict = PyDict_New(), *key = PyUnicode_FromString("k"), *out;

    out = list;
    TAP_OK(pyo3cpp_dict_get_item_ref(NULL, key, &out) == -1 && out == NULL &&
               raised(PyExc_ValueError, "dict is NULL"),
           "pyo3cpp_dict_get_item_ref(NULL dict): ValueError, *result NULL");
    out = list;
    TAP_OK(pyo3cpp_dict_get_item_ref(dict, NULL, &out) == -1 && out == NULL &&
               raised(PyExc_ValueError, "key is NULL"),
           "pyo3cpp_dict_get_item_ref(NULL key): ValueError");
    TAP_OK(pyo3cpp_dict_get_item_ref(dict, key, NULL) == -1 &&
               raised(PyExc_ValueError, "result is NULL"),
           "pyo3cpp_dict_get_item_ref(NULL result): ValueError");
    out = list;
    TAP_OK(pyo3cpp_dict_get_item_string_ref(dict, NULL, &out) == -1 && out == NULL &&
               raised(PyExc_ValueError, "key is NULL"),
           "pyo3cpp_dict_get_item_string_ref(NULL key): ValueError");
    TAP_OK(pyo3cpp_dict_get_item_string_ref(NULL, "k", NULL) == -1 &&
               raised(PyExc_ValueError, "result is NULL"),
           "pyo3cpp_dict_get_item_string_ref(NULL result): ValueError");
    TAP_OK(pyo3cpp_list_get_item_ref(NULL, 0) == NULL && raised(PyExc_ValueError, "list is NULL"),
           "pyo3cpp_list_get_item_ref(NULL): ValueError");
    out = list;
    TAP_OK(pyo3cpp_dict_set_default_ref(dict, key, NULL, &out) == -1 && out == NULL &&
               raised(PyExc_ValueError, "default_value is NULL") && PyDict_GET_SIZE(dict) == 0,
           "pyo3cpp_dict_set_default_ref(NULL default): ValueError, nothing inserted");
    TAP_OK(pyo3cpp_dict_set_default_ref(NULL, key, key, NULL) == -1 &&
               raised(PyExc_ValueError, "dict is NULL"),
           "pyo3cpp_dict_set_default_ref(NULL dict, NULL result): ValueError");
    TAP_OK(pyo3cpp_dict_set_default_ref(dict, NULL, key, NULL) == -1 &&
               raised(PyExc_ValueError, "key is NULL"),
           "pyo3cpp_dict_set_default_ref(NULL key): ValueError");
    out = list;
    TAP_OK(pyo3cpp_weakref_get_ref(NULL, &out) == -1 && out == NULL &&
               raised(PyExc_ValueError, "ref is NULL"),
           "pyo3cpp_weakref_get_ref(NULL ref): ValueError (not 3.13's TypeError)");
    TAP_OK(pyo3cpp_weakref_get_ref(list, NULL) == -1 && raised(PyExc_ValueError, "pobj is NULL"),
           "pyo3cpp_weakref_get_ref(NULL pobj): ValueError");
    Py_DECREF(key);
    Py_DECREF(dict);
}

static void attached_nulls(void)
{
    {
        /* An entry called as a PyMethodDef's function would be (any signature): SystemError. */
        typedef PyObject *(*any_entry)(PyObject *, PyTypeObject *, PyObject *const *, size_t,
                                       PyObject *);
        void *entry = pyo3cpp_function_misuse_entry();
        any_entry call;
        memcpy(&call, &entry, sizeof call);
        TAP_OK(call(NULL, NULL, NULL, 0, NULL) == NULL &&
                   raised(PyExc_SystemError, "called through its PyMethodDef"),
               "pyo3cpp_function_misuse_entry: a call raises SystemError");
    }
    pyo3cpp_critical_section cs;
    pyo3cpp_object_cell cell = PYO3CPP_OBJECT_CELL_INIT;
    pyo3cpp_once_state once = PYO3CPP_ONCE_STATE_INIT;
    PyObject *obj = PyList_New(0);
    PyObject *out;
    Py_ssize_t refs;

    {
        static const pyo3cpp_parameter params[2] = {
            {"a", NULL, "int", PYO3CPP_PARAM_POSITIONAL_OR_KEYWORD, 1},
            {"a", NULL, "int", PYO3CPP_PARAM_KEYWORD_ONLY, 1}}; /* duplicate name */
        static const pyo3cpp_parameter out_of_order[2] = {
            {"a", NULL, NULL, PYO3CPP_PARAM_KEYWORD_ONLY, 1},
            {"b", NULL, NULL, PYO3CPP_PARAM_POSITIONAL_ONLY, 1}};
        pyo3cpp_signature sig = {"f", params, 2, NULL, NULL};
        pyo3cpp_signature unprepared = {"g", NULL, 0, NULL, NULL};
        PyObject *slots[2];
        PyMethodDef def = {"f", NULL, METH_VARARGS, NULL};
        TAP_OK(pyo3cpp_signature_prepare(NULL, NULL) == NULL && raised(PyExc_ValueError, "NULL"),
               "pyo3cpp_signature_prepare(NULL): ValueError");
        TAP_OK(pyo3cpp_signature_prepare(&sig, NULL) == NULL &&
                   raised(PyExc_ValueError, "duplicate parameter name 'a'"),
               "pyo3cpp_signature_prepare(duplicate names): ValueError");
        sig.params = out_of_order;
        TAP_OK(pyo3cpp_signature_prepare(&sig, NULL) == NULL &&
                   raised(PyExc_ValueError, "out of order"),
               "pyo3cpp_signature_prepare(kinds out of order): ValueError");
        TAP_OK(pyo3cpp_bind_arguments(NULL, NULL, 0, NULL, slots) == -1 &&
                   raised(PyExc_ValueError, NULL),
               "pyo3cpp_bind_arguments(NULL sig): ValueError");
        TAP_OK(pyo3cpp_bind_arguments(&unprepared, NULL, 0, NULL, slots) == -1 &&
                   raised(PyExc_ValueError, "prepared"),
               "pyo3cpp_bind_arguments(unprepared): ValueError");
        TAP_OK(pyo3cpp_bind_arguments(&unprepared, NULL, -1, NULL, slots) == -1 &&
                   raised(PyExc_ValueError, NULL),
               "pyo3cpp_bind_arguments(nargs < 0): ValueError");
        TAP_OK(pyo3cpp_argument_error(NULL, 0, obj, NULL, 0) == NULL &&
                   raised(PyExc_ValueError, NULL),
               "pyo3cpp_argument_error(NULL sig): ValueError");
        TAP_OK(pyo3cpp_argument_error(&unprepared, 3, obj, NULL, 0) == NULL &&
                   raised(PyExc_ValueError, "in range"),
               "pyo3cpp_argument_error(index out of range): ValueError");
        TAP_OK(pyo3cpp_function_new(NULL, NULL, NULL, NULL) == NULL &&
                   raised(PyExc_SystemError, NULL),
               "pyo3cpp_function_new(NULL...): SystemError");
        TAP_OK(pyo3cpp_function_new(&def, (void *)&def, &unprepared, obj) == NULL &&
                   raised(PyExc_SystemError, "METH_FASTCALL"),
               "pyo3cpp_function_new(wrong flags, unprepared, not a module): SystemError");
        TAP_OK(pyo3cpp_function_signature(NULL) == NULL && raised(PyExc_ValueError, NULL),
               "pyo3cpp_function_signature(NULL): ValueError");
        out = pyo3cpp_function_signature(obj);
        TAP_OK(out == Py_None && no_error(), "pyo3cpp_function_signature(not ours): None");
        Py_XDECREF(out);
        TAP_OK(pyo3cpp_method_register(NULL, NULL) == -1 && raised(PyExc_ValueError, NULL),
               "pyo3cpp_method_register(NULL, NULL): ValueError");
        TAP_OK(pyo3cpp_method_register(&def, &unprepared) == -1 &&
                   raised(PyExc_ValueError, "prepared"),
               "pyo3cpp_method_register(unprepared signature): ValueError");
        TAP_OK(pyo3cpp_class_member_register(NULL, "f", &unprepared) == -1 &&
                   raised(PyExc_ValueError, NULL),
               "pyo3cpp_class_member_register(NULL table): ValueError");
        TAP_OK(pyo3cpp_class_member_register(&def, NULL, &unprepared) == -1 &&
                   raised(PyExc_ValueError, NULL),
               "pyo3cpp_class_member_register(NULL name): ValueError");
        TAP_OK(pyo3cpp_class_member_register(&def, "f", &unprepared) == -1 &&
                   raised(PyExc_ValueError, "prepared"),
               "pyo3cpp_class_member_register(unprepared signature): ValueError");
        TAP_OK(pyo3cpp_class_member_signature(NULL, "f") == NULL && raised(PyExc_ValueError, NULL),
               "pyo3cpp_class_member_signature(NULL type): ValueError");
        TAP_OK(pyo3cpp_class_member_signature((PyObject *)&PyLong_Type, NULL) == NULL &&
                   raised(PyExc_ValueError, NULL),
               "pyo3cpp_class_member_signature(NULL name): ValueError");
        out = pyo3cpp_class_member_signature(obj, "__init__");
        TAP_OK(out == Py_None && no_error(), "pyo3cpp_class_member_signature(not a class): None");
        Py_XDECREF(out);
        out = pyo3cpp_class_member_signature((PyObject *)&PyLong_Type, "__init__");
        TAP_OK(out == Py_None && no_error(), "pyo3cpp_class_member_signature(not ours): None");
        Py_XDECREF(out);
    }
    {
        static const pyo3cpp_parameter one[1] = {
            {"x", NULL, "int", PYO3CPP_PARAM_POSITIONAL_ONLY, 1}};
        pyo3cpp_signature as_int = {"f", one, 1, "str", NULL};
        pyo3cpp_signature as_num = {"f", one, 1, "str", NULL};
        pyo3cpp_signature set = {"f", NULL, 0, NULL, NULL};
        pyo3cpp_signature unprepared = {"g", NULL, 0, NULL, NULL};
        pyo3cpp_overload table[2] = {{attempt_one, (void *)"num", &as_num, NULL},
                                     {attempt_one, (void *)"int", &as_int, "Exact."}};
        PyObject *args[1];
        const char *doc;
        TAP_OK(pyo3cpp_overload_prepare(NULL, table, 2, 0) == NULL &&
                   raised(PyExc_ValueError, NULL),
               "pyo3cpp_overload_prepare(NULL set): ValueError");
        TAP_OK(pyo3cpp_overload_prepare(&set, table, 0, 0) == NULL &&
                   raised(PyExc_ValueError, NULL),
               "pyo3cpp_overload_prepare(no overloads): ValueError");
        TAP_OK(pyo3cpp_overload_prepare(&set, table, 2, 0) == NULL &&
                   raised(PyExc_ValueError, "prepared") && set.prepared == NULL,
               "pyo3cpp_overload_prepare(unprepared members): ValueError");
        TAP_OK(pyo3cpp_overload_call(&unprepared, table, 2, NULL, NULL, 0, NULL) == NULL &&
                   raised(PyExc_ValueError, "prepared"),
               "pyo3cpp_overload_call(unprepared set): ValueError");
        TAP_OK(pyo3cpp_signature_prepare(&as_int, NULL) != NULL &&
                   pyo3cpp_signature_prepare(&as_num, NULL) != NULL,
               "overload members prepared");
        doc = pyo3cpp_overload_prepare(&set, table, 2, 0);
        TAP_OK(doc != NULL && strcmp(doc, "f(x: int, /) -> str\nf(x: int, /) -> str\n\nExact.") == 0,
               "pyo3cpp_overload_prepare: every signature, then the docs");
        args[0] = PyLong_FromLong(3);
        out = pyo3cpp_overload_call(&set, table, 2, NULL, args, 1, NULL);
        TAP_OK(out != NULL && strcmp(PyUnicode_AsUTF8(out), "int") == 0,
               "pyo3cpp_overload_call: the exact pass first, whatever the order");
        Py_XDECREF(out);
        Py_DECREF(args[0]);
        args[0] = PyFloat_FromDouble(3.0);
        out = pyo3cpp_overload_call(&set, table, 2, NULL, args, 1, NULL);
        TAP_OK(out != NULL && strcmp(PyUnicode_AsUTF8(out), "num") == 0,
               "pyo3cpp_overload_call: then with conversions");
        Py_XDECREF(out);
        Py_DECREF(args[0]);
        args[0] = Py_None;
        TAP_OK(pyo3cpp_overload_call(&set, table, 2, NULL, args, 1, NULL) == NULL &&
                   raised(PyExc_TypeError, "f(): no overload accepts (NoneType); the overloads "
                                           "are:\n    f(x: int, /) -> str\n    f(x: int, /) -> str"),
               "pyo3cpp_overload_call(no match): TypeError listing the signatures");
        TAP_OK(pyo3cpp_overload_call(&set, table, 2, NULL, NULL, -1, NULL) == NULL &&
                   raised(PyExc_ValueError, NULL),
               "pyo3cpp_overload_call(nargs < 0): ValueError");
    }
    TAP_OK(pyo3cpp_keep_alive(NULL, obj, 1) == -1 && raised(PyExc_ValueError, NULL),
           "pyo3cpp_keep_alive(NULL nurse): ValueError");
    {
        PyObject *function = NULL, *owner = NULL, *name = PyUnicode_FromString("append");
        unsigned int version = 0;
        TAP_OK(pyo3cpp_override_lookup(NULL, (PyObject *)&PyList_Type, name, &function, &owner, &version) == -1 &&
                   raised(PyExc_ValueError, "NULL"),
               "pyo3cpp_override_lookup(NULL self): ValueError");
        TAP_OK(pyo3cpp_override_lookup(obj, obj, name, &function, &owner, &version) == -1 &&
                   raised(PyExc_TypeError, "type"),
               "pyo3cpp_override_lookup(bound not a type): TypeError");
        TAP_OK(pyo3cpp_override_lookup(obj, (PyObject *)Py_TYPE(obj), name, &function, &owner, &version) == 0 &&
                   function == NULL && owner == NULL && no_error(),
               "pyo3cpp_override_lookup(the bound type itself): 0, nothing found");
        Py_DECREF(name);
    }
    TAP_OK(pyo3cpp_keep_alive(obj, NULL, 0) == -1 && raised(PyExc_ValueError, NULL),
           "pyo3cpp_keep_alive(NULL patient): ValueError");
    TAP_OK(pyo3cpp_keep_alive(Py_None, obj, 0) == -1 && raised(PyExc_TypeError, "weak"),
           "pyo3cpp_keep_alive(nurse without weak references): TypeError");
    {
        Py_buffer view;
        const ptrdiff_t shape[2] = {2, -1};
        double data[2] = {1, 2};
        TAP_OK(pyo3cpp_buffer_acquire(NULL, &view, 'f', 8, 1, NULL, 1, 0) == -1 &&
                   raised(PyExc_ValueError, "invalid arguments"),
               "pyo3cpp_buffer_acquire(NULL object): ValueError");
        TAP_OK(pyo3cpp_buffer_acquire(obj, NULL, 'f', 8, 1, NULL, 1, 0) == -1 &&
                   raised(PyExc_ValueError, "invalid arguments"),
               "pyo3cpp_buffer_acquire(NULL view): ValueError");
        TAP_OK(pyo3cpp_buffer_acquire(obj, &view, 'x', 8, 1, NULL, 1, 0) == -1 &&
                   raised(PyExc_ValueError, "invalid arguments"),
               "pyo3cpp_buffer_acquire(unknown kind): ValueError");
        TAP_OK(pyo3cpp_buffer_acquire(obj, &view, 'f', 8, 1, NULL, 7, 0) == -1 &&
                   raised(PyExc_ValueError, "invalid arguments"),
               "pyo3cpp_buffer_acquire(unknown layout): ValueError");
        TAP_OK(pyo3cpp_buffer_acquire(obj, &view, 'f', 8, 1, NULL, 1, 0) == -1 &&
                   raised(PyExc_TypeError, "float64, not list"),
               "pyo3cpp_buffer_acquire(a list): TypeError");
        TAP_OK(pyo3cpp_buffer_acquire_converted(NULL, &view, 'f', 8, 1, NULL, 1, NULL) == -1 &&
                   raised(PyExc_ValueError, "invalid arguments"),
               "pyo3cpp_buffer_acquire_converted(NULL object): ValueError");
        TAP_OK(pyo3cpp_buffer_fill(NULL, obj, data, "d", 8, 1, shape, NULL, 0, 0) == -1 &&
                   raised(PyExc_BufferError, "NULL view"),
               "pyo3cpp_buffer_fill(NULL view): BufferError");
        TAP_OK(pyo3cpp_buffer_fill(&view, NULL, data, "d", 8, 1, shape, NULL, 0, 0) == -1 &&
                   view.obj == NULL && raised(PyExc_BufferError, "invalid"),
               "pyo3cpp_buffer_fill(NULL exporter): BufferError, view->obj NULL");
        TAP_OK(pyo3cpp_buffer_fill(&view, obj, data, "d", 8, 1, NULL, NULL, 0, 0) == -1 &&
                   raised(PyExc_BufferError, "invalid"),
               "pyo3cpp_buffer_fill(NULL shape): BufferError");
        TAP_OK(pyo3cpp_buffer_fill(&view, obj, data, "d", 8, 2, shape, NULL, 0, PyBUF_RECORDS) == -1 &&
                   raised(PyExc_BufferError, "negative"),
               "pyo3cpp_buffer_fill(negative extent): BufferError");
        TAP_OK(pyo3cpp_buffer_fill(&view, obj, data, "d", 8, 1, shape, NULL, 1, PyBUF_WRITABLE) == -1 &&
                   raised(PyExc_BufferError, "read-only"),
               "pyo3cpp_buffer_fill(writable request, read-only): BufferError");
        refs = Py_REFCNT(obj);
        TAP_OK(pyo3cpp_buffer_fill(&view, obj, data, "d", 8, 1, shape, NULL, 0, PyBUF_RECORDS) == 0 &&
                   view.obj == obj && Py_REFCNT(obj) == refs + 1 && view.shape[0] == 2 &&
                   view.strides[0] == 8 && view.len == 16,
               "pyo3cpp_buffer_fill: a C-order 1-D export holding the exporter");
        pyo3cpp_buffer_fill_release(&view);
        Py_DECREF(view.obj);
        released_arrays = 0;
        TAP_OK(pyo3cpp_array_new(data, NULL, 8, 1, shape, release_array, NULL, 0) == NULL &&
                   raised(PyExc_ValueError, "invalid") && released_arrays == 1,
               "pyo3cpp_array_new(NULL format): ValueError, the memory released");
        TAP_OK(pyo3cpp_array_new(data, "d", 4, 1, shape, release_array, NULL, 0) == NULL &&
                   raised(PyExc_ValueError, "invalid") && released_arrays == 2,
               "pyo3cpp_array_new(format and item size disagree): ValueError, released");
        TAP_OK(pyo3cpp_array_new(data, "d", 8, 2, shape, release_array, NULL, 0) == NULL &&
                   raised(PyExc_ValueError, "negative") && released_arrays == 3,
               "pyo3cpp_array_new(negative extent): ValueError, released");
    }
    pyo3cpp_keep_alive_release(NULL);
    pyo3cpp_keep_alive_release(obj); /* keeps nothing: a no-op */
    TAP_OK(no_error() && pyo3cpp_keep_alive_traverse(obj, NULL, NULL) == 0,
           "pyo3cpp_keep_alive_release/traverse of a nurse keeping nothing: no-ops");
    TAP_OK(pyo3cpp_wait_begin(NULL) == -1 && raised(PyExc_ValueError, NULL),
           "pyo3cpp_wait_begin(NULL): ValueError");
    pyo3cpp_wait_end(NULL);
    count_calls = 0;
    TAP_OK(pyo3cpp_wait_take(NULL, fn_returns_7, NULL) == 0 && count_calls == 0,
           "pyo3cpp_wait_take(NULL wait): 0, take not run");
    TAP_OK(pyo3cpp_wait_graph_add_thread(NULL, NULL) == -1 && no_error(),
           "pyo3cpp_wait_graph_add_thread(NULL): -1, no exception");
    pyo3cpp_wait_graph_remove_thread(NULL);
    pyo3cpp_wait_graph_remove_thread(obj); /* never added: a no-op */
    {
        /* A wait nobody else is in a cycle with: registered, taken, ended. */
        pyo3cpp_wait wait = {0};
        int taken;
        wait.kind = PYO3CPP_WAIT_ONCE;
        wait.name = "bad-input cell";
        TAP_OK(pyo3cpp_wait_begin(&wait) == 0 && wait.linked == 1, "pyo3cpp_wait_begin: registered");
        TAP_OK(pyo3cpp_wait_begin(&wait) == -1 && raised(PyExc_ValueError, "already registered") &&
                   wait.linked == 1,
               "pyo3cpp_wait_begin(a registered wait): ValueError, still registered once");
        taken = pyo3cpp_wait_take(&wait, fn_returns_7, NULL);
        TAP_OK(taken == 7 && wait.acquired == 1 && wait.linked == 0,
               "pyo3cpp_wait_take: its result, acquired, the wait ended");
        pyo3cpp_wait_end(&wait); /* already ended: a no-op */
        count_calls = 0;
        TAP_OK(no_error(), "pyo3cpp_wait_*: no exception");
    }
    TAP_OK(pyo3cpp_holder_find(NULL, obj) == NULL && pyo3cpp_holder_find(obj, NULL) == NULL && no_error(),
           "pyo3cpp_holder_find(NULL value or class): NULL, no exception");
    TAP_OK(pyo3cpp_holder_register(NULL, obj, obj) == NULL && raised(PyExc_ValueError, "NULL"),
           "pyo3cpp_holder_register(NULL value): ValueError");
    TAP_OK(pyo3cpp_holder_register(obj, obj, NULL) == NULL && raised(PyExc_ValueError, "NULL"),
           "pyo3cpp_holder_register(NULL object): ValueError");
    pyo3cpp_holder_forget(NULL, NULL, NULL);
    {
        /* Registered, found, kept when another object is forgotten, forgotten. */
        static int value;
        PyObject *got = pyo3cpp_holder_register(&value, obj, obj);
        PyObject *found = pyo3cpp_holder_find(&value, obj);
        TAP_OK(got == obj && found == obj, "pyo3cpp_holder_register/find: the registered object");
        Py_XDECREF(got);
        Py_XDECREF(found);
        pyo3cpp_holder_forget(&value, obj, Py_None);
        found = pyo3cpp_holder_find(&value, obj);
        TAP_OK(found == obj, "pyo3cpp_holder_forget(another object): the entry stays");
        Py_XDECREF(found);
        pyo3cpp_holder_forget(&value, obj, obj);
        TAP_OK(pyo3cpp_holder_find(&value, obj) == NULL && no_error(), "pyo3cpp_holder_forget: gone");
    }
    pyo3cpp_runtime_python(NULL, NULL, NULL);
    TAP_OK(no_error(), "pyo3cpp_runtime_python(NULL, NULL, NULL) is a no-op");
    TAP_OK(pyo3cpp_detach(NULL, NULL) == -1 && raised(PyExc_ValueError, "fn is NULL"),
           "pyo3cpp_detach(NULL): ValueError");
    TAP_OK(pyo3cpp_critical_section_begin(NULL, obj) == -1 && raised(PyExc_ValueError, NULL),
           "pyo3cpp_critical_section_begin(NULL section): ValueError");
    TAP_OK(pyo3cpp_critical_section_begin(&cs, NULL) == -1 && raised(PyExc_ValueError, NULL),
           "pyo3cpp_critical_section_begin(NULL object): ValueError");
    TAP_OK(pyo3cpp_critical_section_begin2(&cs, obj, NULL) == -1 &&
               raised(PyExc_ValueError, NULL),
           "pyo3cpp_critical_section_begin2(obj, NULL): ValueError");
    TAP_OK(pyo3cpp_critical_section_begin2(NULL, obj, obj) == -1 &&
               raised(PyExc_ValueError, NULL),
           "pyo3cpp_critical_section_begin2(NULL section): ValueError");
    pyo3cpp_critical_section_end(NULL);
    memset(&cs, 0, sizeof cs);
    pyo3cpp_critical_section_end(&cs); /* zeroed, never begun: documented no-op */
    TAP_OK(no_error(), "pyo3cpp_critical_section_end(NULL / zeroed) is a no-op");
    TAP_OK(pyo3cpp_object_lock(NULL) == -1 && raised(PyExc_ValueError, "NULL"),
           "pyo3cpp_object_lock(NULL): ValueError");
    TAP_OK(pyo3cpp_object_unlock(NULL) == -1 && raised(PyExc_ValueError, "NULL"),
           "pyo3cpp_object_unlock(NULL): ValueError");
    TAP_OK(pyo3cpp_mutex_lock(NULL) == -1 && raised(PyExc_ValueError, "NULL"),
           "pyo3cpp_mutex_lock(NULL): ValueError");
    TAP_OK(pyo3cpp_mutex_try_lock(NULL) == -1 && raised(PyExc_ValueError, "NULL"),
           "pyo3cpp_mutex_try_lock(NULL): ValueError");
    TAP_OK(pyo3cpp_mutex_unlock(NULL) == -1 && raised(PyExc_ValueError, "NULL"),
           "pyo3cpp_mutex_unlock(NULL): ValueError");
    TAP_OK(pyo3cpp_once_run(NULL, init_fails_silently, NULL, "x") == -1 &&
               raised(PyExc_ValueError, NULL),
           "pyo3cpp_once_run(NULL cell): ValueError");
    TAP_OK(pyo3cpp_once_run(&once, NULL, NULL, "x") == -1 && raised(PyExc_ValueError, NULL),
           "pyo3cpp_once_run(NULL init): ValueError");
    pyo3cpp_once_reset(NULL);
    TAP_OK(pyo3cpp_on_finalize(NULL, NULL) == -1 && raised(PyExc_ValueError, "NULL"),
           "pyo3cpp_on_finalize(NULL): ValueError");
    TAP_OK(pyo3cpp_object_cell_get_or_init(NULL, object_init_list, NULL, "x") == NULL &&
               raised(PyExc_ValueError, NULL),
           "pyo3cpp_object_cell_get_or_init(NULL cell): ValueError");
    TAP_OK(pyo3cpp_object_cell_get_or_init(&cell, NULL, NULL, "x") == NULL &&
               raised(PyExc_ValueError, NULL),
           "pyo3cpp_object_cell_get_or_init(NULL init): ValueError");
    TAP_OK(pyo3cpp_object_cell_get_or_race(NULL, object_init_list, NULL) == NULL &&
               raised(PyExc_ValueError, NULL),
           "pyo3cpp_object_cell_get_or_race(NULL cell): ValueError");
    TAP_OK(pyo3cpp_object_cell_get_or_race(&cell, NULL, NULL) == NULL &&
               raised(PyExc_ValueError, NULL),
           "pyo3cpp_object_cell_get_or_race(NULL init): ValueError");
    Py_INCREF(obj);
    refs = Py_REFCNT(obj);
    TAP_OK(pyo3cpp_object_cell_set(NULL, obj) == -1 && raised(PyExc_ValueError, NULL) &&
               Py_REFCNT(obj) == refs - 1,
           "pyo3cpp_object_cell_set(NULL cell): ValueError, value still stolen");
    TAP_OK(pyo3cpp_object_cell_set(&cell, NULL) == -1 && raised(PyExc_ValueError, NULL),
           "pyo3cpp_object_cell_set(NULL value): ValueError");
    TAP_OK(pyo3cpp_object_cell_take(NULL) == NULL && no_error(),
           "pyo3cpp_object_cell_take(NULL): NULL, no exception");
    TAP_OK(pyo3cpp_intern(NULL, "x") == NULL && raised(PyExc_ValueError, NULL),
           "pyo3cpp_intern(NULL cell): ValueError");
    TAP_OK(pyo3cpp_intern(&cell, NULL) == NULL && raised(PyExc_ValueError, NULL),
           "pyo3cpp_intern(NULL string): ValueError");
    TAP_OK(pyo3cpp_import_cached(NULL, "sys", NULL) == NULL && raised(PyExc_ValueError, NULL),
           "pyo3cpp_import_cached(NULL cell): ValueError");
    TAP_OK(pyo3cpp_import_cached(&cell, NULL, "path") == NULL && raised(PyExc_ValueError, NULL),
           "pyo3cpp_import_cached(NULL module): ValueError");
    TAP_OK(pyo3cpp_object_cell_get(&cell) == NULL, "the cell is still empty after every refusal");
    attached_null_lookups(obj);
    TAP_OK(pyo3cpp_attach(NULL) == -1 && no_error(), "pyo3cpp_attach(NULL) attached: -1");
    TAP_OK(pyo3cpp_try_attach(NULL) == -1 && no_error(), "pyo3cpp_try_attach(NULL) attached: -1");
    Py_DECREF(obj);
}

static void attached_wrong_values(void)
{
    pyo3cpp_critical_section cs;
    pyo3cpp_object_cell cell = PYO3CPP_OBJECT_CELL_INIT;
    pyo3cpp_once_state once = PYO3CPP_ONCE_STATE_INIT;
    pyo3cpp_mutex mutex = PYO3CPP_MUTEX_INIT;
    pyo3cpp_attach_state failed;
    PyObject *obj, *first;
    Py_ssize_t refs;
    long pending;
    void *token;

    TAP_OK(pyo3cpp_check_runtime(-1, PY_MAJOR_VERSION, PY_MINOR_VERSION,
                                 PYO3CPP_COMPILED_FREE_THREADED, NULL) == -1 &&
               raised(PyExc_ImportError, "extension was built for pyo3cpp ABI -1"),
           "pyo3cpp_check_runtime(ABI -1, NULL name): ImportError naming 'extension'");
    TAP_OK(pyo3cpp_check_runtime(PYO3CPP_ABI_VERSION, 2, 7, PYO3CPP_COMPILED_FREE_THREADED,
                                 "old") == -1 &&
               raised(PyExc_ImportError, "on CPython 2.7"),
           "pyo3cpp_check_runtime(CPython 2.7): ImportError naming 2.7");
    TAP_OK(pyo3cpp_check_runtime(PYO3CPP_ABI_VERSION, PY_MAJOR_VERSION, PY_MINOR_VERSION,
                                 PYO3CPP_COMPILED_FREE_THREADED ? 0 : 42, "flag") == -1 &&
               raised(PyExc_ImportError, PYO3CPP_COMPILED_FREE_THREADED ? "(GIL)" :
                                                                          "(free-threaded)"),
           "pyo3cpp_check_runtime(other build flag): ImportError naming the build");

    /* Any object can be locked: None, an int, a type. */
    TAP_OK(pyo3cpp_critical_section_begin(&cs, Py_None) == 0, "critical section on None");
    pyo3cpp_critical_section_end(&cs);
    pyo3cpp_critical_section_end(&cs); /* ending twice: the kind was reset, a no-op */
    obj = PyLong_FromLong(12345678);
    TAP_OK(pyo3cpp_critical_section_begin2(&cs, obj, obj) == 0, "begin2(a, a) locks once");
    pyo3cpp_critical_section_end(&cs);
    TAP_OK(no_error(), "sections on arbitrary objects set nothing");

#ifdef Py_GIL_DISABLED
    TAP_OK(pyo3cpp_object_unlock(Py_None) == -1 && raised(PyExc_RuntimeError, "not held"),
           "pyo3cpp_object_unlock(not held): RuntimeError");
#endif
    TAP_OK(pyo3cpp_object_lock(Py_None) == 0 && pyo3cpp_object_lock(Py_None) == 0 &&
               pyo3cpp_object_unlock(Py_None) == 0 && pyo3cpp_object_unlock(Py_None) == 0 &&
               no_error(),
           "object lock is recursive on one thread");
    TAP_OK(pyo3cpp_mutex_unlock(&mutex) == -1 && raised(PyExc_RuntimeError, "not locked"),
           "pyo3cpp_mutex_unlock(unlocked): RuntimeError");
    TAP_OK(pyo3cpp_mutex_try_lock(&mutex) == 1 && pyo3cpp_mutex_unlock(&mutex) == 0 &&
               pyo3cpp_mutex_try_lock(&mutex) == 1 && pyo3cpp_mutex_unlock(&mutex) == 0,
           "the mutex still works after a bad unlock");

    TAP_OK(pyo3cpp_once_run(&once, init_fails_silently, NULL, "silent") == -1 &&
               raised(PyExc_SystemError, "without setting an exception") && once.state == 0,
           "once_run: init returning -1 with no exception -> SystemError, cell empty");
    TAP_OK(pyo3cpp_once_run(&recursive_once, init_recurses, NULL, "recursive_cell") == -1 &&
               recursive_result == -1 &&
               raised(PyExc_RuntimeError, "recursive initialisation of once-cell 'recursive_cell'"),
           "once_run: recursion on the same thread -> RuntimeError naming the cell");
    TAP_OK(pyo3cpp_on_finalize(forget_nothing, NULL) == 0 &&
               pyo3cpp_on_finalize(forget_nothing, NULL) == 0 && no_error(),
           "pyo3cpp_on_finalize is idempotent");

    TAP_OK(pyo3cpp_object_cell_get_or_init(&cell, object_init_returns_null, NULL, "c") == NULL &&
               raised(PyExc_SystemError, "without setting an exception"),
           "get_or_init: init NULL without exception -> SystemError");
    TAP_OK(pyo3cpp_object_cell_get_or_init(&cell, object_init_raises, NULL, "c") == NULL &&
               raised(PyExc_KeyError, "from the initialiser") &&
               pyo3cpp_object_cell_get(&cell) == NULL,
           "get_or_init: init's exception propagates, cell stays empty");
    TAP_OK(pyo3cpp_object_cell_get_or_race(&cell, object_init_returns_null, NULL) == NULL &&
               raised(PyExc_SystemError, NULL),
           "get_or_race: init NULL without exception -> SystemError");
    first = pyo3cpp_object_cell_get_or_init(&cell, object_init_list, NULL, "c");
    TAP_OK(first != NULL && pyo3cpp_object_cell_get(&cell) == first, "get_or_init then works");
    Py_INCREF(obj);
    refs = Py_REFCNT(obj);
    TAP_OK(pyo3cpp_object_cell_set(&cell, obj) == 0 && Py_REFCNT(obj) == refs - 1 &&
               no_error(),
           "object_cell_set on a full cell: 0, the value is released");
    first = pyo3cpp_object_cell_take(&cell);
    TAP_OK(first != NULL && PyList_Check(first) && pyo3cpp_object_cell_get(&cell) == NULL,
           "object_cell_take returns the owned object and empties the cell");
    Py_XDECREF(first);

    TAP_OK(pyo3cpp_intern(&cell, "bad \xff utf-8") == NULL &&
               raised(PyExc_UnicodeDecodeError, NULL) && pyo3cpp_object_cell_get(&cell) == NULL,
           "pyo3cpp_intern(invalid UTF-8): UnicodeDecodeError, cell empty");
    TAP_OK(pyo3cpp_import_cached(&cell, "pyo3cpp_no_such_module", NULL) == NULL &&
               raised(PyExc_ImportError, "pyo3cpp_no_such_module"),
           "pyo3cpp_import_cached(missing module): ImportError naming it");
    TAP_OK(pyo3cpp_import_cached(&cell, "sys", "no_such_attr") == NULL &&
               raised(PyExc_AttributeError, "no_such_attr") &&
               pyo3cpp_object_cell_get(&cell) == NULL,
           "pyo3cpp_import_cached(missing attr): AttributeError naming it, cell empty");

    /* Container lookups on the wrong container: what CPython 3.13 raises, *result NULL. */
    first = obj;
    TAP_OK(pyo3cpp_dict_get_item_ref(obj, obj, &first) == -1 && first == NULL &&
               raised(PyExc_SystemError, "bad argument to internal function"),
           "pyo3cpp_dict_get_item_ref(int as dict): SystemError, like PyDict_GetItemRef");
    first = obj;
    TAP_OK(pyo3cpp_dict_get_item_string_ref(obj, "k", &first) == -1 && first == NULL &&
               raised(PyExc_SystemError, "bad argument to internal function"),
           "pyo3cpp_dict_get_item_string_ref(int as dict): SystemError");
    TAP_OK(pyo3cpp_list_get_item_ref(obj, 0) == NULL && raised(PyExc_TypeError, "expected a list"),
           "pyo3cpp_list_get_item_ref(int as list): TypeError, like PyList_GetItemRef");
    first = obj;
    TAP_OK(pyo3cpp_dict_set_default_ref(obj, obj, obj, &first) == -1 && first == NULL &&
               raised(PyExc_SystemError, "bad argument to internal function"),
           "pyo3cpp_dict_set_default_ref(int as dict): SystemError, like PyDict_SetDefaultRef");
    first = obj;
    TAP_OK(pyo3cpp_weakref_get_ref(obj, &first) == -1 && first == NULL &&
               raised(PyExc_TypeError, "expected a weakref"),
           "pyo3cpp_weakref_get_ref(int): TypeError, like PyWeakref_GetRef");

    /* A full cell cleared while detached: its reference goes through the pool. */
    Py_INCREF(obj);
    refs = Py_REFCNT(obj);
    TAP_OK(pyo3cpp_object_cell_set(&cell, obj) == 1, "object_cell_set on an empty cell: 1");
    token = pyo3cpp_detach_begin();
    pyo3cpp_object_cell_clear(&cell);
    pyo3cpp_detach_end(token);
    TAP_OK(Py_REFCNT(obj) == refs - 1 && pyo3cpp_object_cell_get(&cell) == NULL && no_error(),
           "pyo3cpp_object_cell_clear while detached: released via the pool, cell empty");
    pyo3cpp_on_finalize_cancel(forget_nothing, NULL);
    pyo3cpp_on_finalize_cancel(forget_nothing, NULL); /* already removed */
    TAP_OK(no_error(), "pyo3cpp_on_finalize_cancel twice is a no-op");

    /* Debug hooks: callable in every build, never fail. */
    TAP_OK(pyo3cpp_debug_thread_state() & PYO3CPP_DEBUG_ATTACHED, "debug_thread_state: attached");
    pyo3cpp_debug_traverse_enter();
    pending = pyo3cpp_debug_thread_state();
    pyo3cpp_debug_traverse_leave();
    TAP_OK((pending & PYO3CPP_DEBUG_IN_TRAVERSE) &&
               !(pyo3cpp_debug_thread_state() & PYO3CPP_DEBUG_IN_TRAVERSE),
           "debug_traverse_enter/leave bracket the traversal bit");
    pending = pyo3cpp_debug_live_py();
    pyo3cpp_debug_count_py(3);
    pyo3cpp_debug_count_py(-3);
    TAP_OK(pyo3cpp_debug_live_py() == pending, "debug_count_py(+3, -3) leaves debug_live_py unchanged");

    /* Attach state from a failed attach is a no-op to release. */
    failed.kind = 0;
    failed.gilstate = 0;
    failed.reserved = NULL;
    pyo3cpp_release_attach(&failed);
    TAP_OK(pyo3cpp_is_attached() == 1, "releasing a failed attach state changes nothing");

    /* References: a decref queued explicitly is applied by the next drain, exactly once. */
    Py_INCREF(obj);
    refs = Py_REFCNT(obj);
    pending = pyo3cpp_pool_pending();
    pyo3cpp_defer_decref(obj);
    TAP_OK(pyo3cpp_pool_pending() == pending + 1 && Py_REFCNT(obj) == refs,
           "pyo3cpp_defer_decref queues even when attached");
    TAP_OK(pyo3cpp_pool_drain() >= 1 && Py_REFCNT(obj) == refs - 1, "pyo3cpp_pool_drain applies it");
    Py_INCREF(obj);
    pyo3cpp_release_ref(obj);
    TAP_OK(Py_REFCNT(obj) == refs - 1, "pyo3cpp_release_ref attached: immediate decref");
    Py_INCREF(obj);
    pyo3cpp_drop_scope_enter();
    pyo3cpp_drop_scope_enter();
    pyo3cpp_release_ref(obj);
    pyo3cpp_drop_scope_exit();
    TAP_OK(Py_REFCNT(obj) == refs, "a drop scope holds a released reference until its outermost exit");
    pyo3cpp_drop_scope_exit();
    TAP_OK(Py_REFCNT(obj) == refs - 1, "the outermost drop scope exit releases it");

    /* set while not attached still steals: the reference waits in the pool. */
    Py_INCREF(obj);
    token = pyo3cpp_detach_begin();
    TAP_OK(token != NULL, "pyo3cpp_detach_begin attached: a token");
    TAP_OK(pyo3cpp_object_cell_set(&cell, obj) == -1, "object_cell_set while detached: -1");
    pyo3cpp_detach_end(token);
    TAP_OK(no_error() && Py_REFCNT(obj) == refs - 1 && pyo3cpp_object_cell_get(&cell) == NULL,
           "...and its value was released through the pool, no exception");
    Py_DECREF(obj);
}

int main(void)
{
    PyThreadState *main_state;
    pthread_t thread;
    pyo3cpp_attach_state st;
    pyo3cpp_object_cell cell = PYO3CPP_OBJECT_CELL_INIT;

    /* Before the interpreter exists: refuse, never crash, never block. */
    TAP_OK(pyo3cpp_is_attached() == 0 && pyo3cpp_attach(&st) == -1 &&
               pyo3cpp_try_attach(&st) == -1 && st.kind == 0,
           "before Py_Initialize: not attached, attach refuses");
    pyo3cpp_release_attach(&st);
    TAP_OK(pyo3cpp_intern(&cell, "early") == NULL && pyo3cpp_pool_drain() == -1 &&
               pyo3cpp_detach_begin() == NULL,
           "before Py_Initialize: intern/pool_drain/detach_begin refuse");

    Py_InitializeEx(0);
    main_state = PyEval_SaveThread();
    not_attached("detached Python thread");
    pthread_create(&thread, NULL, foreign_thread, NULL);
    pthread_join(thread, NULL);

    pyo3cpp_attach(&st);
    attached_nulls();
    attached_wrong_values();
    pyo3cpp_release_attach(&st);

    PyEval_RestoreThread(main_state);
    TAP_OK(Py_FinalizeEx() == 0, "interpreter finalised cleanly");
    return TAP_DONE();
}
