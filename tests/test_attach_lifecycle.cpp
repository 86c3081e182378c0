// test_attach_lifecycle.cpp — attach/try_attach across the interpreter's life cycle, in a
// program that owns it (its own main, TAP output): before Py_Initialize, during Py_FinalizeEx
// (a C++ thread hammering try_attach the whole time, and a Python atexit hook asking a fresh
// thread to try), after it, and again after a re-initialisation. Nothing may hang or abort:
// every wait is bounded and the whole program runs under a watchdog. Also PyErr::what() asked
// for the first time after finalisation: no call into the dead interpreter, a fallback text.
#include <pyo3cpp/pyo3cpp.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <thread>

namespace {

int g_count = 0, g_failed = 0;

void ok(bool condition, const char *name)
{
    ++g_count;
    if (!condition) ++g_failed;
    std::printf("%s %d - %s\n", condition ? "ok" : "not ok", g_count, name);
    std::fflush(stdout);
}

// Results of the atexit hook (it runs inside Py_FinalizeEx, on the main thread).
std::atomic<int> g_hook_ran{0}, g_hook_self_attached{-1}, g_hook_thread_attached{-1};

// Registered before any pyo3cpp attach, so it runs after the library's own atexit callback
// (atexit runs callbacks in reverse order of registration): the attach gate is closed by now.
PyObject *atexit_hook(PyObject *, PyObject *)
{
    g_hook_ran = 1;
    {
        // This thread is the one finalising: it is attached, so try_attach reports that.
        auto guard = pyo3cpp::try_attach();
        g_hook_self_attached = guard ? 1 : 0;
    }
    Py_BEGIN_ALLOW_THREADS
    std::thread([] {
        auto guard = pyo3cpp::try_attach();  // a fresh thread during finalisation: empty
        g_hook_thread_attached = guard ? 1 : 0;
    }).join();
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}
PyMethodDef g_hook_def = {"lifecycle_atexit_hook", atexit_hook, METH_NOARGS, nullptr};

bool register_atexit_hook()
{
    PyObject *atexit = PyImport_ImportModule("atexit");
    PyObject *hook = PyCFunction_New(&g_hook_def, nullptr);
    PyObject *result = (atexit && hook) ? PyObject_CallMethod(atexit, "register", "O", hook) : nullptr;
    Py_XDECREF(result);
    Py_XDECREF(hook);
    Py_XDECREF(atexit);
    if (!result) PyErr_Print();
    return result != nullptr;
}

void check_not_running(const char *when)
{
    char name[160];
    std::snprintf(name, sizeof name, "%s: is_attached() is false", when);
    ok(!pyo3cpp::Python::is_attached() && pyo3cpp_is_attached() == 0, name);
    {
        auto guard = pyo3cpp::try_attach();
        std::snprintf(name, sizeof name, "%s: try_attach() is empty", when);
        ok(!guard && !guard.has_value(), name);
    }
    bool threw = false;
    try {
        auto guard = pyo3cpp::attach();
    } catch (const std::runtime_error &) {
        threw = true;
    }
    std::snprintf(name, sizeof name, "%s: attach() throws std::runtime_error", when);
    ok(threw, name);
    pyo3cpp_attach_state state;
    std::snprintf(name, sizeof name, "%s: pyo3cpp_try_attach returns -1", when);
    ok(pyo3cpp_try_attach(&state) == -1 && state.kind == 0, name);
    pyo3cpp_release_attach(&state);  // no-op on a failed attach
    // Another thread gets the same answer (and no thread state).
    bool other_empty = false;
    std::thread([&] { other_empty = !pyo3cpp::try_attach(); }).join();
    std::snprintf(name, sizeof name, "%s: try_attach() on another thread is empty", when);
    ok(other_empty, name);
}

// One interpreter lifetime: foreign threads attach; a hammer thread keeps calling try_attach
// until it is refused while Py_FinalizeEx runs.
void lifetime(int round, bool with_hook)
{
    Py_InitializeEx(0);
    if (with_hook) ok(register_atexit_hook(), "atexit hook registered before any attach");
    PyThreadState *main_state = PyEval_SaveThread();

    bool foreign_ok = false;
    std::thread([&] {
        auto guard = pyo3cpp::attach();
        foreign_ok = guard.attached_here() && PyRun_SimpleString("z = sum(range(10))") == 0;
    }).join();
    ok(foreign_ok, round == 0 ? "a foreign thread attaches" : "a foreign thread attaches after re-initialisation");

    std::atomic<long> successes{0}, refusals{0};
    std::thread hammer([&] {
        for (;;) {  // until refused: during Py_FinalizeEx, or at the latest after it
            auto guard = pyo3cpp::try_attach();
            if (!guard) {
                ++refusals;
                break;
            }
            ++successes;
            PyObject *n = PyLong_FromLong(successes.load());  // use it while attached
            Py_XDECREF(n);
        }
    });
    // Let it attach a few times while everything is running.
    while (successes.load() < 20) std::this_thread::sleep_for(std::chrono::milliseconds(1));

    PyEval_RestoreThread(main_state);
    // Fetched now, described only after Py_FinalizeEx (what() is lazy): a built-in exception
    // type and a class defined in Python (a heap type, freed with the interpreter).
    std::optional<pyo3cpp::PyErr> builtin_error, python_error;
    {
        auto py = pyo3cpp::Python::assume_attached();
        PyErr_SetString(PyExc_KeyError, "k");
        builtin_error.emplace(pyo3cpp::PyErr::fetch(py));
        PyRun_SimpleString("class LifecycleError(Exception):\n    pass\n");
        PyObject *main_dict = PyModule_GetDict(PyImport_AddModule("__main__"));
        PyObject *type = PyDict_GetItemString(main_dict, "LifecycleError");
        if (type != nullptr) PyErr_SetString(type, "never shown");
        python_error.emplace(pyo3cpp::PyErr::fetch(py));
    }
    const int rc = Py_FinalizeEx();
    ok(rc == 0, "Py_FinalizeEx returns 0 while a thread hammers try_attach");
    hammer.join();  // the watchdog fails the program if this hangs
    ok(successes.load() >= 20, "try_attach succeeded while the interpreter ran");
    ok(refusals.load() == 1, "try_attach was refused during/after finalisation (no hang, no abort)");
    if (with_hook) {
        ok(g_hook_ran.load() == 1, "the atexit hook ran");
        ok(g_hook_self_attached.load() == 1, "in the atexit hook, the finalising thread is attached");
        ok(g_hook_thread_attached.load() == 0,
           "in the atexit hook, try_attach on a fresh thread is empty");
    }
    ok(std::strcmp(builtin_error->what(), "KeyError") == 0,
       "PyErr::what() after finalisation: the built-in type's name");
    ok(std::strstr(python_error->what(), "Python exception") != nullptr,
       "PyErr::what() after finalisation: a fixed text for a class defined in Python");
    check_not_running(round == 0 ? "after finalisation" : "after the second finalisation");
}

}  // namespace

int main()
{
    std::atomic<bool> done{false};
    std::thread watchdog([&] {
        for (int i = 0; i < 6000 && !done.load(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (!done.load()) {
            std::fprintf(stderr, "WATCHDOG: attach life-cycle test did not finish in 60 s\n");
            std::_Exit(3);
        }
    });

    check_not_running("before Py_Initialize");
    lifetime(0, true);
    lifetime(1, false);  // re-initialised: the gate re-opened

    done = true;
    watchdog.join();
    std::printf("1..%d\n", g_count);
    return g_failed ? 1 : 0;
}
