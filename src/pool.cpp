// pool.cpp — the deferred-decref pool: where a reference released by a thread that is not
// attached waits until some thread attaches.
//
// Sixteen lock-free (Treiber) stacks, chosen by the object's address, each on its own cache line,
// plus one word with a bit per non-empty stack. Queueing is one CAS on one stack's head (and, when
// that stack was empty, one fetch_or), so threads dropping references concurrently neither
// serialise on a mutex nor all fight over one cache line. An attach that finds the bit word zero
// pays one relaxed load. Draining clears the bit word first and then takes each marked stack
// whole with one exchange; a push that lands on a stack after it was taken finds it empty and
// sets its bit again, so nothing queued before an attach began can be missed by it. ABA cannot
// occur: nodes are pushed one at a time and only ever removed all at once.
// Also the drop scopes (pyo3cpp_drop_scope_enter/exit): references given up inside one are
// released at its outermost exit, after the instance lock the class layer held around it.
#include <Python.h>  // first, as CPython requires: its pyconfig.h sets feature macros
                     // (3.15: _POSIX_C_SOURCE 202405L) that the C library headers read
#include <atomic>
#include <cstdlib>
#include <new>
#include <vector>

#include "runtime_state.h"

namespace pyo3cpp::detail {

struct PoolNode {
    PyObject *object;
    PoolNode *next;
    std::uint64_t generation;  // g_lifecycle when queued: applied only in that interpreter
};

// Read inline by attach (runtime_state.h): bit i set = stack i may hold nodes.
std::atomic<std::uint32_t> g_pool_nonempty{0};

namespace {

using Node = PoolNode;
constexpr unsigned kStacks = 16;

struct alignas(64) Stack {
    std::atomic<Node *> head{nullptr};
    std::atomic<long> pending{0};  // a diagnostic count, kept beside its head (same line)
};
Stack g_stacks[kStacks];

// Nodes are recycled through a small per-thread cache: a thread that drains the pool keeps up to
// kCachedNodes of them for its own next pushes, so the steady state (drop detached, attach,
// repeat) never reaches malloc. The cache is plain thread-local data (trivially destructible, so
// it stays readable while the thread exits); a separate thread-local object frees it at thread
// exit and marks it closed, after which the thread falls back to malloc/free.
constexpr int kCachedNodes = 64;
struct NodeCache {
    Node *head;
    int count;
    bool closed;
};
thread_local NodeCache t_node_cache = {nullptr, 0, false};

struct NodeCacheCloser {
    ~NodeCacheCloser()
    {
        NodeCache &cache = t_node_cache;
        cache.closed = true;
        while (Node *node = cache.head) {
            cache.head = node->next;
            std::free(node);
        }
        cache.count = 0;
    }
};

Node *allocate_node() noexcept
{
    NodeCache &cache = t_node_cache;
    if (Node *node = cache.head) {
        cache.head = node->next;
        --cache.count;
        return node;
    }
    return static_cast<Node *>(std::malloc(sizeof(Node)));
}

void recycle_node(Node *node) noexcept
{
    NodeCache &cache = t_node_cache;
    if (cache.closed || cache.count >= kCachedNodes) {
        std::free(node);
        return;
    }
    if (cache.count == 0) {
        static thread_local NodeCacheCloser closer;  // registers the thread-exit cleanup once
        (void)closer;
    }
    node->next = cache.head;
    cache.head = node;
    ++cache.count;
}

unsigned stack_for(PyObject *object) noexcept
{
    // A multiplicative hash of every address bit: free-threaded CPython's allocator gives each
    // thread its own segments, so objects made by different threads often share their low
    // address bits and differ only high up (a hash of bits 4-14 sent two threads' objects to
    // one stack: two threads dropping references detached ran at 0.24x one thread).
    auto bits = reinterpret_cast<std::uint64_t>(object);
    bits ^= bits >> 29;
    bits *= 0x9E3779B97F4A7C15ull;
    return static_cast<unsigned>(bits >> 60) % kStacks;
}

void push(PyObject *object) noexcept
{
    // After finalisation the object's interpreter is gone: leaking is the only safe choice. A
    // push that reads "alive" here and lands after the finalisation hook has emptied the pool
    // carries that interpreter's generation, so no later drain applies it (take_marked).
    const std::uint64_t generation = lifecycle_now();
    if ((generation & 1) != 0) return;
    Node *node = allocate_node();
    if (node == nullptr) return;  // out of memory while detached: leak rather than crash
    node->object = object;
    node->generation = generation;
    const unsigned index = stack_for(object);
    Stack &stack = g_stacks[index];
    stack.pending.fetch_add(1, std::memory_order_relaxed);
    node->next = stack.head.load(std::memory_order_relaxed);
    while (!stack.head.compare_exchange_weak(node->next, node, std::memory_order_release,
                                             std::memory_order_relaxed)) {
    }
    if (node->next == nullptr)  // the stack was empty: make the next attach look at it
        g_pool_nonempty.fetch_or(1u << index, std::memory_order_release);
}

// Applies (apply = true) or forgets every node of the marked stacks. Returns how many decrefs
// were applied (apply) or how many nodes were forgotten. Nodes of an earlier interpreter
// generation are forgotten either way.
long take_marked(bool apply)
{
    long done = 0;
    const std::uint64_t generation = lifecycle_now();
    std::uint32_t marked = g_pool_nonempty.exchange(0, std::memory_order_acquire);
    for (; marked != 0; marked &= marked - 1) {  // visit the set bits only
        Stack &stack = g_stacks[__builtin_ctz(marked)];
        long taken = 0;
        for (Node *node = stack.head.exchange(nullptr, std::memory_order_acquire); node;) {
            Node *next = node->next;
            if (apply && node->generation == generation) {
#if PYO3CPP_DEBUG_CHECKS
#if PY_VERSION_HEX >= 0x030E0000 && !defined(Py_GIL_DISABLED) && SIZEOF_VOID_P > 4
                // 3.14+: Py_REFCNT reads 32 bits; poisoned memory only shows in the whole word
                // (as in refcount.hpp's debug_looks_dead).
                if (node->object->ob_refcnt_full <= 0)
#else
                if (Py_REFCNT(node->object) <= 0)
#endif
                    debug_fail("double release: a queued reference's object is already dead",
                               "the deferred-decref pool");
#endif
                Py_DECREF(node->object);
                ++done;
            }
            if (apply)
                recycle_node(node);
            else
                std::free(node);  // at finalisation: give the memory back
            node = next;
            ++taken;
        }
        stack.pending.fetch_sub(taken, std::memory_order_relaxed);
        if (!apply) done += taken;
    }
    return done;
}

}  // namespace

long pool_drain_attached()
{
    // One pass: what was queued when the drain began (a __del__ that queues more, however
    // often, leaves it for the next drain instead of keeping this thread here forever).
    return take_marked(true);
}

void pool_fork_child() noexcept
{
    // A push interrupted between its CAS and its bit (by the fork: its thread is gone) left a
    // stack that no bit points to. Re-derive the bits and the counts from the stacks.
    std::uint32_t bits = 0;
    for (unsigned i = 0; i < kStacks; ++i) {
        long count = 0;
        for (Node *node = g_stacks[i].head.load(std::memory_order_relaxed); node; node = node->next)
            ++count;
        g_stacks[i].pending.store(count, std::memory_order_relaxed);
        if (count != 0) bits |= 1u << i;
    }
    g_pool_nonempty.store(bits, std::memory_order_relaxed);
}

void pool_forget_all() noexcept { (void)take_marked(false); }

}  // namespace pyo3cpp::detail

using namespace pyo3cpp::detail;

namespace {
// Drop scopes: the last references a thread gives up inside one wait for its outermost exit.
// The process-wide count keeps the common release path to one relaxed load.
std::atomic<long> g_open_drop_scopes{0};
struct DropScope {
    int depth = 0;
    std::vector<PyObject *> held;
};
thread_local DropScope t_drop_scope;

bool held_for_drop_scope(PyObject *obj) noexcept
{
    if (g_open_drop_scopes.load(std::memory_order_relaxed) == 0) return false;
    DropScope &scope = t_drop_scope;
    if (scope.depth == 0) return false;
    try {
        scope.held.push_back(obj);
    } catch (const std::bad_alloc &) {
        return false;  // released now rather than lost
    }
    return true;
}
}  // namespace

extern "C" {

PYO3CPP_API void pyo3cpp_drop_scope_enter(void) noexcept
{
    if (t_drop_scope.depth++ == 0) g_open_drop_scopes.fetch_add(1, std::memory_order_relaxed);
}

PYO3CPP_API void pyo3cpp_drop_scope_exit(void)
{
    DropScope &scope = t_drop_scope;
    if (scope.depth <= 0 || --scope.depth != 0) return;
    g_open_drop_scopes.fetch_sub(1, std::memory_order_relaxed);
    // Finalisers may open scopes of their own and hold more: take the list until it stays empty.
    while (!scope.held.empty()) {
        std::vector<PyObject *> now;
        now.swap(scope.held);
        const bool attached = !runtime_finalized() && thread_is_attached();
        for (PyObject *obj : now) {
            if (attached)
                Py_DECREF(obj);
            else
                push(obj);  // exited detached: the pool releases them at the next attach
        }
    }
}

PYO3CPP_API void pyo3cpp_release_ref(PyObject *obj)
{
    // Not noexcept: the decref may run a __del__ that CPython ends with a thread-exit unwind.
    if (obj == nullptr) return;
#if PYO3CPP_DEBUG_CHECKS
    if (debug_in_traverse())
        debug_fail("reference released during a GC traversal (tp_traverse)", "pyo3cpp_release_ref");
#endif
    if (!runtime_finalized() && thread_is_attached()) {
        if (held_for_drop_scope(obj)) [[unlikely]]
            return;
        Py_DECREF(obj);
    } else {
        push(obj);
    }
}

PYO3CPP_API void pyo3cpp_defer_decref(PyObject *obj) noexcept
{
    if (obj != nullptr) push(obj);
}

PYO3CPP_API long pyo3cpp_pool_drain(void)
{
    if (!thread_is_attached()) return -1;
    if (g_pool_nonempty.load(std::memory_order_relaxed) == 0) return 0;  // the one load
    return pool_drain_attached();
}

PYO3CPP_API long pyo3cpp_pool_pending(void) noexcept
{
    long pending = 0;
    for (const Stack &stack : g_stacks) pending += stack.pending.load(std::memory_order_relaxed);
    return pending;
}

}  // extern "C"
