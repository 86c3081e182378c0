// holders.cpp — the identity map of instances held by std::shared_ptr (class_holder.hpp): which
// live Python object stands for a C++ object, so returning the same T* twice gives the same
// object while one is alive.
//
// Entries are (value address, class key) -> object, borrowed: an object's deallocation removes
// its entry (pyo3cpp_holder_forget), and a lookup takes a strong reference only if the object's
// count has not reached zero (a "try-incref"), so a lookup racing the last decref on another
// thread never resurrects a dying object nor returns a freed one: it finds nothing and the
// caller registers a new object, whose entry the dying one's forget then leaves alone.
//   GIL builds: the count is read and raised under the GIL (a deallocation that has begun has
//     a zero count while it still owns the entry, e.g. deferred by the trashcan).
//   3.13t: CPython's own protocol for lock-free dict reads: the object is marked "maybe weakly
//     referenced" when registered, so its shared count never reads zero while it lives and
//     reads exactly "merged, zero" once it is dying; the reference is added to the shared count
//     with a compare-and-swap that fails on those values.
//   3.14+: PyUnstable_EnableTryIncRef / PyUnstable_TryIncRef, which are that protocol.
// One mutex guards the map: held for a hash lookup or insert only, never across Python code.
// The map is process-wide today and lives only here (Registry below), so making it per
// interpreter is a change of this file alone. Entries of a finalised interpreter are dropped
// on the first use in the next one (objects it leaked must not be found again).
#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads

#include <cstdint>
#include <functional>
#include <new>
#include <unordered_map>

#include "pyo3cpp.h"
#include "runtime_state.h"

namespace pyo3cpp::detail {
namespace {

struct Key {
    const void *value;
    const void *cls;
    bool operator==(const Key &o) const noexcept { return value == o.value && cls == o.cls; }
};
struct KeyHash {
    std::size_t operator()(const Key &k) const noexcept
    {
        return std::hash<const void *>()(k.value) ^ (std::hash<const void *>()(k.cls) * 31u);
    }
};

struct Registry {
    PlainMutex mutex;
    std::unordered_map<Key, PyObject *, KeyHash> objects;
    std::uint64_t lifecycle = 0;  // the generation the entries belong to

    // Under `mutex`: entries of an interpreter that has since finalised are gone.
    void expire_if_new_interpreter() noexcept
    {
        const std::uint64_t now = lifecycle_now();
        if (now != lifecycle) {
            objects.clear();
            lifecycle = now;
        }
    }
};

Registry &registry() noexcept
{
    static Registry *r = new Registry();  // never destroyed: used by deallocations at exit
    return *r;
}

// A strong reference to `o` unless its count has reached zero (it is being deallocated).
bool try_incref(PyObject *o) noexcept
{
#if PY_VERSION_HEX >= 0x030E0000
    return PyUnstable_TryIncRef(o) != 0;
#elif defined(Py_GIL_DISABLED)
    std::uint32_t local = _Py_atomic_load_uint32_relaxed(&o->ob_ref_local);
    if (local == _Py_IMMORTAL_REFCNT_LOCAL) return true;
    if (_Py_IsOwnedByCurrentThread(o)) {  // the owner's local count is only written by it
        if (local == 0) return false;     // its last local reference went: dying
        _Py_atomic_store_uint32_relaxed(&o->ob_ref_local, local + 1);
        return true;
    }
    Py_ssize_t shared = _Py_atomic_load_ssize_relaxed(&o->ob_ref_shared);
    for (;;) {
        // 0: never marked (cannot tell); merged with a zero count: dying.
        if (shared == 0 || shared == _Py_REF_MERGED) return false;
        if (_Py_atomic_compare_exchange_ssize(&o->ob_ref_shared, &shared, shared + (1 << _Py_REF_SHARED_SHIFT)))
            return true;
    }
#else
    if (Py_REFCNT(o) <= 0) return false;
    Py_INCREF(o);
    return true;
#endif
}

// Before an object can be found by other threads: its shared count must not read zero while
// it lives (free-threaded builds; nothing to do with a GIL).
void enable_try_incref(PyObject *o) noexcept
{
#if PY_VERSION_HEX >= 0x030E0000
    PyUnstable_EnableTryIncRef(o);
#elif defined(Py_GIL_DISABLED)
    if (_Py_atomic_load_uint32_relaxed(&o->ob_ref_local) == _Py_IMMORTAL_REFCNT_LOCAL) return;
    Py_ssize_t shared = _Py_atomic_load_ssize_relaxed(&o->ob_ref_shared);
    while ((shared & _Py_REF_SHARED_FLAG_MASK) == 0)
        if (_Py_atomic_compare_exchange_ssize(&o->ob_ref_shared, &shared, shared | _Py_REF_MAYBE_WEAKREF)) return;
#else
    (void)o;
#endif
}

}  // namespace

void holders_fork_prepare() noexcept { registry().mutex.lock(); }
void holders_fork_parent() noexcept { registry().mutex.unlock(); }
void holders_fork_child() noexcept { registry().mutex.unlock(); }

}  // namespace pyo3cpp::detail

using namespace pyo3cpp::detail;

extern "C" {

PYO3CPP_API PyObject *pyo3cpp_holder_find(const void *value, const void *cls) noexcept
{
    if (value == nullptr || cls == nullptr || !thread_is_attached()) return nullptr;
    Registry &r = registry();
    PlainLock lock(r.mutex);
    r.expire_if_new_interpreter();
    auto it = r.objects.find(Key{value, cls});
    if (it == r.objects.end() || !try_incref(it->second)) return nullptr;
    return it->second;
}

PYO3CPP_API PyObject *pyo3cpp_holder_register(const void *value, const void *cls, PyObject *object)
{
    if (!thread_is_attached()) return nullptr;
    if (value == nullptr || cls == nullptr || object == nullptr) {
        PyErr_SetString(PyExc_ValueError, "pyo3cpp_holder_register: NULL value, class or object");
        return nullptr;
    }
    enable_try_incref(object);
    Registry &r = registry();
    {
        PlainLock lock(r.mutex);
        r.expire_if_new_interpreter();
        try {
            auto [it, inserted] = r.objects.try_emplace(Key{value, cls}, object);
            if (!inserted) {
                if (it->second != object && try_incref(it->second)) return it->second;  // it stands for it
                it->second = object;  // the earlier one is dying (or it is this one again)
            }
        } catch (...) {  // bad_alloc: report it below, without the mutex
            goto out_of_memory;
        }
    }
    Py_INCREF(object);
    return object;
out_of_memory:
    PyErr_NoMemory();
    return nullptr;
}

PYO3CPP_API void pyo3cpp_holder_forget(const void *value, const void *cls, PyObject *object) noexcept
{
    if (value == nullptr || cls == nullptr || object == nullptr) return;
    Registry &r = registry();
    PlainLock lock(r.mutex);
    auto it = r.objects.find(Key{value, cls});
    if (it != r.objects.end() && it->second == object) r.objects.erase(it);
}

}  // extern "C"
