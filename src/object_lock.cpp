// object_lock.cpp — exclusive per-object locks that, unlike critical sections, survive detaching
// (see abi/pyo3cpp.h, "object locks", for why CPython 3.13 needs them).
//
// Entries live in a sharded hash table keyed by object address and exist only while some thread
// holds or waits for the lock, so the table stays as small as the number of contended objects.
// A shard's mutex is held only for table bookkeeping (never while waiting for an object),
// so taking it while attached cannot stall the interpreter; waiting for the object itself
// detaches.
#include <Python.h>  // first, as CPython requires: its pyconfig.h sets feature macros
                     // (3.15: _POSIX_C_SOURCE 202405L) that the C library headers read
#include <array>
#include <new>
#include <type_traits>
#include <unordered_map>

#include "runtime_state.h"

using namespace pyo3cpp::detail;

namespace {

#ifdef Py_GIL_DISABLED  // GIL builds lock nothing: the GIL excludes
// The lock proper is a PyMutex (free-threaded builds are 3.13+): uncontended, one CAS each way;
// contended, CPython's parking lot, which spins briefly, then parks the waiter detached, and
// tracks its queue exactly, so an unlock wakes one waiter only when one is parked (and hands the
// lock over directly once a waiter has waited a millisecond). Before, each entry had a futex
// word on which every waiter slept at once and every unlock woke all of them: with 8 threads on
// 2 cores each increment of a shared dict counter paid a storm of context switches, about
// 30 us, against 0.1 us under one pyo3cpp::Mutex. (A three-state futex word that woke one
// sleeper per unlock did better but fell into a lock convoy in about one run in three.)
struct Entry {
    // this_thread_key() of the holder. Written by the holder (the shard mutex is not needed for
    // that); other threads only compare it with their own key, so a stale value never matches.
    std::atomic<std::uint64_t> owner{0};
    long depth = 0;  // recursion depth; read and written by the holder only
    // Holders + waiters. Raised under the shard guard only; lowered by a leaving holder or waiter
    // after its last touch of `taken`. An inline entry at zero stays keyed to its object (a
    // later lock of the same object reuses it) until the guard's holder gives the slot to
    // another object; an overflow entry at zero is freed (under the guard).
    std::atomic<long> users{0};
    PyMutex taken{};  // the lock
};
static_assert(sizeof(PyMutex) == 1, "PyMutex is one byte");

inline std::atomic_ref<std::uint8_t> taken_bits(Entry *entry) noexcept
{
    return std::atomic_ref<std::uint8_t>(*reinterpret_cast<std::uint8_t *>(&entry->taken));
}
inline bool is_taken(Entry *entry) noexcept
{
    return (taken_bits(entry).load(std::memory_order_relaxed) & 1) != 0;  // _Py_LOCKED
}

// The shard guard's spinning before its waiter sleeps (it is held for a few instructions).
constexpr int kSpins = 200;

inline void cpu_relax() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
}

inline void release_taken(Entry *entry) noexcept { PyMutex_Unlock(&entry->taken); }

// PyMutex's own uncontended take (free to locked, nobody parked), so that only a thread that
// would wait pays for the wait-for graph.
inline bool try_take(Entry *entry) noexcept
{
    std::uint8_t expected = 0;
    return taken_bits(entry).compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                                     std::memory_order_relaxed);
}

// The contended take: registered in the wait-for graph (wait_graph.cpp) while it waits, unless
// waiting would close a cycle (then false, with RuntimeError). The holder's key is the graph's
// way to find who holds the object.
[[gnu::noinline]] bool wait_for(PyObject *obj, Entry *entry)
{
    static_assert(sizeof(entry->owner) == sizeof(std::uint64_t) &&
                  std::atomic<std::uint64_t>::is_always_lock_free);
    pyo3cpp_wait wait{};
    wait.kind = PYO3CPP_WAIT_OBJECT;
    wait.resource = obj;
    wait.owner = &entry->owner;
    if (pyo3cpp_wait_begin(&wait) != 0) return false;
    struct End {  // also when CPython ends this thread as PyMutex_Lock re-attaches it
        pyo3cpp_wait *wait;
        ~End() { pyo3cpp_wait_end(wait); }
    } end{&wait};
    PyMutex_Lock(&entry->taken);
    return true;
}

// The shard's guard: held only for a few loads and stores of table bookkeeping (never while
// waiting for an object, never around Python code), so it is an inline futex lock that spins
// first: 0 free, 1 held, 2 held with sleepers. (A pthread mutex cost 55 instructions per
// lock/unlock pair, twice per exclusive section: a quarter of a heappush in the heapq port.)
class ShardGuard {
public:
    void lock() noexcept
    {
        std::uint32_t expected = 0;
        if (__builtin_expect(word_.compare_exchange_strong(expected, 1, std::memory_order_acquire), 1))
            return;
        lock_slow();
    }
    void unlock() noexcept
    {
        if (__builtin_expect(word_.exchange(0, std::memory_order_release) == 2, 0))
            word_.notify_one();
    }
    void reset_in_child() noexcept { word_.store(0, std::memory_order_relaxed); }

private:
    [[gnu::noinline]] void lock_slow() noexcept
    {
        for (int i = 0; i < kSpins; ++i) {
            cpu_relax();
            std::uint32_t expected = 0;
            if (word_.load(std::memory_order_relaxed) == 0 &&
                word_.compare_exchange_weak(expected, 1, std::memory_order_acquire))
                return;
        }
        while (word_.exchange(2, std::memory_order_acquire) != 0) word_.wait(2, std::memory_order_relaxed);
    }
    std::atomic<std::uint32_t> word_{0};
};
class ShardLock {
public:
    explicit ShardLock(ShardGuard &guard) noexcept : guard_(guard) { guard_.lock(); }
    ~ShardLock() { guard_.unlock(); }
    ShardLock(const ShardLock &) = delete;
    ShardLock &operator=(const ShardLock &) = delete;

private:
    ShardGuard &guard_;
};

// Most of the time a shard has at most a few objects locked at once: their entries live in the
// shard itself (no allocation); more spill into a map, made on first need and never freed (the
// table is used until the process ends). Inline keys are written under the guard and read
// without it by unlock, which looks only for an entry it holds (pinned: its key cannot change).
constexpr int kInlineEntries = 4;
using OverflowMap = std::unordered_map<PyObject *, Entry *>;

struct alignas(64) Shard {
    ShardGuard guard;
    std::atomic<PyObject *> inline_keys[kInlineEntries] = {};
    Entry inline_entries[kInlineEntries];
    OverflowMap *overflow = nullptr;  // guarded

    bool is_inline(const Entry *entry) const noexcept
    {
        return entry >= &inline_entries[0] && entry < &inline_entries[kInlineEntries];
    }
    // Without the guard: the inline entry of `obj`, valid while this thread holds its lock.
    Entry *find_inline(PyObject *obj) noexcept
    {
        for (int i = 0; i < kInlineEntries; ++i)
            if (inline_keys[i].load(std::memory_order_relaxed) == obj) return &inline_entries[i];
        return nullptr;
    }
    // Guarded.
    Entry *find(PyObject *obj)
    {
        if (Entry *entry = find_inline(obj)) return entry;
        if (__builtin_expect(overflow == nullptr || overflow->empty(), 1)) return nullptr;
        auto it = overflow->find(obj);
        return it == overflow->end() ? nullptr : it->second;
    }
    // Guarded. May throw std::bad_alloc.
    Entry *find_or_add(PyObject *obj)
    {
        int free_slot = -1;
        for (int i = 0; i < kInlineEntries; ++i) {
            PyObject *key = inline_keys[i].load(std::memory_order_relaxed);
            if (key == obj) return &inline_entries[i];
            if (free_slot < 0 &&
                (key == nullptr || inline_entries[i].users.load(std::memory_order_acquire) == 0))
                free_slot = i;  // empty, or another object's entry that nobody uses any more
        }
        if (__builtin_expect(overflow != nullptr && !overflow->empty(), 0)) {
            auto it = overflow->find(obj);
            if (it != overflow->end()) return it->second;
        }
        if (free_slot >= 0) {
            // An unused entry is back to its initial state (owner 0, depth 0, taken free).
            inline_keys[free_slot].store(obj, std::memory_order_relaxed);
            return &inline_entries[free_slot];
        }
        if (overflow == nullptr) overflow = new OverflowMap();
        auto *entry = new Entry();
        try {
            overflow->emplace(obj, entry);
        } catch (...) {
            delete entry;
            throw;
        }
        return entry;
    }
    // A holder or waiter leaves the entry (after its last touch of `taken`).
    void drop_user(PyObject *obj, Entry *entry) noexcept
    {
        if (is_inline(entry)) {
            entry->users.fetch_sub(1, std::memory_order_release);
            return;
        }
        ShardLock lock(guard);
        if (entry->users.fetch_sub(1, std::memory_order_relaxed) == 1) {
            overflow->erase(obj);
            delete entry;
        }
    }
};

constexpr std::size_t kShards = 64;
// Constant-initialised and trivially destructible: usable at any time, also during exit.
constinit Shard g_shards[kShards];
static_assert(std::is_trivially_destructible_v<Shard>);

Shard (&shards())[kShards] { return g_shards; }

void reset_shard_in_child(Shard &shard, std::uint64_t me)
{
    // Threads other than the forking one do not exist in the child: locks they held or waited
    // for are released; a lock the forking thread holds stays held, with it as the only user.
    for (int i = 0; i < kInlineEntries; ++i) {
        if (shard.inline_keys[i].load(std::memory_order_relaxed) == nullptr) continue;
        Entry &entry = shard.inline_entries[i];
        if (entry.owner.load(std::memory_order_relaxed) == me && is_taken(&entry)) {
            entry.users.store(1, std::memory_order_relaxed);
            taken_bits(&entry).store(1, std::memory_order_relaxed);  // locked, nobody parked
        } else {
            shard.inline_keys[i].store(nullptr, std::memory_order_relaxed);
            entry.owner.store(0, std::memory_order_relaxed);
            entry.depth = 0;
            entry.users.store(0, std::memory_order_relaxed);
            taken_bits(&entry).store(0, std::memory_order_relaxed);
        }
    }
    if (shard.overflow == nullptr) return;
    for (auto it = shard.overflow->begin(); it != shard.overflow->end();) {
        Entry *entry = it->second;
        if (entry->owner.load(std::memory_order_relaxed) == me && is_taken(entry)) {
            entry->users.store(1, std::memory_order_relaxed);
            taken_bits(entry).store(1, std::memory_order_relaxed);
            ++it;
        } else {
            delete entry;
            it = shard.overflow->erase(it);
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
        shard.guard.reset_in_child();
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
        ShardLock lock(shard.guard);
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
        entry->users.fetch_add(1, std::memory_order_relaxed);  // pins it while held or awaited
    }
    // Uncontended: one CAS. Otherwise CPython spins, then parks this thread detached, so that the
    // holder (which may need the GIL, or a stop-the-world pause that waits for every attached
    // thread) can finish, and re-attaches it when the lock is ours. The re-attach never drains
    // the deferred-decref pool (a __del__ could want this very lock: runtime_state.h). As with
    // pyo3cpp_mutex, a thread that CPython ends while it re-attaches (finalisation) leaves the
    // lock held; only threads that wait for the same object during finalisation can notice.
    if (!try_take(entry) && !wait_for(obj, entry)) {
        shard.drop_user(obj, entry);  // refused: a wait cycle (RuntimeError)
        return -1;
    }
    entry->owner.store(me, std::memory_order_relaxed);
    entry->depth = 1;
#endif
    return 0;
}

PYO3CPP_API int pyo3cpp_object_unlock(PyObject *obj) noexcept
{
#ifdef Py_GIL_DISABLED
    // The holder's path needs neither attachment nor the shard guard: the entry is pinned by
    // this thread's use, so its inline key cannot change under the lock-free lookup.
    if (obj != nullptr) {
        Shard &shard = shard_for(obj);
        Entry *entry = shard.find_inline(obj);
        if (entry == nullptr) {
            ShardLock lock(shard.guard);
            entry = shard.find(obj);
        }
        if (entry != nullptr && entry->owner.load(std::memory_order_relaxed) == this_thread_key()) {
            if (--entry->depth > 0) return 0;
            entry->owner.store(0, std::memory_order_relaxed);
            release_taken(entry);
            shard.drop_user(obj, entry);
            return 0;
        }
    }
#endif
    if (!check_args(obj, "pyo3cpp_object_unlock")) return -1;
#ifdef Py_GIL_DISABLED
    PyErr_SetString(PyExc_RuntimeError,
                    "pyo3cpp_object_unlock: the object lock is not held by this thread");
    return -1;
#else
    return 0;
#endif
}

}  // extern "C"
