// object_lock.cpp — exclusive per-object locks that, unlike critical sections, survive detaching
// (see abi/pyo3cpp.h, "object locks", for why CPython 3.13 needs them).
//
// Entries live in a sharded hash table keyed by object address and exist only while some thread
// holds or waits for the lock, so the table stays as small as the number of contended objects.
// A shard's mutex is held only for table bookkeeping (never while waiting for an object),
// so taking it while attached cannot stall the interpreter; waiting for the object itself
// detaches.
#include <array>
#include <new>
#include <unordered_map>

#include "runtime_state.h"

using namespace pyo3cpp::detail;

namespace {

#ifdef Py_GIL_DISABLED  // GIL builds lock nothing: the GIL excludes
// The lock proper is `taken`, a three-state futex word: 0 free, 1 held, 2 held and a thread may
// be asleep on it. A waiter first spins briefly (attached: a holder's section is usually short),
// then detaches, marks the word 2 and sleeps; the holder's unlock wakes exactly one sleeper, and
// only when the word says one may be asleep. (Before: every waiter slept at once and every
// unlock woke all of them; with 8 threads on 2 cores each increment of a shared dict counter paid
// a storm of context switches, about 30 us, against 0.1 us under one pyo3cpp::Mutex.)
enum : std::uint32_t { kFree = 0, kHeld = 1, kHeldSleepers = 2 };
struct Entry {
    // this_thread_key() of the holder. Written by the holder (the shard mutex is not needed for
    // that); other threads only compare it with their own key, so a stale value never matches.
    std::atomic<std::uint64_t> owner{0};
    long depth = 0;           // recursion depth; read and written by the holder only
    long users = 0;           // holders + waiters; the entry is released when it drops to zero;
                              // guarded by the shard mutex
    std::atomic<std::uint32_t> taken{kFree};
};

// Attached spinning before a waiter detaches and sleeps: long enough to cover a short section
// run by a holder on another core, short enough not to starve a preempted holder of its CPU.
constexpr int kSpins = 200;

inline void cpu_relax() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

// Releases the lock word; wakes one sleeper if there may be one.
inline void release_taken(Entry *entry) noexcept
{
    if (entry->taken.exchange(kFree, std::memory_order_release) == kHeldSleepers)
        entry->taken.notify_one();
}

// Most of the time a shard has at most a few objects locked at once: their entries live in the
// shard itself (no allocation); more spill into a map.
constexpr int kInlineEntries = 4;

struct Shard {
    PlainMutex guard;
    PyObject *inline_keys[kInlineEntries] = {};
    Entry inline_entries[kInlineEntries];
    std::unordered_map<PyObject *, Entry *> overflow;

    Entry *find(PyObject *obj)
    {
        for (int i = 0; i < kInlineEntries; ++i)
            if (inline_keys[i] == obj) return &inline_entries[i];
        auto it = overflow.find(obj);
        return it == overflow.end() ? nullptr : it->second;
    }
    Entry *find_or_add(PyObject *obj)  // may throw std::bad_alloc
    {
        if (Entry *found = find(obj)) return found;
        for (int i = 0; i < kInlineEntries; ++i)
            if (inline_keys[i] == nullptr) {
                inline_keys[i] = obj;
                return &inline_entries[i];
            }
        auto *entry = new Entry();
        try {
            overflow.emplace(obj, entry);
        } catch (...) {
            delete entry;
            throw;
        }
        return entry;
    }
    void remove(PyObject *obj, Entry *entry)  // users == 0: nobody can reach it any more
    {
        for (int i = 0; i < kInlineEntries; ++i)
            if (inline_keys[i] == obj) {
                inline_keys[i] = nullptr;  // the entry's fields are already back to zero
                return;
            }
        overflow.erase(obj);
        delete entry;
    }
};

constexpr std::size_t kShards = 64;

std::array<Shard, kShards> &shards()
{
    static auto *table = new std::array<Shard, kShards>();  // never destroyed: used at exit
    return *table;
}

void reset_shard_in_child(Shard &shard, std::uint64_t me)
{
    // Threads other than the forking one do not exist in the child: locks they held or waited
    // for are released; a lock the forking thread holds stays held, with it as the only user.
    for (int i = 0; i < kInlineEntries; ++i) {
        if (shard.inline_keys[i] == nullptr) continue;
        Entry &entry = shard.inline_entries[i];
        if (entry.owner.load(std::memory_order_relaxed) == me &&
            entry.taken.load(std::memory_order_relaxed) != kFree) {
            entry.users = 1;
            entry.taken.store(kHeld, std::memory_order_relaxed);  // nobody sleeps on it now
        } else {
            shard.inline_keys[i] = nullptr;
            entry.owner.store(0, std::memory_order_relaxed);
            entry.depth = 0;
            entry.users = 0;
            entry.taken.store(kFree, std::memory_order_relaxed);
        }
    }
    for (auto it = shard.overflow.begin(); it != shard.overflow.end();) {
        Entry *entry = it->second;
        if (entry->owner.load(std::memory_order_relaxed) == me &&
            entry->taken.load(std::memory_order_relaxed) != kFree) {
            entry->users = 1;
            entry->taken.store(kHeld, std::memory_order_relaxed);
            ++it;
        } else {
            delete entry;
            it = shard.overflow.erase(it);
        }
    }
}

Shard &shard_for(PyObject *obj)
{
    auto key = reinterpret_cast<std::uintptr_t>(obj);
    key ^= key >> 17;
    key *= 0x9E3779B97F4A7C15ull;
    return shards()[(key >> 32) % kShards];
}

#endif

bool check_args(PyObject *obj, const char *what)
{
    if (!thread_is_attached()) return false;
    arm_runtime();
    if (obj == nullptr) {
        PyErr_Format(PyExc_ValueError, "%s: object is NULL", what);
        return false;
    }
    return true;
}

}  // namespace

namespace pyo3cpp::detail {

void object_locks_fork_prepare() noexcept
{
#ifdef Py_GIL_DISABLED
    for (Shard &shard : shards()) shard.guard.lock();  // always in this order
#endif
}
void object_locks_fork_parent() noexcept
{
#ifdef Py_GIL_DISABLED
    for (Shard &shard : shards()) shard.guard.unlock();
#endif
}
void object_locks_fork_child() noexcept
{
#ifdef Py_GIL_DISABLED
    const std::uint64_t me = this_thread_key();
    for (Shard &shard : shards()) {
        reset_shard_in_child(shard, me);
        shard.guard.unlock();
    }
#endif
}

}  // namespace pyo3cpp::detail

extern "C" {

PYO3CPP_API int pyo3cpp_object_lock(PyObject *obj)
{
    if (!check_args(obj, "pyo3cpp_object_lock")) return -1;
#ifdef Py_GIL_DISABLED
    const std::uint64_t me = this_thread_key();
    Shard &shard = shard_for(obj);
    Entry *entry;
    {
        PlainLock lock(shard.guard);
        try {
            entry = shard.find_or_add(obj);
        } catch (const std::bad_alloc &) {
            PyErr_NoMemory();
            return -1;
        }
        if (entry->owner.load(std::memory_order_relaxed) == me) {
            ++entry->depth;
            return 0;
        }
        ++entry->users;  // pins the entry while this thread holds or waits for it
    }
    std::uint32_t expected = kFree;
    if (entry->taken.compare_exchange_strong(expected, kHeld, std::memory_order_acquire)) {
        entry->owner.store(me, std::memory_order_relaxed);  // uncontended: one trip through the shard
        entry->depth = 1;
        return 0;
    }
    // Held by another thread. Spin a little while attached: most sections are short.
    for (int i = 0; i < kSpins; ++i) {
        cpu_relax();
        expected = entry->taken.load(std::memory_order_relaxed);
        if (expected == kFree &&
            entry->taken.compare_exchange_weak(expected, kHeld, std::memory_order_acquire)) {
            entry->owner.store(me, std::memory_order_relaxed);
            entry->depth = 1;
            return 0;
        }
    }
    // Then wait detached, so that the holder (which may need the GIL, or a stop-the-world pause
    // that waits for every attached thread) can finish; then re-attach. No pool drain on
    // re-attaching: a __del__ could want this very lock (runtime_state.h). A thread that wakes
    // takes the word as "held, sleepers possible" (it cannot know whether others still sleep),
    // so its unlock wakes the next one.
    PyThreadState *detached = PyEval_SaveThread();
    while (entry->taken.exchange(kHeldSleepers, std::memory_order_acquire) != kFree)
        entry->taken.wait(kHeldSleepers, std::memory_order_relaxed);
    // If CPython ends this thread while it re-attaches (finalisation), give the lock back so
    // that the thread's disappearance does not leave it taken for ever.
    struct GiveBackOnUnwind {
        Shard &shard;
        PyObject *obj;
        Entry *entry;
        bool armed = true;
        ~GiveBackOnUnwind()
        {
            if (!armed) return;
            PlainLock lock(shard.guard);
            release_taken(entry);
            if (--entry->users == 0) shard.remove(obj, entry);
        }
    } give_back{shard, obj, entry};
    PyEval_RestoreThread(detached);
    give_back.armed = false;
    entry->owner.store(me, std::memory_order_relaxed);
    entry->depth = 1;
#endif
    return 0;
}

PYO3CPP_API int pyo3cpp_object_unlock(PyObject *obj) noexcept
{
    if (!check_args(obj, "pyo3cpp_object_unlock")) return -1;
#ifdef Py_GIL_DISABLED
    Shard &shard = shard_for(obj);
    PlainLock lock(shard.guard);
    Entry *entry = shard.find(obj);
    if (entry == nullptr || entry->owner.load(std::memory_order_relaxed) != this_thread_key()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "pyo3cpp_object_unlock: the object lock is not held by this thread");
        return -1;
    }
    if (--entry->depth > 0) return 0;
    entry->owner.store(0, std::memory_order_relaxed);
    release_taken(entry);
    if (--entry->users == 0) shard.remove(obj, entry);
#endif
    return 0;
}

}  // extern "C"
