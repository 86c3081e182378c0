// attach.cpp — attaching threads to the interpreter and detaching them around blocking work.
// Every path that (re-)attaches drains the deferred-decref pool.
#include "runtime_state.h"

using namespace pyo3cpp::detail;

namespace {
enum : int32_t { kNotAttached = 0, kAlreadyAttached = 1, kAttachedNow = 2 };

// The attach gate. PyGILState_Ensure on a thread that is not attached never returns once the
// interpreter has started finalising (CPython exits or hangs the thread; a C++ std::thread
// then aborts), and Py_IsFinalizing() turns true only at a point we cannot synchronise with.
// So the library closes its own gate earlier: a Python-level atexit callback (registered on
// the first attach of each interpreter, so it runs after the atexit callbacks registered later)
// marks the gate closed and then waits, detached, until every attach that had already passed
// the gate has finished attaching. After that no fresh attach can reach PyGILState_Ensure, and
// try_attach() answers "empty" for the rest of finalisation. Attaches of threads that are
// already attached (the finalising thread itself, nested guards) never pass through the gate.
// Dekker-style: the attacher increments `in_flight` and then reads the gate; the closer closes
// the gate and then reads `in_flight`; with seq_cst one of them sees the other.
//
// The gate word also carries the fast path. kGateChecking: every fresh attach checks
// Py_IsInitialized / Py_IsFinalizing and registers the hooks (attach_slow). kGateOpen: the
// interpreter is initialised, its atexit gate callback and finalisation hook are registered
// (so the gate closes before finalisation starts), and a fresh attach goes straight to
// PyGILState_Ensure. Only a CAS from kGateChecking opens it, so the closer's exchange to
// kGateClosed is final until the finalisation hook resets the word for a new interpreter.
// (Code that empties Python's atexit list by hand, atexit._clear(), also removes the close:
// fresh attaches during that finalisation then meet CPython's own rule for late threads.)
enum : int { kGateChecking = 0, kGateOpen = 1, kGateClosed = 2 };
std::atomic<int> g_gate{kGateChecking};
std::atomic<int> g_gate_in_flight{0};
// 0: no atexit callback for the running interpreter, 1: being registered, 2: registered.
std::atomic<int> g_gate_registration{0};

void leave_gate() noexcept
{
    if (g_gate_in_flight.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
        g_gate.load(std::memory_order_seq_cst) == kGateClosed)
        g_gate_in_flight.notify_all();
}

PyObject *close_attach_gate(PyObject *, PyObject *)
{
    // Only the main interpreter's end is the process's finalisation (a sub-interpreter ending
    // runs its own atexit callbacks too).
    if (PyInterpreterState_Get() != PyInterpreterState_Main()) Py_RETURN_NONE;
    g_gate.exchange(kGateClosed, std::memory_order_seq_cst);
    if (g_gate_in_flight.load(std::memory_order_seq_cst) != 0) {
        // The attaches in flight may be waiting for the GIL this thread holds: detach.
        Py_BEGIN_ALLOW_THREADS
        for (int n = g_gate_in_flight.load(std::memory_order_seq_cst); n != 0;
             n = g_gate_in_flight.load(std::memory_order_seq_cst))
            g_gate_in_flight.wait(n, std::memory_order_seq_cst);
        Py_END_ALLOW_THREADS
    }
    Py_RETURN_NONE;
}

PyMethodDef g_close_gate_def = {"_pyo3cpp_close_attach_gate", close_attach_gate, METH_NOARGS,
                                "pyo3cpp: refuse fresh attaches from here to finalisation."};
}  // namespace

namespace pyo3cpp::detail {

void ensure_attach_gate() noexcept
{
    int expected = 0;
    if (g_gate_registration.load(std::memory_order_acquire) != 0) return;
    // Registered in the main interpreter only: its atexit callbacks run in Py_FinalizeEx.
    if (PyInterpreterState_Get() != PyInterpreterState_Main()) return;
    if (!g_gate_registration.compare_exchange_strong(expected, 1, std::memory_order_acq_rel))
        return;
    // May run inside any attached code, even with an exception pending: keep it untouched.
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *pending = PyErr_GetRaisedException();
#else
    PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
    PyErr_Fetch(&type, &value, &traceback);
#endif
    bool registered = false;
    if (PyObject *atexit = PyImport_ImportModule("atexit")) {
        if (PyObject *callback = PyCFunction_New(&g_close_gate_def, nullptr)) {
            PyObject *result = PyObject_CallMethod(atexit, "register", "O", callback);
            registered = result != nullptr;
            Py_XDECREF(result);
            Py_DECREF(callback);
        }
        Py_DECREF(atexit);
    }
    PyErr_Clear();
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(pending);
#else
    PyErr_Restore(type, value, traceback);
#endif
    g_gate_registration.store(registered ? 2 : 0, std::memory_order_release);
}

void reset_attach_gate() noexcept
{
    g_gate_registration.store(0, std::memory_order_release);
    g_gate.store(kGateChecking, std::memory_order_seq_cst);
}

}  // namespace pyo3cpp::detail

namespace {

// A fresh attach while the gate is not known open (first attach of an interpreter, before
// initialisation, during and after finalisation). Entered with the gate's in-flight count
// taken; leaves it.
[[gnu::noinline]] int attach_slow(pyo3cpp_attach_state *state) noexcept
{
    // PyGILState_Ensure before initialisation crashes and during finalisation never returns:
    // refuse instead. The gate closes the window between this check and the attach.
    if (g_gate.load(std::memory_order_seq_cst) == kGateClosed || !Py_IsInitialized() ||
        interpreter_finalizing()) {
        leave_gate();
        state->kind = kNotAttached;
        return -1;
    }
    state->gilstate = static_cast<int32_t>(PyGILState_Ensure());
    leave_gate();
    state->kind = kAttachedNow;
    ensure_finalize_hook();  // registers the atexit gate callback and the finalisation hook
    if (g_gate_registration.load(std::memory_order_acquire) == 2 && finalize_hook_registered()) {
        int expected = kGateChecking;  // never re-opens a closed gate
        g_gate.compare_exchange_strong(expected, kGateOpen, std::memory_order_seq_cst);
    }
    pool_drain_if_pending();
    return 0;
}

}  // namespace

extern "C" {

PYO3CPP_API int pyo3cpp_is_attached(void)
{
    return !g_finalized.load(std::memory_order_relaxed) && thread_is_attached();
}

PYO3CPP_API int pyo3cpp_attach(pyo3cpp_attach_state *state)
{
    if (state == nullptr) return -1;
#if PYO3CPP_DEBUG_CHECKS
    // CPython forbids attaching (and any refcount traffic) inside tp_traverse.
    if (debug_in_traverse())
        debug_fail("attach during a GC traversal (tp_traverse)", "pyo3cpp_attach");
#endif
    state->gilstate = 0;
    state->reserved = nullptr;
    if (thread_is_attached()) {
        state->kind = kAlreadyAttached;
        // A thread attached by Py_Initialize after a finalise/re-initialise cycle reaches here
        // first: note the new interpreter (re-arms the finalisation hook, clears g_finalized).
        if (__builtin_expect(g_finalized.load(std::memory_order_relaxed), 0))
            ensure_finalize_hook();
        pool_drain_if_pending();
        return 0;
    }
    g_gate_in_flight.fetch_add(1, std::memory_order_seq_cst);
    if (__builtin_expect(g_gate.load(std::memory_order_seq_cst) != kGateOpen, 0))
        return attach_slow(state);
    // Open: initialised, not finalising, hooks registered (see the gate above). A thread that
    // has a thread state of its own (any thread Python created, the main thread, a foreign
    // thread inside an outer PyGILState_Ensure) re-attaches it directly: what PyGILState_Ensure
    // does for it, less a second TLS lookup and the gilstate counter (and likewise on release).
    // A thread without one gets a fresh one from PyGILState_Ensure.
    if (PyThreadState *own = PyGILState_GetThisThreadState()) {
        PyEval_RestoreThread(own);
        state->reserved = own;
    } else {
        state->gilstate = static_cast<int32_t>(PyGILState_Ensure());
    }
    leave_gate();
    state->kind = kAttachedNow;
    pool_drain_if_pending();
    return 0;
}

PYO3CPP_API int pyo3cpp_try_attach(pyo3cpp_attach_state *state) { return pyo3cpp_attach(state); }

PYO3CPP_API void pyo3cpp_release_attach(pyo3cpp_attach_state *state)
{
    if (state == nullptr || state->kind != kAttachedNow) return;
    state->kind = kNotAttached;
    if (state->reserved != nullptr) {  // re-attached the thread's own state: detach it again
        state->reserved = nullptr;
        (void)PyEval_SaveThread();
        return;
    }
    PyGILState_Release(static_cast<PyGILState_STATE>(state->gilstate));
}

PYO3CPP_API void *pyo3cpp_detach_begin(void)
{
    if (!thread_is_attached()) return nullptr;
    return PyEval_SaveThread();
}

PYO3CPP_API void pyo3cpp_detach_end(void *token)
{
    if (token == nullptr) return;
    PyEval_RestoreThread(static_cast<PyThreadState *>(token));
    pool_drain_if_pending();
}

PYO3CPP_API int pyo3cpp_detach(int (*fn)(void *ctx), void *ctx)
{
    if (fn == nullptr) {
        set_error_if_attached(PyExc_ValueError, "pyo3cpp_detach: fn is NULL");
        return -1;
    }
    void *token = pyo3cpp_detach_begin();
    int result;
    try {
        result = fn(ctx);
    } catch (...) {
        // A C++ exception must not cross the C ABI; C++ callers wrap their functions instead.
        pyo3cpp_detach_end(token);
        set_error_if_attached(PyExc_RuntimeError,
                              "pyo3cpp_detach: a C++ exception escaped the callback");
        return -1;
    }
    pyo3cpp_detach_end(token);
    return result;
}

}  // extern "C"
