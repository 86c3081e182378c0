// layout.cpp — the same layout freeze as layout.c, seen from C++ (any compiler and standard
// library: tests/abi/compile_checks.py compiles it with the build's C++ compiler and with
// clang++ -stdlib=libc++; tests/abi/layout_ilp32.py with -m32). C++ must see exactly the layouts C sees, or a C++ extension and the
// library would disagree about the structs they share.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "pyo3cpp.h"

constexpr std::size_t ptr = sizeof(void *);

static_assert(sizeof(pyo3cpp_attach_state) == 8 + ptr && alignof(pyo3cpp_attach_state) == ptr);
static_assert(offsetof(pyo3cpp_attach_state, kind) == 0);
static_assert(offsetof(pyo3cpp_attach_state, gilstate) == 4);
static_assert(offsetof(pyo3cpp_attach_state, reserved) == 8);

static_assert(sizeof(pyo3cpp_critical_section) == 4 * ptr &&
              alignof(pyo3cpp_critical_section) == ptr);

static_assert(sizeof(pyo3cpp_mutex) == 8 && alignof(pyo3cpp_mutex) == 4);
static_assert(offsetof(pyo3cpp_mutex, state) == 0 && offsetof(pyo3cpp_mutex, reserved) == 4);

static_assert(sizeof(pyo3cpp_once_state) == 16 && alignof(pyo3cpp_once_state) == 8);
static_assert(offsetof(pyo3cpp_once_state, waiters) == 4 && offsetof(pyo3cpp_once_state, owner) == 8);

static_assert(sizeof(pyo3cpp_object_cell) == 24 && alignof(pyo3cpp_object_cell) == 8);
static_assert(offsetof(pyo3cpp_object_cell, once) == 0 && offsetof(pyo3cpp_object_cell, value) == 16);

// The library reads these fields through std::atomic_ref (src/once.cpp, src/mutex.cpp), which
// requires more than the type's own alignment on ILP32 for 64-bit words (8, where a uint64_t
// field is 4-aligned on i386). libc++ 14 has no atomic_ref: the numbers above still hold there.
#if defined(__cpp_lib_atomic_ref)
static_assert(alignof(pyo3cpp_once_state) >= std::atomic_ref<std::uint64_t>::required_alignment &&
              offsetof(pyo3cpp_once_state, owner) % std::atomic_ref<std::uint64_t>::required_alignment == 0);
static_assert(alignof(pyo3cpp_once_state) >= std::atomic_ref<std::uint32_t>::required_alignment);
static_assert(alignof(pyo3cpp_mutex) >= std::atomic_ref<std::uint32_t>::required_alignment);
static_assert(alignof(pyo3cpp_object_cell) >= std::atomic_ref<void *>::required_alignment &&
              offsetof(pyo3cpp_object_cell, value) % std::atomic_ref<void *>::required_alignment == 0);
#endif

// C++ code keeps these in static storage and passes them to the library by pointer: they must be
// plain C aggregates (no constructors, memcpy-able, the same in every C++ ABI).
static_assert(std::is_standard_layout_v<pyo3cpp_object_cell> && std::is_trivial_v<pyo3cpp_object_cell>);
static_assert(std::is_standard_layout_v<pyo3cpp_once_state> && std::is_trivial_v<pyo3cpp_once_state>);
static_assert(std::is_standard_layout_v<pyo3cpp_mutex> && std::is_trivial_v<pyo3cpp_mutex>);
static_assert(std::is_standard_layout_v<pyo3cpp_critical_section> &&
              std::is_trivial_v<pyo3cpp_critical_section>);
static_assert(std::is_standard_layout_v<pyo3cpp_attach_state> && std::is_trivial_v<pyo3cpp_attach_state>);

static_assert(PYO3CPP_ABI_VERSION == 1L);
#if defined(EXPECT_ABI_MAJOR)
static_assert(PYO3CPP_ABI_VERSION == EXPECT_ABI_MAJOR);
#endif

// The functions have C linkage whatever the C++ compiler: taking their address as a C function
// pointer type checks the declarations are inside extern "C".
extern "C" typedef long abi_version_fn(void);
static abi_version_fn *const abi_version_ptr = &pyo3cpp_abi_version;
long pyo3cpp_layout_cpp_anchor() { return abi_version_ptr(); }
