// critical_section.cpp — per-object critical sections for C callers. On free-threaded builds
// these are CPython's PyCriticalSection(2); on GIL builds the GIL already excludes and nothing
// is locked. (C++ callers use include/pyo3cpp/critical_section.h, which inlines the same calls.)
#include "runtime_state.h"

using namespace pyo3cpp::detail;

namespace {
enum : std::uintptr_t { kNone = 0, kOne = 1, kTwo = 2 };

#ifdef Py_GIL_DISABLED
static_assert(sizeof(PyCriticalSection2) <= 3 * sizeof(void *),
              "pyo3cpp_critical_section keeps its kind in the fourth word");
#endif

void set_kind(pyo3cpp_critical_section *cs, std::uintptr_t kind)
{
    cs->opaque[3] = reinterpret_cast<void *>(kind);
}

bool check_args(pyo3cpp_critical_section *cs, PyObject *a, PyObject *b, bool two)
{
    // A failed begin leaves a section that end() treats as empty, so cleanup code that ends
    // unconditionally stays safe.
    if (cs != nullptr) set_kind(cs, kNone);
    if (!thread_is_attached()) return false;
    arm_runtime();
    if (cs == nullptr || a == nullptr || (two && b == nullptr)) {
        PyErr_SetString(PyExc_ValueError,
                        "pyo3cpp_critical_section_begin: NULL section or object");
        return false;
    }
    return true;
}
}  // namespace

extern "C" {

PYO3CPP_API int pyo3cpp_critical_section_begin(pyo3cpp_critical_section *cs, PyObject *obj)
{
    if (!check_args(cs, obj, nullptr, false)) return -1;
#ifdef Py_GIL_DISABLED
    PyCriticalSection_Begin(reinterpret_cast<PyCriticalSection *>(cs), obj);
#endif
    set_kind(cs, kOne);
    return 0;
}

PYO3CPP_API int pyo3cpp_critical_section_begin2(pyo3cpp_critical_section *cs, PyObject *a,
                                                PyObject *b)
{
    if (!check_args(cs, a, b, true)) return -1;
#ifdef Py_GIL_DISABLED
    PyCriticalSection2_Begin(reinterpret_cast<PyCriticalSection2 *>(cs), a, b);
#endif
    set_kind(cs, kTwo);
    return 0;
}

PYO3CPP_API void pyo3cpp_critical_section_end(pyo3cpp_critical_section *cs) noexcept
{
    if (cs == nullptr) return;
    const auto kind = reinterpret_cast<std::uintptr_t>(cs->opaque[3]);
    set_kind(cs, kNone);
#ifdef Py_GIL_DISABLED
    if (kind == kOne) PyCriticalSection_End(reinterpret_cast<PyCriticalSection *>(cs));
    else if (kind == kTwo) PyCriticalSection2_End(reinterpret_cast<PyCriticalSection2 *>(cs));
#else
    (void)kind;
#endif
}

}  // extern "C"
