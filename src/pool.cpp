// pool.cpp — the deferred-decref pool: where a reference released by a thread that is not
// attached waits until some thread attaches.
//
// A lock-free (Treiber) stack of heap nodes: queueing is one CAS on the head, so threads dropping
// references concurrently never serialise on a mutex; draining takes the whole stack with one
// exchange. An attach that finds the head empty pays one relaxed load. ABA cannot occur: nodes
// are only ever pushed one at a time and removed all at once.
#include <cstdlib>

#include "runtime_state.h"

namespace pyo3cpp::detail {

struct PoolNode {
    PyObject *object;
    PoolNode *next;
};

// Read inline by attach (runtime_state.h).
std::atomic<PoolNode *> g_pool_head{nullptr};

namespace {

using Node = PoolNode;
std::atomic<long> g_pending{0};

void push(PyObject *object) noexcept
{
    // After finalisation the object's interpreter is gone: leaking is the only safe choice.
    if (g_finalized.load(std::memory_order_relaxed)) return;
    auto *node = static_cast<Node *>(std::malloc(sizeof(Node)));
    if (node == nullptr) return;  // out of memory while detached: leak rather than crash
    node->object = object;
    node->next = g_pool_head.load(std::memory_order_relaxed);
    g_pending.fetch_add(1, std::memory_order_relaxed);
    while (!g_pool_head.compare_exchange_weak(node->next, node, std::memory_order_release,
                                              std::memory_order_relaxed)) {
    }
}

Node *take_all() noexcept
{
    if (g_pool_head.load(std::memory_order_relaxed) == nullptr) return nullptr;
    return g_pool_head.exchange(nullptr, std::memory_order_acquire);
}

}  // namespace

long pool_drain_attached() noexcept
{
    long applied = 0;
    // A decref may run __del__, which may release more references into the pool: loop.
    for (Node *node = take_all(); node != nullptr; node = take_all()) {
        while (node != nullptr) {
            Node *next = node->next;
#if PYO3CPP_DEBUG_CHECKS
            if (Py_REFCNT(node->object) <= 0)
                debug_fail("double release: a queued reference's object is already dead",
                           "the deferred-decref pool");
#endif
            Py_DECREF(node->object);
            std::free(node);
            node = next;
            ++applied;
        }
    }
    if (applied) g_pending.fetch_sub(applied, std::memory_order_relaxed);
    return applied;
}

void pool_forget_all() noexcept
{
    long forgotten = 0;
    for (Node *node = g_pool_head.exchange(nullptr, std::memory_order_acquire); node != nullptr;) {
        Node *next = node->next;
        std::free(node);
        node = next;
        ++forgotten;
    }
    if (forgotten) g_pending.fetch_sub(forgotten, std::memory_order_relaxed);
}

}  // namespace pyo3cpp::detail

using namespace pyo3cpp::detail;

extern "C" {

PYO3CPP_API void pyo3cpp_release_ref(PyObject *obj)
{
    if (obj == nullptr) return;
#if PYO3CPP_DEBUG_CHECKS
    if (debug_in_traverse())
        debug_fail("reference released during a GC traversal (tp_traverse)", "pyo3cpp_release_ref");
#endif
    if (!g_finalized.load(std::memory_order_relaxed) && thread_is_attached())
        Py_DECREF(obj);
    else
        push(obj);
}

PYO3CPP_API void pyo3cpp_defer_decref(PyObject *obj)
{
    if (obj != nullptr) push(obj);
}

PYO3CPP_API long pyo3cpp_pool_drain(void)
{
    if (!thread_is_attached()) return -1;
    return pool_drain_attached();
}

PYO3CPP_API long pyo3cpp_pool_pending(void) { return g_pending.load(std::memory_order_relaxed); }

}  // extern "C"
