// runtime.cpp — identity of the loaded runtime: its ABI version, the CPython build it was compiled
// for, the import-time check every extension runs, and the interpreter life-cycle hook.
#include <Python.h>  // first, as CPython requires: its pyconfig.h sets feature macros
                     // (3.15: _POSIX_C_SOURCE 202405L) that the C library headers read
#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include <new>

#include "runtime_state.h"

namespace pyo3cpp::detail {

std::atomic<std::uint64_t> g_lifecycle{0};

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
    PlainMutex lock;
    // Cells that hold objects of the running interpreter. Emptied when it finalises: a cell
    // that fills again after a re-initialisation registers again.
    std::set<ForgetEntry> callbacks;
    bool hook_registered = false;  // for the interpreter now running
    // The callback the finalisation hook is running right now (callbacks run without the lock,
    // one at a time), and on which thread: unregistering it waits until it has returned, so a
    // cell freed right after pyo3cpp_on_finalize_cancel is never written by its callback.
    bool running = false;
    ForgetEntry running_entry{};
    pthread_t running_thread{};
    pthread_cond_t finished = PTHREAD_COND_INITIALIZER;
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
    // Runs from Py_FinalizeEx after Python code and the interpreter state are gone. From the
    // moment the lifecycle word is odd, references released on any thread are leaked instead
    // of queued (pool.cpp).
    std::uint64_t alive = g_lifecycle.load(std::memory_order_seq_cst);
    while ((alive & 1) == 0 &&
           !g_lifecycle.compare_exchange_weak(alive, alive + 1, std::memory_order_seq_cst)) {
    }
    reset_attach_gate();  // Py_IsInitialized() is false from here: a new interpreter re-arms it
    auto &reg = registry();
    {
        PlainLock guard(reg.lock);
        reg.hook_registered = false;
        g_hook_registered_fast.store(false, std::memory_order_release);
    }
    for (;;) {
        ForgetEntry entry;
        {
            PlainLock guard(reg.lock);
            if (reg.callbacks.empty()) break;
            entry = *reg.callbacks.begin();
            reg.callbacks.erase(reg.callbacks.begin());
            reg.running = true;
            reg.running_entry = entry;
            reg.running_thread = pthread_self();
        }
        entry.forget(entry.ctx);
        PlainLock guard(reg.lock);
        reg.running = false;
        pthread_cond_broadcast(&reg.finished);
    }
    pool_forget_all();
    // After the cells have forgotten theirs: what is left is held by user code. Only code built
    // with debug checks counts, so this prints nothing otherwise.
    debug_report_live_py_at_exit();
}

bool same_entry(const ForgetEntry &a, const ForgetEntry &b) noexcept
{
    return a.forget == b.forget && a.ctx == b.ctx;
}

}  // namespace

void ensure_finalize_hook() noexcept
{
    ensure_attach_gate();  // before the lock: it runs Python code (attach.cpp)
    // Every non-nested attach comes here: once registered, one acquire load instead of a
    // mutex lock/unlock (which was ~85 instructions of the ~490 an attach costs on 3.11).
    if (g_hook_registered_fast.load(std::memory_order_acquire)) return;
    auto &reg = registry();
    PlainLock guard(reg.lock);
    if (reg.hook_registered) return;
    if (Py_AtExit(on_interpreter_exit) == 0) {
        reg.hook_registered = true;
        g_hook_registered_fast.store(true, std::memory_order_release);
        // A new interpreter generation: the lifecycle word turns even again.
        std::uint64_t word = g_lifecycle.load(std::memory_order_seq_cst);
        while ((word & 1) != 0 &&
               !g_lifecycle.compare_exchange_weak(word, word + 1, std::memory_order_seq_cst)) {
        }
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
        PlainLock guard(reg.lock);
        reg.callbacks.insert(ForgetEntry{forget, ctx});  // a no-op when already registered
        return 0;
    } catch (const std::bad_alloc &) {
        if (thread_is_attached()) PyErr_NoMemory();
        return -1;
    }
}

void unregister_forget(void (*forget)(void *), void *ctx) noexcept
{
    auto &reg = registry();
    const ForgetEntry entry{forget, ctx};
    PlainLock guard(reg.lock);
    reg.callbacks.erase(entry);
    // Running on another thread right now (finalisation): wait until it has returned. On this
    // thread it is the callback cancelling itself: nothing to wait for.
    while (reg.running && same_entry(reg.running_entry, entry) &&
           !pthread_equal(reg.running_thread, pthread_self()))
        pthread_cond_wait(&reg.finished, reg.lock.native());
}

void registry_fork_prepare() noexcept { registry().lock.lock(); }
void registry_fork_parent() noexcept { registry().lock.unlock(); }
void registry_fork_child() noexcept
{
    auto &reg = registry();
    reg.running = false;  // a finalisation running on another thread does not exist here
    new (&reg.finished) pthread_cond_t(PTHREAD_COND_INITIALIZER);
    reg.lock.unlock();
}

}  // namespace pyo3cpp::detail

using namespace pyo3cpp::detail;

extern "C" {

PYO3CPP_API long pyo3cpp_abi_version(void) noexcept { return PYO3CPP_ABI_VERSION; }

PYO3CPP_API void pyo3cpp_runtime_python(int *major, int *minor, int *free_threaded) noexcept
{
    if (major) *major = PY_MAJOR_VERSION;
    if (minor) *minor = PY_MINOR_VERSION;
    if (free_threaded) *free_threaded = kFreeThreaded;
}

PYO3CPP_API int pyo3cpp_check_runtime(long abi_version, int py_major, int py_minor,
                                      int free_threaded, const char *module_name) noexcept
{
    const char *name = module_name ? module_name : "extension";
#if PY_VERSION_HEX < 0x030C0000
    // 3.11: a thread running a subinterpreter is not the GIL holder thread_is_attached() knows.
    // Module initialisation runs with the GIL held, so the current thread state is this
    // thread's own (safe to read) when its thread id is ours.
    if (!thread_is_attached()) {
        PyThreadState *current = _PyThreadState_UncheckedGet();
        if (current == nullptr || current->thread_id != PyThread_get_thread_ident()) return -1;
    }
#else
    if (!thread_is_attached()) return -1;
#endif
    // The runtime's state (once-cells, intern and import caches, the deferred-decref pool, the
    // finalisation hook) is process-wide and belongs to the main interpreter: a module in a
    // subinterpreter would be handed the main interpreter's objects.
    if (PyInterpreterState_Get() != PyInterpreterState_Main()) {
        PyErr_Format(PyExc_ImportError,
                     "%s cannot be imported in a subinterpreter: pyo3cpp's runtime state "
                     "(once-cells, intern/import caches, the deferred-decref pool) is shared by "
                     "the whole process and belongs to the main interpreter",
                     name);
        return -1;
    }
    arm_runtime();
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

PYO3CPP_API int pyo3cpp_on_finalize(void (*forget)(void *ctx), void *ctx) noexcept
{
    if (!forget) {
        set_error_if_attached(PyExc_ValueError, "pyo3cpp_on_finalize: forget is NULL");
        return -1;
    }
    if (thread_is_attached()) ensure_finalize_hook();
    return register_forget(forget, ctx);
}

PYO3CPP_API void pyo3cpp_on_finalize_cancel(void (*forget)(void *ctx), void *ctx) noexcept
{
    if (forget != nullptr) unregister_forget(forget, ctx);
}

PYO3CPP_API int pyo3cpp_debug_checks_enabled(void) noexcept
{
#if PYO3CPP_DEBUG_CHECKS
    return 1;
#else
    return 0;
#endif
}

}  // extern "C"
