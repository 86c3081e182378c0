// pyo3cpp_test_lifecycle — the runtime at the edges of a process's life, driven from Python
// (tests/python/test_lifecycle.py): threads that are inside a library wait when finalisation
// starts, a __del__ that wants a lock its own thread is re-acquiring, fork() while other threads
// attach, drop references, hold object locks and run once-cell initialisers, and foreign
// (non-Python) threads.
#include <pyo3cpp/pyo3cpp.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

using namespace pyo3cpp;

namespace {

void sleep_for(double seconds)
{
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

// One Mutex and one std::mutex shared by every function below.
Mutex g_mutex;
std::mutex g_std_mutex;

// Holds g_mutex for `seconds`, sleeping detached meanwhile.
void hold_mutex(Python py, double seconds)
{
    auto held = g_mutex.guard(py);
    detach(py, [&] { sleep_for(seconds); });
}

// Takes g_mutex (blocking detached if held) and releases it.
void lock_mutex(Python py)
{
    auto held = g_mutex.guard(py);
}

void hold_std_mutex(Python py, double seconds)
{
    auto held = lock_detached(g_std_mutex, py);
    detach(py, [&] { sleep_for(seconds); });
}

void lock_std_mutex(Python py)
{
    auto held = lock_detached(g_std_mutex, py);
}

bool mutex_is_locked() { return g_mutex.is_locked(); }

// A thread Python did not create holds the lock for `seconds` without ever attaching (so it
// never drains the pool); returns once it holds it. join_foreign_holder() waits for its end.
std::thread g_foreign_holder;

template <class Lock, class Unlock> void hold_on_foreign_thread(Python py, double seconds, Lock lock, Unlock unlock)
{
    std::atomic<bool> holding{false};
    if (g_foreign_holder.joinable()) detach(py, [] { g_foreign_holder.join(); });
    g_foreign_holder = std::thread([&holding, seconds, lock, unlock] {
        lock();
        holding.store(true);
        holding.notify_all();
        sleep_for(seconds);
        unlock();
    });
    detach(py, [&] { holding.wait(false); });
}

void hold_mutex_foreign(Python py, double seconds)
{
    hold_on_foreign_thread(
        py, seconds, [] { (void)pyo3cpp_mutex_lock(g_mutex.raw()); },
        [] { (void)pyo3cpp_mutex_unlock(g_mutex.raw()); });
}

void hold_std_mutex_foreign(Python py, double seconds)
{
    hold_on_foreign_thread(
        py, seconds, [] { g_std_mutex.lock(); }, [] { g_std_mutex.unlock(); });
}

void join_foreign_holder(Python py)
{
    if (g_foreign_holder.joinable()) detach(py, [] { g_foreign_holder.join(); });
}

long drain_pool() { return pyo3cpp_pool_drain(); }

// A OnceLock whose initialiser sleeps detached: a second caller waits for it.
OnceLock<Py<PyAny>> g_slow_cell("slow_cell");

Py<PyAny> slow_once(Python py, double seconds)
{
    return g_slow_cell
        .get_or_init(py,
                     [&] {
                         detach(py, [&] { sleep_for(seconds); });
                         return Py<PyAny>::from_owned_ptr(py, PyList_New(0));
                     })
        .clone_ref(py);
}

// Holds obj's object lock (exclusive_section) for `seconds`, detached meanwhile.
void hold_object_lock(Python py, Bound<PyAny> obj, double seconds)
{
    ExclusiveSection section(py, obj);
    section.relocking(py, [&] { detach(py, [&] { sleep_for(seconds); }); });
}

// Gives `obj` to a thread Python did not create, which drops it there without attaching: the
// decref waits in the deferred-decref pool for the next attach or drain.
void drop_on_foreign_thread(Py<PyAny> obj)
{
    std::thread([held = std::move(obj)]() mutable { held = Py<PyAny>(); }).join();
}

long pool_pending() { return pyo3cpp_pool_pending(); }

// A thread Python did not create: attaches, sleeps detached `seconds`, re-attaches, `rounds`
// times. Started and left running (daemon-like: the process may finalise meanwhile).
void start_foreign_napper(double seconds, int rounds)
{
    std::thread([seconds, rounds] {
        for (int i = 0; i < rounds; ++i) {
            auto guard = try_attach();
            if (!guard) return;
            detach(guard.py(), [&] { sleep_for(seconds); });
        }
    }).detach();
}

// Busy work for the fork tests, each a loop of `rounds` on the calling thread (detached between
// rounds so other threads and the fork itself can proceed):
//   kind 0: short-lived foreign threads that attach, make and drop an object, and exit
//   kind 1: references dropped on a foreign thread (pool pushes), drained by attaches
//   kind 2: an object lock held across a detached nap, on one shared object
//   kind 3: a once-cell whose initialiser naps detached, reset after each round
pyo3cpp_object_cell g_churn_cell = PYO3CPP_OBJECT_CELL_INIT;
OnceLock<Py<PyAny>> g_churn_object("churn_object");

Py<PyAny> churn_object(Python py)
{
    return g_churn_object.get_or_init(py, [&] { return Py<PyAny>::from_owned_ptr(py, PyDict_New()); })
        .clone_ref(py);
}

PyObject *napping_init(void *)
{
    Py_BEGIN_ALLOW_THREADS
    sleep_for(0.0002);
    Py_END_ALLOW_THREADS
    return PyDict_New();
}

void churn(Python py, int kind, int rounds)
{
    for (int i = 0; i < rounds; ++i) {
        switch (kind) {
        case 0:
            detach(py, [] {
                std::thread([] {
                    if (auto guard = try_attach()) {
                        auto made = Py<PyAny>::from_owned_ptr(guard.py(), PyList_New(1));
                        (void)made;
                    }
                }).join();
            });
            break;
        case 1: {
            std::vector<Py<PyAny>> batch;
            for (int j = 0; j < 8; ++j)
                batch.push_back(Py<PyAny>::from_owned_ptr(py, PyLong_FromLong(100000 + j)));
            detach(py, [&] { batch.clear(); });  // dropped detached: queued
            break;
        }
        case 2: {
            auto object = churn_object(py).bind(py);
            hold_object_lock(py, object, 0.0002);
            break;
        }
        case 3:
            if (pyo3cpp_object_cell_get_or_init(&g_churn_cell, napping_init, nullptr, "churn") ==
                nullptr)
                throw_fetched(py);
            pyo3cpp_object_cell_clear(&g_churn_cell);
            break;
        default:
            PyErr::raise(py, PyExc_ValueError, "churn: kind must be 0..3");
        }
    }
}

// What a forked child checks: every part of the library still works on its only thread. Returns
// the number of checks that passed (the test compares it with the number made).
int child_checks(Python py)
{
    int passed = 0;
    // A foreign thread attaches and drops a reference.
    bool foreign_ok = false;
    detach(py, [&] {
        std::thread([&] {
            if (auto guard = try_attach()) {
                auto made = Py<PyAny>::from_owned_ptr(guard.py(), PyList_New(0));
                foreign_ok = made.as_ptr() != nullptr;
            }
        }).join();
    });
    passed += foreign_ok;
    // A reference dropped detached is drained by the next attach.
    {
        auto object = Py<PyAny>::from_owned_ptr(py, PyList_New(0));
        detach(py, [&] { object = Py<PyAny>(); });
        passed += pyo3cpp_pool_drain() >= 0;
    }
    // The once-cell another parent thread may have been initialising.
    if (pyo3cpp_object_cell_get_or_init(&g_churn_cell, napping_init, nullptr, "churn") != nullptr)
        ++passed;
    else
        PyErr_Clear();
    // The object lock another parent thread may have held.
    {
        auto object = churn_object(py).bind(py);
        ExclusiveSection section(py, object);
        ++passed;
    }
    // A Mutex (not held by the forking thread).
    {
        Mutex fresh;
        auto held = fresh.guard(py);
        ++passed;
    }
    return passed;
}

constexpr int kChildChecks = 5;

}  // namespace

PYO3CPP_MODULE(pyo3cpp_test_lifecycle, m)
{
    m.doc("Lifecycle probes for tests/python/test_lifecycle.py.");
    m.def("hold_mutex", hold_mutex, "Hold the shared Mutex for `seconds`, detached.", arg("seconds"));
    m.def("lock_mutex", lock_mutex, "Take and release the shared Mutex.");
    m.def("hold_std_mutex", hold_std_mutex, "Hold the shared std::mutex for `seconds`.", arg("seconds"));
    m.def("lock_std_mutex", lock_std_mutex, "Take and release the shared std::mutex.");
    m.def("mutex_is_locked", mutex_is_locked, "Whether the shared Mutex is held.");
    m.def("hold_mutex_foreign", hold_mutex_foreign,
          "A foreign thread holds the shared Mutex for `seconds`.", arg("seconds"));
    m.def("hold_std_mutex_foreign", hold_std_mutex_foreign,
          "A foreign thread holds the shared std::mutex for `seconds`.", arg("seconds"));
    m.def("join_foreign_holder", join_foreign_holder, "Wait for the foreign holder to finish.");
    m.def("drain_pool", drain_pool, "Apply the queued decrefs now.");
    m.def("slow_once", slow_once, "A OnceLock whose initialiser sleeps detached.", arg("seconds"));
    m.def("hold_object_lock", hold_object_lock, "Hold obj's object lock for `seconds`.",
          arg("obj"), arg("seconds"));
    m.def("drop_on_foreign_thread", drop_on_foreign_thread,
          "Drop obj on a thread Python did not create (queued in the pool).", arg("obj"));
    m.def("pool_pending", pool_pending, "Decrefs queued in the deferred-decref pool.");
    m.def("start_foreign_napper", start_foreign_napper,
          "Start a foreign thread that attaches and naps detached.", arg("seconds"), arg("rounds"));
    m.def("churn", churn, "Busy work for the fork tests.", arg("kind"), arg("rounds"));
    m.def("child_checks", child_checks, "Checks a forked child makes; returns how many passed.");
    m.add("CHILD_CHECKS", kChildChecks);
}
