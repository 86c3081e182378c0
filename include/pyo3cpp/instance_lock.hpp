// instance_lock.hpp — the reader/writer lock inside every instance of a `locked` class
// (class_policy.hpp), and the guards that hold it.
//
// What it gives: many readers (const methods, getters) or one writer (methods taking T&,
// setters), on GIL and free-threaded builds alike. It is our own word, not a critical section:
// nothing suspends it, so a method that calls back into Python (which may release the GIL, or
// detach) still excludes other threads from T until it returns.
//
// Rules:
//   - Waiting detaches (and re-attaches without draining the deferred-decref pool): the thread
//     holding the lock can always get the interpreter, and a stop-the-world GC is never held
//     up by a waiter.
//   - Re-entrance: each thread keeps a short list of the instance locks it holds. Asking for an
//     instance this thread holds exclusively, or for exclusive access to one it reads, throws
//     PyErr(RuntimeError: "<Class>.<method>(): the instance is already in use by this thread
//     (...)") instead of deadlocking. Shared access on top of shared access is granted.
//   - Writers first: once a writer waits, new readers queue behind it, so a steady stream of
//     readers cannot starve a writer. A thread that already reads the instance may read it
//     again without queueing (it would otherwise wait for a writer that waits for it).
//   - Several instances in one call (T& / const T& arguments, then self) are taken as the
//     arguments convert, each with one try. When one is busy, the call gives back the locks it
//     took so far (nothing has touched their T yet) and takes them all, waiting, in address
//     order (CallLockScope): a.merge(b) racing b.merge(a) cannot deadlock. Locks held by an
//     enclosing call whose body is running (a method that calls back into Python, which calls
//     another) are never given back: such nesting orders itself by the call stack, and
//     opposite nesting on two threads can still deadlock, as with any two locks.
//   - fork: a lock held by another thread at fork stays held in the child (not reset).
// Thread: any attached thread; a guard is released on the thread that took it.
// Cost, uncontended: a load and a compare-and-swap to take, one atomic and/decrement and a load
// of the waiter count to release, one thread-local access (the guard keeps the list's address
// for its release); 50-55 instructions per locked call in bench/bench_classes.cpp. Contended: a
// futex wait while detached.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pyo3cpp/attach.hpp"
#include "pyo3cpp/error.hpp"

namespace pyo3cpp::detail {

class InstanceLock;

// One lock held by this thread: a node of the thread's list (newest first).
struct HeldLock {
    const InstanceLock *lock = nullptr;
    bool exclusive = false;
    HeldLock *older = nullptr;
};
inline thread_local HeldLock *t_held_locks = nullptr;

inline const HeldLock *find_held(const InstanceLock *lock) noexcept
{
    for (const HeldLock *h = t_held_locks; h != nullptr; h = h->older)
        if (h->lock == lock) return h;
    return nullptr;
}
inline void unlink_held(HeldLock *node) noexcept
{
    for (HeldLock **p = &t_held_locks; *p != nullptr; p = &(*p)->older)
        if (*p == node) {
            *p = node->older;
            return;
        }
}
inline void replace_held(HeldLock *from, HeldLock *to) noexcept
{
    for (HeldLock **p = &t_held_locks; *p != nullptr; p = &(*p)->older)
        if (*p == from) {
            *p = to;
            to->older = from->older;
            return;
        }
}

// The locks of one binder call that is still converting its arguments (function.hpp opens it
// for calls with T& / const T& arguments of a locked class; it closes when the body starts).
struct CallLockScope {
    HeldLock *base;         // this thread's newest held lock when the call began
    CallLockScope *outer;   // the scope that was open before (its call is converting too)
};
inline thread_local CallLockScope *t_call_scope = nullptr;

// Opens a scope for its lifetime, unless closed earlier (close(), or leave_call_scope() from the
// method once self is locked).
template <bool Enabled> class CallLocks {
public:
    CallLocks() noexcept : scope_{t_held_locks, t_call_scope} { t_call_scope = &scope_; }
    CallLocks(const CallLocks &) = delete;
    ~CallLocks() { close(); }
    void close() noexcept
    {
        if (t_call_scope == &scope_) t_call_scope = scope_.outer;
    }

private:
    CallLockScope scope_;
};
template <> class CallLocks<false> {
public:
    void close() noexcept {}
};
// The body of the current call starts: its locks are in use from here on.
inline void leave_call_scope() noexcept
{
    if (CallLockScope *scope = t_call_scope) t_call_scope = scope->outer;
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

class InstanceLock {
public:
    // state_: the writer bit, the number of writers waiting, the number of read holds.
    static constexpr std::uint32_t kWriter = 0x80000000u;
    static constexpr std::uint32_t kWaitingWriter = 1u << 21;
    static constexpr std::uint32_t kWaitingMask = 0x3ffu << 21;  // up to 1,023 waiting writers
    static constexpr std::uint32_t kReaderMask = kWaitingWriter - 1;

    bool try_exclusive() noexcept
    {
        std::uint32_t s = state_.load(std::memory_order_relaxed);
        while ((s & ~kWaitingMask) == 0)
            if (state_.compare_exchange_weak(s, s | kWriter, std::memory_order_acquire, std::memory_order_relaxed))
                return true;
        return false;
    }
    // A new read hold: refused while a writer holds the lock or waits for it (writers are not
    // starved by a stream of readers).
    bool try_shared() noexcept
    {
        std::uint32_t s = state_.load(std::memory_order_relaxed);
        while ((s & (kWriter | kWaitingMask)) == 0)
            if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acquire, std::memory_order_relaxed))
                return true;
        return false;
    }
    // One more read hold by a thread that already has one: never waits for a queued writer
    // (which waits for this thread), and no writer can hold the lock meanwhile.
    void lock_shared_again() noexcept { state_.fetch_add(1, std::memory_order_acquire); }
    void unlock_exclusive() noexcept
    {
        state_.fetch_and(~kWriter, std::memory_order_seq_cst);
        if (waiters_.load(std::memory_order_seq_cst) != 0) state_.notify_all();
    }
    void unlock_shared() noexcept
    {
        if ((state_.fetch_sub(1, std::memory_order_seq_cst) & kReaderMask) == 1 &&
            waiters_.load(std::memory_order_seq_cst) != 0)
            state_.notify_all();
    }
    // A snapshot (for tp_traverse: skip a T that a writer is changing).
    bool held_exclusive() const noexcept
    {
        return (state_.load(std::memory_order_acquire) & kWriter) != 0;
    }

    bool try_lock(bool exclusive) noexcept { return exclusive ? try_exclusive() : try_shared(); }
    void unlock(bool exclusive) noexcept
    {
        if (exclusive)
            unlock_exclusive();
        else
            unlock_shared();
    }
    void lock_waiting(bool exclusive)
    {
        if (try_lock(exclusive)) return;
        if (exclusive)
            wait_and_lock<true>();
        else
            wait_and_lock<false>();
    }

    // Blocks detached until acquired; the re-entrance check is the caller's. A writer announces
    // itself first, so new readers queue behind it.
    template <bool Exclusive> [[gnu::noinline]] void wait_and_lock()
    {
        run_detached(
            [this] {
                if (Exclusive) state_.fetch_add(kWaitingWriter, std::memory_order_seq_cst);
                for (;;) {
                    std::uint32_t s = state_.load(std::memory_order_seq_cst);
                    const bool busy = Exclusive ? (s & (kWriter | kReaderMask)) != 0
                                                : (s & (kWriter | kWaitingMask)) != 0;
                    if (!busy) {
                        const std::uint32_t next = Exclusive ? (s - kWaitingWriter) | kWriter : s + 1;
                        if (state_.compare_exchange_strong(s, next, std::memory_order_acquire,
                                                           std::memory_order_relaxed))
                            return;
                        continue;
                    }
                    waiters_.fetch_add(1, std::memory_order_seq_cst);
                    if (state_.load(std::memory_order_seq_cst) == s) state_.wait(s, std::memory_order_seq_cst);
                    waiters_.fetch_sub(1, std::memory_order_relaxed);
                }
            },
            reattach_without_drain);
    }

private:
    std::atomic<std::uint32_t> state_{0};
    std::atomic<std::uint32_t> waiters_{0};  // threads asleep (or about to sleep) on state_
};
static_assert(sizeof(InstanceLock) == 8);

// `wanted` is busy and this call holds other instance locks (those newer than `base`): gives
// them back, then takes them and `wanted` in address order, waiting as needed. Every thread that
// waits while holding locks of its call does so in this order, so two calls cannot wait on each
// other. The held records stay on the list (their guards own them); only the locks move.
[[gnu::noinline, gnu::cold]] inline void relock_in_address_order(InstanceLock &wanted, bool exclusive,
                                                                 HeldLock *base)
{
    struct Want {
        InstanceLock *lock;
        bool exclusive;
    };
    std::vector<Want> wants;
    for (HeldLock *h = t_held_locks; h != base && h != nullptr; h = h->older) {
        auto *lock = const_cast<InstanceLock *>(h->lock);
        lock->unlock(h->exclusive);
        wants.push_back({lock, h->exclusive});
    }
    wants.push_back({&wanted, exclusive});
    std::sort(wants.begin(), wants.end(), [](const Want &a, const Want &b) {
        return std::less<const InstanceLock *>()(a.lock, b.lock);
    });
    for (const Want &w : wants) {
        bool held_outside = false;  // read by an enclosing call: never wait for a queued writer
        for (const HeldLock *h = base; h != nullptr && !held_outside; h = h->older)
            held_outside = h->lock == w.lock;
        if (!w.exclusive && held_outside)
            w.lock->lock_shared_again();
        else
            w.lock->lock_waiting(w.exclusive);
    }
}

// Holds an instance lock, shared or exclusive, and records it on this thread's list. Movable
// (the record follows it), not copyable.
template <bool Exclusive> class InstanceGuard {
public:
    InstanceGuard() noexcept = default;
    // `cls`/`method` name the call in the re-entrance error.
    InstanceGuard(Python py, InstanceLock &lock, const char *cls, const char *method)
    {
        const bool got = Exclusive ? lock.try_exclusive() : lock.try_shared();
        if (!got) {
            if (const HeldLock *mine = find_held(&lock)) {
                if (mine->exclusive || Exclusive) raise_reentered(py, cls, method, mine->exclusive);
                lock.lock_shared_again();  // refused only because a writer queued behind us
            } else if (CallLockScope *scope = t_call_scope; scope != nullptr && t_held_locks != scope->base) {
                relock_in_address_order(lock, Exclusive, scope->base);
            } else {
                lock.template wait_and_lock<Exclusive>();
            }
        }
        // This thread's list, kept for the release: in an extension module every thread-local
        // access is a __tls_get_addr call, and the release happens on this thread.
        list_ = &t_held_locks;
        node_.lock = &lock;
        node_.exclusive = Exclusive;
        node_.older = *list_;
        *list_ = &node_;
    }
    InstanceGuard(InstanceGuard &&other) noexcept : node_(other.node_), list_(other.list_)
    {
        if (other.node_.lock != nullptr) {
            replace_held(&other.node_, &node_);
            other.node_.lock = nullptr;
        }
    }
    InstanceGuard &operator=(InstanceGuard &&) = delete;
    InstanceGuard(const InstanceGuard &) = delete;
    ~InstanceGuard() { release(); }

    void release() noexcept
    {
        if (node_.lock == nullptr) return;
        if (*list_ == &node_) [[likely]]  // the newest hold is released first
            *list_ = node_.older;
        else
            unlink_held(&node_);
        auto *lock = const_cast<InstanceLock *>(node_.lock);
        node_.lock = nullptr;
        if (Exclusive)
            lock->unlock_exclusive();
        else
            lock->unlock_shared();
    }

private:
    HeldLock node_{};
    HeldLock **list_ = nullptr;  // &t_held_locks of the thread that holds it
};

}  // namespace pyo3cpp::detail
