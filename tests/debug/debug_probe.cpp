// debug_probe.cpp — a tiny embedded-Python program that commits one misuse per scenario, so
// check_debug_checks.py can show each debug check firing (the process aborts with the check's
// message) and, built a second time without the checks, that they are compiled out.
//
// The traversal scenarios come twice: a hand-written GC type that opens its own TraverseGuard,
// and a class bound with ClassDef<T>::gc(visit, clear) (class.hpp), whose tp_traverse opens the
// guard for the user's visit function (the class_* scenarios; they fail if that guard is gone).
//
// Built twice by tests/meson.build: with -DPYO3CPP_DEBUG_CHECKS=1 (overriding config.hpp for
// this translation unit only; the inline checks use ABI functions every library build exports)
// and with -DPYO3CPP_DEBUG_CHECKS=0. Usage: debug_probe SCENARIO; exit 0 = ran to completion.
#include <pyo3cpp/pyo3cpp.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

using namespace pyo3cpp;

// --- a bound class whose visit function misbehaves when asked ------------------------------
// A Holder holds one Python reference; hold(self) closes a cycle only the collector can free.
enum class ClassMisuse { none, clone_ref, bind, attach };
static ClassMisuse g_class_misuse = ClassMisuse::none;
static int g_holder_visits = 0;
static int g_holders_destroyed = 0;

struct Holder {
    Py<PyAny> held;
    Holder() = default;
    Holder(const Holder &) = delete;
    ~Holder() { ++g_holders_destroyed; }
};
PYO3CPP_CLASS(Holder);

static void holder_visit(const Holder &h, Visit &visit)
{
    ++g_holder_visits;
    switch (g_class_misuse) {
    case ClassMisuse::none:
        break;
    case ClassMisuse::clone_ref: {  // a new strong reference: an incref, forbidden here
        Py<PyAny> copy = h.held.clone_ref(Python::assume_attached());
        break;
    }
    case ClassMisuse::bind: {  // a Bound made from the member: an incref too
        Bound<PyAny> bound = h.held.bind(Python::assume_attached());
        break;
    }
    case ClassMisuse::attach: {  // forbidden here
        auto again = attach();
        break;
    }
    }
    visit(h.held);
}

static void holder_clear(Holder &h)
{
    Py<PyAny> gone = std::move(h.held);
}

PYO3CPP_MODULE(debug_probe_classes, m)
{
    m.add_class<Holder>("Holder")
        .def_init<>()
        .def("hold", [](Holder &h, Py<PyAny> o) { h.held = std::move(o); }, arg("o"))
        .gc(&holder_visit, &holder_clear);
}

namespace {

// A fresh heap object owned only by the caller (no free list: its memory is really freed, so
// PYTHONMALLOC=debug poisons it on release).
PyObject *fresh_object()
{
    return PyObject_CallNoArgs(reinterpret_cast<PyObject *>(&PyBaseObject_Type));
}

// --- a GC type whose tp_traverse misbehaves in the way the scenario names --------------------
enum class TraverseMisuse { none, refcount, attach, py_release };
TraverseMisuse g_misuse = TraverseMisuse::none;
PyObject *g_held = nullptr;  // what a Probe instance "holds" and visits
int g_traversals = 0;

int probe_traverse(PyObject *self, visitproc visit, void *arg)
{
    TraverseGuard guard;
    ++g_traversals;
    switch (g_misuse) {
    case TraverseMisuse::none:
        break;
    case TraverseMisuse::refcount: {
        auto py = Python::assume_attached();
        Bound<PyAny> copy = Bound<PyAny>::from_borrowed_ptr(py, self);  // incref: forbidden here
        break;
    }
    case TraverseMisuse::attach: {
        auto again = attach();  // forbidden here
        break;
    }
    case TraverseMisuse::py_release: {
        Py<PyAny> dropped = Py<PyAny>::from_owned_ptr_unchecked(g_held);  // released at scope end
        g_held = nullptr;
        break;
    }
    }
    Py_VISIT(g_held);
#if PY_VERSION_HEX >= 0x03090000
    Py_VISIT(Py_TYPE(self));  // heap types' instances visit their type
#endif
    return 0;
}

void probe_dealloc(PyObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    type->tp_free(self);
    Py_DECREF(type);
}

PyObject *make_probe_instance(Python py)
{
    static PyType_Slot slots[] = {
        {Py_tp_traverse, reinterpret_cast<void *>(probe_traverse)},
        {Py_tp_dealloc, reinterpret_cast<void *>(probe_dealloc)},
        {0, nullptr},
    };
    static PyType_Spec spec = {"debug_probe.Probe", sizeof(PyObject), 0,
                               Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC, slots};
    auto type = Bound<PyAny>::from_owned_ptr(py, PyType_FromSpec(&spec));
    return PyType_GenericAlloc(reinterpret_cast<PyTypeObject *>(type.as_ptr()), 0);
}

void collect_with_probe(TraverseMisuse misuse)
{
    auto guard = attach();
    auto py = guard.py();
    g_held = fresh_object();
    auto probe = Bound<PyAny>::from_owned_ptr(py, make_probe_instance(py));
    g_misuse = misuse;
    PyGC_Collect();
    g_misuse = TraverseMisuse::none;
    if (g_traversals == 0) std::fprintf(stderr, "debug_probe: tp_traverse never ran\n");
    Py_CLEAR(g_held);
}

// A Holder in a cycle, dropped, then gc.collect() from Python: the collector traverses it (the
// visit function misbehaves as `misuse` says) and, if nothing aborted, frees it.
void collect_bound_class(ClassMisuse misuse)
{
    auto guard = attach();
    g_class_misuse = misuse;
    const int rc = PyRun_SimpleString(
        "import gc, debug_probe_classes\n"
        "h = debug_probe_classes.Holder()\n"
        "h.hold(h)\n"
        "del h\n"
        "gc.collect()\n");
    g_class_misuse = ClassMisuse::none;
    if (rc != 0) std::fprintf(stderr, "debug_probe: the Python part of the scenario failed\n");
    std::printf("Holder visits: %d, Holders destroyed: %d\n", g_holder_visits, g_holders_destroyed);
}

// --- scenarios ---------------------------------------------------------------------------------

// Correct use of everything the checks watch: must run clean with the checks on.
void scenario_clean()
{
    {
        auto guard = attach();
        auto py = guard.py();
        auto obj = Bound<PyAny>::from_owned_ptr(py, fresh_object());
        Bound<PyAny> copy = obj;
        Py<PyAny> held = copy.unbind();
        Py<PyAny> moved = std::move(held);
        Py<PyAny> clone = moved.clone_ref(py);
        Bound<PyAny> back = std::move(clone).into_bound(py);
        std::move(moved).drop_ref(py);
        // A Py<T> released on a thread that never attached: queued, applied by the next attach.
        Py<PyAny> sent = back.unbind();
        detach(py, [&] { std::thread([p = std::move(sent)] {}).join(); });
    }
    collect_with_probe(TraverseMisuse::none);
#if PYO3CPP_DEBUG_CHECKS
    std::printf("live Py<T> after clean scenario: %ld\n", pyo3cpp_debug_live_py());
#endif
}

// Copies a Bound after detaching the thread.
void scenario_refcount_detached()
{
    auto guard = attach();
    auto py = guard.py();
    auto obj = Bound<PyAny>::from_owned_ptr(py, fresh_object());
    PyThreadState *saved = PyEval_SaveThread();  // now detached, still holding `obj`
    {
        Bound<PyAny> copy = obj;  // incref while detached
        (void)copy;
    }
    PyEval_RestoreThread(saved);
}

// Makes a Python token on a thread that is not attached.
void scenario_token_detached()
{
    auto py = Python::assume_attached();  // main thread is not attached here
    (void)py;
}

// Two Bound own the one reference the caller had: the second release is a double release.
void scenario_double_release_bound()
{
    auto guard = attach();
    auto py = guard.py();
    PyObject *o = fresh_object();
    {
        auto first = Bound<PyAny>::from_owned_ptr(py, o);
        auto second = Bound<PyAny>::from_owned_ptr(py, o);  // bug: steals a reference it lacks
    }
}

// The same with Py<T>.
void scenario_double_release_py()
{
    auto guard = attach();
    PyObject *o = fresh_object();
    {
        auto first = Py<PyAny>::from_owned_ptr_unchecked(o);
        auto second = Py<PyAny>::from_owned_ptr_unchecked(o);
    }
}

// A Py<T> that outlives the interpreter: reported (not aborted) at finalisation.
void scenario_live_py_at_exit()
{
    auto guard = attach();
    auto *leaked = new Py<PyAny>(Py<PyAny>::from_owned_ptr_unchecked(fresh_object()));
    (void)leaked;
}

}  // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: debug_probe SCENARIO\n");
        return 2;
    }
    const std::string scenario = argv[1];
    if (PyImport_AppendInittab("debug_probe_classes", &PyInit_debug_probe_classes) < 0) return 2;
    Py_InitializeEx(0);
    PyThreadState *main_state = PyEval_SaveThread();  // like the test suites: start detached
    if (scenario == "clean") scenario_clean();
    else if (scenario == "refcount_detached") scenario_refcount_detached();
    else if (scenario == "token_detached") scenario_token_detached();
    else if (scenario == "double_release_bound") scenario_double_release_bound();
    else if (scenario == "double_release_py") scenario_double_release_py();
    else if (scenario == "live_py_at_exit") scenario_live_py_at_exit();
    else if (scenario == "traverse_refcount") collect_with_probe(TraverseMisuse::refcount);
    else if (scenario == "traverse_attach") collect_with_probe(TraverseMisuse::attach);
    else if (scenario == "traverse_py_release") collect_with_probe(TraverseMisuse::py_release);
    else if (scenario == "class_clean") collect_bound_class(ClassMisuse::none);
    else if (scenario == "class_traverse_clone_ref") collect_bound_class(ClassMisuse::clone_ref);
    else if (scenario == "class_traverse_bind") collect_bound_class(ClassMisuse::bind);
    else if (scenario == "class_traverse_attach") collect_bound_class(ClassMisuse::attach);
    else {
        std::fprintf(stderr, "debug_probe: unknown scenario %s\n", scenario.c_str());
        return 2;
    }
    PyEval_RestoreThread(main_state);
    if (Py_FinalizeEx() != 0) return 1;
    std::printf("debug_probe: %s completed\n", scenario.c_str());
    return 0;
}
