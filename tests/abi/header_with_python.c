/* header_with_python.c — the usual include order of an extension (<Python.h> first, as CPython
 * requires) is strict C99 too, and the runtime-check macro expands to valid C. */
#include <Python.h>

#include "pyo3cpp.h"

int header_with_python_probe(void);
int header_with_python_probe(void)
{
    static pyo3cpp_object_cell name = PYO3CPP_OBJECT_CELL_INIT;
    PyObject *s;
    if (PYO3CPP_CHECK_RUNTIME("probe") != 0) return -1;
    s = pyo3cpp_intern(&name, "probe");
    return s == NULL ? -1 : 0;
}
