/* pyo3cpp._loader — loads the runtime library for the package's __init__.py.
 *
 * load(soname, path) makes libpyo3cpp-<tag>.so.<abi> part of the process once and for good:
 * the copy already loaded under that SONAME if there is one (an extension built against a
 * system install, loaded first through its RUNPATH), the package's own file otherwise. It
 * returns (abi_version, major, minor, free_threaded) as the loaded library reports them, for
 * __init__.py to compare with what the package was built for; a library that cannot be loaded,
 * or lacks those two entry points, is an OSError carrying the loader's message.
 *
 * Why C: this is the whole of what __init__.py used ctypes for, and an extension package imports
 * pyo3cpp before anything else, so _ctypes and libffi were most of the package's own import
 * time (bench/import_time.md). It needs no pyo3cpp header and links nothing but libc: it must
 * load even when the runtime beside it is the wrong one, so that the package can say so.
 *
 * Any thread holding the GIL (or attached, free-threaded); no state, safe in subinterpreters.
 * Never unloads: the runtime's pools and locks live as long as the process. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <string.h>

/* A function pointer from dlsym's void* (ISO C has no direct conversion: copy the bits). */
static int lookup(void *library, const char *name, void *function_pointer, size_t size)
{
    void *symbol = dlsym(library, name);
    if (symbol == NULL)
        return 0;
    memcpy(function_pointer, &symbol, size);
    return 1;
}

static PyObject *load(PyObject *module, PyObject *args)
{
    const char *soname, *path;
    void *library;
    long (*abi_version)(void);
    void (*runtime_python)(int *, int *, int *);
    int major = 0, minor = 0, free_threaded = 0;
    (void)module;
    if (!PyArg_ParseTuple(args, "ss:load", &soname, &path))
        return NULL;
    /* RTLD_LOCAL is enough: extensions reach the runtime through their own DT_NEEDED entry,
     * which the dynamic loader resolves by SONAME to this already loaded object. RTLD_NOW, as
     * CPython loads extension modules: a symbol this interpreter lacks is an OSError here, at
     * import, never a process exit at the first call. */
    library = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
    if (library == NULL)
        library = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *reason = dlerror();
        PyErr_Format(PyExc_OSError, "%s", reason ? reason : path);
        return NULL;
    }
    if (!lookup(library, "pyo3cpp_abi_version", &abi_version, sizeof abi_version)
        || !lookup(library, "pyo3cpp_runtime_python", &runtime_python, sizeof runtime_python)) {
        PyErr_Format(PyExc_OSError, "%s is not a pyo3cpp runtime (no pyo3cpp_abi_version or "
                     "pyo3cpp_runtime_python)", path);
        return NULL;
    }
    runtime_python(&major, &minor, &free_threaded);
    return Py_BuildValue("(liiO)", abi_version(), major, minor, free_threaded ? Py_True : Py_False);
}

static PyMethodDef loader_methods[] = {
    {"load", load, METH_VARARGS,
     "load(soname, path) -> (abi_version, major, minor, free_threaded): the pyo3cpp runtime, "
     "already loaded by SONAME or loaded from path."},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot loader_slots[] = {
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#ifdef Py_GIL_DISABLED
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef loader_module = {
    PyModuleDef_HEAD_INIT, "pyo3cpp._loader",
    "Loads the pyo3cpp runtime library for the pyo3cpp package (no ctypes).",
    0, loader_methods, loader_slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__loader(void)
{
    return PyModuleDef_Init(&loader_module);
}
