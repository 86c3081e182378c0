// wait_graph.cpp — the process-wide wait-for graph (abi/pyo3cpp.h, "the wait-for graph"): every
// thread about to sleep on an instance lock, an object lock or a once-cell initialiser, and
// the search that refuses a wait which would close a cycle.
//
// Nodes are the registered waits (one per sleeping thread). A wait W is blocked by the waiting
// thread U when U holds what W waits for: for an instance lock, one of U's held-lock lists
// (lent by extension modules) holds it in a conflicting mode, or W reads and U is a writer
// queued for the same lock (writers first); for an object lock or a once-cell, the holder's
// thread-key word names U. The search runs from the new wait through the waits of holders that
// are themselves waiting; reaching one that waits for something the new waiter holds is a
// cycle. Everything is under one mutex, a leaf: nothing else is locked while it is held (the
// instance lock's module mutex may be held around it, always in that order, as at fork).
#include <Python.h>  // first, as CPython requires: its pyconfig.h sets feature macros

#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime_state.h"

using namespace pyo3cpp::detail;

namespace {

struct HeldList {
    const void *locks;
    pyo3cpp_wait_holds_fn holds;
};
// What one thread holds, as far as the graph can see: its instance-lock lists, one per module.
struct GraphThread {
    std::vector<HeldList> lists;
};

struct Graph {
    PlainMutex mutex;
    pyo3cpp_wait *waits = nullptr;
    std::uint64_t visit = 0;  // the search that last reached a wait (pyo3cpp_wait.visited)
    std::unordered_map<std::uint64_t, GraphThread *> threads;  // by thread key
};
Graph &graph() noexcept
{
    static Graph *instance = new Graph();  // never destroyed: threads outlive statics
    return *instance;
}

std::uint64_t owner_of(const pyo3cpp_wait &w) noexcept
{
    return w.owner != nullptr ? __atomic_load_n(static_cast<const std::uint64_t *>(w.owner), __ATOMIC_RELAXED) : 0;
}

// Whether the thread waiting in `holder` holds what `w` waits for.
bool holds(const pyo3cpp_wait &holder, const pyo3cpp_wait &w) noexcept
{
    if (w.kind != PYO3CPP_WAIT_INSTANCE) return owner_of(w) == holder.thread_key;
    const auto *thread = static_cast<const GraphThread *>(holder.thread);
    if (thread == nullptr) return false;
    for (const HeldList &list : thread->lists)
        if (list.holds(list.locks, w.resource, w.exclusive) != 0) return true;
    return false;
}
// `reader` waits to read the instance lock `writer` waits to write: it queues behind it.
bool queued_behind(const pyo3cpp_wait &writer, const pyo3cpp_wait &reader) noexcept
{
    return writer.kind == PYO3CPP_WAIT_INSTANCE && reader.kind == PYO3CPP_WAIT_INSTANCE && writer.exclusive &&
           !reader.exclusive && writer.resource == reader.resource;
}

// The registered wait, if any, whose chain of holders leads back to `self` (under the mutex).
const pyo3cpp_wait *find_cycle(Graph &g, const pyo3cpp_wait &self)
{
    // A cycle ends at a wait that `self` blocks directly. None (the common case: the waiter
    // holds nothing anyone sleeps for) means no cycle, found in one linear pass.
    bool blocks_someone = false;
    for (const pyo3cpp_wait *u = g.waits; u != nullptr && !blocks_someone; u = u->next)
        blocks_someone = holds(self, *u) || queued_behind(self, *u);
    if (!blocks_someone) return nullptr;
    const std::uint64_t visit = ++g.visit;
    std::vector<const pyo3cpp_wait *> pending{&self};
    while (!pending.empty()) {
        const pyo3cpp_wait *w = pending.back();
        pending.pop_back();
        if (w != &self && (holds(self, *w) || queued_behind(self, *w))) return w;
        for (pyo3cpp_wait *u = g.waits; u != nullptr; u = u->next) {
            if (u->visited == visit) continue;
            if (!holds(*u, *w) && !queued_behind(*u, *w)) continue;
            u->visited = visit;
            pending.push_back(u);
        }
    }
    return nullptr;
}

void unlink(Graph &g, pyo3cpp_wait *w) noexcept
{
    if (w->linked == 0) return;
    for (pyo3cpp_wait **p = &g.waits; *p != nullptr; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    w->linked = 0;
    w->next = nullptr;
}

std::string describe_instance_call(const char *cls, const char *method)
{
    if (cls == nullptr) cls = "<class>";
    return method != nullptr ? std::string(cls) + "." + method + "()" : std::string("a ") + cls + " argument";
}
std::string object_type_name(const pyo3cpp_wait &w)
{
    // The waiter passed the object in and holds a reference for as long as it waits.
    return Py_TYPE(static_cast<PyObject *>(const_cast<void *>(w.resource)))->tp_name;
}
// "<what this thread was doing>: waiting for <it>" (the error's subject).
std::string describe_own_wait(const pyo3cpp_wait &w)
{
    switch (w.kind) {
    case PYO3CPP_WAIT_INSTANCE: return describe_instance_call(w.name, w.method) + ": waiting for the instance";
    case PYO3CPP_WAIT_OBJECT: return "waiting for the object lock of a " + object_type_name(w) + " object";
    default: return std::string("waiting for once-cell '") + (w.name ? w.name : "<unnamed>") + "'";
    }
}
// What the other side of the cycle waits for, which this thread holds.
std::string describe_other_wait(const pyo3cpp_wait &w)
{
    switch (w.kind) {
    case PYO3CPP_WAIT_INSTANCE:
        return "in " + describe_instance_call(w.name, w.method) + " for an instance this thread holds";
    case PYO3CPP_WAIT_OBJECT:
        return "for the object lock of a " + object_type_name(w) + " object, which this thread holds";
    default:
        return std::string("for once-cell '") + (w.name ? w.name : "<unnamed>") +
               "', whose initialiser this thread is running";
    }
}

}  // namespace

namespace pyo3cpp::detail {

void wait_graph_fork_prepare() noexcept { graph().mutex.lock(); }
void wait_graph_fork_parent() noexcept { graph().mutex.unlock(); }
void wait_graph_fork_child() noexcept
{
    // Every registered wait belongs to a thread the child does not have (the forking thread is
    // in fork(), not waiting), and so do all held-lock lists but the forking thread's.
    Graph &g = graph();
    g.waits = nullptr;
    const std::uint64_t me = this_thread_key();
    for (auto it = g.threads.begin(); it != g.threads.end();) {
        if (it->first == me) {
            ++it;
            continue;
        }
        delete it->second;
        it = g.threads.erase(it);
    }
    g.mutex.unlock();
}

}  // namespace pyo3cpp::detail

extern "C" {

PYO3CPP_API int pyo3cpp_wait_graph_add_thread(const void *locks, pyo3cpp_wait_holds_fn holds) noexcept
{
    if (locks == nullptr || holds == nullptr) return -1;
    Graph &g = graph();
    PlainLock hold(g.mutex);
    try {
        GraphThread *&thread = g.threads[this_thread_key()];
        if (thread == nullptr) thread = new GraphThread();
        thread->lists.push_back({locks, holds});
    } catch (const std::bad_alloc &) {
        return -1;
    }
    return 0;
}

PYO3CPP_API void pyo3cpp_wait_graph_remove_thread(const void *locks) noexcept
{
    Graph &g = graph();
    PlainLock hold(g.mutex);
    auto it = g.threads.find(this_thread_key());
    if (it == g.threads.end()) return;
    std::erase_if(it->second->lists, [&](const HeldList &list) { return list.locks == locks; });
    if (it->second->lists.empty()) {
        delete it->second;
        g.threads.erase(it);
    }
}

PYO3CPP_API int pyo3cpp_wait_begin(pyo3cpp_wait *w)
{
    if (!thread_is_attached()) return -1;
    if (w == nullptr || w->linked != 0) {
        PyErr_SetString(PyExc_ValueError, w == nullptr ? "pyo3cpp_wait_begin: NULL wait"
                                                       : "pyo3cpp_wait_begin: the wait is already registered");
        return -1;
    }
    Graph &g = graph();
    std::string message;
    try {
        PlainLock hold(g.mutex);
        w->thread_key = this_thread_key();
        auto it = g.threads.find(w->thread_key);
        w->thread = it != g.threads.end() ? it->second : nullptr;
        w->acquired = 0;
        w->visited = 0;
        if (const pyo3cpp_wait *other = find_cycle(g, *w)) {
            message = describe_own_wait(*w) +
                      " would deadlock: the thread that holds it is, directly or through other threads, "
                      "waiting " +
                      describe_other_wait(*other) +
                      (w->kind == PYO3CPP_WAIT_INSTANCE && other->kind == PYO3CPP_WAIT_INSTANCE
                           ? " (the two calls nest their locks in opposite orders)"
                           : " (the two take their locks in opposite orders)");
        } else {
            w->next = g.waits;
            g.waits = w;
            w->linked = 1;
            return 0;
        }
    } catch (const std::bad_alloc &) {
        PyErr_NoMemory();
        return -1;
    }
    // Raised outside the mutex: making the exception may run Python code (GC) that waits.
    PyErr_SetString(PyExc_RuntimeError, message.c_str());
    return -1;
}

PYO3CPP_API int pyo3cpp_wait_take(pyo3cpp_wait *w, int (*take)(void *ctx), void *ctx) noexcept
{
    if (w == nullptr || take == nullptr) return 0;
    Graph &g = graph();
    PlainLock hold(g.mutex);
    const int taken = take(ctx);
    if (taken != 0) {
        w->acquired = 1;
        unlink(g, w);
    }
    return taken;
}

PYO3CPP_API void pyo3cpp_wait_end(pyo3cpp_wait *w) noexcept
{
    if (w == nullptr || w->linked == 0) return;  // only this thread links or unlinks its wait
    Graph &g = graph();
    PlainLock hold(g.mutex);
    unlink(g, w);
}

}  // extern "C"
