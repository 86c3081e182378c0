// gate_nested_attach.cpp — the attach gate is armed by the runtime's first use of any kind.
// An embedding program whose only use of pyo3cpp before finalisation is a nested attach (the
// main thread is attached by Py_Initialize) must still close the gate at its atexit stage: a
// fresh thread's try_attach() started from an atexit hook that runs after the library's own
// callback gets an empty guard (before the fix, the nested attach registered nothing and the
// thread attached in the middle of finalisation).
#include <pyo3cpp/pyo3cpp.hpp>

#include "tap.hpp"

using lifecycle_test::ok;

namespace {

std::atomic<int> g_thread_attached{-1};

PyObject *atexit_hook(PyObject *, PyObject *)
{
    Py_BEGIN_ALLOW_THREADS
    std::thread([] {
        auto guard = pyo3cpp::try_attach();
        g_thread_attached = guard ? 1 : 0;
    }).join();
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}
PyMethodDef g_hook_def = {"gate_nested_atexit_hook", atexit_hook, METH_NOARGS, nullptr};

}  // namespace

int main()
{
    lifecycle_test::start_watchdog(60);
    Py_InitializeEx(0);
    // Registered before the runtime's first use: atexit runs it after the library's callback.
    PyObject *atexit = PyImport_ImportModule("atexit");
    PyObject *hook = PyCFunction_New(&g_hook_def, nullptr);
    PyObject *registered = PyObject_CallMethod(atexit, "register", "O", hook);
    ok(registered != nullptr, "atexit hook registered");
    Py_XDECREF(registered);
    Py_XDECREF(hook);
    Py_XDECREF(atexit);
    {
        auto guard = pyo3cpp::attach();  // nested: this thread is attached already
        ok(!guard.attached_here(), "the only use of the runtime is a nested attach");
    }
    Py_FinalizeEx();
    ok(g_thread_attached == 0, "try_attach from a thread started at the atexit stage is empty");
    return lifecycle_test::finish();
}
