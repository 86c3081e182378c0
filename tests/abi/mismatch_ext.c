/* mismatch_ext.c — one extension source built three times, each as if compiled for a runtime
 * other than the libpyo3cpp.so it loads:
 *   -DMISMATCH_ABI     a future header (PYO3CPP_ABI_VERSION one higher)
 *   -DMISMATCH_BUILD   the other CPython build (GIL vs free-threaded)
 *   -DMISMATCH_PYTHON  the next CPython minor version
 * Its exec slot runs PYO3CPP_CHECK_RUNTIME like every extension must; the import has to fail
 * with an ImportError naming both sides (tests/abi/test_mismatch.py). Nothing else is reached. */
#include <Python.h>

#include "pyo3cpp.h"

#if defined(MISMATCH_ABI)
#  undef PYO3CPP_ABI_VERSION
#  define PYO3CPP_ABI_VERSION 2L
#elif defined(MISMATCH_BUILD)
#  if PYO3CPP_COMPILED_FREE_THREADED
#    undef PYO3CPP_COMPILED_FREE_THREADED
#    define PYO3CPP_COMPILED_FREE_THREADED 0
#  else
#    undef PYO3CPP_COMPILED_FREE_THREADED
#    define PYO3CPP_COMPILED_FREE_THREADED 1
#  endif
#elif defined(MISMATCH_PYTHON)
/* PY_MINOR_VERSION itself stays (PY_VERSION_HEX is built from it): the check sees 99. */
#  undef PYO3CPP_CHECK_RUNTIME
#  define PYO3CPP_CHECK_RUNTIME(name)                                                      \
    pyo3cpp_check_runtime(PYO3CPP_ABI_VERSION, PY_MAJOR_VERSION, 99,                       \
                          PYO3CPP_COMPILED_FREE_THREADED, (name))
#else
#  error "define one of MISMATCH_ABI, MISMATCH_BUILD, MISMATCH_PYTHON"
#endif

#define STR_(x) #x
#define STR(x) STR_(x)
#define CONCAT_(a, b) a##b
#define CONCAT(a, b) CONCAT_(a, b)

static int exec_module(PyObject *module)
{
    (void)module;
    return PYO3CPP_CHECK_RUNTIME(STR(MISMATCH_MODULE));
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, (void *)(uintptr_t)exec_module}, /* ISO C: via an integer */
#if PY_VERSION_HEX >= 0x030D0000
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL}};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, STR(MISMATCH_MODULE),
                                        "Deliberately mismatched; must not import.", 0, NULL,
                                        slots, NULL, NULL, NULL};

PyMODINIT_FUNC CONCAT(PyInit_, MISMATCH_MODULE)(void);
PyMODINIT_FUNC CONCAT(PyInit_, MISMATCH_MODULE)(void) { return PyModuleDef_Init(&module_def); }
