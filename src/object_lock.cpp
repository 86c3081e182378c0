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
struct Entry {
    std::uint64_t owner = 0;  // this_thread_key() of the holder; guarded by the shard mutex
    long depth = 0;           // recursion depth of the holder; guarded by the shard mutex
    long users = 0;           // holders + waiters; the entry is released when it drops to zero
    std::atomic<std::uint32_t> taken{0};  // the lock proper: 0 free, 1 held
};

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
        if (entry.owner == me && entry.taken.load(std::memory_order_relaxed) != 0) {
            entry.users = 1;
        } else {
            shard.inline_keys[i] = nullptr;
            entry.owner = 0;
            entry.depth = 0;
            entry.users = 0;
            entry.taken.store(0, std::memory_order_relaxed);
        }
    }
    for (auto it = shard.overflow.begin(); it != shard.overflow.end();) {
        Entry *entry = it->second;
        if (entry->owner == me && entry->taken.load(std::memory_order_relaxed) != 0) {
            entry->users = 1;
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
        if (entry->owner == me) {
            ++entry->depth;
            return 0;
        }
        ++entry->users;
        std::uint32_t expected = 0;
        if (entry->taken.compare_exchange_strong(expected, 1, std::memory_order_acquire)) {
            entry->owner = me;  // uncontended: one trip through the shard
            entry->depth = 1;
            return 0;
        }
    }
    // Held by another thread: wait detached, so that the holder (which may need the GIL, or a
    // stop-the-world pause that waits for every attached thread) can finish; then re-attach.
    // No pool drain on re-attaching: a __del__ could want this very lock (runtime_state.h).
    PyThreadState *detached = PyEval_SaveThread();
    for (;;) {
        std::uint32_t expected = 0;
        if (entry->taken.compare_exchange_strong(expected, 1, std::memory_order_acquire)) break;
        entry->taken.wait(1, std::memory_order_relaxed);
    }
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
            entry->taken.store(0, std::memory_order_release);
            if (--entry->users == 0)
                shard.remove(obj, entry);
            else
                entry->taken.notify_all();
        }
    } give_back{shard, obj, entry};
    PyEval_RestoreThread(detached);
    give_back.armed = false;
    PlainLock lock(shard.guard);
    entry->owner = me;
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
    if (entry == nullptr || entry->owner != this_thread_key()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "pyo3cpp_object_unlock: the object lock is not held by this thread");
        return -1;
    }
    if (--entry->depth > 0) return 0;
    entry->owner = 0;
    entry->taken.store(0, std::memory_order_release);
    if (--entry->users == 0)
        shard.remove(obj, entry);
    else
        entry->taken.notify_all();
#endif
    return 0;
}

}  // extern "C"
