// bench_runtime.cpp — the runtime's hot paths beside hand-written C API code and pybind11:
// attach (nested and not, pool empty and pending), Py<T> drop (attached, known-attached,
// detached), critical sections, the mutex, once-cell get, intern, import_cached; and the
// free-threaded scaling benchmarks (BM_scale_*, 1 and 2 threads).
//
// Every capi form is what a careful author writes for the same guarantee: "release a reference
// from an unknown context" checks PyGILState_Check and queues otherwise (HandDeferredStack), a
// cache read on a free-threaded build is an acquire load, and so on.
#include "bench_support.hpp"

#include <atomic>
#include <utility>

#if __has_include("pyo3cpp/once_lock.hpp")
#include "pyo3cpp/once_lock.hpp"
#define PYO3CPP_BENCH_HAVE_ONCE_LOCK 1
#endif
#if __has_include("pyo3cpp/once_cell.hpp")
#include "pyo3cpp/once_cell.hpp"
#define PYO3CPP_BENCH_HAVE_ONCE_CELL 1
#endif
#if __has_include("pyo3cpp/import.hpp")
#include "pyo3cpp/import.hpp"
#define PYO3CPP_BENCH_HAVE_IMPORT 1
#endif
#if __has_include("pyo3cpp/mutex.hpp")
#include "pyo3cpp/mutex.hpp"
#define PYO3CPP_BENCH_HAVE_MUTEX 1
#endif
#include "pyo3cpp/intern.hpp"

#ifdef PYO3CPP_BENCH_PYBIND11
#include <pybind11/pybind11.h>
namespace pyb = pybind11;
#endif

using namespace pyo3cpp;
using pyo3cpp_bench::hand_pool;
using pyo3cpp_bench::hand_release_ref;

namespace {

// A long-lived object to take references to (attached caller; a new reference).
PyObject *fresh_object() { return PyLong_FromLong(1234567); }

// The hand-written static-pointer cache: what C extensions write for "compute once".
template <class Init> PyObject *hand_cached(std::atomic<PyObject *> &slot, Init init)
{
    PyObject *value = slot.load(std::memory_order_acquire);
    if (__builtin_expect(value == nullptr, 0)) {
        value = init();
        PyObject *expected = nullptr;
        if (!slot.compare_exchange_strong(expected, value, std::memory_order_acq_rel)) {
            Py_DECREF(value);
            value = expected;
        }
    }
    return value;
}

// Scaling is a free-threaded question: with a GIL the second thread would block in attach
// while the first holds the GIL at Google Benchmark's start barrier.
void threads_1_2(benchmark::internal::Benchmark *b)
{
#ifdef Py_GIL_DISABLED
    b->Threads(1)->Threads(2)->UseRealTime();
#else
    b->Threads(1)->UseRealTime();
#endif
}

}  // namespace

// ------------------------------------------------------------------------------- attach
// From a detached thread: attach, (drain an empty pool), detach.
PYO3CPP_BENCH(attach, capi)
{
    for (auto _ : state) {
        PyGILState_STATE gil = PyGILState_Ensure();
        hand_pool.drain();  // the same guarantee: pending releases applied on attach
        PyGILState_Release(gil);
    }
}
PYO3CPP_BENCH(attach, pyo3cpp)
{
    for (auto _ : state) {
        auto guard = pyo3cpp::attach();
        benchmark::DoNotOptimize(guard.attached_here());
    }
}
#ifdef PYO3CPP_BENCH_PYBIND11
PYO3CPP_BENCH(attach, pybind11)
{
    { pyb::gil_scoped_acquire warm; }  // pybind11 builds its internals on first use
    for (auto _ : state) {
        pyb::gil_scoped_acquire acquire;
        benchmark::ClobberMemory();
    }
}
#endif

// Already attached: a nested attach.
PYO3CPP_BENCH(attach_nested, capi)
{
    PyGILState_STATE outer = PyGILState_Ensure();
    for (auto _ : state) {
        PyGILState_STATE gil = PyGILState_Ensure();
        hand_pool.drain();
        PyGILState_Release(gil);
    }
    PyGILState_Release(outer);
}
PYO3CPP_BENCH(attach_nested, pyo3cpp)
{
    auto outer = pyo3cpp::attach();
    for (auto _ : state) {
        auto guard = pyo3cpp::attach();
        benchmark::DoNotOptimize(guard.attached_here());
    }
}
#ifdef PYO3CPP_BENCH_PYBIND11
PYO3CPP_BENCH(attach_nested, pybind11)
{
    pyb::gil_scoped_acquire outer;
    for (auto _ : state) {
        pyb::gil_scoped_acquire acquire;
        benchmark::ClobberMemory();
    }
}
#endif

// From a detached thread with one release pending: queue it, attach (which applies it), detach.
PYO3CPP_BENCH(attach_pending, capi)
{
    PyObject *object;
    {
        PyGILState_STATE gil = PyGILState_Ensure();
        object = fresh_object();
        for (benchmark::IterationCount i = 0; i < state.max_iterations; ++i) Py_INCREF(object);
        PyGILState_Release(gil);
    }
    for (auto _ : state) {
        hand_release_ref(object);
        PyGILState_STATE gil = PyGILState_Ensure();
        hand_pool.drain();
        PyGILState_Release(gil);
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    Py_DECREF(object);
    PyGILState_Release(gil);
}
PYO3CPP_BENCH(attach_pending, pyo3cpp)
{
    PyObject *object;
    {
        auto guard = pyo3cpp::attach();
        object = fresh_object();
        for (benchmark::IterationCount i = 0; i < state.max_iterations; ++i) Py_INCREF(object);
    }
    for (auto _ : state) {
        { auto dropped = Py<PyAny>::from_owned_ptr_unchecked(object); }  // queued: detached
        auto guard = pyo3cpp::attach();
        benchmark::DoNotOptimize(guard.attached_here());
    }
    auto guard = pyo3cpp::attach();
    Py_DECREF(object);
}

// ------------------------------------------------------------------------- Py<T> drop
// Attached, but the code releasing the reference does not know it (a destructor).
PYO3CPP_BENCH(py_drop_attached, capi)
{
    auto guard = pyo3cpp::attach();
    PyObject *object = fresh_object();
    for (auto _ : state) {
        Py_INCREF(object);
        benchmark::DoNotOptimize(object);
        hand_release_ref(object);
    }
    Py_DECREF(object);
}
// The plain decref, for reference: only correct where attachment is known.
PYO3CPP_BENCH(py_drop_attached, capi_plain)
{
    auto guard = pyo3cpp::attach();
    PyObject *object = fresh_object();
    for (auto _ : state) {
        Py_INCREF(object);
        benchmark::DoNotOptimize(object);
        Py_DECREF(object);
    }
    Py_DECREF(object);
}
PYO3CPP_BENCH(py_drop_attached, pyo3cpp)
{
    auto guard = pyo3cpp::attach();
    PyObject *object = fresh_object();
    for (auto _ : state) {
        Py_INCREF(object);
        benchmark::DoNotOptimize(object);
        auto owned = Py<PyAny>::from_owned_ptr_unchecked(object);
    }
    Py_DECREF(object);
}
#ifdef PYO3CPP_BENCH_PYBIND11
PYO3CPP_BENCH(py_drop_attached, pybind11)
{
    pyb::gil_scoped_acquire gil;
    PyObject *object = fresh_object();
    for (auto _ : state) {
        Py_INCREF(object);
        benchmark::DoNotOptimize(object);
        auto owned = pyb::reinterpret_steal<pyb::object>(object);
    }
    Py_DECREF(object);
}
#endif

// Attached and the code knows it (holds the token): Py::drop_ref(py) vs a plain Py_DECREF.
PYO3CPP_BENCH(py_drop_known_attached, capi)
{
    auto guard = pyo3cpp::attach();
    PyObject *object = fresh_object();
    for (auto _ : state) {
        Py_INCREF(object);
        benchmark::DoNotOptimize(object);
        Py_DECREF(object);
    }
    Py_DECREF(object);
}
PYO3CPP_BENCH(py_drop_known_attached, pyo3cpp)
{
    auto guard = pyo3cpp::attach();
    auto py = guard.py();
    PyObject *object = fresh_object();
    for (auto _ : state) {
        Py_INCREF(object);
        benchmark::DoNotOptimize(object);
        Py<PyAny>::from_owned_ptr_unchecked(object).drop_ref(py);
    }
    Py_DECREF(object);
}
#ifdef PYO3CPP_BENCH_PYBIND11
PYO3CPP_BENCH(py_drop_known_attached, pybind11)
{
    pyb::gil_scoped_acquire gil;
    PyObject *object = fresh_object();
    for (auto _ : state) {
        Py_INCREF(object);
        benchmark::DoNotOptimize(object);
        auto owned = pyb::reinterpret_steal<pyb::object>(object);
    }
    Py_DECREF(object);
}
#endif

// Detached: the release is queued; the re-attach after the loop applies every queued one (that
// cost is inside the callgrind count, outside the timed loop).
PYO3CPP_BENCH(py_drop_detached, capi)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *object = fresh_object();
    for (benchmark::IterationCount i = 0; i < state.max_iterations; ++i) Py_INCREF(object);
    Py_BEGIN_ALLOW_THREADS
    for (auto _ : state) {
        benchmark::DoNotOptimize(object);
        hand_release_ref(object);
    }
    Py_END_ALLOW_THREADS
    hand_pool.drain();
    Py_DECREF(object);
    PyGILState_Release(gil);
}
PYO3CPP_BENCH(py_drop_detached, pyo3cpp)
{
    auto guard = pyo3cpp::attach();
    auto py = guard.py();
    PyObject *object = fresh_object();
    for (benchmark::IterationCount i = 0; i < state.max_iterations; ++i) Py_INCREF(object);
    pyo3cpp::detach(py, [&] {
        for (auto _ : state) {
            benchmark::DoNotOptimize(object);
            auto owned = Py<PyAny>::from_owned_ptr_unchecked(object);
        }
    });
    Py_DECREF(object);
}

// ------------------------------------------------------------------ critical sections
PYO3CPP_BENCH(critical_section, capi)
{
    auto guard = pyo3cpp::attach();
    PyObject *object = PyList_New(0);
    for (auto _ : state) {
#ifdef Py_GIL_DISABLED
        Py_BEGIN_CRITICAL_SECTION(object);
        benchmark::DoNotOptimize(object);
        Py_END_CRITICAL_SECTION();
#else
        benchmark::DoNotOptimize(object);  // the GIL already excludes
#endif
    }
    Py_DECREF(object);
}
PYO3CPP_BENCH(critical_section, pyo3cpp)
{
    auto guard = pyo3cpp::attach();
    auto py = guard.py();
    auto object = Bound<PyAny>::from_owned_ptr(py, PyList_New(0));
    for (auto _ : state) {
        CriticalSection section(py, object);
        benchmark::DoNotOptimize(object.as_ptr());
    }
}

PYO3CPP_BENCH(critical_section2, capi)
{
    auto guard = pyo3cpp::attach();
    PyObject *a = PyList_New(0), *b = PyList_New(0);
    // CPython locks the two objects in address order and swaps them first when the second is
    // lower (a few instructions more): both forms pass them in address order, so the counts
    // compare the code, not where the allocator happened to put the lists.
    if (b < a) std::swap(a, b);
    for (auto _ : state) {
#ifdef Py_GIL_DISABLED
        Py_BEGIN_CRITICAL_SECTION2(a, b);
        benchmark::DoNotOptimize(a);
        Py_END_CRITICAL_SECTION2();
#else
        benchmark::DoNotOptimize(a);
#endif
    }
    Py_DECREF(a);
    Py_DECREF(b);
}
PYO3CPP_BENCH(critical_section2, pyo3cpp)
{
    auto guard = pyo3cpp::attach();
    auto py = guard.py();
    auto a = Bound<PyAny>::from_owned_ptr(py, PyList_New(0));
    auto b = Bound<PyAny>::from_owned_ptr(py, PyList_New(0));
    if (b.as_ptr() < a.as_ptr()) std::swap(a, b);  // address order, as in the capi form
    for (auto _ : state) {
        CriticalSection2 section(py, a, b);
        benchmark::DoNotOptimize(a.as_ptr());
    }
}

// ----------------------------------------------------------------------------- mutex
// Uncontended lock + unlock by an attached thread. The C form that never deadlocks against the
// interpreter: PyMutex on 3.13+ (detaches while blocking); on 3.11 a try-lock, detaching only
// to block (PyThread lock: the C API's own).
PYO3CPP_BENCH(mutex, capi)
{
    auto guard = pyo3cpp::attach();
#if PY_VERSION_HEX >= 0x030D0000
    PyMutex mutex = {0};
    for (auto _ : state) {
        PyMutex_Lock(&mutex);
        benchmark::ClobberMemory();
        PyMutex_Unlock(&mutex);
    }
#else
    PyThread_type_lock lock = PyThread_allocate_lock();
    for (auto _ : state) {
        if (!PyThread_acquire_lock(lock, NOWAIT_LOCK)) {
            Py_BEGIN_ALLOW_THREADS
            PyThread_acquire_lock(lock, WAIT_LOCK);
            Py_END_ALLOW_THREADS
        }
        benchmark::ClobberMemory();
        PyThread_release_lock(lock);
    }
    PyThread_free_lock(lock);
#endif
}
#ifdef PYO3CPP_BENCH_HAVE_MUTEX
PYO3CPP_BENCH(mutex, pyo3cpp)
{
    auto guard = pyo3cpp::attach();
    auto py = guard.py();
    pyo3cpp::Mutex mutex;
    for (auto _ : state) {
        mutex.lock(py);
        benchmark::ClobberMemory();
        mutex.unlock();
    }
}
#endif
// The C ABI form (what a C extension using libpyo3cpp calls).
PYO3CPP_BENCH(mutex, pyo3cpp_c)
{
    auto guard = pyo3cpp::attach();
    pyo3cpp_mutex mutex = PYO3CPP_MUTEX_INIT;
    for (auto _ : state) {
        pyo3cpp_mutex_lock(&mutex);
        benchmark::ClobberMemory();
        pyo3cpp_mutex_unlock(&mutex);
    }
}

// ------------------------------------------------------------------------- once-cells
namespace {
std::atomic<PyObject *> hand_once_slot{nullptr};
pyo3cpp_object_cell c_once_cell = PYO3CPP_OBJECT_CELL_INIT;
#ifdef PYO3CPP_BENCH_HAVE_ONCE_LOCK
OnceLock<Py<PyAny>> cpp_once_lock;
#endif
}  // namespace

PYO3CPP_BENCH(once_get, capi)
{
    auto guard = pyo3cpp::attach();
    hand_cached(hand_once_slot, fresh_object);
    for (auto _ : state) {
        PyObject *value = hand_cached(hand_once_slot, fresh_object);
        benchmark::DoNotOptimize(value);
    }
}
// The C ABI cell's inline getter (a C extension's form).
PYO3CPP_BENCH(once_get, pyo3cpp_c)
{
    auto guard = pyo3cpp::attach();
    pyo3cpp_object_cell_get_or_init(&c_once_cell, [](void *) { return fresh_object(); }, nullptr,
                                    "bench");
    for (auto _ : state) {
        PyObject *value = pyo3cpp_object_cell_get(&c_once_cell);
        benchmark::DoNotOptimize(value);
    }
}
#ifdef PYO3CPP_BENCH_HAVE_ONCE_LOCK
PYO3CPP_BENCH(once_get, pyo3cpp)
{
    auto guard = pyo3cpp::attach();
    auto py = guard.py();
    cpp_once_lock.get_or_init(py, [&] { return Py<PyAny>::from_owned_ptr(py, fresh_object()); });
    for (auto _ : state) {
        auto *value = cpp_once_lock.get(py);
        benchmark::DoNotOptimize(value);
    }
}
#endif
#ifdef PYO3CPP_BENCH_PYBIND11
PYO3CPP_BENCH(once_get, pybind11)
{
    // pybind11 2.10 has no call-once helper (gil_safe_call_once_and_store came in 2.12): its
    // users write a function-local static, whose guard check is an acquire load.
    pyb::gil_scoped_acquire gil;
    auto get = []() -> PyObject * {
        static pyb::object *cached = new pyb::object(pyb::reinterpret_steal<pyb::object>(fresh_object()));
        return cached->ptr();
    };
    get();
    for (auto _ : state) benchmark::DoNotOptimize(get());
}
#endif

// ---------------------------------------------------------------------------- intern
namespace {
std::atomic<PyObject *> hand_intern_slot{nullptr};
}
PYO3CPP_BENCH(intern, capi)
{
    auto guard = pyo3cpp::attach();
    auto make = [] { return PyUnicode_InternFromString("bench_attribute_name"); };
    hand_cached(hand_intern_slot, make);
    for (auto _ : state) benchmark::DoNotOptimize(hand_cached(hand_intern_slot, make));
}
static void intern_pyo3cpp_body(benchmark::State &state)
{
    auto guard = pyo3cpp::attach();
    auto py = guard.py();
    for (auto _ : state) benchmark::DoNotOptimize(pyo3cpp::intern<"bench_attribute_name">(py).as_ptr());
}
PYO3CPP_BENCH(intern, pyo3cpp) { intern_pyo3cpp_body(state); }
// The uncached alternative: interning the literal on every call.
PYO3CPP_BENCH(intern_vs_per_call, capi)
{
    auto guard = pyo3cpp::attach();
    for (auto _ : state) {
        PyObject *name = PyUnicode_InternFromString("bench_attribute_name");
        benchmark::DoNotOptimize(name);
        Py_DECREF(name);
    }
}
PYO3CPP_BENCH(intern_vs_per_call, pyo3cpp) { intern_pyo3cpp_body(state); }
#ifdef PYO3CPP_BENCH_PYBIND11
// pybind11 has no interning helper; its idiom for a name is a py::str made per call.
PYO3CPP_BENCH(intern_vs_per_call, pybind11)
{
    pyb::gil_scoped_acquire gil;
    for (auto _ : state) {
        pyb::str name("bench_attribute_name");
        benchmark::DoNotOptimize(name.ptr());
    }
}
#endif

// ---------------------------------------------------------------------- import_cached
namespace {
std::atomic<PyObject *> hand_import_slot{nullptr};
PyObject *import_attr_uncached()
{
    PyObject *module = PyImport_ImportModule("collections");
    if (module == nullptr) return nullptr;
    PyObject *attr = PyObject_GetAttrString(module, "OrderedDict");
    Py_DECREF(module);
    return attr;
}
}  // namespace
PYO3CPP_BENCH(import_cached, capi)
{
    auto guard = pyo3cpp::attach();
    hand_cached(hand_import_slot, import_attr_uncached);
    for (auto _ : state) benchmark::DoNotOptimize(hand_cached(hand_import_slot, import_attr_uncached));
}
PYO3CPP_BENCH(import_cached, pyo3cpp_c)
{
    auto guard = pyo3cpp::attach();
    static pyo3cpp_object_cell cell = PYO3CPP_OBJECT_CELL_INIT;
    for (auto _ : state) {
        PyObject *value = pyo3cpp_object_cell_get(&cell);
        if (__builtin_expect(value == nullptr, 0))
            value = pyo3cpp_import_cached(&cell, "collections", "OrderedDict");
        benchmark::DoNotOptimize(value);
    }
}
#ifdef PYO3CPP_BENCH_HAVE_IMPORT
static void import_cached_pyo3cpp_body(benchmark::State &state)
{
    auto guard = pyo3cpp::attach();
    auto py = guard.py();
    for (auto _ : state)
        benchmark::DoNotOptimize(pyo3cpp::import_cached<"collections", "OrderedDict">(py).as_ptr());
}
PYO3CPP_BENCH(import_cached, pyo3cpp) { import_cached_pyo3cpp_body(state); }
PYO3CPP_BENCH(import_vs_per_call, pyo3cpp) { import_cached_pyo3cpp_body(state); }
#endif
PYO3CPP_BENCH(import_vs_per_call, capi)
{
    auto guard = pyo3cpp::attach();
    for (auto _ : state) {
        PyObject *value = import_attr_uncached();
        benchmark::DoNotOptimize(value);
        Py_DECREF(value);
    }
}
#ifdef PYO3CPP_BENCH_PYBIND11
PYO3CPP_BENCH(import_vs_per_call, pybind11)
{
    pyb::gil_scoped_acquire gil;
    for (auto _ : state) {
        pyb::object value = pyb::module_::import("collections").attr("OrderedDict");
        benchmark::DoNotOptimize(value.ptr());
    }
}
#endif

// ------------------------------------------------ free-threaded scaling (1 and 2 threads)
// Throughput (items/s, real time) of each thread doing the operation on its own objects.
PYO3CPP_BENCH_CONFIGURED(scale_once_get, pyo3cpp, threads_1_2)
{
    auto guard = pyo3cpp::attach();
    pyo3cpp_object_cell_get_or_init(&c_once_cell, [](void *) { return fresh_object(); }, nullptr,
                                    "bench");
    for (auto _ : state) {
#ifdef PYO3CPP_BENCH_HAVE_ONCE_LOCK
        benchmark::DoNotOptimize(cpp_once_lock.get(guard.py()));
#else
        benchmark::DoNotOptimize(pyo3cpp_object_cell_get(&c_once_cell));
#endif
    }
    state.SetItemsProcessed(state.iterations());
}

// Each thread keeps a thread state while detached (as the main thread and every Python-created
// thread do), so the loop measures attach/detach, not thread-state creation and destruction
// (which on 3.13t costs hundreds of microseconds once two threads do it concurrently).
PYO3CPP_BENCH_CONFIGURED(scale_attach, pyo3cpp, threads_1_2)
{
    PyGILState_STATE keep = PyGILState_Ensure();
    PyThreadState *self = PyEval_SaveThread();
    for (auto _ : state) {
        auto guard = pyo3cpp::attach();
        benchmark::DoNotOptimize(guard.attached_here());
    }
    PyEval_RestoreThread(self);
    PyGILState_Release(keep);
    state.SetItemsProcessed(state.iterations());
}

PYO3CPP_BENCH_CONFIGURED(scale_py_drop_detached, pyo3cpp, threads_1_2)
{
    auto guard = pyo3cpp::attach();
    auto py = guard.py();
    PyObject *object = fresh_object();
    for (benchmark::IterationCount i = 0; i < state.max_iterations; ++i) Py_INCREF(object);
    pyo3cpp::detach(py, [&] {
        for (auto _ : state) {
            benchmark::DoNotOptimize(object);
            auto owned = Py<PyAny>::from_owned_ptr_unchecked(object);
        }
    });
    Py_DECREF(object);
    state.SetItemsProcessed(state.iterations());
}

PYO3CPP_BENCH_CONFIGURED(scale_critical_section, pyo3cpp, threads_1_2)
{
    auto guard = pyo3cpp::attach();
    auto py = guard.py();
    auto object = Bound<PyAny>::from_owned_ptr(py, PyList_New(0));  // one per thread
    for (auto _ : state) {
        CriticalSection section(py, object);
        benchmark::DoNotOptimize(object.as_ptr());
    }
    state.SetItemsProcessed(state.iterations());
}

// ------------------------------------------------ generated-code probe for OnceLock::get
// scripts/bench disassembles this function and checks it is one acquire load (a plain mov on
// x86-64) and a few register moves, with no call into libpyo3cpp.
extern "C" [[gnu::noinline]] PyObject *pyo3cpp_bench_probe_c_cell_get(const pyo3cpp_object_cell *cell)
{
    return pyo3cpp_object_cell_get(cell);
}
#ifdef PYO3CPP_BENCH_HAVE_ONCE_LOCK
extern "C" [[gnu::noinline]] const void *pyo3cpp_bench_probe_once_lock_get()
{
    return cpp_once_lock.get(Python::assume_attached());
}
#endif
extern "C" [[gnu::noinline]] PyObject *pyo3cpp_bench_probe_intern()
{
    return pyo3cpp::intern<"bench_attribute_name">(Python::assume_attached()).as_ptr();
}
