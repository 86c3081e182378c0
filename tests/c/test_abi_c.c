/* test_abi_c.c — the C ABI exercised from C99 through abi/pyo3cpp.h and CPython's C API alone. */
#include <Python.h>

#include "pyo3cpp.h"
#include "tap.h"

static void test_versions(void)
{
    int major = 0, minor = 0, ft = -1;
    TAP_OK(pyo3cpp_abi_version() == PYO3CPP_ABI_VERSION, "abi version matches the header");
    pyo3cpp_runtime_python(&major, &minor, &ft);
    TAP_OK(major == PY_MAJOR_VERSION && minor == PY_MINOR_VERSION, "runtime python version");
    TAP_OK(ft == PYO3CPP_COMPILED_FREE_THREADED, "runtime free-threaded flag");
}

static void test_runtime_check(void)
{
    pyo3cpp_attach_state st;
    PyObject *msg;
    TAP_OK(pyo3cpp_attach(&st) == 0, "attach");
    TAP_OK(PYO3CPP_CHECK_RUNTIME("c_test") == 0 && !PyErr_Occurred(), "matching runtime passes");
    TAP_OK(pyo3cpp_check_runtime(PYO3CPP_ABI_VERSION + 1, PY_MAJOR_VERSION, PY_MINOR_VERSION,
                                 PYO3CPP_COMPILED_FREE_THREADED, "mismatched") == -1 &&
               PyErr_ExceptionMatches(PyExc_ImportError),
           "other ABI version is an ImportError");
    {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        msg = value ? PyObject_Str(value) : NULL;
        TAP_OK(msg && strstr(PyUnicode_AsUTF8(msg), "mismatched was built for pyo3cpp ABI 2") &&
                   strstr(PyUnicode_AsUTF8(msg), "implements ABI 1"),
               "ImportError names both sides");
        Py_XDECREF(msg);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
    }
    TAP_OK(pyo3cpp_check_runtime(PYO3CPP_ABI_VERSION, PY_MAJOR_VERSION, PY_MINOR_VERSION,
                                 !PYO3CPP_COMPILED_FREE_THREADED, "otherbuild") == -1 &&
               PyErr_ExceptionMatches(PyExc_ImportError),
           "other build (GIL vs free-threaded) is an ImportError");
    PyErr_Clear();
    pyo3cpp_release_attach(&st);
}

static void test_pool_from_detached(void)
{
    pyo3cpp_attach_state st;
    PyObject *obj;
    Py_ssize_t before;
    void *token;
    pyo3cpp_attach(&st);
    obj = PyList_New(0);
    before = Py_REFCNT(obj);
    Py_INCREF(obj);
    token = pyo3cpp_detach_begin();
    TAP_OK(token != NULL && !pyo3cpp_is_attached(), "detached");
    pyo3cpp_release_ref(obj); /* not attached: queued */
    TAP_OK(pyo3cpp_pool_pending() >= 1, "release while detached is queued");
    pyo3cpp_detach_end(token); /* re-attach drains */
    TAP_OK(pyo3cpp_pool_pending() == 0, "re-attach drained the pool");
    TAP_OK(Py_REFCNT(obj) == before, "the queued decref was applied exactly once");
    Py_DECREF(obj);
    pyo3cpp_release_attach(&st);
}

int main(void)
{
    PyThreadState *main_state;
    int rc;
    Py_InitializeEx(0);
    main_state = PyEval_SaveThread();
    TAP_OK(!pyo3cpp_is_attached(), "main thread starts detached");
    test_versions();
    test_runtime_check();
    test_pool_from_detached();
    PyEval_RestoreThread(main_state);
    rc = Py_FinalizeEx();
    TAP_OK(rc == 0, "interpreter finalised cleanly");
    return TAP_DONE();
}
