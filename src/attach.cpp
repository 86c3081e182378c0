// attach.cpp — attaching threads to the interpreter and detaching them around blocking work.
// Every path that (re-)attaches drains the deferred-decref pool.
#include <Python.h>  // first, as CPython requires: its pyconfig.h sets feature macros
                     // (3.15: _POSIX_C_SOURCE 202405L) that the C library headers read
#include <cxxabi.h>
#include <sched.h>
#include <time.h>

#include "runtime_state.h"

using namespace pyo3cpp::detail;

namespace pyo3cpp::detail {
std::atomic<int> g_gate{kGateChecking};
}

namespace {
enum : int32_t { kNotAttached = 0, kAlreadyAttached = 1, kAttachedNow = 2 };

// The attach gate. PyGILState_Ensure on a thread that is not attached never returns once the
// interpreter has started finalising (CPython exits or hangs the thread; a C++ std::thread
// then aborts), and Py_IsFinalizing() turns true only at a point we cannot synchronise with.
// So the library closes its own gate earlier: a Python-level atexit callback (registered when
// the runtime is first used in each interpreter, so it runs after the atexit callbacks
// registered later) marks the gate closed and then waits, detached, until every attach that
// had already passed the gate has finished attaching. After that no fresh attach can reach
// CPython, and try_attach() answers "empty" for the rest of finalisation. Attaches of threads
// that are already attached (the finalising thread itself, nested guards) never pass through
// the gate. Dekker-style: the attacher increments `in_flight` and then reads the gate; the
// closer closes the gate and then reads `in_flight`; with seq_cst one of them sees the other.
//
// The gate word (g_gate, runtime_state.h) also carries the fast path: kGateOpen means the
// interpreter is initialised and the hooks are registered, so a fresh attach goes straight to
// re-attaching a thread state. Only a CAS from kGateChecking opens it, so the closer's exchange
// to kGateClosed is final until the finalisation hook resets the word for a new interpreter.
// (Code that empties Python's atexit list by hand, atexit._clear(), also removes the close:
// fresh attaches during that finalisation then meet CPython's own rule for late threads.)
//
// The in-flight count is sharded: each thread counts on its own cache line (threads are given
// slots round robin at their first attach), and the closer sums the shards. One shared counter
// made every attach and release of every thread bounce one cache line between cores: measured
// on 3.13t, two foreign threads attaching in a loop managed 4.6 M/s together against 21 M/s for
// one (bench_scaling attach). Dekker per shard: an attacher increments its shard and then reads
// the gate; the closer closes the gate and then reads every shard.
struct alignas(128) GateShard {
    std::atomic<int> in_flight{0};
};
constexpr unsigned kGateShards = 64;
GateShard g_gate_shards[kGateShards];
std::atomic<unsigned> g_gate_next_slot{0};
// The library's per-thread attach state, in one trivially destructible thread-local (so every
// access is a plain TLS address, no guard; a function touches it through one lookup):
//   gate       this thread's gate shard's counter (null: not yet given one);
//   tstate     the thread state a foreign thread keeps (see "foreign thread states" below);
//   generation the interpreter generation (lifecycle word) it was made in.
struct ThreadAttachState {
    PyThreadState *tstate;
    std::uint64_t generation;
    std::atomic<int> *gate;
};
thread_local ThreadAttachState t_attach = {nullptr, 0, nullptr};

// t_attach's address, computed once per call. Through a TLS descriptor each access is a call
// that the compiler recomputes after an atomic read-modify-write rather than keep its result;
// hiding the value behind an empty asm makes it keep the address in a register instead.
inline ThreadAttachState &this_thread_attach() noexcept
{
    ThreadAttachState *mine = &t_attach;
    asm("" : "+r"(mine));
    return *mine;
}

// A thread's first pass through the gate gives it a shard (out of line: once per thread).
[[gnu::noinline, gnu::cold]] std::atomic<int> *assign_gate_shard(ThreadAttachState &mine) noexcept
{
    unsigned slot = g_gate_next_slot.fetch_add(1, std::memory_order_relaxed) % kGateShards;
    return mine.gate = &g_gate_shards[slot].in_flight;
}

std::atomic<int> &gate_counter(ThreadAttachState &mine) noexcept
{
    std::atomic<int> *counter = mine.gate;
    if (__builtin_expect(counter == nullptr, 0)) counter = assign_gate_shard(mine);
    return *counter;
}

// 0: no atexit callback for the running interpreter, 1: being registered, 2: registered.
std::atomic<int> g_gate_registration{0};

// Enters the gate's in-flight count; returns the counter to leave through.
std::atomic<int> &enter_gate(ThreadAttachState &mine = t_attach) noexcept
{
    std::atomic<int> &counter = gate_counter(mine);
    counter.fetch_add(1, std::memory_order_seq_cst);
    return counter;
}

// One decrement: the closer polls the shards (close_attach_gate), so a leaver never has to
// look at the gate word or wake anyone.
void leave_gate(std::atomic<int> &counter) noexcept
{
    counter.fetch_sub(1, std::memory_order_release);
}

// Leaves the gate when it goes out of scope, including when CPython ends the thread with a
// forced unwind inside the attach (a daemon thread meeting finalisation): a count left raised
// would make the next close wait forever. GatePass can also leave early; GateHold (the attach
// fast path) leaves exactly at the end of its scope, so it keeps no flag.
struct GatePass {
    std::atomic<int> &counter;
    bool inside = true;
    explicit GatePass(std::atomic<int> &entered) noexcept : counter(entered) {}
    GatePass(const GatePass &) = delete;
    GatePass &operator=(const GatePass &) = delete;
    void leave() noexcept
    {
        if (inside) {
            inside = false;
            leave_gate(counter);
        }
    }
    ~GatePass() { leave(); }
};
struct GateHold {
    std::atomic<int> &counter;
    explicit GateHold(std::atomic<int> &entered) noexcept : counter(entered) {}
    GateHold(const GateHold &) = delete;
    GateHold &operator=(const GateHold &) = delete;
    ~GateHold() { leave_gate(counter); }
};

PyObject *close_attach_gate(PyObject *, PyObject *)
{
    // Only the main interpreter's end is the process's finalisation (a sub-interpreter ending
    // runs its own atexit callbacks too).
    if (PyInterpreterState_Get() != PyInterpreterState_Main()) Py_RETURN_NONE;
    g_gate.exchange(kGateClosed, std::memory_order_seq_cst);
    bool busy = false;
    for (GateShard &shard : g_gate_shards)
        busy = busy || shard.in_flight.load(std::memory_order_seq_cst) != 0;
    if (busy) {
        // The attaches in flight may be waiting for the GIL this thread holds: detach. A shard
        // seen at zero after the close can only rise and fall again (a late attacher sees the
        // gate closed and leaves), so one pass that waits for each shard to reach zero suffices.
        // It polls (yielding, then sleeping 50 us between looks) rather than sleep on a futex:
        // then leaving the gate is a single decrement on every attach, and only a finalisation
        // that meets attaches in flight pays for the wait. Each such attach is between two
        // instructions of the attach path or waiting for the GIL, so the wait is short.
        Py_BEGIN_ALLOW_THREADS
        for (GateShard &shard : g_gate_shards)
            for (unsigned looks = 0; shard.in_flight.load(std::memory_order_seq_cst) != 0; ++looks) {
                if (looks < 64) {
                    sched_yield();
                } else {
                    struct timespec pause = {0, 50 * 1000};
                    nanosleep(&pause, nullptr);
                }
            }
        Py_END_ALLOW_THREADS
    }
    Py_RETURN_NONE;
}

PyMethodDef g_close_gate_def = {"_pyo3cpp_close_attach_gate", close_attach_gate, METH_NOARGS,
                                "pyo3cpp: refuse fresh attaches from here to finalisation."};

// ---------------------------------------------------------------- foreign thread states
//
// A thread that Python did not create has no thread state. PyGILState_Ensure/Release would make
// and destroy one per attach: slow (on 3.13t each destruction scans mimalloc's abandoned pages)
// and, on 3.11, a window in which a fork() leaves CPython's runtime half-updated. So the first
// attach of such a thread creates one thread state that the thread keeps until it exits; every
// later attach re-attaches it (PyEval_RestoreThread), like a Python-created thread. It is bound
// as the thread's GILState state, so PyGILState_Ensure in the same thread (ctypes, other
// libraries) reuses it. At thread exit it is cleared and deleted through the gate (so
// finalisation waits for that, and a closed gate means CPython deletes it itself); a state from
// an earlier interpreter generation is never touched.
// The thread state lives in t_attach; this object, made at the thread's first thread-state
// creation, deletes it at thread exit.
struct ForeignThreadExit {
    ~ForeignThreadExit();
};

// Thread-state creation on 3.11/3.12 is not excluded by os.fork() (3.13+ holds the runtime's
// HEAD_LOCK across fork): threads creating one are counted, and a fork waits for them (never
// while they wait for the GIL: creation takes no GIL).
std::atomic<int> g_creating{0};
std::atomic<int> g_fork_pending{0};

void enter_creation() noexcept
{
    for (;;) {
        g_creating.fetch_add(1, std::memory_order_seq_cst);
        if (g_fork_pending.load(std::memory_order_seq_cst) == 0) return;
        if (g_creating.fetch_sub(1, std::memory_order_seq_cst) == 1) g_creating.notify_all();
        for (int pending = g_fork_pending.load(std::memory_order_seq_cst); pending != 0;
             pending = g_fork_pending.load(std::memory_order_seq_cst))
            g_fork_pending.wait(pending, std::memory_order_seq_cst);
    }
}
void leave_creation() noexcept
{
    if (g_creating.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
        g_fork_pending.load(std::memory_order_seq_cst) != 0)
        g_creating.notify_all();
}

// Called with the gate passed and open, not attached, and no thread state of its own.
// Returns the thread state to re-attach, or null when none could be made (then PyGILState).
PyThreadState *make_foreign_thread_state() noexcept
{
    PyInterpreterState *main = PyInterpreterState_Main();
    if (main == nullptr) return nullptr;
    enter_creation();
    PyThreadState *tstate = PyThreadState_New(main);
    leave_creation();
    if (tstate == nullptr) return nullptr;
    static thread_local ForeignThreadExit at_exit;  // registers the thread-exit cleanup once
    (void)&at_exit;
    t_attach.tstate = tstate;
    t_attach.generation = lifecycle_now();
    return tstate;
}

#if defined(Py_GIL_DISABLED) && PY_VERSION_HEX >= 0x030D0000
// Free-threaded CPython counts references with a bias: a release by a thread that does not own
// the object may be queued for the owner to merge, and a thread merges its queue only when it
// handles its eval breaker (while running bytecode) or when its thread state is cleared. A
// foreign thread that keeps its thread state and only runs C code would never merge, so objects
// queued to it would live as long as the thread. When CPython has asked it to merge, the thread
// retires its thread state as it detaches (clearing it merges the queue, as PyGILState_Release
// did on every release) and its next attach makes a fresh one. Handling the eval breaker
// instead (_Py_HandlePending) would also honour stop-the-world requests and so could end the
// thread inside a destructor during finalisation. One load when nothing is queued; the merge
// request is bit 6 of PyThreadState.eval_breaker in 3.13 (_PY_EVAL_EXPLICIT_MERGE_BIT).
constexpr std::uintptr_t kExplicitMergeBit = std::uintptr_t{1} << 6;

bool merge_requested(PyThreadState *tstate) noexcept
{
    return (__atomic_load_n(&tstate->eval_breaker, __ATOMIC_RELAXED) & kExplicitMergeBit) != 0;
}

#endif

// True when the thread is still attached with `own`, the thread state its guard re-attached.
// False only for a guard destroyed while CPython ends the thread (a re-attach during
// finalisation unwinds with the thread no longer attached).
inline bool still_attached_with(PyThreadState *own) noexcept
{
#if PY_VERSION_HEX >= 0x030C0000
    (void)own;
    return thread_is_attached();
#else
    // 3.11 keeps the GIL holder's state in a global: this thread holds it iff it is `own`
    // (thread_is_attached() would ask PyGILState for `own` again).
    return _PyThreadState_UncheckedGet() == own;
#endif
}

// The end of a guard that re-attached `own`: detaches the thread, unless CPython is ending it
// (see still_attached_with). Returns the thread state it detached, or null.
inline PyThreadState *detach_if_attached(PyThreadState *own) noexcept
{
#if PY_VERSION_HEX >= 0x030D0000
    // 3.13+: PyThreadState_Swap(NULL) is PyEval_SaveThread that may be called detached ("the
    // GIL does not need to be held"): the check and the detach read CPython's thread-local
    // once, instead of once in PyThreadState_GetUnchecked (~20 instructions with its
    // __tls_get_addr) and again in PyEval_SaveThread.
    (void)own;
    return PyThreadState_Swap(nullptr);
#else
    return still_attached_with(own) ? PyEval_SaveThread() : nullptr;
#endif
}

// Attached, on the thread that owns mine.tstate: clears it (merging), deletes it, detaches.
void retire_foreign_thread_state(ThreadAttachState &mine)
{
    PyThreadState *tstate = mine.tstate;
    mine.tstate = nullptr;
    PyThreadState_Clear(tstate);
    PyThreadState_DeleteCurrent();
}

// The end of a foreign thread's attach. Finalisation deletes the thread states of detached
// threads; CPython reads a thread state just after marking it detached, so a foreign thread
// detaching while finalisation sweeps would race with that deletion. The detach therefore
// passes the gate: while the gate is open the closer waits for it; once the gate is closed the
// thread deletes its own thread state instead (what PyGILState_Release does).
// A thread that CPython is ending (no longer attached) leaves its state alone.
void release_foreign_thread_state(ThreadAttachState &mine)
{
    GatePass pass(enter_gate(mine));
    if (g_gate.load(std::memory_order_seq_cst) != kGateOpen) {
        if (still_attached_with(mine.tstate)) retire_foreign_thread_state(mine);
        return;
    }
    // Open: finalisation waits for this pass, so the thread state stays alive throughout.
    PyThreadState *detached = detach_if_attached(mine.tstate);
#if defined(Py_GIL_DISABLED) && PY_VERSION_HEX >= 0x030D0000
    // Merges queued for it: attach again to retire it (rare; checked once detached, so the
    // common path reads the thread-local once). Only the state it keeps: a thread state that
    // someone else swapped in is only detached.
    if (detached != nullptr && merge_requested(detached) && detached == mine.tstate) {
        PyEval_RestoreThread(detached);
        retire_foreign_thread_state(mine);
    }
#else
    (void)detached;
#endif
}

ForeignThreadExit::~ForeignThreadExit()
{
    ThreadAttachState &mine = t_attach;
    PyThreadState *tstate = mine.tstate;
    const std::uint64_t generation = mine.generation;
    mine.tstate = nullptr;
    if (tstate == nullptr || generation != lifecycle_now()) return;
    // Only while the gate is open: a closed gate means finalisation has begun, and CPython
    // deletes every thread state it still has.
    GatePass pass(enter_gate(mine));
    if (g_gate.load(std::memory_order_seq_cst) != kGateOpen || generation != lifecycle_now() ||
        interpreter_finalizing())
        return;
    if (PyGILState_GetThisThreadState() != tstate) return;  // someone else rebound it: leave it
    PyEval_RestoreThread(tstate);
    pass.leave();
    PyThreadState_Clear(tstate);
    PyThreadState_DeleteCurrent();  // detaches and frees it
}

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

// Attached, the gate not yet known open: register the hooks and open it. Also how a thread
// attached by Py_Initialize after a finalise/re-initialise cycle tells the runtime about the
// new interpreter (the lifecycle word turns even again).
void arm_runtime_slow() noexcept
{
    if (!thread_is_attached() || interpreter_finalizing()) return;
    if (PyInterpreterState_Get() != PyInterpreterState_Main()) return;
    ensure_finalize_hook();  // registers the atexit gate callback and the finalisation hook
    if (g_gate_registration.load(std::memory_order_acquire) == 2 && finalize_hook_registered()) {
        int expected = kGateChecking;  // never re-opens a closed gate
        g_gate.compare_exchange_strong(expected, kGateOpen, std::memory_order_seq_cst);
    }
}

void attach_fork_prepare() noexcept
{
    g_fork_pending.fetch_add(1, std::memory_order_seq_cst);
#if PY_VERSION_HEX < 0x030D0000
    // Let thread states under construction be finished (see g_creating). On 3.13+ os.fork()
    // and PyOS_BeforeFork hold the runtime lock that creation takes, so a creator may be blocked
    // on it right now: waiting would deadlock, and is not needed.
    for (int n = g_creating.load(std::memory_order_seq_cst); n != 0;
         n = g_creating.load(std::memory_order_seq_cst))
        g_creating.wait(n, std::memory_order_seq_cst);
#endif
}

void attach_fork_parent() noexcept
{
    g_fork_pending.fetch_sub(1, std::memory_order_seq_cst);
    g_fork_pending.notify_all();
}

void attach_fork_child() noexcept
{
    // Only the forking thread exists in the child, and it is not inside an attach.
    g_fork_pending.store(0, std::memory_order_seq_cst);
    g_creating.store(0, std::memory_order_seq_cst);
    for (GateShard &shard : g_gate_shards) shard.in_flight.store(0, std::memory_order_seq_cst);
    int registering = 1;  // a registration another thread had begun will never finish
    g_gate_registration.compare_exchange_strong(registering, 0, std::memory_order_acq_rel);
}

}  // namespace pyo3cpp::detail

namespace {

// state->gilstate when state->reserved holds a thread state (the re-attach path): which one it
// is, so the release needs no thread-local lookup to tell. kOwnState: the thread's own (a thread
// Python created, or one bound by someone else's PyGILState_Ensure), detached again on release;
// kKeptState: the one the library keeps for this foreign thread (see "foreign thread states"),
// released through the gate.
enum : int32_t { kOwnState = 0, kKeptState = 1 };

// A fresh attach while the gate is not known open (first attach of an interpreter, before
// initialisation, during and after finalisation). Entered with the gate's in-flight count
// taken; leaves it.
[[gnu::noinline]] int attach_slow(pyo3cpp_attach_state *state, std::atomic<int> &entered)
{
    GatePass pass(entered);
    state->gilstate = 0;
    state->reserved = nullptr;
    // PyGILState_Ensure before initialisation crashes and during finalisation never returns:
    // refuse instead. The gate closes the window between this check and the attach.
    if (g_gate.load(std::memory_order_seq_cst) == kGateClosed || !Py_IsInitialized() ||
        interpreter_finalizing()) {
        state->kind = kNotAttached;
        return -1;
    }
    state->gilstate = static_cast<int32_t>(PyGILState_Ensure());
    pass.leave();
    state->kind = kAttachedNow;
    arm_runtime_slow();
    pool_drain_if_pending();
    return 0;
}

// The gate is open and the thread has no thread state at all: a foreign thread's first attach
// (or its first in a re-initialised interpreter). Makes the state it keeps, or falls back to
// PyGILState_Ensure when none can be made. Entered with the gate's count taken; leaves it.
[[gnu::noinline]] int attach_new_foreign(pyo3cpp_attach_state *state, std::atomic<int> &entered)
{
    GatePass pass(entered);
    if (PyThreadState *kept = make_foreign_thread_state()) {
        PyEval_RestoreThread(kept);
        state->gilstate = kKeptState;
        state->reserved = kept;
    } else {
        state->gilstate = static_cast<int32_t>(PyGILState_Ensure());
        state->reserved = nullptr;
    }
    pass.leave();
    state->kind = kAttachedNow;
    pool_drain_if_pending();
    return 0;
}

// A thread that is not attached (pyo3cpp_attach's main path).
//
// Where the instructions go, gate open, per attach + release of a thread Python created
// (callgrind, bench_runtime `attach`: 504 against PyGILState_Ensure/Release's 486.8 on 3.11,
// 330 against 320.9 on 3.13t). The thread-state lookup and PyEval_RestoreThread/SaveThread are
// what PyGILState_Ensure/Release do, less the second lookup and the gilstate counter (about 20
// saved). What the guarantees cost on top:
//   - the attach gate (finalisation never meets an attach half done): the shard pointer's load
//     and test, one locked increment, one load of the gate word, one locked decrement: 8;
//   - the per-thread state (gate shard, a foreign thread's kept state and its generation): one
//     TLS-descriptor access, 7, and a test of the kept state, 2;
//   - a release that survives CPython ending the thread: on 3.11 one call comparing CPython's
//     current thread state with the one re-attached, about 8; on 3.13+ nothing
//     (PyThreadState_Swap(NULL) detaches only if attached, see detach_if_attached).
// The pool check is one relaxed load, like the hand-written pool's. Before this layout (state
// filled before the re-attach, nested attach on the same frame, gate left by one decrement
// with the closer polling, the release told by the state which thread state it gives back) the
// same guarantees cost 575 and 384.
[[gnu::always_inline]] inline int attach_fresh(pyo3cpp_attach_state *state)
{
    ThreadAttachState &mine = this_thread_attach();
    std::atomic<int> &entered = enter_gate(mine);
    if (__builtin_expect(g_gate.load(std::memory_order_seq_cst) != kGateOpen, 0))
        return attach_slow(state, entered);
    // Open: initialised, not finalising, hooks registered (see the gate above). A thread that
    // has a thread state of its own (any thread Python created, the main thread, a foreign
    // thread that attached before) re-attaches it directly: what PyGILState_Ensure does for it,
    // less the gilstate counter (and likewise on release). A foreign thread's later attaches find
    // the state it keeps in t_attach without asking CPython; one from an earlier interpreter
    // generation is never used.
    // (gilstate and reserved are stored before the re-attach: only the gate's counter is kept
    // in a register across it.)
    PyThreadState *own = mine.tstate;
    if (own != nullptr && mine.generation == lifecycle_now()) {
        state->gilstate = kKeptState;
    } else {
        own = PyGILState_GetThisThreadState();
        if (__builtin_expect(own == nullptr, 0)) return attach_new_foreign(state, entered);
        state->gilstate = kOwnState;
    }
    state->reserved = own;
    {
        GateHold hold(entered);
        PyEval_RestoreThread(own);
    }
    state->kind = kAttachedNow;
    pool_drain_if_pending();
    return 0;
}

// The release of an attach that went through PyGILState_Ensure (out of line: the common paths
// keep no registers for it).
[[gnu::noinline]] void release_gilstate(int32_t gilstate)
{
    if (!thread_is_attached()) return;  // CPython is ending the thread: nothing to give back
    PyGILState_Release(static_cast<PyGILState_STATE>(gilstate));
}

// The release of an attach that re-attached the state the library keeps for this thread.
[[gnu::noinline]] void release_kept_state(PyThreadState *kept)
{
    ThreadAttachState &mine = t_attach;
    if (__builtin_expect(mine.tstate == kept, 1))
        release_foreign_thread_state(mine);
    else
        (void)detach_if_attached(kept);  // not the state it keeps now: only detach
}

}  // namespace

extern "C" {

PYO3CPP_API int pyo3cpp_is_attached(void) noexcept
{
    return !runtime_finalized() && thread_is_attached();
}

PYO3CPP_API int pyo3cpp_attach(pyo3cpp_attach_state *state)
{
    if (state == nullptr) return -1;
#if PYO3CPP_DEBUG_CHECKS
    // CPython forbids attaching (and any refcount traffic) inside tp_traverse.
    if (debug_in_traverse())
        debug_fail("attach during a GC traversal (tp_traverse)", "pyo3cpp_attach");
#endif
    if (!thread_is_attached()) return attach_fresh(state);
    state->kind = kAlreadyAttached;
    state->gilstate = 0;
    state->reserved = nullptr;
    arm_runtime();  // a nested attach may be the runtime's first use in this interpreter
    pool_drain_if_pending();
    return 0;
}

PYO3CPP_API int pyo3cpp_try_attach(pyo3cpp_attach_state *state) { return pyo3cpp_attach(state); }

PYO3CPP_API void pyo3cpp_release_attach(pyo3cpp_attach_state *state)
{
    if (state == nullptr || state->kind != kAttachedNow) return;
    state->kind = kNotAttached;
    // (reserved is left as it is: with kind reset, a second release is a no-op all the same.)
    auto *own = static_cast<PyThreadState *>(state->reserved);
    if (__builtin_expect(own == nullptr, 0)) {
        release_gilstate(state->gilstate);
    } else if (state->gilstate == kKeptState) {
        release_kept_state(own);
    } else {
        (void)detach_if_attached(own);  // re-attached directly: detach it again
    }
}

PYO3CPP_API void *pyo3cpp_detach_begin(void) noexcept
{
    if (!thread_is_attached()) return nullptr;
    arm_runtime();
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
    } catch (abi::__forced_unwind &) {
        throw;  // CPython is ending this thread (a re-attach during finalisation): let it
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
