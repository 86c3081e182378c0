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
//   - No writer preference: a steady stream of readers can delay a writer (simple and
//     re-entrance-safe: a reader that re-enters never waits for a queued writer).
//   - Several instances in one call (self and T& / const T& arguments) are locked one after
//     another (arguments left to right, then self), not in a global order: two threads that
//     call a.merge(b) and b.merge(a) at once, both needing exclusive access, can deadlock, as
//     with any two locks. Take such arguments as Bound<T> and lock them in a fixed order (or
//     read before you write).
//   - fork: a lock held by another thread at fork stays held in the child (not reset).
// Thread: any attached thread; a guard is released on the thread that took it.
// Cost, uncontended: one compare-and-swap to take, one atomic exchange/decrement and one
// relaxed load to release, plus one thread-local pointer update each way. Contended: a futex
// wait while detached.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

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
    static constexpr std::uint32_t kWriter = 0x80000000u;

    bool try_exclusive() noexcept
    {
        std::uint32_t expected = 0;
        return state_.compare_exchange_strong(expected, kWriter, std::memory_order_acquire,
                                              std::memory_order_relaxed);
    }
    bool try_shared() noexcept
    {
        std::uint32_t s = state_.load(std::memory_order_relaxed);
        while ((s & kWriter) == 0)
            if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acquire,
                                             std::memory_order_relaxed))
                return true;
        return false;
    }
    void unlock_exclusive() noexcept
    {
        state_.store(0, std::memory_order_seq_cst);
        if (waiters_.load(std::memory_order_seq_cst) != 0) state_.notify_all();
    }
    void unlock_shared() noexcept
    {
        if (state_.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
            waiters_.load(std::memory_order_seq_cst) != 0)
            state_.notify_all();
    }
    // A snapshot (for tp_traverse: skip a T that a writer is changing).
    bool held_exclusive() const noexcept
    {
        return (state_.load(std::memory_order_acquire) & kWriter) != 0;
    }

    // Blocks detached until acquired; the re-entrance check is the caller's.
    template <bool Exclusive> [[gnu::noinline]] void wait_and_lock()
    {
        run_detached(
            [this] {
                for (;;) {
                    if (Exclusive ? try_exclusive() : try_shared()) return;
                    waiters_.fetch_add(1, std::memory_order_seq_cst);
                    const std::uint32_t seen = state_.load(std::memory_order_seq_cst);
                    const bool busy = Exclusive ? seen != 0 : (seen & kWriter) != 0;
                    if (busy) state_.wait(seen, std::memory_order_seq_cst);
                    waiters_.fetch_sub(1, std::memory_order_relaxed);
                }
            },
            reattach_without_drain);
    }

private:
    std::atomic<std::uint32_t> state_{0};    // kWriter, or the number of readers
    std::atomic<std::uint32_t> waiters_{0};  // threads asleep (or about to sleep) on state_
};
static_assert(sizeof(InstanceLock) == 8);

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
            }
            // Shared on top of our own shared hold never reaches here (no writer can be in).
            lock.template wait_and_lock<Exclusive>();
        }
        node_.lock = &lock;
        node_.exclusive = Exclusive;
        node_.older = t_held_locks;
        t_held_locks = &node_;
    }
    InstanceGuard(InstanceGuard &&other) noexcept : node_(other.node_)
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
};

}  // namespace pyo3cpp::detail
