/* layout.c — freezes the fixed-layout structs of abi/pyo3cpp.h and its version macros at compile
 * time (C11 _Static_assert). A failure here means a released layout changed: that breaks every
 * extension already compiled against it. Compiled by tests/abi/compile_checks.py, never run.
 * The numbers are the ones documented in abi/pyo3cpp.h, for LP64 (x86-64, aarch64) and ILP32
 * (i386: tests/abi/layout_ilp32.py compiles this file with -m32). */
#include <stddef.h>

#include "pyo3cpp.h"

#define FROZEN(cond) _Static_assert(cond, #cond)

#if UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
#  define PTR 8
#else
#  define PTR 4
#endif

/* pyo3cpp_attach_state: two int32 then a pointer. */
FROZEN(sizeof(pyo3cpp_attach_state) == 8 + PTR);
FROZEN(_Alignof(pyo3cpp_attach_state) == PTR);
FROZEN(offsetof(pyo3cpp_attach_state, kind) == 0);
FROZEN(offsetof(pyo3cpp_attach_state, gilstate) == 4);
FROZEN(offsetof(pyo3cpp_attach_state, reserved) == 8);

/* pyo3cpp_critical_section: four pointers (room for PyCriticalSection2 plus the kind). */
FROZEN(sizeof(pyo3cpp_critical_section) == 4 * PTR);
FROZEN(_Alignof(pyo3cpp_critical_section) == PTR);

/* pyo3cpp_mutex: two uint32. */
FROZEN(sizeof(pyo3cpp_mutex) == 8);
FROZEN(_Alignof(pyo3cpp_mutex) == 4);
FROZEN(offsetof(pyo3cpp_mutex, state) == 0);
FROZEN(offsetof(pyo3cpp_mutex, reserved) == 4);

/* pyo3cpp_once_state: uint32 state, uint32 waiters, uint64 owner. `owner` is read and written
 * with 64-bit atomics, which need 8-byte alignment; i386 System V aligns a plain uint64_t field
 * to 4 only, so the header declares the 8 explicitly: 16 bytes, 8-aligned on LP64 and ILP32. */
FROZEN(sizeof(pyo3cpp_once_state) == 16);
FROZEN(_Alignof(pyo3cpp_once_state) == 8);
FROZEN(offsetof(pyo3cpp_once_state, state) == 0);
FROZEN(offsetof(pyo3cpp_once_state, waiters) == 4);
FROZEN(offsetof(pyo3cpp_once_state, owner) == 8);

/* pyo3cpp_object_cell: a once_state then the object pointer (read atomically: pointer-aligned).
 * It inherits the once_state's 8-byte alignment, so it is 24 bytes on ILP32 too (16 + 4 + 4
 * padding; it was 20, 4-aligned, before the alignment was made explicit). */
FROZEN(sizeof(pyo3cpp_object_cell) == 24);
FROZEN(_Alignof(pyo3cpp_object_cell) == 8);
FROZEN(offsetof(pyo3cpp_object_cell, once) == 0);
FROZEN(offsetof(pyo3cpp_object_cell, value) == 16);
FROZEN(offsetof(pyo3cpp_object_cell, value) % sizeof(void *) == 0);

/* Every atomically accessed field sits at a multiple of its own size inside its struct, and
 * the struct is at least that aligned, so any instance satisfies the atomic's alignment. */
FROZEN(_Alignof(pyo3cpp_mutex) >= sizeof(uint32_t));
FROZEN(_Alignof(pyo3cpp_once_state) >= sizeof(uint64_t));
FROZEN(_Alignof(pyo3cpp_object_cell) >= sizeof(void *));

/* The static initialisers are the all-zero state. */
static const pyo3cpp_mutex mutex_init = PYO3CPP_MUTEX_INIT;
static const pyo3cpp_once_state once_init = PYO3CPP_ONCE_STATE_INIT;
static const pyo3cpp_object_cell cell_init = PYO3CPP_OBJECT_CELL_INIT;

/* Version macros: the ABI major equals the SONAME's number and the release matches Meson's
 * project version (the build passes both in). */
FROZEN(PYO3CPP_ABI_VERSION == 1L);
#if defined(EXPECT_ABI_MAJOR)
FROZEN(PYO3CPP_ABI_VERSION == EXPECT_ABI_MAJOR);
#endif
#if defined(EXPECT_MAJOR) && defined(EXPECT_MINOR) && defined(EXPECT_PATCH)
FROZEN(PYO3CPP_VERSION_MAJOR == EXPECT_MAJOR && PYO3CPP_VERSION_MINOR == EXPECT_MINOR &&
       PYO3CPP_VERSION_PATCH == EXPECT_PATCH);
FROZEN(PYO3CPP_VERSION_HEX == ((EXPECT_MAJOR << 16) | (EXPECT_MINOR << 8) | EXPECT_PATCH));
#endif

int pyo3cpp_layout_c_all_zero(void);
int pyo3cpp_layout_c_all_zero(void)
{
    return mutex_init.state == 0 && once_init.state == 0 && cell_init.value == NULL;
}

/* pyo3cpp_wait (1.8): two int, five pointers, two explicitly 8-aligned uint64, two int. */
FROZEN(sizeof(pyo3cpp_wait) == 8 + 6 * PTR + 24);
FROZEN(_Alignof(pyo3cpp_wait) == 8);
FROZEN(offsetof(pyo3cpp_wait, kind) == 0);
FROZEN(offsetof(pyo3cpp_wait, exclusive) == 4);
FROZEN(offsetof(pyo3cpp_wait, resource) == 8);
FROZEN(offsetof(pyo3cpp_wait, next) == 8 + 5 * PTR);
FROZEN(offsetof(pyo3cpp_wait, thread_key) == 8 + 6 * PTR);
FROZEN(offsetof(pyo3cpp_wait, acquired) == 8 + 6 * PTR + 16);
