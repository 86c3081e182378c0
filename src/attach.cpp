// attach.cpp — attaching threads to the interpreter and detaching them around blocking work.
// Every path that (re-)attaches drains the deferred-decref pool.
#include "runtime_state.h"

using namespace pyo3cpp::detail;

namespace {
enum : int32_t { kNotAttached = 0, kAlreadyAttached = 1, kAttachedNow = 2 };
}

extern "C" {

PYO3CPP_API int pyo3cpp_is_attached(void)
{
    return !g_finalized.load(std::memory_order_relaxed) && thread_is_attached();
}

PYO3CPP_API int pyo3cpp_attach(pyo3cpp_attach_state *state)
{
    if (state == nullptr) return -1;
    state->kind = kNotAttached;
    state->gilstate = 0;
    state->reserved = nullptr;
    if (thread_is_attached()) {
        state->kind = kAlreadyAttached;
        pool_drain_attached();
        return 0;
    }
    // PyGILState_Ensure before initialisation crashes and during finalisation never returns:
    // refuse instead.
    if (!Py_IsInitialized() || interpreter_finalizing()) return -1;
    state->gilstate = static_cast<int32_t>(PyGILState_Ensure());
    state->kind = kAttachedNow;
    ensure_finalize_hook();
    pool_drain_attached();
    return 0;
}

PYO3CPP_API int pyo3cpp_try_attach(pyo3cpp_attach_state *state) { return pyo3cpp_attach(state); }

PYO3CPP_API void pyo3cpp_release_attach(pyo3cpp_attach_state *state)
{
    if (state == nullptr || state->kind != kAttachedNow) return;
    state->kind = kNotAttached;
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
    pool_drain_attached();
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
