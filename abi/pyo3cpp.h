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
 *
 * ABI rule: additive only. A released symbol or struct layout never changes; new symbols go
 * in a new version node of abi/pyo3cpp.map and are added to abi/symbols.txt (see README).
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
/* The library's release, for humans and pkg-config. */
#define PYO3CPP_VERSION_MAJOR 0
#define PYO3CPP_VERSION_MINOR 1
#define PYO3CPP_VERSION_PATCH 0

#if defined(__GNUC__) || defined(__clang__)
#  define PYO3CPP_API __attribute__((visibility("default")))
#else
#  define PYO3CPP_API
#endif

/* The ABI version the loaded library implements. Any thread, attached or not; never fails. */
PYO3CPP_API long pyo3cpp_abi_version(void);

/* Describes the CPython build the loaded library was compiled for: writes its major and minor
 * version and 1/0 for free-threaded into the non-NULL pointers. Any thread; never fails. */
PYO3CPP_API void pyo3cpp_runtime_python(int *major, int *minor, int *free_threaded);

/* The import-time check. An extension calls it (through PYO3CPP_CHECK_RUNTIME) from its module
 * initialisation, attached, with what it was compiled for. Returns 0 when the loaded library
 * and the running interpreter match; otherwise -1 with ImportError set, naming both sides, e.g.
 *   "mymod was built for pyo3cpp ABI 2 on CPython 3.13 (free-threaded), but the loaded
 *    libpyo3cpp.so implements ABI 1 for CPython 3.11 (GIL)".
 * `module_name` may be NULL ("extension" is used). Requires attachment; if the caller is not
 * attached it returns -1 without setting an exception. */
PYO3CPP_API int pyo3cpp_check_runtime(long abi_version, int py_major, int py_minor,
                                      int free_threaded, const char *module_name);

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
PYO3CPP_API int pyo3cpp_is_attached(void);

/* Filled by pyo3cpp_attach / pyo3cpp_try_attach; pass the same struct to pyo3cpp_release_attach.
 * Fixed layout: 16 bytes, 8-byte aligned. Treat the fields as private. */
typedef struct pyo3cpp_attach_state {
    int32_t kind;     /* 0: not attached by this call, 1: was already attached, 2: attached now */
    int32_t gilstate; /* the PyGILState_STATE to give back, when kind == 2 */
    void *reserved;
} pyo3cpp_attach_state;

/* Attaches the calling thread (any thread, including ones Python never created), or notes that
 * it already is, and drains the deferred-decref pool. Nested calls cost one thread-local read.
 * Returns 0; returns -1 without setting an exception when the interpreter is not initialised
 * or is finalising (it never blocks then) or when `state` is NULL. Each successful call is
 * paired with pyo3cpp_release_attach on the same thread, in LIFO order. */
PYO3CPP_API int pyo3cpp_attach(pyo3cpp_attach_state *state);

/* Same as pyo3cpp_attach; the name documents that failure is an expected outcome. */
PYO3CPP_API int pyo3cpp_try_attach(pyo3cpp_attach_state *state);

/* Undoes one pyo3cpp_attach/try_attach: detaches only if that call attached. NULL or a state
 * from a failed attach is a no-op. */
PYO3CPP_API void pyo3cpp_release_attach(pyo3cpp_attach_state *state);

/* Detach from the interpreter around blocking work. pyo3cpp_detach_begin requires attachment
 * and returns an opaque token (NULL, with no exception, if the caller was not attached: then
 * pyo3cpp_detach_end(NULL) is a no-op). pyo3cpp_detach_end re-attaches and drains the pool.
 * While detached, the thread must not touch Python objects; on free-threaded builds this is
 * what lets a stop-the-world pause (garbage collection) proceed. */
PYO3CPP_API void *pyo3cpp_detach_begin(void);
PYO3CPP_API void pyo3cpp_detach_end(void *token);

/* Runs fn(ctx) detached and re-attaches: pyo3cpp_detach_begin + fn + pyo3cpp_detach_end.
 * Returns fn's result. If the caller is not attached it simply calls fn. fn must not use the
 * Python C API. */
PYO3CPP_API int pyo3cpp_detach(int (*fn)(void *ctx), void *ctx);

/* ------------------------------------------------------- references (pool) */

/* Gives up one strong reference from any thread, attached or not: decref now when attached,
 * otherwise queue it in the deferred-decref pool, drained by the next attach or detach-end on
 * any thread. After interpreter finalisation the reference is leaked, never decref'd into a
 * dead interpreter. NULL is a no-op. Queueing is lock-free: threads do not serialise. */
PYO3CPP_API void pyo3cpp_release_ref(struct _object *obj);

/* Queues a decref unconditionally (the caller knows it is not attached). NULL is a no-op. */
PYO3CPP_API void pyo3cpp_defer_decref(struct _object *obj);

/* Applies every queued decref now. Requires attachment (returns -1, no exception, if not).
 * With nothing queued it costs one relaxed atomic load. Returns the number applied. */
PYO3CPP_API long pyo3cpp_pool_drain(void);

/* Number of decrefs currently queued (a snapshot; for tests and diagnostics). Any thread. */
PYO3CPP_API long pyo3cpp_pool_pending(void);

/* --------------------------------------------------------- critical sections */

/* Caller-provided storage for a critical section over one or two objects. Fixed layout:
 * 32 bytes, 8-byte aligned, big enough for CPython's PyCriticalSection2. Private fields. */
typedef struct pyo3cpp_critical_section {
    void *opaque[4];
} pyo3cpp_critical_section;

/* Begins a critical section on `obj` (free-threaded builds: locks the object's per-object
 * mutex, detaching while it waits; GIL builds: the GIL already excludes, so nothing is locked).
 * Requires attachment. Returns -1 with ValueError set if `cs` or `obj` is NULL (TypeError is
 * never raised: any object can be locked); -1 without an exception if not attached.
 * Sections end in LIFO order with pyo3cpp_critical_section_end. Any call that detaches the
 * thread (blocking I/O wrappers, pyo3cpp_detach, waiting on a lock) suspends the section: another
 * thread may run inside it until this thread re-attaches. */
PYO3CPP_API int pyo3cpp_critical_section_begin(pyo3cpp_critical_section *cs,
                                               struct _object *obj);
/* Same over two objects, locked in a global order, so (a, b) and (b, a) never deadlock.
 * a == b is allowed and locks once. */
PYO3CPP_API int pyo3cpp_critical_section_begin2(pyo3cpp_critical_section *cs,
                                                struct _object *a, struct _object *b);
/* Ends a section begun by either function above. NULL is a no-op. */
PYO3CPP_API void pyo3cpp_critical_section_end(pyo3cpp_critical_section *cs);

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
/* 1 when acquired, 0 when held elsewhere, -1 on NULL. Never blocks. */
PYO3CPP_API int pyo3cpp_mutex_try_lock(pyo3cpp_mutex *m);
/* Unlock: by the thread that locked it. -1 on NULL or when it was not locked (RuntimeError
 * if attached); unlocking an unlocked mutex never corrupts it. */
PYO3CPP_API int pyo3cpp_mutex_unlock(pyo3cpp_mutex *m);

/* -------------------------------------------------------------- once-cells */

/* The state word behind every blocking once-cell (OnceLock): exactly one initialiser runs;
 * others wait detached; failure leaves it empty for the next caller; recursion on the same
 * thread raises RuntimeError instead of deadlocking. Zero-initialised is empty.
 * Fixed layout: 16 bytes, 8-byte aligned. */
typedef struct pyo3cpp_once_state {
    uint32_t state;   /* 0 empty, 1 running, 2 done (read with acquire) */
    uint32_t waiters;
    uint64_t owner;   /* thread running the initialiser, for recursion detection */
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
 * `name` may be NULL (then "<unnamed>"). NULL `s` or `init`: -1 with ValueError. */
PYO3CPP_API int pyo3cpp_once_run(pyo3cpp_once_state *s, int (*init)(void *ctx), void *ctx,
                                 const char *name);

/* Returns a done cell to empty (for take/reset by an owner that excludes concurrent readers).
 * Any thread. NULL is a no-op. */
PYO3CPP_API void pyo3cpp_once_reset(pyo3cpp_once_state *s);

/* Registers forget(ctx) to run when the interpreter finalises (after Python code has stopped
 * and before the runtime state is torn down), so cells holding Python objects drop them without
 * decref'ing into a dead interpreter and can initialise afresh after a re-initialisation.
 * Idempotent per (forget, ctx) pair. Any thread. Returns 0, or -1 (MemoryError if attached). */
PYO3CPP_API int pyo3cpp_on_finalize(void (*forget)(void *ctx), void *ctx);

/* A once-cell holding one Python object: the C form of OnceLock<Py<PyAny>>.
 * Static storage: `static pyo3cpp_object_cell cell = PYO3CPP_OBJECT_CELL_INIT;`
 * Fixed layout: 24 bytes, 8-byte aligned.
 * At interpreter finalisation the cell forgets its object (no decref: the interpreter that owned
 * it is gone) and becomes empty; after a re-initialisation it initialises again. */
typedef struct pyo3cpp_object_cell {
    pyo3cpp_once_state once;
    struct _object *value;   /* published with release before once.state becomes done */
} pyo3cpp_object_cell;
#define PYO3CPP_OBJECT_CELL_INIT {PYO3CPP_ONCE_STATE_INIT, NULL}

/* Inline fast path: the stored object (borrowed; the cell keeps it alive until finalisation or
 * pyo3cpp_object_cell_clear), or NULL if not yet initialised. One acquire load; no call. */
static inline struct _object *pyo3cpp_object_cell_get(const pyo3cpp_object_cell *c)
{
    return pyo3cpp_once_state_done(&c->once) ? c->value : NULL;
}

/* Blocking (OnceLock) initialisation: init(ctx) returns a new reference, or NULL with an
 * exception set. Exactly one init runs; concurrent callers wait detached. Returns the stored
 * object (borrowed) or NULL with the exception set (the cell stays empty; the next call
 * retries). Recursion: NULL with RuntimeError naming `name`. Requires attachment. */
PYO3CPP_API struct _object *pyo3cpp_object_cell_get_or_init(
    pyo3cpp_object_cell *c, struct _object *(*init)(void *ctx), void *ctx, const char *name);

/* Non-blocking (OnceCell) initialisation: if empty, runs init(ctx) without any lock (several
 * threads may run it at once); the first value stored wins and the losers' references are
 * released. Returns the stored object (borrowed) or NULL with init's exception set. */
PYO3CPP_API struct _object *pyo3cpp_object_cell_get_or_race(
    pyo3cpp_object_cell *c, struct _object *(*init)(void *ctx), void *ctx);

/* Stores `value` (steals the reference) if the cell is empty: returns 1 when stored, 0 when the
 * cell already held an object (then `value` is released). -1 with ValueError on NULL.
 * Requires attachment. */
PYO3CPP_API int pyo3cpp_object_cell_set(pyo3cpp_object_cell *c, struct _object *value);

/* Empties the cell and returns its object as a new reference (NULL if empty, no exception).
 * The caller must know no other thread is using a borrowed reference from the cell. */
PYO3CPP_API struct _object *pyo3cpp_object_cell_take(pyo3cpp_object_cell *c);

/* An interned str for `utf8`, cached in `cell` (one static cell per call site). Borrowed
 * result; NULL with an exception (UnicodeDecodeError for invalid UTF-8, ValueError for NULL).
 * Requires attachment. Example:
 *     static pyo3cpp_object_cell name_cell = PYO3CPP_OBJECT_CELL_INIT;
 *     PyObject *name = pyo3cpp_intern(&name_cell, "append");                           */
PYO3CPP_API struct _object *pyo3cpp_intern(pyo3cpp_object_cell *cell, const char *utf8);

/* `module.attr` (or the module itself when attr is NULL), imported once and cached in `cell`.
 * Borrowed result; NULL with ImportError (module missing) or AttributeError (attr missing,
 * naming both) set. Requires attachment. */
PYO3CPP_API struct _object *pyo3cpp_import_cached(pyo3cpp_object_cell *cell, const char *module,
                                                  const char *attr);

/* ------------------------------------------------------------- debug checks */

/* 1 when the library was built with -Ddebug_checks=true. */
PYO3CPP_API int pyo3cpp_debug_checks_enabled(void);

#ifdef __cplusplus
}
#endif

#endif /* PYO3CPP_H */
