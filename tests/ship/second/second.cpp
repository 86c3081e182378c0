// second.cpp — pyo3cpp_second._second, a second extension wheel built separately from
// examples/package. tests/ship/test_one_runtime.py loads both and checks that they share one
// runtime: the same functions, one deferred-decref pool, one attach gate, one object-lock table.
#include <pyo3cpp/pyo3cpp.hpp>

#include <cstdint>
#include <stdexcept>
#include <thread>

using namespace pyo3cpp;

// Address of a runtime function as this module's loader binding sees it.
std::uint64_t runtime_address(Python)
{
    long (*fn)(void) = pyo3cpp_pool_pending;
    return reinterpret_cast<std::uintptr_t>(fn);
}

long pool_pending(Python) { return pyo3cpp_pool_pending(); }

long pool_drain(Python) { return pyo3cpp_pool_drain(); }

// Takes the runtime's object lock on obj (waiting detached while another thread holds it), then
// releases it.
void lock_and_unlock(Python, Borrowed<PyAny> obj)
{
    if (pyo3cpp_object_lock(obj.as_ptr()) != 0) throw std::runtime_error("object lock failed");
    if (pyo3cpp_object_unlock(obj.as_ptr()) != 0) throw std::runtime_error("object unlock failed");
}

// A thread Python never created attaches once through the runtime (passing its gate).
void attach_from_thread(Python py)
{
    bool ok = detach(py, [] {
        bool attached = false;
        std::thread([&] { attached = static_cast<bool>(try_attach()); }).join();
        return attached;
    });
    if (!ok) throw std::runtime_error("attach from a new thread failed");
}

PYO3CPP_MODULE(_second, m)
{
    m.def("runtime_address", runtime_address, "Address of pyo3cpp_pool_pending.");
    m.def("pool_pending", pool_pending, "Decrefs queued in the runtime's pool.");
    m.def("pool_drain", pool_drain, "Apply the queued decrefs.");
    m.def("lock_and_unlock", lock_and_unlock, "Take and release the object lock on obj.",
          arg("obj"));
    m.def("attach_from_thread", attach_from_thread, "Attach once from a new thread.");
}
