/* program.c — a C program (it embeds nothing, but libpyo3cpp.so references CPython symbols, so
 * a program links libpython: python-3.X-embed) built with pkg-config against an installed prefix. */
#include <stdio.h>

#include <pyo3cpp.h>

int main(void)
{
    long abi = pyo3cpp_abi_version();
    int major = 0, minor = 0, free_threaded = -1;
    pyo3cpp_runtime_python(&major, &minor, &free_threaded);
    printf("pyo3cpp ABI %ld for CPython %d.%d%s\n", abi, major, minor, free_threaded ? "t" : "");
    return abi == PYO3CPP_ABI_VERSION ? 0 : 1;
}
