// instance_lock.hpp — the reader/writer lock inside every instance of a `locked` class
// (class_policy.hpp), and the guards that hold it.
//
// What it gives: many readers (const methods, getters) or one writer (methods taking T&,
// setters), on GIL and free-threaded builds alike. It is our own word, not a critical section:
// nothing suspends it, so a method that calls back into Python (which may release the GIL, or
// detach) still excludes other threads from T until it returns.
//
// Guarantees (each has a test in tests/python/test_instance_lock.py):
//   - State: two 32-bit words. Waiting readers and writers are flags, not counts, so no number
//     of waiters can overflow it; read holds are counted in 30 bits (a billion nested holds
//     would need more stack than a process has; past that a reader waits).
//   - Waking is never a herd: an unlock wakes one waiting writer, or, when no writer waits, all
//     waiting readers.
//   - Writers first: once a writer waits, new readers queue behind it. A thread that already
//     reads the instance may read it again without queueing (it would otherwise wait for a
//     writer that waits for it).
//   - Waiting detaches (and re-attaches without draining the deferred-decref pool): the holder
//     can always get the interpreter, and a stop-the-world GC is never held up by a waiter.
//   - Unwinding and parking: a waiting thread takes the lock detached and keeps it as it
//     re-attaches. One that CPython's finalisation ends as it re-attaches (forced unwind, up to
//     3.13.5) gives it back; one that wakes once finalisation has begun gives it back first (3.14
//     and later 3.13 releases park such a thread for ever). A waiter the exit overtakes during
//     the re-attach itself stays parked with the lock: code run by the exit (__del__, atexit)
//     that then waits for the instance raises RuntimeError after two seconds instead of hanging.
//     A failure while a call re-takes its locks (an error, bad_alloc, forced unwind) leaves every
//     guard holding exactly what it records, so each lock ends as it was found.
//   - Re-entrance: each thread keeps a short list of the instance locks it holds. Asking, from a
//     nested call, for an instance this thread holds exclusively, or for exclusive access to one
//     it reads, throws PyErr(RuntimeError: "<Class>.<method>(): the instance is already in use
//     by this thread (...)") instead of deadlocking. Shared access on top of shared is granted.
//   - Aliasing within one call: `w.merge(w)`, `total(x, x, z)`. The call takes each instance
//     once, in the strongest mode any of its parameters (and self) needs; the other parameters
//     naming it share that hold. No error, no second hold a queued writer could wedge.
//   - Several instances in one call (T& / const T& arguments, then self) are taken as the
//     arguments convert, each with one try. When one is busy, the call gives back the locks it
//     took so far (nothing has touched their T yet) and takes them all, waiting, in address
//     order (CallLockScope): a.merge(b) racing b.merge(a) cannot deadlock.
//   - Wait cycles: before a thread sleeps on an instance lock it records what it waits for in
//     the runtime's wait-for graph (one per process: abi/pyo3cpp.h, pyo3cpp_wait_begin), which
//     also holds threads sleeping on object locks and OnceLock initialisers, and follows the
//     chain: the holders of the lock that are themselves waiting, the holders of what they wait
//     for, ... If the chain comes back to something this thread holds, the call raises
//     RuntimeError naming this call's class and method and what the other side waits in,
//     instead of sleeping. This catches opposite nesting through callbacks (a.call(b.m) racing
//     b.call(a.m)), also when a and b are classes of different extension modules, or when one
//     side is an object lock or a OnceLock initialiser. Each module lends the graph its list of
//     the thread's held instance locks on the thread's first hold (lock_thread_register). Not
//     covered: cycles through the GIL or a Python lock (threading.Lock, an import lock).
//   - fork: in the child, an instance another thread read at the fork is given back (its T was
//     not being changed); one another thread wrote at the fork stays taken, and every call that
//     would wait for it raises RuntimeError("... was locked by another thread when the process
//     forked ...") instead of hanging.
// Thread: any attached thread; a guard is released on the thread that took it.
// Cost, uncontended: a load and a compare-and-swap to take, one atomic subtract and a compare to
// release, one thread-local access (a TLS descriptor call, lock_thread(), kept for the release)
// and a flag test (the thread known to the fork handler): 45-56 instructions per call over an
// unsynchronized class. bench/classes_callgrind.md (`./scripts/bench --binaries classes --quick`):
// locked get() 401.9 on 3.11 and 554.3 on 3.13t, nanobind's unlocked get() 421.0 and 558.3.
// Contended: the wait-for graph's mutex and search (linear in the sleeping threads unless a
// chain of waiting holders exists), this module's registry mutex, and a futex wait while
// detached.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif
#include <pthread.h>
#include <time.h>

#include "pyo3cpp/attach.hpp"
#include "pyo3cpp/error.hpp"
#include "pyo3cpp/forced_unwind.hpp"

namespace pyo3cpp::detail {

class InstanceLock;

// What one record holds. kHoldNone: nothing (another record of the same call holds the lock for
// it, or a failed re-lock gave it back). kHoldAliased: other records of this thread name the same
// lock and share this hold; the last one released gives it back.
enum : std::uint8_t { kHoldNone = 0, kHoldShared = 1, kHoldExclusive = 2, kHoldModeMask = 3, kHoldAliased = 4 };
// kHoldLent: an exclusive hold this thread lends to its own nested calls while a Python override
// of a C++ virtual runs (trampoline.hpp, LendInstance): they are granted without a hold of their
// own instead of raising. Other threads stay excluded: the lock is still held.
enum : std::uint8_t { kHoldLent = 8 };

// One lock named by this thread: a node of the thread's list (newest first).
struct HeldLock {
    InstanceLock *lock = nullptr;
    std::uint8_t mode = kHoldNone;
    HeldLock *older = nullptr;
};

// The locks of one binder call that is still converting its arguments (function.hpp opens it
// for calls with T& / const T& arguments of a locked class; it closes when the body starts).
struct CallLockScope {
    HeldLock *base;         // this thread's newest held lock when the call began
    CallLockScope *outer;   // the scope that was open before (its call is converting too)
};

// Everything the lock keeps per thread, in one thread-local (one access per guard).
struct LockThread {
    HeldLock *held = nullptr;
    CallLockScope *scope = nullptr;
    bool registered = false;  // known to the fork handler (lock_thread_register)
    // Python's call of a bound C++ method of a class with a trampoline (trampoline_storage.hpp):
    // kept here to share this one thread-local access.
    PyObject *cpp_method_self = nullptr;
    const char *cpp_method_name = nullptr;
};
[[gnu::used]] inline thread_local LockThread t_lock_thread;  // used: lock_thread() names it in asm

// This thread's LockThread, for the guard's fast path. In an extension module a thread-local of
// the header is dynamic TLS: with the default TLS dialect each access calls __tls_get_addr
// through the PLT (about 14 instructions), and GCC repeats that call after each atomic rather
// than keep the address. On x86-64 Linux the access is written as a TLS descriptor call instead
// (what -mtls-dialect=gnu2 emits, as for libpyo3cpp): the dynamic linker resolves it to the
// static TLS block when that has room (a load and a return), else to its dynamic-TLS path;
// linked into an executable, the linker relaxes it to a constant. The call is made below the
// red zone (the caller may be a leaf that keeps data there) on a 16-byte aligned stack (the
// dynamic path calls into C); it preserves every register but %rax. The asm's result is
// opaque: the compiler keeps it rather than recompute it.
inline LockThread &lock_thread() noexcept
{
#if defined(__x86_64__) && !defined(__ILP32__) && defined(__linux__) && defined(__GNUC__)
    LockThread *thread;
    void *saved_sp;
    asm("movq %%rsp, %1\n\t"
        "leaq -128(%%rsp), %%rsp\n\t"
        "andq $-16, %%rsp\n\t"
        "leaq _ZN7pyo3cpp6detail13t_lock_threadE@TLSDESC(%%rip), %0\n\t"
        "call *_ZN7pyo3cpp6detail13t_lock_threadE@TLSCALL(%0)\n\t"
        "movq %1, %%rsp\n\t"
        "addq %%fs:0, %0"
        : "=a"(thread), "=&r"(saved_sp)
        :
        : "cc");
#if PYO3CPP_DEBUG_CHECKS
    if (thread != &t_lock_thread) std::abort();  // the mangled name above went stale
#endif
    return *thread;
#else
    return t_lock_thread;
#endif
}

// Opens a scope for its lifetime, unless closed earlier (close(), or leave_call_scope() from the
// method once self is locked).
template <bool Enabled> class CallLocks {
public:
    CallLocks() noexcept : thread_(&t_lock_thread), scope_{thread_->held, thread_->scope}
    {
        thread_->scope = &scope_;
    }
    CallLocks(const CallLocks &) = delete;
    ~CallLocks() { close(); }
    void close() noexcept
    {
        if (thread_->scope == &scope_) thread_->scope = scope_.outer;
    }

private:
    LockThread *thread_;
    CallLockScope scope_;
};
template <> class CallLocks<false> {
public:
    void close() noexcept {}
};
// The body of the current call starts: its locks are in use from here on.
inline void leave_call_scope() noexcept
{
    LockThread &thread = t_lock_thread;
    if (CallLockScope *scope = thread.scope) thread.scope = scope->outer;
}

[[noreturn, gnu::cold]] inline void raise_reentered(Python py, const char *cls, const char *method,
                                                    bool held_exclusive)
{
    // method == nullptr: the instance came as an argument of type T& / const T&.
    std::string text = (method != nullptr ? std::string(cls) + "." + method + "(): the instance"
                                          : std::string("the ") + cls + " instance") +
                       " is already in use by this thread (" +
                       (held_exclusive ? "a method that modifies it is running"
                                       : "a method that reads it is running, and this one modifies it") +
                       "); re-entering would deadlock";
    throw PyErr::new_err(py, PyExc_RuntimeError, text);
}

inline std::string describe_call(const char *cls, const char *method)
{
    return method != nullptr ? std::string(cls) + "." + method + "()" : std::string("a ") + cls + " argument";
}

// ------------------------------------------------------------------------------- futex words

inline void futex_wait(std::atomic<std::uint32_t> &word, std::uint32_t expected) noexcept
{
#if defined(__linux__)
    (void)syscall(SYS_futex, reinterpret_cast<std::uint32_t *>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr,
                  nullptr, 0);
#else
    word.wait(expected, std::memory_order_seq_cst);
#endif
}
// Wakes up to `count` threads; true when one was woken (false when unknown).
inline bool futex_wake(std::atomic<std::uint32_t> &word, int count) noexcept
{
#if defined(__linux__)
    return syscall(SYS_futex, reinterpret_cast<std::uint32_t *>(&word), FUTEX_WAKE_PRIVATE, count, nullptr,
                   nullptr, 0) > 0;
#else
    word.notify_all();
    return false;
#endif
}

// ------------------------------------------------------------------------------- the lock

class InstanceLock {
public:
    // state_: read holds in the low 30 bits (all ones: held by a writer), and two flags.
    static constexpr std::uint32_t kCountMask = (1u << 30) - 1;
    static constexpr std::uint32_t kWriteLocked = kCountMask;
    static constexpr std::uint32_t kMaxReaders = kCountMask - 1;
    static constexpr std::uint32_t kReadersWaiting = 1u << 30;
    static constexpr std::uint32_t kWritersWaiting = 1u << 31;
    // writer_wake_: bumped by 2 to wake a writer; bit 0: written at fork by a thread the child
    // does not have.
    static constexpr std::uint32_t kLockedAtFork = 1;

    bool try_exclusive() noexcept
    {
        std::uint32_t s = 0;
        return state_.compare_exchange_strong(s, kWriteLocked, std::memory_order_acquire, std::memory_order_relaxed);
    }
    // A new read hold: refused while a writer holds the lock or waits for it (writers are not
    // starved by a stream of readers).
    bool try_shared() noexcept
    {
        std::uint32_t s = state_.load(std::memory_order_relaxed);
        while (read_lockable(s))
            if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acquire, std::memory_order_relaxed))
                return true;
        return false;
    }
    // One more read hold by a thread that already has one: never waits for a queued writer
    // (which waits for this thread), and no writer can hold the lock meanwhile.
    void lock_shared_again() noexcept { state_.fetch_add(1, std::memory_order_acquire); }
    void unlock_exclusive() noexcept
    {
        const std::uint32_t s = state_.fetch_sub(kWriteLocked, std::memory_order_release) - kWriteLocked;
        if (s != 0) [[unlikely]] wake_after_unlock(s);
    }
    void unlock_shared() noexcept
    {
        // A writer waits (this hold counted, the flag makes the old value larger than the flag
        // alone): wake it if this was the last read hold.
        const std::uint32_t before = state_.fetch_sub(1, std::memory_order_release);
        if (before > kWritersWaiting) [[unlikely]] wake_after_last_read(before);
    }
    // A snapshot (for tp_traverse: skip a T that a writer is changing).
    bool held_exclusive() const noexcept
    {
        return (state_.load(std::memory_order_acquire) & kCountMask) == kWriteLocked;
    }
    bool locked_at_fork() const noexcept
    {
        return (writer_wake_.load(std::memory_order_relaxed) & kLockedAtFork) != 0;
    }

    bool try_lock(bool exclusive) noexcept { return exclusive ? try_exclusive() : try_shared(); }
    void unlock(bool exclusive) noexcept
    {
        if (exclusive)
            unlock_exclusive();
        else
            unlock_shared();
    }

    // Blocks detached until acquired (attached: the caller's thread is attached). Raises instead
    // of sleeping when waiting would close a wait cycle, or when a thread the forked child does
    // not have wrote the instance. `held`: this thread's list (frozen while it waits).
    void lock_waiting(Python py, bool exclusive, const HeldLock *held, const char *cls, const char *method);

    // The waits proper: detached, no Python. Return when the lock is held in the mode asked.
    // The take itself happens inside the wait-for graph's mutex (pyo3cpp_wait_take, which the
    // fork handler holds across a fork) and sets `wait.acquired` there: a forked child knows
    // for certain whether the waiter holds the lock, and the graph never sees it waiting after.
    void wait_exclusive(pyo3cpp_wait &wait) noexcept
    {
        std::uint32_t keep = 0;  // after sleeping: other writers may still wait, keep the flag
        for (;;) {
            std::uint32_t s = state_.load(std::memory_order_relaxed);
            if ((s & kCountMask) == 0) {
                if (take_in_graph(wait, [&] {
                        return state_.compare_exchange_strong(s, s | kWriteLocked | keep, std::memory_order_acquire,
                                                              std::memory_order_relaxed);
                    }))
                    return;
                continue;
            }
            if ((s & kWritersWaiting) == 0 &&
                !state_.compare_exchange_weak(s, s | kWritersWaiting, std::memory_order_relaxed))
                continue;
            const std::uint32_t seq = writer_wake_.load(std::memory_order_seq_cst);
            s = state_.load(std::memory_order_seq_cst);  // an unlock since bumps seq: no lost wake
            if ((s & kCountMask) == 0 || (s & kWritersWaiting) == 0) continue;
            futex_wait(writer_wake_, seq);
            keep = kWritersWaiting;
        }
    }
    void wait_shared(pyo3cpp_wait &wait) noexcept
    {
        for (;;) {
            std::uint32_t s = state_.load(std::memory_order_relaxed);
            if (read_lockable(s)) {
                if (take_in_graph(wait, [&] {
                        return state_.compare_exchange_strong(s, s + 1, std::memory_order_acquire,
                                                              std::memory_order_relaxed);
                    }))
                    return;
                continue;
            }
            if ((s & kReadersWaiting) == 0) {
                if (!state_.compare_exchange_weak(s, s | kReadersWaiting, std::memory_order_relaxed)) continue;
                s |= kReadersWaiting;
            }
            futex_wait(state_, s);
        }
    }
    // fork, in the child: what threads that no longer exist held.
    void give_back_reads_at_fork(std::uint32_t reads) noexcept
    {
        state_.fetch_sub(reads, std::memory_order_relaxed);
    }
    void mark_written_at_fork() noexcept { writer_wake_.fetch_or(kLockedAtFork, std::memory_order_relaxed); }
    void unlock_at_fork(bool exclusive) noexcept
    {
        state_.fetch_sub(exclusive ? kWriteLocked : 1, std::memory_order_relaxed);
    }
    void clear_waiting_at_fork() noexcept
    {
        state_.fetch_and(~(kReadersWaiting | kWritersWaiting), std::memory_order_relaxed);
    }

private:
    template <class Take> static bool take_in_graph(pyo3cpp_wait &wait, Take &&take) noexcept
    {
        return pyo3cpp_wait_take(
                   &wait, [](void *ctx) noexcept -> int { return (*static_cast<Take *>(ctx))() ? 1 : 0; },
                   &take) != 0;
    }
    // Fewer than kMaxReaders read holds, no writer, no waiter flag: the flags are the top bits,
    // so one compare says it.
    static_assert(kReadersWaiting > kCountMask && kWritersWaiting > kCountMask);
    static bool read_lockable(std::uint32_t s) noexcept { return s < kMaxReaders; }
    bool wake_writer() noexcept
    {
        writer_wake_.fetch_add(2, std::memory_order_seq_cst);
        return futex_wake(writer_wake_, 1);
    }
    [[gnu::noinline, gnu::cold]] void wake_after_last_read(std::uint32_t before) noexcept
    {
        if ((before & kCountMask) == 1) wake_after_unlock(before - 1);
    }
    // Unlocked, with waiters flagged in `s`: one writer, else every reader.
    [[gnu::noinline, gnu::cold]] void wake_after_unlock(std::uint32_t s) noexcept
    {
        if (s == kWritersWaiting) {
            if (state_.compare_exchange_strong(s, 0, std::memory_order_relaxed)) {
                wake_writer();
                return;
            }
        }
        if (s == (kWritersWaiting | kReadersWaiting)) {
            if (!state_.compare_exchange_strong(s, kReadersWaiting, std::memory_order_relaxed)) return;
            if (wake_writer()) return;  // the writer wakes the readers when it unlocks
            s = kReadersWaiting;
        }
        if (s == kReadersWaiting && state_.compare_exchange_strong(s, 0, std::memory_order_relaxed))
            futex_wake(state_, INT32_MAX);
    }

    std::atomic<std::uint32_t> state_{0};
    std::atomic<std::uint32_t> writer_wake_{0};
};
static_assert(sizeof(InstanceLock) == 8);

// ------------------------------------------------------- the registry of waiting threads

// One thread about to sleep (or asleep) on an instance lock, known to this module's fork
// handler. Its wait is also in the process-wide wait-for graph (abi/pyo3cpp.h), which finds
// wait cycles across every extension module, object lock and once-cell.
struct LockWaiter {
    InstanceLock *lock;
    bool exclusive;
    const HeldLock *held;
    const char *cls;
    const char *method;
    LockWaiter *next;
    pyo3cpp_wait graph;  // graph.acquired: took the lock, not yet re-attached (fork: no record yet)
};

// This module's own bookkeeping for fork. Its mutex may be held around a call into the wait-for
// graph (never the other way round), the order in which the fork handlers take them.
struct LockRegistry {
    std::mutex mutex;
    LockWaiter *waiters = nullptr;
    std::vector<LockThread *> threads;  // every thread that has held a lock (fork)
    LockThread *forking = nullptr;
};
inline LockRegistry &lock_registry() noexcept
{
    static LockRegistry *registry = new LockRegistry();  // never destroyed: threads outlive statics
    return *registry;
}

inline bool holds_conflicting(const HeldLock *held, const InstanceLock *lock, bool exclusive) noexcept
{
    for (const HeldLock *h = held; h != nullptr; h = h->older)
        if (h->lock == lock && (h->mode & kHoldModeMask) != kHoldNone &&
            (exclusive || (h->mode & kHoldModeMask) == kHoldExclusive))
            return true;
    return false;
}

// The wait-for graph's view of what a thread holds (pyo3cpp_wait_holds_fn): read under the
// graph's mutex, only while that thread waits (its list is frozen then).
inline int lock_thread_holds(const void *thread, const void *lock, int exclusive) noexcept
{
    return holds_conflicting(static_cast<const LockThread *>(thread)->held, static_cast<const InstanceLock *>(lock),
                             exclusive != 0)
               ? 1
               : 0;
}

[[noreturn, gnu::cold]] inline void raise_locked_at_fork(Python py, const char *cls, const char *method)
{
    std::string text = describe_call(cls, method) + ": the " + cls +
                       " instance was locked by another thread when the process forked, and that "
                       "thread does not exist in this child process; the instance cannot be used here";
    throw PyErr::new_err(py, PyExc_RuntimeError, text);
}

// Finalisation has begun (this thread is the one finalising: every other thread that tries to
// attach now is ended or parked).
inline bool interpreter_exiting() noexcept
{
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing() != 0;
#else
    return _Py_IsFinalizing() != 0;
#endif
}

// Waiting at exit (a __del__ or atexit code): a holder that CPython ends as it re-attaches gives
// the lock back at once (3.11 to 3.13.5), one it parks (3.14, later 3.13 releases) never will.
// So the wait is bounded: polled, detached, for up to two seconds, then RuntimeError.
[[gnu::noinline, gnu::cold]] inline void lock_at_exit(Python py, InstanceLock &lock, bool exclusive,
                                                      const char *cls, const char *method)
{
    for (int waited_ms = 0; waited_ms < 2000; ++waited_ms) {
        if (lock.try_lock(exclusive)) return;
        void *token = pyo3cpp_detach_begin();
        struct timespec pause{0, 1000000};
        nanosleep(&pause, nullptr);
        reattach_without_drain(token);
    }
    std::string text = describe_call(cls, method) + ": the " + cls +
                       " instance is held by a thread that the interpreter's exit stopped; it will "
                       "never be released";
    throw PyErr::new_err(py, PyExc_RuntimeError, text);
}

namespace lock_fork {
inline void prepare() noexcept
{
    lock_registry().mutex.lock();
    lock_registry().forking = &t_lock_thread;
}
inline void parent() noexcept { lock_registry().mutex.unlock(); }
// Only the forking thread exists now: what the others held is theirs for ever. A read is given
// back (the T is whole); a write is marked, and waiting for it raises.
inline void child() noexcept
{
    LockRegistry &registry = lock_registry();
    auto settle = [](InstanceLock *lock, std::uint8_t mode) {
        if ((mode & kHoldModeMask) == kHoldShared) lock->give_back_reads_at_fork(1);
        else if ((mode & kHoldModeMask) == kHoldExclusive) lock->mark_written_at_fork();
    };
    for (LockThread *thread : registry.threads)
        if (thread != registry.forking)
            for (HeldLock *h = thread->held; h != nullptr; h = h->older) settle(h->lock, h->mode);
    // A waiter that took its lock had not touched T: the lock goes back (the take and its mark
    // happen together under this mutex). Waiting flags are cleared: every thread that set one
    // is gone.
    for (LockWaiter *w = registry.waiters; w != nullptr; w = w->next)
        if (w->graph.acquired != 0) w->lock->unlock_at_fork(w->exclusive);
    for (LockWaiter *w = registry.waiters; w != nullptr; w = w->next) w->lock->clear_waiting_at_fork();
    registry.waiters = nullptr;
    std::erase_if(registry.threads, [&](LockThread *t) { return t != registry.forking; });
    registry.forking = nullptr;
    new (&registry.mutex) std::mutex();  // held by the prepare handler of a thread now gone
}
}  // namespace lock_fork

// The thread's first hold: the fork handler learns about its list; forgotten at thread exit.
[[gnu::noinline, gnu::cold]] inline void lock_thread_register(LockThread &thread) noexcept
{
    static std::once_flag installed;
    std::call_once(installed, [] { (void)pthread_atfork(lock_fork::prepare, lock_fork::parent, lock_fork::child); });
    struct Forget {
        LockThread *thread = nullptr;
        ~Forget()
        {
            if (thread == nullptr) return;
            pyo3cpp_wait_graph_remove_thread(thread);
            LockRegistry &registry = lock_registry();
            std::lock_guard<std::mutex> hold(registry.mutex);
            std::erase(registry.threads, thread);
        }
    };
    static thread_local Forget forget;
    LockRegistry &registry = lock_registry();
    std::lock_guard<std::mutex> hold(registry.mutex);
    registry.threads.push_back(&thread);
    forget.thread = &thread;
    thread.registered = true;
    // Out of memory: the graph does not see this thread's holds (a cycle through them can hang).
    (void)pyo3cpp_wait_graph_add_thread(&thread, lock_thread_holds);
}

[[gnu::noinline]] inline void InstanceLock::lock_waiting(Python py, bool exclusive, const HeldLock *held,
                                                         const char *cls, const char *method)
{
    // The detached wait takes the lock and keeps it as the thread re-attaches: the lock's own
    // queue decides who goes next, and each waiter wakes once. (Giving it back to re-take it
    // attached woke every waiter again at each release: quadratic in the number of waiters.)
    // A thread that re-attaches during finalisation is ended (3.11 to 3.13.5: a forced unwind,
    // and GiveBackOnUnwind returns the lock) or parked for ever (3.14, later 3.13 releases). So
    // a waiter that wakes once finalisation has begun gives the lock back before re-attaching;
    // one that finalisation overtakes during the re-attach itself stays parked with the lock,
    // and lock_at_exit bounds what that costs the exit's own code.
    for (;;) {
        if (try_lock(exclusive)) break;
        if (locked_at_fork()) raise_locked_at_fork(py, cls, method);
        if (interpreter_exiting()) [[unlikely]] {
            lock_at_exit(py, *this, exclusive, cls, method);
            break;
        }
        LockRegistry &registry = lock_registry();
        LockWaiter me{this, exclusive, held, cls, method, nullptr, {}};
        me.graph.kind = PYO3CPP_WAIT_INSTANCE;
        me.graph.exclusive = exclusive ? 1 : 0;
        me.graph.resource = this;
        me.graph.name = cls;
        me.graph.method = method;
        // Refused (RuntimeError) when the holder is, through a chain of waiting threads in any
        // module, waiting for something this thread holds.
        if (pyo3cpp_wait_begin(&me.graph) != 0) throw_fetched(py);
        {
            std::lock_guard<std::mutex> hold(registry.mutex);
            me.next = registry.waiters;
            registry.waiters = &me;
        }
        auto leave = [&]() noexcept {
            for (LockWaiter **p = &registry.waiters; *p != nullptr; p = &(*p)->next)
                if (*p == &me) {
                    *p = me.next;
                    break;
                }
        };
        void *token = pyo3cpp_detach_begin();
        // Taken and marked in one step under the wait-for graph's mutex: the fork handler sees
        // a waiter that holds the lock (acquired: given back in the child) or one that waits.
        if (exclusive)
            wait_exclusive(me.graph);
        else
            wait_shared(me.graph);
        bool exiting;
        {
            std::lock_guard<std::mutex> hold(registry.mutex);
            exiting = interpreter_exiting();
            if (exiting) {
                unlock(exclusive);
                leave();
            }
        }
        if (exiting) {
            reattach_without_drain(token);
            continue;  // now waits as exit code does (lock_at_exit)
        }
        struct GiveBackOnUnwind {
            InstanceLock *lock;
            bool exclusive;
            decltype(leave) &leave_registry;
            bool armed = true;
            ~GiveBackOnUnwind()
            {
                std::lock_guard<std::mutex> hold(lock_registry().mutex);
                leave_registry();
                if (armed) lock->unlock(exclusive);
            }
        } give_back{this, exclusive, leave};
        reattach_without_drain(token);
        give_back.armed = false;
        break;
    }
    if (locked_at_fork()) [[unlikely]] {  // the child of a fork woke us (see lock_fork::child)
        unlock(exclusive);
        raise_locked_at_fork(py, cls, method);
    }
}

// ------------------------------------------------------------------- taking a call's locks

// `want` needs `exclusive` and this call holds other instance locks (those newer than `base`):
// gives them back, then takes each distinct instance once, in the strongest mode the call needs,
// in address order, waiting as needed. Every thread that waits while holding locks of its call
// does so in this order, so two calls cannot wait on each other. The records stay on the list
// (their guards own them); each ends up holding exactly what its mode says, also when a wait
// fails (then `want` holds nothing and the exception propagates).
[[gnu::noinline, gnu::cold]] inline void relock_in_address_order(Python py, LockThread &thread, HeldLock &want,
                                                                 bool exclusive, const char *cls,
                                                                 const char *method)
{
    HeldLock *const base = thread.scope->base;
    struct Take {
        InstanceLock *lock;
        bool exclusive;
        HeldLock *owner;
        bool aliased;
    };
    std::vector<Take> takes;  // allocated before anything is given back
    std::size_t count = 1;
    for (HeldLock *h = thread.held; h != base && h != nullptr; h = h->older) ++count;
    takes.reserve(count);
    auto note = [&](HeldLock *record, bool excl) {
        for (Take &t : takes)
            if (t.lock == record->lock) {
                t.exclusive = t.exclusive || excl;
                t.aliased = true;
                return;
            }
        takes.push_back({record->lock, excl, record, false});
    };
    note(&want, exclusive);
    for (HeldLock *h = thread.held; h != base && h != nullptr; h = h->older)
        note(h, (h->mode & kHoldModeMask) == kHoldExclusive);
    std::sort(takes.begin(), takes.end(),
              [](const Take &a, const Take &b) { return std::less<const InstanceLock *>()(a.lock, b.lock); });
    for (HeldLock *h = thread.held; h != base && h != nullptr; h = h->older) {
        if ((h->mode & kHoldModeMask) != kHoldNone) h->lock->unlock((h->mode & kHoldModeMask) == kHoldExclusive);
        h->mode = kHoldNone;
    }
    want.mode = kHoldNone;
    // `want` joins the list while the locks are re-taken (what this thread holds, for the cycle
    // check and the fork handler), and leaves it again: its guard links it.
    want.older = thread.held;
    thread.held = &want;
    struct Unlink {
        LockThread &thread;
        HeldLock &want;
        ~Unlink() { thread.held = want.older; }
    } unlink{thread, want};
    try {
        for (const Take &t : takes) {
            bool held_outside = false;  // read by an enclosing call: never wait for a queued writer
            bool lent = false;          // held exclusively outside and lent to nested calls
            for (const HeldLock *h = base; h != nullptr && !held_outside; h = h->older) {
                held_outside = h->lock == t.lock && (h->mode & kHoldModeMask) != kHoldNone;
                lent = held_outside && (h->mode & kHoldLent) != 0;
            }
            if (lent) {
                t.owner->mode = kHoldNone;
                continue;
            }
            if (held_outside)
                t.lock->lock_shared_again();  // an enclosing exclusive hold was refused earlier
            else
                t.lock->lock_waiting(py, t.exclusive, thread.held, cls, method);
            t.owner->mode = static_cast<std::uint8_t>((t.exclusive ? kHoldExclusive : kHoldShared) |
                                                      (t.aliased ? kHoldAliased : 0));
        }
    } PYO3CPP_CATCH_ALL {
        if ((want.mode & kHoldModeMask) != kHoldNone) want.lock->unlock((want.mode & kHoldModeMask) == kHoldExclusive);
        want.mode = kHoldNone;
        throw;
    }
}

// The slow path of taking `record.lock`: the try failed. Returns the record's mode (kHoldNone when
// another record of this call holds the lock for it), or throws with nothing changed for it.
[[gnu::noinline, gnu::cold]] inline std::uint8_t lock_contended(Python py, LockThread &thread, HeldLock &record,
                                                               bool exclusive, const char *cls,
                                                               const char *method)
{
    InstanceLock &lock = *record.lock;
    CallLockScope *scope = thread.scope;
    HeldLock *const base = scope != nullptr ? scope->base : nullptr;
    HeldLock *in_call = nullptr;  // a hold of this call (strongest first)
    const HeldLock *outer = nullptr;
    bool inside = scope != nullptr;
    for (HeldLock *h = thread.held; h != nullptr; h = h->older) {
        if (h == base) inside = false;
        if (h->lock != &lock || (h->mode & kHoldModeMask) == kHoldNone) continue;
        if (inside) {
            if (in_call == nullptr || (h->mode & kHoldModeMask) == kHoldExclusive) in_call = h;
        } else if (outer == nullptr) {
            outer = h;
        }
    }
    const bool outer_exclusive = outer != nullptr && (outer->mode & kHoldModeMask) == kHoldExclusive;
    if (in_call != nullptr) {
        if ((in_call->mode & kHoldModeMask) == kHoldExclusive || !exclusive) {
            in_call->mode |= kHoldAliased;  // the same instance named twice in one call
            return kHoldNone;
        }
        if (outer != nullptr) raise_reentered(py, cls, method, outer_exclusive);
        relock_in_address_order(py, thread, record, true, cls, method);  // read to write
        return record.mode;
    }
    if (outer != nullptr) {
        if (outer_exclusive && (outer->mode & kHoldLent) != 0) return kHoldNone;  // the hold covers this call
        if (outer_exclusive || exclusive) raise_reentered(py, cls, method, outer_exclusive);
        lock.lock_shared_again();  // refused only because a writer queued behind us
        return kHoldShared;
    }
    if (scope != nullptr && thread.held != base) {
        relock_in_address_order(py, thread, record, exclusive, cls, method);
        return record.mode;
    }
    lock.lock_waiting(py, exclusive, thread.held, cls, method);
    return exclusive ? kHoldExclusive : kHoldShared;
}

// The slow path of a release: an aliased hold, a record that holds nothing, a record not the
// newest, or a moved-from guard.
[[gnu::noinline, gnu::cold]] inline void release_contended(LockThread *owner, HeldLock &record) noexcept
{
    if (record.lock == nullptr) return;  // moved from, or never locked
    LockThread &thread = *owner;
    HeldLock *successor = nullptr;  // another record of the same lock that holds nothing
    bool more = false;
    for (HeldLock **p = &thread.held; *p != nullptr;) {
        HeldLock *h = *p;
        if (h == &record) {
            *p = h->older;
            continue;
        }
        if ((record.mode & kHoldAliased) != 0 && h->lock == record.lock && (h->mode & kHoldModeMask) == kHoldNone) {
            if (successor == nullptr)
                successor = h;
            else
                more = true;
        }
        p = &h->older;
    }
    InstanceLock *lock = record.lock;
    const std::uint8_t mode = record.mode & kHoldModeMask;
    record.lock = nullptr;
    record.mode = kHoldNone;
    if (mode == kHoldNone) return;
    if (successor != nullptr) {  // the hold stays, for the records still naming it
        successor->mode = static_cast<std::uint8_t>(mode | (more ? kHoldAliased : 0));
        return;
    }
    lock->unlock(mode == kHoldExclusive);
}

// Holds an instance lock, shared or exclusive, and records it on this thread's list. Movable
// (the record follows it), not copyable.
template <bool Exclusive> class InstanceGuard {
    static constexpr std::uint8_t kMode = Exclusive ? kHoldExclusive : kHoldShared;

public:
    InstanceGuard() noexcept = default;
    // `cls`/`method` name the call in the re-entrance and wait-cycle errors.
    // One thread-local access, kept for the release (which happens on this thread). The record
    // is written once on the fast path; the slow path sets its mode.
    InstanceGuard(Python py, InstanceLock &lock, const char *cls, const char *method)
        : thread_(&lock_thread()), node_{&lock, kMode, thread_->held}
    {
        LockThread &thread = *thread_;
        const bool got = Exclusive ? lock.try_exclusive() : lock.try_shared();
        if (!got || !thread.registered) [[unlikely]] {
            node_.mode = take_contended(py, thread, got, cls, method);
            node_.older = thread.held;
        }
        thread.held = &node_;
    }
    InstanceGuard(InstanceGuard &&other) noexcept : thread_(other.thread_), node_(other.node_)
    {
        if (other.node_.lock != nullptr) {
            for (HeldLock **p = &thread_->held; *p != nullptr; p = &(*p)->older)
                if (*p == &other.node_) {
                    *p = &node_;
                    break;
                }
            other.node_.lock = nullptr;
            other.node_.mode = kHoldNone;
        }
    }
    InstanceGuard &operator=(InstanceGuard &&) = delete;
    InstanceGuard(const InstanceGuard &) = delete;
    ~InstanceGuard() { release(); }

    void release() noexcept
    {
        if (node_.mode == kMode && thread_->held == &node_) [[likely]] {  // the newest, not shared
            thread_->held = node_.older;
            node_.mode = kHoldNone;
            if (Exclusive)
                node_.lock->unlock_exclusive();
            else
                node_.lock->unlock_shared();
            node_.lock = nullptr;
        } else {
            release_contended(thread_, node_);
        }
    }

private:
    // The try failed, or it succeeded on a thread the fork handler does not know yet.
    [[gnu::noinline, gnu::cold]] std::uint8_t take_contended(Python py, LockThread &thread, bool got,
                                                            const char *cls, const char *method)
    {
        if (!thread.registered) lock_thread_register(thread);
        if (got) return kMode;
        return lock_contended(py, thread, node_, Exclusive, cls, method);
    }

    LockThread *thread_ = nullptr;  // the thread that holds it
    HeldLock node_{};
};

}  // namespace pyo3cpp::detail
