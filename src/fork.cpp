// fork.cpp — keeping the runtime usable in the child of a fork().
//
// Only the forking thread continues in the child. Whatever another thread held at that moment —
// the attach gate's in-flight count, a push half-way into the deferred-decref pool, an object
// lock, a running once-cell initialiser, a registered wait, a library mutex — would stay held for ever and hang the
// child. pthread_atfork handlers, installed when the library is loaded, fix that:
//   prepare  take every library mutex (in one fixed order), and on CPython < 3.13 let thread
//            states under construction be finished (attach.cpp)
//   parent   release them
//   child    release them and reset what belonged to threads that do not exist in the child
// The handlers run for os.fork() (CPython calls fork() between PyOS_BeforeFork and
// PyOS_AfterFork_*) and for fork() called from C or C++ (which, if the child uses Python, must
// itself call PyOS_BeforeFork / PyOS_AfterFork_Child, as CPython documents). A pyo3cpp_mutex
// (PyMutex) held by another thread at the fork stays held in the child, like any POSIX mutex.
#include <Python.h>  // first, as CPython requires: its pyconfig.h sets feature macros
                     // (3.15: _POSIX_C_SOURCE 202405L) that the C library headers read
#include <pthread.h>

#include "runtime_state.h"

using namespace pyo3cpp::detail;

namespace {

void prepare()
{
    attach_fork_prepare();
    once_fork_prepare();
    object_locks_fork_prepare();
    registry_fork_prepare();
    wait_graph_fork_prepare();
    holders_fork_prepare();
}

void parent()
{
    holders_fork_parent();
    wait_graph_fork_parent();
    registry_fork_parent();
    object_locks_fork_parent();
    once_fork_parent();
    attach_fork_parent();
}

void child()
{
    holders_fork_child();
    wait_graph_fork_child();
    registry_fork_child();
    object_locks_fork_child();
    once_fork_child();
    pool_fork_child();
    attach_fork_child();
}

std::atomic<bool> g_installed{false};

}  // namespace

namespace pyo3cpp::detail {

void install_fork_handlers() noexcept
{
    bool expected = false;
    if (g_installed.compare_exchange_strong(expected, true)) (void)pthread_atfork(prepare, parent, child);
}

}  // namespace pyo3cpp::detail

// At load time: a fork can happen before any other use of the library.
[[gnu::constructor]] static void pyo3cpp_install_fork_handlers_at_load() { install_fork_handlers(); }
