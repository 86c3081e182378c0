// runtime.cpp — identity of the loaded runtime: its ABI version, the CPython build it was compiled
// for, the import-time check every extension runs, and the interpreter life-cycle hook.
#include <cstdint>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "runtime_state.h"

namespace pyo3cpp::detail {

std::atomic<bool> g_finalized{false};

namespace {

#ifdef Py_GIL_DISABLED
constexpr int kFreeThreaded = 1;
#else
constexpr int kFreeThreaded = 0;
#endif

const char *build_name(int free_threaded) { return free_threaded ? "free-threaded" : "GIL"; }

// One registered forget callback. Ordered by address so that registering, cancelling and the
// duplicate check stay O(log n) however many cells a process creates and destroys.
struct ForgetEntry {
    void (*forget)(void *);
    void *ctx;
    bool operator<(const ForgetEntry &other) const noexcept
    {
        const auto key = [](const ForgetEntry &e) {
            return std::pair(reinterpret_cast<std::uintptr_t>(e.forget),
                             reinterpret_cast<std::uintptr_t>(e.ctx));
        };
        return key(*this) < key(other);
    }
};

struct FinalizeRegistry {
    std::mutex lock;
    // Cells that hold objects of the running interpreter. Emptied when it finalises: a cell
    // that fills again after a re-initialisation registers again.
    std::set<ForgetEntry> callbacks;
    bool hook_registered = false;  // for the interpreter now running
};

// Mirrors FinalizeRegistry::hook_registered for the lock-free fast path of
// ensure_finalize_hook (written under the registry lock, read without it).
std::atomic<bool> g_hook_registered_fast{false};

// Never destroyed: the hook may run from Py_FinalizeEx inside a static destructor or atexit.
FinalizeRegistry &registry()
{
    static auto *instance = new FinalizeRegistry();
    return *instance;
}

void on_interpreter_exit()
{
    // Runs from Py_FinalizeEx after Python code and the interpreter state are gone.
    g_finalized.store(true, std::memory_order_seq_cst);
    reset_attach_gate();  // Py_IsInitialized() is false from here: a new interpreter re-arms it
    std::set<ForgetEntry> callbacks;
    {
        std::lock_guard<std::mutex> guard(registry().lock);
        registry().hook_registered = false;
        g_hook_registered_fast.store(false, std::memory_order_release);
        callbacks.swap(registry().callbacks);
    }
    for (const ForgetEntry &entry : callbacks) entry.forget(entry.ctx);
    pool_forget_all();
    // After the cells have forgotten theirs: what is left is held by user code. Only code built
    // with debug checks counts, so this prints nothing otherwise.
    debug_report_live_py_at_exit();
}

}  // namespace

void ensure_finalize_hook() noexcept
{
    ensure_attach_gate();  // before the lock: it runs Python code (attach.cpp)
    // Every non-nested attach comes here: once registered, one acquire load instead of a
    // mutex lock/unlock (which was ~85 instructions of the ~490 an attach costs on 3.11).
    if (g_hook_registered_fast.load(std::memory_order_acquire)) return;
    auto &reg = registry();
    std::lock_guard<std::mutex> guard(reg.lock);
    if (reg.hook_registered) return;
    if (Py_AtExit(on_interpreter_exit) == 0) {
        reg.hook_registered = true;
        g_hook_registered_fast.store(true, std::memory_order_release);
        g_finalized.store(false, std::memory_order_seq_cst);
    }
}

bool finalize_hook_registered() noexcept
{
    return g_hook_registered_fast.load(std::memory_order_acquire);
}

void set_error_if_attached(PyObject *type, const char *message) noexcept
{
    if (thread_is_attached()) PyErr_SetString(type, message);
}

int register_forget(void (*forget)(void *), void *ctx) noexcept
{
    try {
        auto &reg = registry();
        std::lock_guard<std::mutex> guard(reg.lock);
        reg.callbacks.insert(ForgetEntry{forget, ctx});  // a no-op when already registered
        return 0;
    } catch (...) {
        if (thread_is_attached()) PyErr_NoMemory();
        return -1;
    }
}

void unregister_forget(void (*forget)(void *), void *ctx) noexcept
{
    auto &reg = registry();
    std::lock_guard<std::mutex> guard(reg.lock);
    reg.callbacks.erase(ForgetEntry{forget, ctx});
}

}  // namespace pyo3cpp::detail

using namespace pyo3cpp::detail;

extern "C" {

PYO3CPP_API long pyo3cpp_abi_version(void) { return PYO3CPP_ABI_VERSION; }

PYO3CPP_API void pyo3cpp_runtime_python(int *major, int *minor, int *free_threaded)
{
    if (major) *major = PY_MAJOR_VERSION;
    if (minor) *minor = PY_MINOR_VERSION;
    if (free_threaded) *free_threaded = kFreeThreaded;
}

PYO3CPP_API int pyo3cpp_check_runtime(long abi_version, int py_major, int py_minor,
                                      int free_threaded, const char *module_name)
{
    if (!thread_is_attached()) return -1;
    ensure_finalize_hook();
    const char *name = module_name ? module_name : "extension";
    const int run_major = static_cast<int>((Py_Version >> 24) & 0xff);
    const int run_minor = static_cast<int>((Py_Version >> 16) & 0xff);
    const bool ft_ok = (free_threaded != 0) == (kFreeThreaded != 0);
    if (abi_version != PYO3CPP_ABI_VERSION || py_major != PY_MAJOR_VERSION ||
        py_minor != PY_MINOR_VERSION || !ft_ok) {
        PyErr_Format(PyExc_ImportError,
                     "%s was built for pyo3cpp ABI %ld on CPython %d.%d (%s), but the loaded "
                     "libpyo3cpp.so implements ABI %ld for CPython %d.%d (%s)",
                     name, abi_version, py_major, py_minor, build_name(free_threaded),
                     PYO3CPP_ABI_VERSION, PY_MAJOR_VERSION, PY_MINOR_VERSION,
                     build_name(kFreeThreaded));
        return -1;
    }
    if (run_major != PY_MAJOR_VERSION || run_minor != PY_MINOR_VERSION) {
        PyErr_Format(PyExc_ImportError,
                     "%s: the loaded libpyo3cpp.so was built for CPython %d.%d (%s), but the "
                     "running interpreter is CPython %d.%d",
                     name, PY_MAJOR_VERSION, PY_MINOR_VERSION, build_name(kFreeThreaded),
                     run_major, run_minor);
        return -1;
    }
    return 0;
}

PYO3CPP_API int pyo3cpp_on_finalize(void (*forget)(void *ctx), void *ctx)
{
    if (!forget) {
        set_error_if_attached(PyExc_ValueError, "pyo3cpp_on_finalize: forget is NULL");
        return -1;
    }
    if (thread_is_attached()) ensure_finalize_hook();
    return register_forget(forget, ctx);
}

PYO3CPP_API void pyo3cpp_on_finalize_cancel(void (*forget)(void *ctx), void *ctx)
{
    if (forget != nullptr) unregister_forget(forget, ctx);
}

PYO3CPP_API int pyo3cpp_debug_checks_enabled(void)
{
#if PYO3CPP_DEBUG_CHECKS
    return 1;
#else
    return 0;
#endif
}

}  // extern "C"
