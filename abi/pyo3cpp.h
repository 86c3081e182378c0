/*
 * pyo3cpp.h — the stable C ABI of libpyo3cpp.so (C99; the only exported surface).
 *
 * What it is for: one compiled runtime that owns the state every extension in a process must
 * share — the deferred-decref pool, attachment bookkeeping, once-cell slow paths, mutexes and
 * the runtime version check — behind plain C types, so that C extensions and C++ extensions
 * built by any compiler and standard library link against the same library.
 *
 * Include <Python.h> before this header (CPython requires it first anyway); the runtime check
 * macro reads the Python version the extension is compiled for from it.
 *
 * Conventions, for every function below:
 *   - Only C types cross: PyObject*, integers, fixed-layout structs declared here, and
 *     callbacks as function pointer plus `void *ctx`. No C++ exception ever leaves the library.
 *   - "attached" means the calling thread holds a CPython thread state (the GIL on GIL builds).
 *   - Errors: functions returning int return 0 on success and -1 on failure; functions
 *     returning PyObject* return NULL on failure. When the caller is attached, a Python
 *     exception is set on failure. Where no exception can be set (not attached, interpreter
 *     not running) the contract says so.
 *   - "new reference" means the caller owns one reference; "borrowed" means it does not, and
 *     the contract says what keeps the object alive.
 *   - Not attached: a function that requires attachment, called without it, returns its error
 *     value (-1 / NULL) and sets nothing (there is no thread state to hold an exception); it
 *     never blocks and never crashes. This includes threads Python never created and calls
 *     before Py_Initialize.
 *   - NULL where a pointer is required: the error value with ValueError when attached (no
 *     exception when not), unless the contract says NULL is a no-op. Any object is accepted
 *     where a PyObject* is taken: no function here rejects a type, except the container
 *     lookups (pyo3cpp_dict_*, pyo3cpp_list_*, pyo3cpp_weakref_*), which reject a wrong
 *     container exactly as CPython 3.13 does.
 *   - Undefined (the only undefined cases): pointers to freed or never-initialised storage,
 *     a struct filled by hand, and breaking an ordering rule the contract states (LIFO
 *     release, same thread). Every other bad input is an error return, tested by
 *     tests/c/test_bad_input_c.c.
 *
 * Fixed-layout structs (frozen by tests/abi/layout.c and layout.cpp for LP64, and compiled
 * with -m32 by tests/abi/layout_ilp32.py for ILP32):
 *                               LP64 (x86-64, aarch64)   ILP32 (i386)
 *     pyo3cpp_attach_state      16 bytes, 8-aligned      12 bytes, 4-aligned   (pointer)
 *     pyo3cpp_critical_section  32 bytes, 8-aligned      16 bytes, 4-aligned   (pointer)
 *     pyo3cpp_mutex              8 bytes, 4-aligned       8 bytes, 4-aligned
 *     pyo3cpp_once_state        16 bytes, 8-aligned      16 bytes, 8-aligned   (explicit)
 *     pyo3cpp_object_cell       24 bytes, 8-aligned      24 bytes, 8-aligned   (explicit)
 *     pyo3cpp_wait              80 bytes, 8-aligned      56 bytes, 8-aligned   (explicit)
 * All are plain C aggregates, zero-initialised = the documented initial state.
 * Alignment is what the library's atomics need, declared where the platform would give less:
 * the mutex's uint32 state word needs 4 (natural everywhere); the object cell's pointer needs a
 * pointer's (natural everywhere); the once_state's 64-bit `owner` needs 8, which i386 System V
 * does not give a uint64_t inside a struct (4), so it is declared with PYO3CPP_ALIGNED(8).
 * LP64 layouts are unchanged by that; on ILP32 pyo3cpp_once_state went from 4- to 8-aligned
 * (same 16 bytes) and pyo3cpp_object_cell from 20 bytes, 4-aligned, to 24, 8-aligned: before,
 * a 64-bit atomic on a misaligned `owner` could tear or fault there. attach_state and
 * critical_section fields are not accessed atomically by the library.
 *
 * ABI rule: additive only. A released symbol or struct layout never changes. Exported symbols
 * are listed in abi/symbols.txt (name@@VERSION) and checked by the abi_symbols test. To add a
 * function: declare and document it here, list it in a NEW version node of abi/pyo3cpp.map
 * (`PYO3CPP_1.1 { global: pyo3cpp_new; } PYO3CPP_1.0;`), call it in tests/c/test_bad_input_c.c,
 * then run ./scripts/update-symbols and commit abi/symbols.txt. Only the compiler's atomic
 * builtins and the aligned attribute are used beyond C99 (GCC and Clang).
 */
#ifndef PYO3CPP_H
#define PYO3CPP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* PyObject without requiring <Python.h> for the declarations themselves. */
struct _object;

/* ---------------------------------------------------------------- versions */

/* The ABI major: it is the SONAME's number (libpyo3cpp.so.1). It changes only if a released
 * symbol or layout ever had to change, which the rule above forbids. */
#define PYO3CPP_ABI_VERSION 1L
/* The library's release, for humans and pkg-config (equal to Meson's project version; checked
 * by tests/abi/layout.c). Compare releases with PYO3CPP_VERSION_HEX >= 0x000100 (0.1.0). */
#define PYO3CPP_VERSION_MAJOR 0
#define PYO3CPP_VERSION_MINOR 1
#define PYO3CPP_VERSION_PATCH 0
#define PYO3CPP_VERSION_HEX \
    ((PYO3CPP_VERSION_MAJOR << 16) | (PYO3CPP_VERSION_MINOR << 8) | PYO3CPP_VERSION_PATCH)

#if defined(__GNUC__) || defined(__clang__)
#  define PYO3CPP_API __attribute__((visibility("default")))
#else
#  define PYO3CPP_API
#endif

/* No C++ exception ever leaves a function of this header. Functions marked PYO3CPP_NOEXCEPT
 * (noexcept to C++ callers; the library's definitions carry the same specifier, so the compiler
 * rejects a definition that differs) also never run Python code or re-attach. The others can:
 * when CPython ends a daemon or foreign thread that re-attaches during finalisation, it does so
 * with a forced unwind (pthread_exit on 3.11-3.13) that must pass through every frame, so they
 * are deliberately not noexcept. C++ code that calls them must not wrap them in noexcept frames
 * or swallow that unwind in a catch (...) (see include/pyo3cpp/forced_unwind.hpp). */
#ifdef __cplusplus
#  define PYO3CPP_NOEXCEPT noexcept
#else
#  define PYO3CPP_NOEXCEPT
#endif

/* PYO3CPP_ALIGNED(n) after a struct member's declarator: the member (and so its struct) is
 * aligned to at least n bytes on every target, whatever the platform ABI would give it. The
 * GCC/Clang attribute, because C99 has no _Alignas; this header already requires those
 * compilers for its atomic builtins, and a layout that silently differs is worse than an
 * error. */
#if defined(__GNUC__) || defined(__clang__)
#  define PYO3CPP_ALIGNED(n) __attribute__((aligned(n)))
#else
#  error "pyo3cpp.h needs GCC or Clang: its fixed layouts use __attribute__((aligned))"
#endif

/* The ABI version the loaded library implements. Any thread, attached or not; never fails. */
PYO3CPP_API long pyo3cpp_abi_version(void) PYO3CPP_NOEXCEPT;

/* Describes the CPython build the loaded library was compiled for: writes its major and minor
 * version and 1/0 for free-threaded into the non-NULL pointers (NULL ones are skipped).
 * Any thread, attached or not, even before initialisation; never fails. */
PYO3CPP_API void pyo3cpp_runtime_python(int *major, int *minor, int *free_threaded) PYO3CPP_NOEXCEPT;

/* The import-time check. An extension calls it (through PYO3CPP_CHECK_RUNTIME) from its module
 * initialisation, attached, with what it was compiled for. Returns 0 when the loaded library
 * and the running interpreter match; otherwise -1 with ImportError set, naming both sides, e.g.
 *   "mymod was built for pyo3cpp ABI 2 on CPython 3.13 (free-threaded), but the loaded
 *    libpyo3cpp.so implements ABI 1 for CPython 3.11 (GIL)".
 * `module_name` may be NULL ("extension" is used). Any value is accepted for the numbers (a
 * non-zero free_threaded means free-threaded). Requires attachment; if the caller is not
 * attached it returns -1 without setting an exception. Thread: the importing thread. */
PYO3CPP_API int pyo3cpp_check_runtime(long abi_version, int py_major, int py_minor,
                                      int free_threaded, const char *module_name) PYO3CPP_NOEXCEPT;

#if defined(Py_GIL_DISABLED)
#  define PYO3CPP_COMPILED_FREE_THREADED 1
#elif defined(PY_MAJOR_VERSION)
#  define PYO3CPP_COMPILED_FREE_THREADED 0
#else
/* <Python.h> was not included first: using the check macro then fails to compile. */
#  define PYO3CPP_COMPILED_FREE_THREADED pyo3cpp_include_Python_h_before_pyo3cpp_h
#endif

/* PYO3CPP_CHECK_RUNTIME("mymod") evaluates to 0 or to -1 with ImportError set. */
#define PYO3CPP_CHECK_RUNTIME(module_name)                                            \
    pyo3cpp_check_runtime(PYO3CPP_ABI_VERSION, PY_MAJOR_VERSION, PY_MINOR_VERSION,    \
                          PYO3CPP_COMPILED_FREE_THREADED, (module_name))

/* -------------------------------------------------------------- attachment */

/* Whether the calling thread is attached to the running interpreter. No side effects; any
 * thread, including threads Python never created and threads calling before initialisation
 * or after finalisation (then 0). Cost: a thread-local read and a call. */
PYO3CPP_API int pyo3cpp_is_attached(void) PYO3CPP_NOEXCEPT;

/* Filled by pyo3cpp_attach / pyo3cpp_try_attach; pass the same struct to pyo3cpp_release_attach.
 * Fixed layout: 16 bytes, 8-byte aligned (ILP32: 12, 4-aligned). Treat the fields as private. */
typedef struct pyo3cpp_attach_state {
    int32_t kind;     /* 0: not attached by this call, 1: was already attached, 2: attached now */
    int32_t gilstate; /* the PyGILState_STATE to give back, when kind == 2 and reserved NULL */
    void *reserved;   /* kind == 2: the thread's own thread state, re-attached directly */
} pyo3cpp_attach_state;

/* Attaches the calling thread (any thread, including ones Python never created), or notes that
 * it already is, and drains the deferred-decref pool. Nested calls cost one thread-local read.
 * Returns 0; returns -1 without setting an exception when the interpreter is not initialised
 * or is finalising (it never blocks then) or when `state` is NULL. "Finalising" starts when the
 * library's own atexit callback runs (registered by the runtime's first use of any kind in the
 * main interpreter, a nested attach included): from then on a thread that is not attached is
 * refused, and attaches already past that check finish before Py_FinalizeEx proceeds.
 * Already-attached threads (the finalising thread itself) get 0 with kind 1. Each successful
 * call is paired with pyo3cpp_release_attach on the same thread, in LIFO order.
 * A thread Python did not create gets one thread state at its first attach and keeps it (bound
 * as its PyGILState state) until the thread exits; later attaches re-attach it. At thread exit
 * it is deleted, unless finalisation has begun (CPython deletes it then) or it belongs to an
 * earlier interpreter (never touched). */
PYO3CPP_API int pyo3cpp_attach(pyo3cpp_attach_state *state);

/* Same as pyo3cpp_attach; the name documents that failure is an expected outcome. */
PYO3CPP_API int pyo3cpp_try_attach(pyo3cpp_attach_state *state);

/* Undoes one pyo3cpp_attach/try_attach: detaches only if that call attached. NULL, a state
 * from a failed attach, or a state already released (the kind is reset) is a no-op. Must run
 * on the thread that attached, in LIFO order (undefined otherwise: CPython's own rule).
 * On free-threaded builds, a foreign thread for which CPython has queued reference-count merges
 * retires its thread state here (clearing it merges them) and gets a fresh one at its next
 * attach. */
PYO3CPP_API void pyo3cpp_release_attach(pyo3cpp_attach_state *state);

/* Detach from the interpreter around blocking work. pyo3cpp_detach_begin requires attachment
 * and returns an opaque token (NULL, with no exception, if the caller was not attached: then
 * pyo3cpp_detach_end(NULL) is a no-op). pyo3cpp_detach_end re-attaches and drains the pool.
 * While detached, the thread must not touch Python objects; on free-threaded builds this is
 * what lets a stop-the-world pause (garbage collection) proceed. Neither sets an exception.
 * A token is ended exactly once, on the thread that got it (undefined otherwise). */
PYO3CPP_API void *pyo3cpp_detach_begin(void) PYO3CPP_NOEXCEPT;
PYO3CPP_API void pyo3cpp_detach_end(void *token);

/* Runs fn(ctx) detached and re-attaches: pyo3cpp_detach_begin + fn + pyo3cpp_detach_end.
 * Returns fn's result. If the caller is not attached it simply calls fn. fn must not use the
 * Python C API. NULL fn: -1 (ValueError if attached). A C++ exception escaping fn is caught:
 * -1 with RuntimeError. Any thread. */
PYO3CPP_API int pyo3cpp_detach(int (*fn)(void *ctx), void *ctx);

/* ------------------------------------------------------- references (pool) */

/* Gives up one strong reference from any thread, attached or not: decref now when attached,
 * otherwise queue it in the deferred-decref pool, drained by the next attach or detach-end on
 * any thread. After interpreter finalisation the reference is leaked, never decref'd into a
 * dead interpreter. NULL is a no-op. Queueing is lock-free: threads do not serialise. */
PYO3CPP_API void pyo3cpp_release_ref(struct _object *obj);

/* Queues a decref unconditionally (the caller knows it is not attached, or wants the decref
 * later). Any thread; steals the reference; never fails; NULL is a no-op. */
PYO3CPP_API void pyo3cpp_defer_decref(struct _object *obj) PYO3CPP_NOEXCEPT;

/* Applies every queued decref now. Requires attachment (returns -1, no exception, if not).
 * With nothing queued it costs one relaxed atomic load. Returns the number applied. */
PYO3CPP_API long pyo3cpp_pool_drain(void);

/* Number of decrefs currently queued (a snapshot; for tests and diagnostics). Any thread,
 * attached or not; never fails. */
PYO3CPP_API long pyo3cpp_pool_pending(void) PYO3CPP_NOEXCEPT;

/* A drop scope on the calling thread (attached): while one is open, the last references this
 * thread gives up through pyo3cpp_release_ref are held back, and the outermost
 * pyo3cpp_drop_scope_exit gives them up, so no __del__ or weakref callback runs inside the
 * scope (the class layer opens one around code that runs under an instance lock, and exits it
 * after the lock is released). Scopes nest. Exit may run Python code (those finalisers); an
 * exception they raise is reported as unraisable, as CPython does for __del__. */
PYO3CPP_API void pyo3cpp_drop_scope_enter(void) PYO3CPP_NOEXCEPT;
PYO3CPP_API void pyo3cpp_drop_scope_exit(void);

/* Keep-alive (1.7): `patient` lives at least as long as `nurse` (attached; both non-NULL).
 * nurse_is_instance != 0: `nurse` is an instance of a bound class, whose tp_dealloc
 * calls pyo3cpp_keep_alive_release and whose tp_traverse calls pyo3cpp_keep_alive_traverse (the
 * patients live in the runtime's table; no weak reference needed). Otherwise a weak reference to
 * `nurse` holds the patient until the nurse dies (TypeError if it supports none). Returns 0, or
 * -1 with an exception set. Release may run Python code (the patients' finalisers); traverse
 * runs no Python code, takes no reference, and returns the first non-zero visit result. */
PYO3CPP_API int pyo3cpp_keep_alive(struct _object *nurse, struct _object *patient, int nurse_is_instance);
PYO3CPP_API void pyo3cpp_keep_alive_release(struct _object *nurse);
PYO3CPP_API int pyo3cpp_keep_alive_traverse(struct _object *nurse, int (*visit)(struct _object *, void *),
                                            void *arg) PYO3CPP_NOEXCEPT;

/* Buffers (1.8; include/pyo3cpp/buffer.hpp, class_buffer.hpp, array.hpp). `view` is a
 * `Py_buffer *` (an anonymous struct in <Python.h>, so spelled void * here); sizes and extents
 * are Py_ssize_t, spelled ptrdiff_t. All run attached; called while not attached they return
 * -1 (NULL) with no exception set.
 *
 * pyo3cpp_buffer_acquire: `object`'s buffer (PyBUF_RECORDS_RO) into *view, checked: one scalar
 * of `kind` ('i' signed, 'u' unsigned, 'f' floating point, 'b' bool) and `itemsize` bytes in
 * the machine's byte order (format prefixes '@' '=' and the native one of '<' '>' '!' accepted,
 * with standard sizes after all but '@'), `ndim` dimensions, extents[i] where extents is not
 * NULL and extents[i] >= 0, layout 0 strided, 1 C-contiguous, 2 Fortran-contiguous, and not
 * read-only when `writable`. 0: the caller releases *view with PyBuffer_Release. -1 with
 * TypeError ("must be a writable 1-dimensional buffer of float64, not bytes (read-only
 * 1-dimensional buffer of uint8 with shape (3,))": no function or argument named, a binder
 * adds them), the exporter's own error, or ValueError for invalid arguments; *view holds
 * nothing then.
 *
 * pyo3cpp_buffer_fill: an exporter's bf_getbuffer: fills *view with `data` and a copy of the
 * shape and strides (bytes; strides NULL: C order), honouring the consumer's `flags`
 * (BufferError for a writable request of a read-only buffer, or a contiguity the strides do not
 * have). `format` must outlive every export (a string literal). On success view->obj is a new
 * reference to `exporter`; the exporter's bf_releasebuffer calls pyo3cpp_buffer_fill_release.
 *
 * pyo3cpp_array_new: a new array over C++ memory: a memoryview (as_numpy == 0, or NumPy not
 * importable) or numpy.asarray of it, C-contiguous, writable, over an owner object that calls
 * release(ctx) when the last view of it is gone. Ownership of the memory passes in every case:
 * on failure (NULL, exception set) release(ctx) has already run. */
PYO3CPP_API int pyo3cpp_buffer_acquire(struct _object *object, void *view, char kind, ptrdiff_t itemsize,
                                       int ndim, const ptrdiff_t *extents, int layout, int writable);
PYO3CPP_API int pyo3cpp_buffer_fill(void *view, struct _object *exporter, void *data, const char *format,
                                    ptrdiff_t itemsize, int ndim, const ptrdiff_t *shape,
                                    const ptrdiff_t *strides, int readonly, int flags);
PYO3CPP_API void pyo3cpp_buffer_fill_release(void *view) PYO3CPP_NOEXCEPT;
PYO3CPP_API struct _object *pyo3cpp_array_new(void *data, const char *format, ptrdiff_t itemsize, int ndim,
                                              const ptrdiff_t *shape, void (*release)(void *ctx),
                                              void *ctx, int as_numpy);

/* pyo3cpp_buffer_acquire_converted (1.13; include/pyo3cpp/buffer_convert.hpp): what
 * pyo3cpp_buffer_acquire does for a read-only view, and where `object` does not match with a
 * TypeError, *view of numpy.asarray(object, dtype, order) instead (the element type asked for;
 * order "C", "F" or "K" for layouts 1, 2, 0): view->obj then holds that converted copy and
 * *converted (when not NULL) is 1. NumPy is looked up at run time only. -1 with TypeError when
 * the copy cannot be made or does not match either: the argument's own mismatch, followed by
 * "; converting it needs NumPy, which is not importable" or "; NumPy could not convert it: ...";
 * -1 with the exporter's own error or ValueError for invalid arguments as
 * pyo3cpp_buffer_acquire; -1 with no exception set when not attached. */
PYO3CPP_API int pyo3cpp_buffer_acquire_converted(struct _object *object, void *view, char kind,
                                                 ptrdiff_t itemsize, int ndim, const ptrdiff_t *extents,
                                                 int layout, int *converted);

/* --------------------------------------------------------- critical sections */

/* Caller-provided storage for a critical section over one or two objects. Fixed layout:
 * 32 bytes, 8-byte aligned (ILP32: 16, 4-aligned), big enough for CPython's PyCriticalSection2.
 * Private fields. */
typedef struct pyo3cpp_critical_section {
    void *opaque[4];
} pyo3cpp_critical_section;

/* Begins a critical section on `obj` (free-threaded builds: locks the object's per-object
 * mutex, detaching while it waits; GIL builds: the GIL already excludes, so nothing is locked).
 * Requires attachment. Returns -1 with ValueError set if `cs` or `obj` is NULL (TypeError is
 * never raised: any object can be locked); -1 without an exception if not attached.
 * Sections end in LIFO order with pyo3cpp_critical_section_end. Any call that detaches the
 * thread (blocking I/O wrappers, pyo3cpp_detach, waiting on a lock) suspends the section: another
 * thread may run inside it until this thread re-attaches. On free-threaded CPython 3.13 this
 * includes calling a C API function that locks the same object again (PyDict_SetItem,
 * PyList_SetItem, PyList_Append, ...): 3.13 does not recognise the re-entry, waits, and so
 * suspends the caller's section; 3.14 skips re-locking. See critical_section.hpp. */
PYO3CPP_API int pyo3cpp_critical_section_begin(pyo3cpp_critical_section *cs,
                                               struct _object *obj);
/* Same over two objects, locked in a global order, so (a, b) and (b, a) never deadlock.
 * a == b is allowed and locks once. NULL cs, a or b: -1 with ValueError; not attached: -1, no
 * exception. */
PYO3CPP_API int pyo3cpp_critical_section_begin2(pyo3cpp_critical_section *cs,
                                                struct _object *a, struct _object *b);
/* Ends a section begun by either function above, on the same thread, in LIFO order. NULL, a
 * zero-filled section, a section whose begin failed or one already ended is a no-op. */
PYO3CPP_API void pyo3cpp_critical_section_end(pyo3cpp_critical_section *cs) PYO3CPP_NOEXCEPT;

/* ------------------------------------------------------------ object locks */

/* An exclusive lock on one object, shared by every pyo3cpp user in the process.
 *
 * Why it exists: a critical section is suspended whenever its thread detaches, and on CPython
 * 3.13 (free-threaded) that includes CPython's own functions re-locking the same object inside
 * the section (PyList_Append, PyList_Insert, PyDict_SetItem ... take the object's critical
 * section; 3.13 has no same-object fast path, so the nested lock parks, detaches and suspends
 * the outer section). A read-modify-write inside a plain section can then lose updates. An
 * object lock is never suspended: holders of the object lock on the same object exclude each
 * other across detaches and nested CPython calls. Pair it with a critical section (the C++
 * ExclusiveSection does) to also exclude code that only uses critical sections, as far as
 * CPython's own rules allow.
 *
 * Free-threaded builds only; on GIL builds both functions only validate their arguments (the
 * GIL excludes, with CPython's usual switch points). Recursive on the same thread. A thread that
 * must wait detaches first (no deadlock with the GIL or a stop-the-world pause) and re-attaches
 * before returning. Holding several: lock them in one global order (address order; the C++
 * two-object form does this) or risk deadlock like with any mutex. Do not wait for another
 * thread that needs the same object lock while holding it.
 * Lock requires attachment: -1 without an exception when not attached; -1 with ValueError on
 * NULL; -1 with RuntimeError("waiting for the object lock of a <type> object would deadlock:
 * ...") when the holder is, directly or through other waiting threads, waiting for something
 * this thread holds (the wait-for graph below; checked only when the lock is busy). Unlock by the owning thread only (attached or not): -1 otherwise, with RuntimeError when
 * attached. Cost: a sharded hash-table lookup per lock and unlock (about 50 ns uncontended); use
 * it around whole operations. A waiter spins briefly, then parks detached (CPython's PyMutex);
 * an unlock wakes one parked waiter. */
PYO3CPP_API int pyo3cpp_object_lock(struct _object *obj);
PYO3CPP_API int pyo3cpp_object_unlock(struct _object *obj) PYO3CPP_NOEXCEPT;

/* ------------------------------------------------------------- the wait-for graph */

/* One graph of sleeping threads for the whole process, so that a wait cycle is seen whichever
 * extension modules, object locks and once-cells it passes through. A thread about to sleep on
 * a lock records what it waits for (pyo3cpp_wait_begin); the runtime follows the chain from
 * there: the threads that hold it and are themselves waiting, what they wait for, ... If the
 * chain comes back to something this thread holds, the wait is refused with RuntimeError
 * naming both sides instead of sleeping for ever. Who holds what: an object lock's and a
 * once-cell's holder are known to the runtime; instance locks are known to the extension
 * module that took them, which lends the runtime each thread's list of held instance locks
 * (pyo3cpp_wait_graph_add_thread). Only the slow path uses any of this: a thread that never
 * waits never touches the graph. Python's own locks and the GIL are not in the graph.
 *
 * Kinds of wait (pyo3cpp_wait.kind). */
#define PYO3CPP_WAIT_INSTANCE 1 /* an instance lock; resource: the lock; class and method name */
#define PYO3CPP_WAIT_OBJECT 2   /* an object lock (runtime only); resource: the object */
#define PYO3CPP_WAIT_ONCE 3     /* a once-cell's initialiser (runtime only); name: the cell's */

/* Whether the held-lock list `locks` (what pyo3cpp_wait_graph_add_thread registered) holds
 * instance lock `lock` in a mode that excludes a wait for it (`exclusive`: a write wait, which
 * any hold excludes; else only a write hold does). 1 or 0. Called under the graph's mutex, only
 * while the list's thread is itself waiting (its list is frozen then); never re-enters the
 * graph, never runs Python code. */
typedef int (*pyo3cpp_wait_holds_fn)(const void *locks, const void *lock, int exclusive);

/* A wait: zero-initialise, then set kind, exclusive, resource, name and method. The caller's
 * memory (usually its stack); the runtime links it while the wait is registered. */
typedef struct pyo3cpp_wait {
    int kind;              /* PYO3CPP_WAIT_* */
    int exclusive;         /* instance locks: waits to write */
    const void *resource;  /* what is waited for (see the kinds); identity only */
    const char *name;      /* instance locks: the class; once-cells: the cell (error messages) */
    const char *method;    /* instance locks: the method (NULL: an argument of that class) */
    /* The runtime's, while registered: */
    const void *owner;     /* object locks, once-cells: the holder's thread-key word */
    void *thread;          /* this thread's held-lock lists */
    struct pyo3cpp_wait *next;
    uint64_t thread_key PYO3CPP_ALIGNED(8);
    uint64_t visited PYO3CPP_ALIGNED(8);
    int acquired;          /* set by pyo3cpp_wait_take when its take succeeded */
    int linked;
} pyo3cpp_wait;

/* Lends the runtime the calling thread's list of held instance locks, read through `holds`
 * (an extension module does this on the thread's first instance lock). 0, or -1 when out of
 * memory (no exception: the list then stays unseen and a cycle through it can hang). Any
 * thread, attached or not. Forget it before the list's memory goes (thread exit). */
PYO3CPP_API int pyo3cpp_wait_graph_add_thread(const void *locks, pyo3cpp_wait_holds_fn holds) PYO3CPP_NOEXCEPT;
PYO3CPP_API void pyo3cpp_wait_graph_remove_thread(const void *locks) PYO3CPP_NOEXCEPT;

/* Registers `w` for the calling (attached) thread, unless waiting would close a cycle: then -1
 * with RuntimeError naming this wait and the one that leads back to this thread (also -1 with
 * ValueError on NULL or a wait already registered, MemoryError when out of memory). Cost: the graph's mutex and a search
 * over the registered waits (linear unless a chain of waiting holders exists). */
PYO3CPP_API int pyo3cpp_wait_begin(pyo3cpp_wait *w);
/* Runs take(ctx) under the graph's mutex (which fork() never splits: a forked child knows for
 * certain whether the take happened); when it returns non-zero, sets w->acquired and ends the
 * wait in the same step. Returns take's result. `take` must not block or call into the graph. */
PYO3CPP_API int pyo3cpp_wait_take(pyo3cpp_wait *w, int (*take)(void *ctx), void *ctx) PYO3CPP_NOEXCEPT;

/* ---- 1.11: the identity map of instances held by std::shared_ptr (class_holder.hpp) ----
 * Which live Python object stands for a C++ object: entries map (value address, class key) to an
 * object, borrowed; the object's deallocation removes its entry. `cls` is the bound class's type
 * (the key a class registers under). Process-wide today. find and register need an attached
 * thread (on one that is not attached they return NULL, no exception); forget touches no Python
 * object and may run on any thread. */
/* A new reference to the object registered for (value, cls), or NULL when there is none or it
 * is being deallocated (its count reached zero: never resurrected). Never sets an exception. */
PYO3CPP_API struct _object *pyo3cpp_holder_find(const void *value, const void *cls) PYO3CPP_NOEXCEPT;
/* Registers `object` for (value, cls) unless a live object is registered already; returns a new
 * reference to the object that stands for the value: `object` itself, or the earlier one (then
 * `object` is not registered). NULL with ValueError for a NULL argument, MemoryError when out of
 * memory. */
PYO3CPP_API struct _object *pyo3cpp_holder_register(const void *value, const void *cls, struct _object *object);
/* Removes the entry for (value, cls) if it names `object` (a later object's entry stays). */
PYO3CPP_API void pyo3cpp_holder_forget(const void *value, const void *cls, struct _object *object) PYO3CPP_NOEXCEPT;
/* Ends the wait (no-op when already ended or never begun). The thread that began it, attached
 * or not. */
PYO3CPP_API void pyo3cpp_wait_end(pyo3cpp_wait *w) PYO3CPP_NOEXCEPT;

/* ------------------------------------------------------------------ mutex */

/* A mutex that never deadlocks against the interpreter: a thread that must block for it
 * detaches first (so the GIL holder or a stop-the-world pause can proceed) and re-attaches
 * before returning. Zero-initialised (PYO3CPP_MUTEX_INIT) is unlocked; no destroy needed.
 * Fixed layout: 8 bytes, 4-byte aligned. Not recursive. */
typedef struct pyo3cpp_mutex {
    uint32_t state;
    uint32_t reserved;
} pyo3cpp_mutex;
#define PYO3CPP_MUTEX_INIT {0u, 0u}

/* Lock: any thread, attached or not (not attached: it simply blocks). -1 (ValueError if
 * attached) on NULL. */
PYO3CPP_API int pyo3cpp_mutex_lock(pyo3cpp_mutex *m);
/* 1 when acquired, 0 when held (by any thread, this one included: not recursive), -1 on NULL
 * (ValueError if attached). Never blocks. Any thread, attached or not. */
PYO3CPP_API int pyo3cpp_mutex_try_lock(pyo3cpp_mutex *m) PYO3CPP_NOEXCEPT;
/* Unlock: by the thread that locked it. -1 on NULL or when it was not locked (RuntimeError
 * if attached); unlocking an unlocked mutex never corrupts it. */
PYO3CPP_API int pyo3cpp_mutex_unlock(pyo3cpp_mutex *m) PYO3CPP_NOEXCEPT;

/* -------------------------------------------------------------- once-cells */

/* The state word behind every blocking once-cell (OnceLock): exactly one initialiser runs;
 * others wait detached; failure leaves it empty for the next caller; recursion on the same
 * thread raises RuntimeError instead of deadlocking. Zero-initialised is empty.
 * Fixed layout: 16 bytes, 8-byte aligned on every target (ILP32 included: see the top). */
typedef struct pyo3cpp_once_state {
    uint32_t state;   /* 0 empty, 1 running, 2 done (read with acquire) */
    uint32_t waiters;
    /* Thread running the initialiser, for recursion detection: a 64-bit atomic, so 8-aligned
     * explicitly (i386 would give it 4, and std::atomic_ref<uint64_t> requires 8). */
    uint64_t owner PYO3CPP_ALIGNED(8);
} pyo3cpp_once_state;
#define PYO3CPP_ONCE_STATE_INIT {0u, 0u, 0u}

/* Inline fast path: 1 once the initialiser has completed (one acquire load). */
static inline int pyo3cpp_once_state_done(const pyo3cpp_once_state *s)
{
    return __atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == 2u;
}

/* Runs init(ctx) exactly once across all threads. Requires attachment.
 *   init returns 0 on success; -1 with a Python exception set on failure. Any other negative
 *   value is passed through unchanged (the C++ layer uses -2 for "a C++ exception is parked in
 *   ctx"), so the caller can tell its own failures apart.
 * Returns 0 when the cell is (now) done. On failure of this caller's init: init's result, and
 * the cell is empty again, so the next caller retries. Threads that find an initialiser running
 * wait detached and then return 0 (done) or, if it failed, try to run init themselves.
 * Recursive initialisation of the same cell on the same thread: -1 with
 *   RuntimeError("recursive initialisation of once-cell '<name>' on the same thread")
 * `name` may be NULL (then "<unnamed>"). NULL `s` or `init`: -1 with ValueError. An init that
 * returns -1 without setting an exception gets SystemError set for it. Not attached: -1, no
 * exception, the cell untouched. A C++ exception escaping init: -1 with RuntimeError. A wait for
 * another thread's init that would close a cycle in the wait-for graph (that thread waits,
 * directly or through others, for something this one holds): -1 with RuntimeError("waiting for
 * once-cell '<name>' would deadlock: ..."), nothing waited for. */
PYO3CPP_API int pyo3cpp_once_run(pyo3cpp_once_state *s, int (*init)(void *ctx), void *ctx,
                                 const char *name);

/* Returns a done cell to empty (for take/reset by an owner that excludes concurrent readers).
 * Only a done cell changes: an empty cell, or one whose initialiser is running, is left alone.
 * Any thread. NULL is a no-op. */
PYO3CPP_API void pyo3cpp_once_reset(pyo3cpp_once_state *s) PYO3CPP_NOEXCEPT;

/* Registers forget(ctx) to run when the interpreter finalises (after Python code has stopped
 * and before the runtime state is torn down), so cells holding Python objects drop them without
 * decref'ing into a dead interpreter and can initialise afresh after a re-initialisation.
 * Idempotent per (forget, ctx) pair. Any thread, attached or not. Returns 0, or -1 with
 * MemoryError (if attached), or -1 with ValueError (if attached) for a NULL `forget`. */
PYO3CPP_API int pyo3cpp_on_finalize(void (*forget)(void *ctx), void *ctx) PYO3CPP_NOEXCEPT;

/* Removes a (forget, ctx) pair registered with pyo3cpp_on_finalize; a no-op if absent. Call it
 * before the memory `ctx` points to is freed (a cell with automatic or heap storage), or the
 * finalisation would write into freed memory. Any thread, attached or not; never fails.
 * The finalisation itself empties the list after running it: a cell registers again when it
 * fills again in a re-initialised interpreter. */
PYO3CPP_API void pyo3cpp_on_finalize_cancel(void (*forget)(void *ctx), void *ctx) PYO3CPP_NOEXCEPT;

/* A once-cell holding one Python object: the C form of OnceLock<Py<PyAny>>.
 * Static storage: `static pyo3cpp_object_cell cell = PYO3CPP_OBJECT_CELL_INIT;`
 * Fixed layout: 24 bytes, 8-byte aligned on every target (ILP32 included: see the top).
 * At interpreter finalisation the cell forgets its object (no decref: the interpreter that owned
 * it is gone) and becomes empty; after a re-initialisation it initialises again. A cell that
 * stored an object is on the finalisation list: a cell that is not static (inside a heap
 * struct, on the stack) must be passed to pyo3cpp_object_cell_clear before its memory is
 * freed. */
typedef struct pyo3cpp_object_cell {
    pyo3cpp_once_state once;
    struct _object *value;   /* stored once with release (before once.state becomes done);
                                NULL again only when the cell is taken, cleared or forgotten */
} pyo3cpp_object_cell;
#define PYO3CPP_OBJECT_CELL_INIT {PYO3CPP_ONCE_STATE_INIT, NULL}

/* Inline fast path: the stored object (borrowed; the cell keeps it alive until finalisation or
 * pyo3cpp_object_cell_clear), or NULL if not yet initialised. One acquire load of `value` (a
 * non-NULL value is complete: it is stored with release, once); no call. */
static inline struct _object *pyo3cpp_object_cell_get(const pyo3cpp_object_cell *c)
{
    return __atomic_load_n(&c->value, __ATOMIC_ACQUIRE);
}

/* Blocking (OnceLock) initialisation: init(ctx) returns a new reference, or NULL with an
 * exception set. Exactly one init runs; concurrent callers wait detached. Returns the stored
 * object (borrowed) or NULL with the exception set (the cell stays empty; the next call
 * retries). Recursion: NULL with RuntimeError naming `name`. init returning NULL without an
 * exception: SystemError. NULL `c` or `init` (cell empty): ValueError. Requires attachment
 * while the cell is empty (not attached: NULL, no exception); a full cell answers any thread. */
PYO3CPP_API struct _object *pyo3cpp_object_cell_get_or_init(
    pyo3cpp_object_cell *c, struct _object *(*init)(void *ctx), void *ctx, const char *name);

/* Non-blocking (OnceCell) initialisation: if empty, runs init(ctx) without any lock (several
 * threads may run it at once); the first value stored wins and the losers' references are
 * released. Returns the stored object (borrowed) or NULL with init's exception set
 * (SystemError if init set none). NULL `c` or `init` (cell empty): ValueError. Requires
 * attachment while the cell is empty (not attached: NULL, no exception). */
PYO3CPP_API struct _object *pyo3cpp_object_cell_get_or_race(
    pyo3cpp_object_cell *c, struct _object *(*init)(void *ctx), void *ctx);

/* Stores `value` (steals the reference) if the cell is empty: returns 1 when stored, 0 when the
 * cell already held an object (then `value` is released). -1 with ValueError on NULL.
 * Requires attachment (not attached: -1, no exception). The reference is stolen in every case,
 * errors included (released, through the pool when not attached). */
PYO3CPP_API int pyo3cpp_object_cell_set(pyo3cpp_object_cell *c, struct _object *value);

/* Empties the cell and returns its object as a new reference (NULL if empty or `c` is NULL; no
 * exception ever). Any thread, attached or not. The caller must know no other thread is using
 * a borrowed reference from the cell. */
PYO3CPP_API struct _object *pyo3cpp_object_cell_take(pyo3cpp_object_cell *c) PYO3CPP_NOEXCEPT;

/* Releases the cell's object (decref now when attached, deferred through the pool otherwise,
 * leaked after finalisation), empties the cell and removes it from the finalisation list.
 * Required before freeing a cell that is not static. The caller must know no other thread is
 * using the cell or a borrowed reference from it. Any thread. NULL is a no-op. */
PYO3CPP_API void pyo3cpp_object_cell_clear(pyo3cpp_object_cell *c);

/* An interned str for `utf8`, cached in `cell` (one static cell per call site). Borrowed
 * result; NULL with an exception (UnicodeDecodeError for invalid UTF-8, ValueError for NULL).
 * Requires attachment while the cell is empty (not attached: NULL, no exception); the cell
 * stays empty after an error. Example:
 *     static pyo3cpp_object_cell name_cell = PYO3CPP_OBJECT_CELL_INIT;
 *     PyObject *name = pyo3cpp_intern(&name_cell, "append");                           */
PYO3CPP_API struct _object *pyo3cpp_intern(pyo3cpp_object_cell *cell, const char *utf8);

/* `module.attr` (or the module itself when attr is NULL), imported once and cached in `cell`.
 * Borrowed result; NULL with ImportError (module missing) or AttributeError (attr missing,
 * naming both) set; ValueError for a NULL cell or module. Requires attachment while the cell
 * is empty (not attached: NULL, no exception); the cell stays empty after an error. */
PYO3CPP_API struct _object *pyo3cpp_import_cached(pyo3cpp_object_cell *cell, const char *module,
                                                  const char *attr);

/* ------------------------------------------- strong references out of containers */

/* CPython 3.13's strong-reference lookups for C on every supported Python. On a free-threaded
 * build a borrowed reference taken out of a dict, list or weak reference that another thread
 * may change can be freed before it is used; these return new references instead. On 3.13+
 * each forwards to the CPython function named (same results, same exceptions); on 3.11/3.12
 * it is built from the borrowed-reference calls plus an incref, correct there because those
 * Pythons always hold the GIL. The C++ layer's inline equivalents are in pyo3cpp/compat.hpp.
 *
 * Conventions for the five functions (beyond the ones at the top):
 *   - Requires attachment: not attached, the error value, no exception, *result set to NULL.
 *   - NULL container, key, list, reference or default, or a NULL out-pointer where one is
 *     required: the error value with ValueError (CPython would crash or raise SystemError).
 *   - Wrong container type, unlike the rest of this header, is rejected exactly as CPython
 *     3.13 does: SystemError ("bad argument to internal function") for a non-dict given to
 *     the dict functions, TypeError ("expected a list", "expected a weakref") for the others.
 *     Subclasses of dict and list are accepted (their overridden methods are not called).
 *   - An unhashable key: TypeError, from hashing it. The key's __hash__/__eq__ may run Python
 *     code, like any dict operation.
 *   - On error, *result (when the pointer is not NULL) is NULL.
 * Example:
 *     PyObject *value;
 *     switch (pyo3cpp_dict_get_item_ref(dict, key, &value)) {
 *         case 1: use(value); Py_DECREF(value); break;   (found: a new reference)
 *         case 0: break;                                 (missing, no exception)
 *         default: return NULL;                          (-1: exception set)
 *     }                                                                                     */

/* PyDict_GetItemRef: 1 and a new reference in *result when `key` is in `dict`; 0 and NULL when
 * it is not (no exception, KeyError is never raised); -1 and NULL with an exception. */
PYO3CPP_API int pyo3cpp_dict_get_item_ref(struct _object *dict, struct _object *key,
                                          struct _object **result);

/* PyDict_GetItemStringRef: the same with a UTF-8 C string key (UnicodeDecodeError when it is
 * not valid UTF-8; ValueError when NULL). */
PYO3CPP_API int pyo3cpp_dict_get_item_string_ref(struct _object *dict, const char *key,
                                                 struct _object **result);

/* PyList_GetItemRef: a new reference to list[index], or NULL with IndexError ("list index out
 * of range"; negative indexes are out of range too, they do not count from the end) or
 * TypeError ("expected a list"). `index` is a Py_ssize_t, spelled ptrdiff_t (the same type on
 * every platform CPython supports; the library checks it) so the header needs no <Python.h>. */
PYO3CPP_API struct _object *pyo3cpp_list_get_item_ref(struct _object *list, ptrdiff_t index);

/* PyDict_SetDefaultRef: dict.setdefault(key, default_value) in one atomic step (no other
 * thread can insert between the lookup and the insertion; every caller racing on one key gets
 * the same value back). Returns 1 when `key` was present (a new reference to its value in
 * *result), 0 when `default_value` was inserted (a new reference to it in *result), -1 with an
 * exception (*result NULL). `result` may be NULL: then no reference is returned. On 3.11/3.12
 * this is PyDict_SetDefault (one lookup-or-insert under the GIL) plus an incref, never a lookup
 * followed by a separate insertion. There, when `key` already maps to `default_value` itself,
 * 1 is returned; and a key whose __hash__/__eq__ lets another thread in during the call can
 * blur 1 and 0, never the value. */
PYO3CPP_API int pyo3cpp_dict_set_default_ref(struct _object *dict, struct _object *key,
                                             struct _object *default_value,
                                             struct _object **result);

/* PyWeakref_GetRef: 1 and a new reference to the referent of weak reference (or proxy) `ref`
 * in *pobj; 0 and NULL when the referent is dead (no exception); -1 and NULL with TypeError
 * ("expected a weakref") when `ref` is not a weak reference. */
PYO3CPP_API int pyo3cpp_weakref_get_ref(struct _object *ref, struct _object **pobj);

/* ------------------------------------------------------------- function bindings (1.2) */

/* What the C++ binding layer (include/pyo3cpp/function.hpp) compiles once instead of once per
 * function: argument binding beyond the fast path (keywords, defaults, *args, **kwargs), the
 * error messages in CPython's wording, the signature texts (__text_signature__ and the typed
 * one for stubs), and the function objects themselves. C extensions may use it too: describe
 * the parameters, bind with pyo3cpp_bind_arguments, and report conversion failures with
 * pyo3cpp_argument_error. All functions here require an attached thread. */

/* pyo3cpp_parameter.kind: Python's parameter kinds, in the order they must appear. */
#define PYO3CPP_PARAM_POSITIONAL_ONLY 0
#define PYO3CPP_PARAM_POSITIONAL_OR_KEYWORD 1
#define PYO3CPP_PARAM_VAR_POSITIONAL 2 /* *args: its slot receives a new tuple */
#define PYO3CPP_PARAM_KEYWORD_ONLY 3
#define PYO3CPP_PARAM_VAR_KEYWORD 4 /* **kwargs: its slot receives a new dict */

typedef struct pyo3cpp_parameter {
    const char *name;         /* the Python name (never NULL; "arg0"... for unnamed ones) */
    const char *default_text; /* the default as Python source ("0", "'x'", "None", "..."), or
                                 NULL: no default */
    const char *annotation;   /* its type for stubs ("int", "list[str]", "int | None"), or NULL
                                 for "object" */
    int kind;                 /* PYO3CPP_PARAM_* */
    int required;             /* 1: the caller must pass it; 0: it may be omitted */
} pyo3cpp_parameter;

typedef struct pyo3cpp_signature {
    const char *name;                 /* the function's __name__, for messages */
    const pyo3cpp_parameter *params;  /* `count` entries, valid for the life of the process */
    ptrdiff_t count;
    const char *return_annotation;    /* for stubs; NULL for "object" */
    void *prepared;                   /* the runtime's; NULL until pyo3cpp_signature_prepare */
} pyo3cpp_signature;

/* Checks the parameter list (kinds in order, names unique; ValueError naming the function
 * otherwise), interns the names and builds the docstring CPython reads a __text_signature__
 * from: "name(a, b=0, /, *, c=None)\n--\n\n", the typed signature for help()
 * ("name(a: int, b: int = 0, /, *, c: str | None = None) -> int", then "\n\n" before a doc; left
 * out for a name ending in ".__init__", whose doc a class's is built from), then `doc` (NULL:
 * none). Returns that text, which lives for the process, or NULL with an exception.
 * Idempotent: a second call returns the first text. Not thread-safe for one signature: prepare it before publishing it. */
PYO3CPP_API const char *pyo3cpp_signature_prepare(pyo3cpp_signature *sig, const char *doc);

/* Binds vectorcall arguments (args[0..nargs) positional, then one value per name of the tuple
 * `kwnames`, which may be NULL) to `slots`, one per parameter: a borrowed argument, or NULL for
 * an omitted optional one; the *args slot gets a new tuple and the **kwargs slot a new dict,
 * which the caller releases. 0 on success; -1 with TypeError worded like CPython's ("f() takes
 * 2 positional arguments but 3 were given", "f() missing required argument 'x' (pos 2)",
 * "f() got an unexpected keyword argument 'k'", "f() got multiple values for argument 'a'",
 * "f() got some positional-only arguments passed as keyword arguments: 'a'") and every slot
 * NULL. `sig` must be prepared. */
PYO3CPP_API int pyo3cpp_bind_arguments(const pyo3cpp_signature *sig, struct _object *const *args,
                                       ptrdiff_t nargs, struct _object *kwnames,
                                       struct _object **slots);

/* Rewrites the exception being raised (a conversion of parameter `index` from `value` failed)
 * so that it names the function and the argument, keeping its type unless noted:
 *   TypeError with `expected` given:   "f() argument 'x' must be int, not str"
 *                                       (" or None" added when `accepts_none`)
 *   a message starting "must be ":      "f() argument 'x' must be list[int], not str"
 *   any other message:                  "f() argument 'x': item 2 must be int, not str"
 * The exception's __cause__/__context__ are kept. Always returns NULL (for `return`). */
PYO3CPP_API struct _object *pyo3cpp_argument_error(const pyo3cpp_signature *sig, ptrdiff_t index,
                                                   struct _object *value, const char *expected,
                                                   int accepts_none);

/* A built-in function object whose calls from C (PyObject_Vectorcall, PyObject_Call) go
 * straight to `vectorcall` (a vectorcallfunc) with the function object as the callable, which
 * reaches `method_def` as its m_ml. `method_def` is a complete PyMethodDef that lives for the
 * process, with ml_doc from pyo3cpp_signature_prepare, and one of two forms:
 *   ml_flags METH_FASTCALL | METH_KEYWORDS, ml_meth an entry of this function alone: an exact
 *     builtin_function_or_method; the interpreter's call specialisation calls ml_meth directly
 *     (with the module as self), everything else calls `vectorcall`;
 *   ml_flags METH_FASTCALL | METH_KEYWORDS | METH_METHOD, ml_meth a function that only reports
 *     misuse: a builtin_method (its subtype), which the interpreter never specialises, so every
 *     call goes through `vectorcall` (for entries shared by several functions).
 * Either way inspect, help, pickle and copy treat it as a built-in: `__self__` is `module`,
 * `__module__` its name, `__qualname__` the name. `sig` (prepared) is remembered for
 * pyo3cpp_function_signature. New reference, or NULL with an exception. */
PYO3CPP_API struct _object *pyo3cpp_function_new(void *method_def, void *vectorcall,
                                                 const pyo3cpp_signature *sig,
                                                 struct _object *module);

/* A C entry point (a METH_FASTCALL | METH_KEYWORDS function, returned as void *) of its own
 * for one function whose code is shared with others (function pointers, capturing lambdas):
 * calling it calls invoke(context, args, nargs, kwnames), `self` ignored. This is what lets
 * such functions be exact built-ins that the interpreter's call specialisation calls directly.
 * The runtime holds 1024 of them for the whole process; NULL (no exception) once they are used
 * up, or for a NULL invoke. Any thread, attached or not; never calls Python. */
typedef struct _object *(*pyo3cpp_fastcall_invoke)(void *context, struct _object *const *args,
                                                   ptrdiff_t nargs, struct _object *kwnames);
PYO3CPP_API void *pyo3cpp_function_shared_entry(pyo3cpp_fastcall_invoke invoke,
                                                void *context) PYO3CPP_NOEXCEPT;

/* The typed signature of a pyo3cpp function or method, for stub generators:
 * "(a: int, b: int = 0, /, *, c: str | None = None) -> int" as a new str; None (a new
 * reference) when `callable` is not one; NULL with an exception on failure. */
PYO3CPP_API struct _object *pyo3cpp_function_signature(struct _object *callable);

/* ------------------------------------------------------------- class bindings (1.3) */

/* Remembers the prepared signature `sig` of a method whose PyMethodDef is `method_def` (an entry
 * of a type's tp_methods, living for the process), so that pyo3cpp_function_signature answers
 * for the method descriptors and bound methods made from it (the C++ layer's class.hpp calls it
 * for every method it defines). Registering the same PyMethodDef again replaces the signature.
 * 0, or -1 with ValueError (NULL arguments, `sig` not prepared) or MemoryError. Attached. */
PYO3CPP_API int pyo3cpp_method_register(const void *method_def, const pyo3cpp_signature *sig);

/* A C entry point for one instance method (a METH_FASTCALL | METH_KEYWORDS function for a
 * type's tp_methods, returned as void *): calling it with the instance as `self` calls
 * invoke(context, self, args, nargs, kwnames). A method descriptor hands its function only
 * `self` and the arguments, so each method needs an entry of its own; the runtime holds 4096 for
 * the whole process (one copy, not one per extension). NULL (no exception) once they are used up,
 * or for a NULL invoke. Any thread, attached or not; never calls Python. */
typedef struct _object *(*pyo3cpp_method_invoke)(void *context, struct _object *self,
                                                 struct _object *const *args, ptrdiff_t nargs,
                                                 struct _object *kwnames);
PYO3CPP_API void *pyo3cpp_method_shared_entry(pyo3cpp_method_invoke invoke,
                                              void *context) PYO3CPP_NOEXCEPT;

/* ------------------------------------------------------- class member signatures (1.4) */

/* For stub generators: the typed signatures of a bound class's members that are not method
 * descriptors (so pyo3cpp_function_signature cannot find them from the object): "__init__",
 * special methods reached through type slots ("__len__", "__eq__", ...) and properties. A
 * property is described as a signature whose return annotation is the getter's type and whose
 * one parameter, when there is a setter, has the setter's value type: "(value: int, /) -> int"
 * read-write, "() -> int" read-only.
 *
 * pyo3cpp_class_member_register remembers `sig` (prepared) for member `name` (copied) of the
 * class whose tp_methods table is `methods` (the PyMethodDef array given as Py_tp_methods,
 * living for the process: every type made from it, in any interpreter, answers). Registering a
 * name again replaces it. 0, or -1 with ValueError (a NULL argument, `sig` not prepared) or
 * MemoryError. Attached.
 *
 * pyo3cpp_class_member_signature: the signature text registered for member `name` of the class
 * `type` itself (not its bases), e.g. "(start: int = 0) -> None" for "__init__", as a new str;
 * None (a new reference) when there is none, or `type` is not a class; NULL with ValueError for
 * a NULL argument. Attached. */
PYO3CPP_API int pyo3cpp_class_member_register(const void *methods, const char *name,
                                              const pyo3cpp_signature *sig);
PYO3CPP_API struct _object *pyo3cpp_class_member_signature(struct _object *type, const char *name);

/* ------------------------------------------------------------- overload sets (1.6) */

/* A name defined several times (C++: ModuleDef::def, ClassDef::def/def_static/def_classmethod/
 * def_init twice) is one callable that tries each definition in turn. What depends on the C++
 * parameter types (binding one definition's arguments and converting them) is the attempt
 * callback; the order, the two passes and the error text are here.
 *
 * attempt(context, self, args, nargs, kwnames, convert, &result): try one definition. Returns 0
 * when it does not accept the arguments (wrong count or keywords, or a conversion refused with
 * TypeError, ValueError or OverflowError), with no exception set; otherwise 1 with *result the
 * call's result, or NULL with the body's exception (which propagates: no later definition is
 * tried). `convert` 0: the first pass, where a value is taken only as its own type (an int is not
 * a float, a bool is not an int, an arbitrary iterable is not a list); 1: conversions allowed. */
typedef int (*pyo3cpp_overload_attempt)(void *context, struct _object *self,
                                        struct _object *const *args, ptrdiff_t nargs,
                                        struct _object *kwnames, int convert,
                                        struct _object **result);

typedef struct pyo3cpp_overload {
    pyo3cpp_overload_attempt attempt;
    void *context;
    const pyo3cpp_signature *sig; /* the definition's, prepared: its typed text names it */
    const char *doc;              /* its docstring, or NULL */
} pyo3cpp_overload;

/* pyo3cpp_overload_prepare fills `set` (name: the display name, params NULL, count 0) so that
 * pyo3cpp_signature_prepare(set, ...) returns, and pyo3cpp_function_signature /
 * pyo3cpp_class_member_signature report, the set's texts: the typed signature text is one line
 * per definition ("(x: int) -> int\n(x: float, y: float) -> float"); the docstring lists every
 * signature, one per line ("f(x: int) -> int"), then a blank line and each definition's doc.
 * That doc has no "--" marker, so the callable has no __text_signature__ and
 * inspect.signature raises ValueError, as for any built-in without one. `flags`
 * PYO3CPP_OVERLOAD_CONSTRUCTOR drops the " -> None" of each line (a class's constructors).
 * Returns the docstring (lives for the process), or NULL with an exception. Attached; call once
 * per set, before publishing it.
 *
 * pyo3cpp_overload_call: tries overloads[0..count) in order without conversions, then in order
 * with them; the first that accepts the arguments runs and its result (or exception) is
 * returned. None accepting: TypeError naming `name` (the set's display name), the arguments'
 * types and every signature:
 *   "f(): no overload accepts (str, y=int); the overloads are:\n    f(x: int) -> int\n    ..."
 * Attached. */
#define PYO3CPP_OVERLOAD_CONSTRUCTOR 1
PYO3CPP_API const char *pyo3cpp_overload_prepare(pyo3cpp_signature *set,
                                                 const pyo3cpp_overload *overloads,
                                                 ptrdiff_t count, int flags);
PYO3CPP_API struct _object *pyo3cpp_overload_call(const pyo3cpp_signature *set,
                                                  const pyo3cpp_overload *overloads,
                                                  ptrdiff_t count, struct _object *self,
                                                  struct _object *const *args, ptrdiff_t nargs,
                                                  struct _object *kwnames);

/* ------------------------------------------------ distinct function identities (1.12) */

/* A C function pointer (returned as void *) distinct from every other one this function has
 * returned, for the ml_meth of a PyMethodDef whose function objects are never called through it
 * (a builtin_method whose vectorcall slot is its entry point: pyo3cpp_function_new). CPython
 * compares and hashes built-in functions by __self__ and ml_meth, so functions of one module
 * need distinct ml_meth values to compare unequal and hash apart. Calling the pointer (C code
 * that digs ml_meth out of the PyMethodDef, with any arguments, attached) raises SystemError and
 * returns NULL. 65,536 distinct pointers per process on x86-64 and AArch64 (then the last one
 * again; elsewhere always the same one). Any thread, attached or not; never fails, never calls
 * Python. */
PYO3CPP_API void *pyo3cpp_function_misuse_entry(void) PYO3CPP_NOEXCEPT;

/* ------------------------------------------------------------- debug checks */

/* 1 when the library was built with -Ddebug_checks=true, else 0. Any thread; never fails. */
PYO3CPP_API int pyo3cpp_debug_checks_enabled(void) PYO3CPP_NOEXCEPT;

/* Python overrides of C++ virtual methods (1.10; include/pyo3cpp/trampoline.hpp). Both run
 * attached; called while not attached they return -1 with no exception set. A NULL argument is
 * a ValueError, a `bound` that is not a type or a `name` that is not a str a TypeError.
 *
 * pyo3cpp_override_lookup: the attribute `name` (a str) that the classes of `self`'s type define
 * before `bound` in its MRO (`bound` is the bound class's own type: its method is the C++ one and
 * ends the search; so does reaching the end of the MRO). Looks in each class's own __dict__, as
 * Python's attribute lookup does for a class attribute; instance attributes are not seen.
 * Returns 1 with *function a new reference and *owner the class holding it (borrowed: it is in the
 * type's MRO), 0 with both NULL when no class overrides it, or -1 with an exception set.
 * *version: the type's version tag the answer holds for while it is unchanged (0: do not cache;
 * the type had none, or it changed during the search). */
PYO3CPP_API int pyo3cpp_override_lookup(struct _object *self, struct _object *bound, struct _object *name,
                                        struct _object **function, struct _object **owner,
                                        unsigned int *version);

/* The functions below serve the inline C++ layer when it is compiled with
 * PYO3CPP_DEBUG_CHECKS=1 (and C code that wants the same checks). They exist in every build so
 * the ABI does not depend on the option; code compiled without the checks never calls them.
 * All are callable from any thread, attached or not, and never fail. */

/* Bits of pyo3cpp_debug_thread_state(). */
#define PYO3CPP_DEBUG_ATTACHED 1    /* the calling thread is attached */
#define PYO3CPP_DEBUG_IN_TRAVERSE 2 /* the calling thread is inside a GC traversal (guarded) */

/* One call answering "may this thread touch refcounts now?": PYO3CPP_DEBUG_ATTACHED |
 * PYO3CPP_DEBUG_IN_TRAVERSE as they apply. Cost: two thread-local reads. */
PYO3CPP_API int pyo3cpp_debug_thread_state(void) PYO3CPP_NOEXCEPT;

/* Marks the calling thread as running a tp_traverse implementation (nests: enter/leave pair
 * like brackets). While marked, the checked refcount operations and attach abort with a
 * message, because CPython forbids both during a collection. C++: pyo3cpp::TraverseGuard. */
PYO3CPP_API void pyo3cpp_debug_traverse_enter(void) PYO3CPP_NOEXCEPT;
PYO3CPP_API void pyo3cpp_debug_traverse_leave(void) PYO3CPP_NOEXCEPT;

/* Live Py<T> accounting: the checked Py<T> adds +1 when it takes a reference and -1 when it
 * gives one up. pyo3cpp_debug_live_py() returns the current count; at interpreter finalisation
 * (after once-cells have forgotten their objects) a non-zero count is reported on stderr as
 *   "pyo3cpp debug check: N Py<T> still alive at interpreter finalisation ...". */
PYO3CPP_API void pyo3cpp_debug_count_py(long delta) PYO3CPP_NOEXCEPT;
PYO3CPP_API long pyo3cpp_debug_live_py(void) PYO3CPP_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif /* PYO3CPP_H */
