// misuse_entries.cpp — distinct C function pointers for the ml_meth of function objects that are
// never called through it (abi/pyo3cpp.h: pyo3cpp_function_misuse_entry).
//
// Why: CPython compares and hashes built-in functions by (__self__, ml_meth). The function
// objects past the runtime's shared entries (function.hpp's builtin_method form, class.hpp's late
// methods) are reached through their vectorcall slot, so their ml_meth only ever serves code that
// digs it out of the PyMethodDef; when they all shared one, distinct functions of a module
// compared equal and collided as dict keys. Each now gets an address of its own.
//
// How: a run of one-instruction no-ops ending in a jump to the misuse report. Every instruction
// boundary in the run is an entry: a call there slides to the report, which ignores its
// arguments, raises SystemError and returns NULL, whatever signature the caller assumed. One
// byte per entry on x86-64, four on AArch64; elsewhere every entry is the report itself (the
// functions then compare equal, as before).
//
// Thread: any thread, attached or not (an atomic counter). The report itself needs the caller to
// be attached, as any call of a C function of a built-in does.
#include <Python.h>  // first, as CPython requires

#include <atomic>
#include <cstddef>

#include "runtime_state.h"

extern "C" {

// The report every entry reaches: arguments ignored.
__attribute__((visibility("hidden"), used)) PyObject *pyo3cpp_misuse_report(void)
{
    PyErr_SetString(PyExc_SystemError,
                    "a pyo3cpp function was called through its PyMethodDef; call the function "
                    "object (PyObject_Vectorcall) instead");
    return nullptr;
}

}  // extern "C"

namespace {

constexpr std::size_t kEntries = 65536;

#if defined(__x86_64__) && defined(__GNUC__) && defined(__ELF__)
constexpr std::size_t kStride = 1;
asm(R"(
    .text
    .p2align 4
    .globl pyo3cpp_misuse_run
    .hidden pyo3cpp_misuse_run
    .type pyo3cpp_misuse_run, @function
pyo3cpp_misuse_run:
    .fill 65536, 1, 0x90
    jmp pyo3cpp_misuse_report
    .size pyo3cpp_misuse_run, . - pyo3cpp_misuse_run
)");
#define PYO3CPP_MISUSE_RUN 1
#elif defined(__aarch64__) && defined(__GNUC__) && defined(__ELF__)
constexpr std::size_t kStride = 4;
asm(R"(
    .text
    .p2align 4
    .globl pyo3cpp_misuse_run
    .hidden pyo3cpp_misuse_run
    .type pyo3cpp_misuse_run, %function
pyo3cpp_misuse_run:
    .fill 65536, 4, 0xd503201f
    b pyo3cpp_misuse_report
    .size pyo3cpp_misuse_run, . - pyo3cpp_misuse_run
)");
#define PYO3CPP_MISUSE_RUN 1
#endif

std::atomic<std::size_t> g_next_entry{0};

}  // namespace

#if PYO3CPP_MISUSE_RUN
extern "C" char pyo3cpp_misuse_run[];
#endif

extern "C" PYO3CPP_API void *pyo3cpp_function_misuse_entry(void) noexcept
{
#if PYO3CPP_MISUSE_RUN
    std::size_t k = g_next_entry.fetch_add(1, std::memory_order_relaxed);
    if (k >= kEntries) k = kEntries - 1;  // all taken: the last one again
    return pyo3cpp_misuse_run + k * kStride;
#else
    (void)g_next_entry;
    (void)kEntries;
    return reinterpret_cast<void *>(&pyo3cpp_misuse_report);
#endif
}
