/* header_only.c — abi/pyo3cpp.h alone is strict C99 (compiled with -std=c99 -Wall -Wextra
 * -Werror -pedantic by compile_checks.py): its declarations need nothing from <Python.h>. */
#include "pyo3cpp.h"

long header_only_probe(void);
long header_only_probe(void)
{
    static pyo3cpp_object_cell cell = PYO3CPP_OBJECT_CELL_INIT;
    static pyo3cpp_mutex mutex = PYO3CPP_MUTEX_INIT;
    (void)mutex;
    return pyo3cpp_object_cell_get(&cell) == NULL ? pyo3cpp_abi_version() : 0;
}
