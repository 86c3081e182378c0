// once.cpp — the slow paths of once-cells: the blocking "exactly one initialiser" protocol, the
// object cell built on it, its non-blocking (racing) variant, intern and import caches.
// The fast path (one acquire load) is inline in abi/pyo3cpp.h and include/pyo3cpp/once_*.h.
#include <Python.h>  // first, as CPython requires: its pyconfig.h sets feature macros
                     // (3.15: _POSIX_C_SOURCE 202405L) that the C library headers read
#include <cxxabi.h>

#include <cstdio>
#include <cstring>
#include <set>

#include "runtime_state.h"

using namespace pyo3cpp::detail;

namespace {

enum : std::uint32_t { kEmpty = 0, kRunning = 1, kDone = 2 };

std::atomic_ref<std::uint32_t> state_of(pyo3cpp_once_state *s)
{
    return std::atomic_ref<std::uint32_t>(s->state);
}
// atomic_ref needs more alignment than a uint64_t field gets on i386; the header declares it.
static_assert(alignof(pyo3cpp_once_state) >= std::atomic_ref<std::uint64_t>::required_alignment &&
              offsetof(pyo3cpp_once_state, owner) %
                      std::atomic_ref<std::uint64_t>::required_alignment == 0,
              "pyo3cpp_once_state.owner must be aligned for 64-bit atomics (PYO3CPP_ALIGNED)");
static_assert(alignof(pyo3cpp_object_cell) >= std::atomic_ref<PyObject *>::required_alignment &&
              offsetof(pyo3cpp_object_cell, value) %
                      std::atomic_ref<PyObject *>::required_alignment == 0,
              "pyo3cpp_object_cell.value must be aligned for pointer atomics");

std::atomic_ref<std::uint64_t> owner_of(pyo3cpp_once_state *s)
{
    return std::atomic_ref<std::uint64_t>(s->owner);
}
std::atomic_ref<PyObject *> value_of(pyo3cpp_object_cell *c)
{
    return std::atomic_ref<PyObject *>(c->value);
}

// Once-states whose initialiser is running, so that the child of a fork() can reset those whose
// initialising thread does not exist there (their waiters would otherwise wait for ever).
struct RunningCells {
    PlainMutex lock;
    std::set<pyo3cpp_once_state *> cells;
};
RunningCells &running_cells()
{
    static auto *instance = new RunningCells();  // never destroyed: used at exit and at fork
    return *instance;
}
bool note_running(pyo3cpp_once_state *s) noexcept
{
    try {
        PlainLock guard(running_cells().lock);
        running_cells().cells.insert(s);
        return true;
    } catch (const std::bad_alloc &) {
        return false;
    }
}
void note_finished(pyo3cpp_once_state *s) noexcept
{
    PlainLock guard(running_cells().lock);
    running_cells().cells.erase(s);
}

void forget_object_cell(void *ctx)
{
    // The interpreter is gone: drop the pointer without a decref and allow a fresh start.
    auto *cell = static_cast<pyo3cpp_object_cell *>(ctx);
    value_of(cell).store(nullptr, std::memory_order_relaxed);
    state_of(&cell->once).store(kEmpty, std::memory_order_release);
}

struct ObjectInit {
    pyo3cpp_object_cell *cell;
    PyObject *(*init)(void *);
    void *ctx;
};

// Publishes `value` (a new reference) unless another path already stored one: the first value
// stored wins and the loser is released. Returns true when `value` was stored.
bool publish(pyo3cpp_object_cell *cell, PyObject *value)
{
    PyObject *expected = nullptr;
    if (!value_of(cell).compare_exchange_strong(expected, value, std::memory_order_acq_rel)) {
        Py_DECREF(value);
        return false;
    }
    // The caller is attached, so this is the live interpreter: make sure its finalisation will
    // run the forget callbacks (a thread attached by Py_Initialize may never have told us).
    ensure_finalize_hook();
    register_forget(forget_object_cell, cell);
    return true;
}

int run_object_init(void *raw)
{
    auto *job = static_cast<ObjectInit *>(raw);
    PyObject *value = job->init(job->ctx);
    if (value == nullptr) {
        // A racing set/get_or_race may have stored a value meanwhile: the cell is initialised
        // then, and reporting this caller's failure would leave a stored value behind an
        // "empty" state word (invisible to get, impossible to take).
        if (value_of(job->cell).load(std::memory_order_acquire) != nullptr) {
            PyErr_Clear();
            return 0;
        }
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_SystemError,
                            "once-cell initialiser returned NULL without setting an exception");
        return -1;
    }
    publish(job->cell, value);
    return 0;
}

PyObject *intern_init(void *ctx) { return PyUnicode_InternFromString(static_cast<char *>(ctx)); }

struct ImportJob {
    const char *module;
    const char *attr;
};

PyObject *import_init(void *ctx)
{
    auto *job = static_cast<ImportJob *>(ctx);
    PyObject *module = PyImport_ImportModule(job->module);
    if (module == nullptr || job->attr == nullptr) return module;
    PyObject *attr = PyObject_GetAttrString(module, job->attr);
    Py_DECREF(module);
    return attr;
}

}  // namespace

namespace pyo3cpp::detail {

void once_fork_prepare() noexcept { running_cells().lock.lock(); }
void once_fork_parent() noexcept { running_cells().lock.unlock(); }
void once_fork_child() noexcept
{
    // An initialiser that another thread was running will never finish in the child: its cell
    // goes back to empty, so the child's first user initialises it (the forking thread's own
    // running initialiser, if it forked from inside one, stays running).
    const std::uint64_t me = this_thread_key();
    auto &running = running_cells();
    for (auto it = running.cells.begin(); it != running.cells.end();) {
        pyo3cpp_once_state *s = *it;
        if (owner_of(s).load(std::memory_order_relaxed) == me) {
            ++it;
            continue;
        }
        owner_of(s).store(0, std::memory_order_relaxed);
        state_of(s).store(kEmpty, std::memory_order_release);
        it = running.cells.erase(it);
    }
    running.lock.unlock();
}

}  // namespace pyo3cpp::detail

extern "C" {

PYO3CPP_API int pyo3cpp_once_run(pyo3cpp_once_state *s, int (*init)(void *ctx), void *ctx,
                                 const char *name)
{
    if (!thread_is_attached()) return -1;
    arm_runtime();
    if (s == nullptr || init == nullptr) {
        PyErr_SetString(PyExc_ValueError, "pyo3cpp_once_run: NULL cell or initialiser");
        return -1;
    }
    auto state = state_of(s);
    auto owner = owner_of(s);
    const std::uint64_t me = this_thread_key();
    for (;;) {
        std::uint32_t seen = state.load(std::memory_order_acquire);
        if (seen == kDone) return 0;
        if (seen == kEmpty) {
            if (!state.compare_exchange_strong(seen, kRunning, std::memory_order_acquire))
                continue;
            owner.store(me, std::memory_order_relaxed);
            const auto finish = [&](std::uint32_t final_state) noexcept {
                owner.store(0, std::memory_order_relaxed);
                note_finished(s);
                state.store(final_state, std::memory_order_release);
                state.notify_all();
            };
            if (!note_running(s)) {
                finish(kEmpty);
                PyErr_NoMemory();
                return -1;
            }
            int result;
            try {
                result = init(ctx);
            } catch (abi::__forced_unwind &) {
                // CPython is ending this thread (it re-attached during finalisation): leave the
                // cell empty for others and let the unwind through.
                finish(kEmpty);
                throw;
            } catch (...) {
                PyErr_SetString(PyExc_RuntimeError,
                                "pyo3cpp_once_run: a C++ exception escaped the initialiser");
                result = -1;
            }
            if (result == -1 && !PyErr_Occurred())  // the contract promises an exception with -1
                PyErr_SetString(PyExc_SystemError,
                                "once-cell initialiser returned -1 without setting an exception");
            finish(result == 0 ? kDone : kEmpty);
            return result;
        }
        // Running. On this thread, waiting would deadlock forever: say so instead.
        if (owner.load(std::memory_order_relaxed) == me) {
            PyErr_Format(PyExc_RuntimeError,
                         "recursive initialisation of once-cell '%s' on the same thread",
                         name ? name : "<unnamed>");
            return -1;
        }
        // Another thread is initialising: wait detached, so that it can take the GIL or a
        // stop-the-world pause can proceed, then look again (it may have failed). Re-attaching
        // does not drain the deferred-decref pool: no Python code runs inside a library wait.
        // The wait-for graph (wait_graph.cpp) learns that this thread waits for the owner,
        // and refuses the wait when the owner is, through a chain, waiting for this thread.
        pyo3cpp_wait wait{};
        wait.kind = PYO3CPP_WAIT_ONCE;
        wait.resource = s;
        wait.name = name ? name : "<unnamed>";
        wait.owner = &s->owner;
        if (pyo3cpp_wait_begin(&wait) != 0) return -1;
        PyThreadState *detached = PyEval_SaveThread();
        state.wait(kRunning, std::memory_order_acquire);
        pyo3cpp_wait_end(&wait);  // before re-attaching, which CPython may end this thread in
        PyEval_RestoreThread(detached);
    }
}

PYO3CPP_API void pyo3cpp_once_reset(pyo3cpp_once_state *s) noexcept
{
    if (s == nullptr) return;
    // Only done -> empty: resetting a running cell would let a second initialiser start while
    // the first still writes, and the first would then mark the cell done under it.
    std::uint32_t expected = kDone;
    if (state_of(s).compare_exchange_strong(expected, kEmpty, std::memory_order_acq_rel))
        state_of(s).notify_all();
}

PYO3CPP_API PyObject *pyo3cpp_object_cell_get_or_init(pyo3cpp_object_cell *c,
                                                      PyObject *(*init)(void *ctx), void *ctx,
                                                      const char *name)
{
    if (c != nullptr) {
        if (PyObject *ready = pyo3cpp_object_cell_get(c)) return ready;
    }
    if (!thread_is_attached()) return nullptr;
    if (c == nullptr || init == nullptr) {
        PyErr_SetString(PyExc_ValueError,
                        "pyo3cpp_object_cell_get_or_init: NULL cell or initialiser");
        return nullptr;
    }
    ObjectInit job{c, init, ctx};
    if (pyo3cpp_once_run(&c->once, run_object_init, &job, name) != 0) return nullptr;
    return value_of(c).load(std::memory_order_acquire);
}

PYO3CPP_API PyObject *pyo3cpp_object_cell_get_or_race(pyo3cpp_object_cell *c,
                                                      PyObject *(*init)(void *ctx), void *ctx)
{
    if (c != nullptr) {
        if (PyObject *ready = value_of(c).load(std::memory_order_acquire)) return ready;
    }
    if (!thread_is_attached()) return nullptr;
    if (c == nullptr || init == nullptr) {
        PyErr_SetString(PyExc_ValueError,
                        "pyo3cpp_object_cell_get_or_race: NULL cell or initialiser");
        return nullptr;
    }
    PyObject *value;
    try {
        value = init(ctx);
    } catch (abi::__forced_unwind &) {
        throw;  // CPython is ending this thread: let it
    } catch (...) {
        // No C++ exception may cross the C ABI (found by tests/test_faults.cpp).
        PyErr_SetString(PyExc_RuntimeError,
                        "pyo3cpp_object_cell_get_or_race: a C++ exception escaped the initialiser");
        return nullptr;
    }
    if (value == nullptr) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_SystemError,
                            "once-cell initialiser returned NULL without setting an exception");
        return nullptr;
    }
    if (publish(c, value)) {
        std::uint32_t expected = kEmpty;  // a blocking initialiser, if one runs, finishes it
        state_of(&c->once).compare_exchange_strong(expected, kDone, std::memory_order_release);
    }
    return value_of(c).load(std::memory_order_acquire);
}

PYO3CPP_API int pyo3cpp_object_cell_set(pyo3cpp_object_cell *c, PyObject *value)
{
    if (!thread_is_attached()) {
        pyo3cpp_release_ref(value);  // the reference is stolen in every case: queue its decref
        return -1;
    }
    if (c == nullptr || value == nullptr) {
        Py_XDECREF(value);
        PyErr_SetString(PyExc_ValueError, "pyo3cpp_object_cell_set: NULL cell or value");
        return -1;
    }
    if (!publish(c, value)) return 0;
    std::uint32_t expected = kEmpty;
    state_of(&c->once).compare_exchange_strong(expected, kDone, std::memory_order_release);
    return 1;
}

PYO3CPP_API PyObject *pyo3cpp_object_cell_take(pyo3cpp_object_cell *c) noexcept
{
    if (c == nullptr) return nullptr;
    std::uint32_t expected = kDone;
    if (!state_of(&c->once).compare_exchange_strong(expected, kEmpty, std::memory_order_acq_rel))
        return nullptr;
    return value_of(c).exchange(nullptr, std::memory_order_acq_rel);
}

PYO3CPP_API void pyo3cpp_object_cell_clear(pyo3cpp_object_cell *c)
{
    if (c == nullptr) return;
    unregister_forget(forget_object_cell, c);
    PyObject *value = value_of(c).exchange(nullptr, std::memory_order_acq_rel);
    owner_of(&c->once).store(0, std::memory_order_relaxed);
    state_of(&c->once).store(kEmpty, std::memory_order_release);
    pyo3cpp_release_ref(value);  // decref now if attached, else deferred; leaked if finalised
}

PYO3CPP_API PyObject *pyo3cpp_intern(pyo3cpp_object_cell *cell, const char *utf8)
{
    if (cell != nullptr) {
        if (PyObject *ready = pyo3cpp_object_cell_get(cell)) return ready;
    }
    if (!thread_is_attached()) return nullptr;
    if (cell == nullptr || utf8 == nullptr) {
        PyErr_SetString(PyExc_ValueError, "pyo3cpp_intern: NULL cell or string");
        return nullptr;
    }
    return pyo3cpp_object_cell_get_or_init(cell, intern_init, const_cast<char *>(utf8), utf8);
}

PYO3CPP_API PyObject *pyo3cpp_import_cached(pyo3cpp_object_cell *cell, const char *module,
                                            const char *attr)
{
    if (cell != nullptr) {
        if (PyObject *ready = pyo3cpp_object_cell_get(cell)) return ready;
    }
    if (!thread_is_attached()) return nullptr;
    if (cell == nullptr || module == nullptr) {
        PyErr_SetString(PyExc_ValueError, "pyo3cpp_import_cached: NULL cell or module name");
        return nullptr;
    }
    // "module.attr" names the cell in error messages. Allocated through CPython's raw allocator
    // (a failure is a MemoryError like any other allocation failure in the C API).
    const std::size_t length = std::strlen(module) + (attr ? std::strlen(attr) + 1 : 0) + 1;
    char *name = static_cast<char *>(PyMem_RawMalloc(length));
    if (name == nullptr) {
        PyErr_NoMemory();
        return nullptr;
    }
    std::snprintf(name, length, attr ? "%s.%s" : "%s", module, attr ? attr : "");
    ImportJob job{module, attr};
    PyObject *result = pyo3cpp_object_cell_get_or_init(cell, import_init, &job, name);
    PyMem_RawFree(name);
    return result;
}

}  // extern "C"
