// class_holder.hpp — classes held by std::shared_ptr: instances whose T lives on the heap, owned
// through a std::shared_ptr<T> that C++ can share, one Python object per C++ object.
//
//   struct Mesh { std::vector<float> points; void scale(float k); };
//   PYO3CPP_CLASS(Mesh, std::shared_ptr<Mesh>);           // (with a policy: in any order)
//
//   m.add_class<Mesh>("Mesh").def_init<>().def("scale", &Mesh::scale);
//   m.def("shared", [] { return g_mesh; });                 // std::shared_ptr<Mesh> out
//   m.def("keep", [](std::shared_ptr<Mesh> m) { g_kept = std::move(m); });   // shares T
//   m.def("consume", [](std::unique_ptr<Mesh> m) { ... });  // takes T: the object is left empty
//   m.def("make", [] { return std::make_unique<Mesh>(); }); // the new object owns it
//
// Contract:
//   - Every instance of such a class that holds a value holds a std::shared_ptr<T> (its storage:
//     a HeldBy, class_object.hpp), made however the instance was made: returned as
//     std::shared_ptr<T> or std::unique_ptr<T> by a bound function, or built by def_init,
//     construct_in_new(), make_instance<T>, a T returned by value (moved into `new T`).
//   - Identity: an instance is registered under (T*, its class) in the runtime's identity map
//     (abi: pyo3cpp_holder_*; process-wide today, kept in one place, src/holders.cpp, to become
//     per interpreter). A std::shared_ptr<T> or std::unique_ptr<T> result whose T* has a live
//     instance returns that instance (`f() is f()`); otherwise a new one, which C++ and Python
//     then own together. Threads racing to wrap the same T* get one object; a wrap racing the
//     last decref of the old object gets a new object, never the dying one (try-incref; see
//     holders.cpp). A nullptr result is None. The key is the class the pointer is returned as:
//     a Derived* returned as std::shared_ptr<Base> is a Base object beside a Derived one.
//   - std::shared_ptr<T> parameters (T of such a class, or a bound base of it) take an instance
//     and share its T: C++ keeps T alive, not the Python object, unless
//     shares_python_object<T> says otherwise (below). None is refused (TypeError).
//   - std::unique_ptr<T> parameters take T out of an instance the Python object alone owns: the
//     object is then empty, and every later use raises ValueError "... holds no value: it was
//     moved into C++ ..."; references into it (def_readwrite members) raise the same. Refused
//     with ValueError when C++ shares the value (another std::shared_ptr owns it too) or when it
//     came from C++ as a std::shared_ptr (its deleter is not `delete`); BufferError while a
//     buffer export of T is alive (def_buffer). If the call fails before its body runs (a later
//     argument does not convert), the value goes back into the object. A reference into an
//     owner (a member read as `outer.inner`) is refused (ValueError). Not for frozen classes
//     (their T is read without a lock, so it cannot be taken away safely).
//   - Threads: the instance lock (locked policy) covers T for calls made through Python; a
//     std::unique_ptr parameter takes it exclusively, so a method racing the move either runs
//     first or raises ValueError (unsynchronized classes: that race is the user's). C++ code using T through its own std::shared_ptr takes no
//     instance lock: that synchronisation is the C++ side's (docs/ownership.md).
//   - Release: the Python object's share goes at its deallocation (attached). The last owner may
//     be C++ on any thread, attached or not, before or after finalisation: ~T then runs there
//     (its Py<> members defer their decrefs to the runtime's pool, and leak after finalisation,
//     as Py<T> does everywhere); the Python side is not touched.
//   - The GC does not traverse a held T (C++ may reach it too): cycles through it are not
//     collected.
//   - shares_python_object<T> (false by default): when true, a std::shared_ptr<T> parameter's
//     control block also owns a reference to the Python object, so the object (its __dict__, a
//     Python subclass's methods) lives as long as C++ holds T, and returning that pointer gives
//     the same object back. The reference is a Py<PyAny>: released through the deferred-decref
//     pool when C++ lets go on a thread that is not attached, leaked (with T) after finalisation.
//   - A class with a trampoline (trampoline_storage.hpp): Python construction allocates what it
//     builds (the trampoline for a Python subclass or an abstract T, else T) and marks a
//     trampoline in its HeldDeleter; a std::shared_ptr<T> parameter then shares the object as
//     shares_python_object would, per object (a plain T is shared as usual), and a
//     std::unique_ptr<T> parameter refuses it (ValueError: it calls back into its object).
// Thread: any attached thread. Cost: a method call pays the slow path of the ready check (two
// out-of-line calls, about 38 instructions); making an instance pays two allocations (T, the
// control block) and the identity map's mutex and hash insert, its deallocation the erase: about
// 900 instructions per construction and deallocation (bench/classes_callgrind.md).
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <memory>
#include <new>
#include <string>
#include <type_traits>
#include <utility>

#include "pyo3cpp/class_buffer.hpp"
#include "pyo3cpp/class_object.hpp"

namespace pyo3cpp {

// Specialise as std::true_type for T to make std::shared_ptr<T> parameters keep the Python
// object alive while C++ holds T (see the contract above).
template <class T> struct shares_python_object : std::false_type {};

namespace detail {

// The deleter of a T the library allocated (Python construction, a std::unique_ptr result):
// `delete`, unless a std::unique_ptr parameter has taken the T out of the holder.
template <class T> struct HeldDeleter {
    bool released = false;
    // The value is T's trampoline built for a Python object (trampoline_storage.hpp): it calls back
    // into that object, so C++ may share it only together with the object (share_held).
    bool calls_python = false;
    void operator()(T *value) noexcept
    {
        if (!released) delete value;
    }
};

// Puts `holder` into a fresh instance's storage (state kHeld, then registered): the new reference
// to the object that stands for the value (`object`, or one registered before: `object` is then
// released). `object`'s own reference is consumed.
template <class T> PyObject *adopt_held(Python py, PyObject *object, std::shared_ptr<T> holder)
{
    Instance<T> *inst = Instance<T>::of(object);
    void *value = const_cast<std::remove_const_t<T> *>(holder.get());
    const void *key = ClassBinding<T>::type_ptr();
    new (inst->storage) HeldBy{key, value, std::move(holder)};
    inst->state.store(kHeld, std::memory_order_release);  // usable before anyone can find it
    PyObject *standing = pyo3cpp_holder_register(value, key, object);
    Py_DECREF(object);  // standing holds it if it won; otherwise it goes (its holder with it)
    if (standing == nullptr) throw_fetched(py);
    return standing;
}

// The Python object for a std::shared_ptr<T> result: the live one registered for its T*, or a
// new one sharing it. nullptr: None.
template <class T> PyObject *wrap_shared(Python py, std::shared_ptr<T> holder)
{
    if (!holder) return Py_NewRef(Py_None);
    PyTypeObject *type = ClassBinding<T>::type_or_throw(py);
    if (PyObject *found = pyo3cpp_holder_find(holder.get(), type)) return found;
    PyObject *object = type->tp_alloc(type, 0);
    if (object == nullptr) throw_fetched(py);
    return adopt_held<T>(py, object, std::move(holder));
}

// Python construction of a held class: T built by `build` on memory a `delete` frees, adopted by a
// std::shared_ptr whose deleter can be told to let go (a std::unique_ptr parameter).
// `as_trampoline`: `build` makes T's trampoline, allocated at its own size (a virtual destructor
// frees it with that size).
template <class T, class Build>
void construct_held(Python py, PyObject *object, const char *method, Build &&build, bool as_trampoline)
{
    static_assert(alignof(T) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__,
                  "pyo3cpp: a class held by std::shared_ptr must not be over-aligned");
    std::size_t bytes = sizeof(T);
    if constexpr (has_trampoline_v<T>) {
        static_assert(alignof(trampoline_t<T>) <= __STDCPP_DEFAULT_NEW_ALIGNMENT__,
                      "pyo3cpp: a class held by std::shared_ptr must not have an over-aligned trampoline");
        if (as_trampoline) bytes = sizeof(trampoline_t<T>);
    } else {
        (void)as_trampoline;
    }
    Instance<T> *inst = Instance<T>::of(object);
    std::uint8_t expected = kEmpty;
    if (!inst->state.compare_exchange_strong(expected, kConstructing, std::memory_order_acq_rel)) [[unlikely]] {
        std::string text = std::string(method) + "(): the instance is already initialised";
        throw PyErr::new_err(py, PyExc_TypeError, text);
    }
    // What `new T(...)` allocates, so `delete` (HeldDeleter, std::unique_ptr) frees it.
    auto allocate = [bytes] {
        if constexpr (requires { T::operator new(sizeof(T)); })
            return T::operator new(bytes);
        else
            return ::operator new(bytes);
    };
    auto deallocate = [](void *raw) {
        if constexpr (requires(void *p) { T::operator delete(p); })
            T::operator delete(raw);
        else
            ::operator delete(raw);
    };
    std::shared_ptr<T> holder;
    try {
        void *raw = allocate();
        try {
            build(raw);
        } catch (...) {
            deallocate(raw);
            throw;
        }
        holder = std::shared_ptr<T>(std::launder(static_cast<T *>(raw)),
                                    HeldDeleter<T>{false, as_trampoline});  // bad_alloc: deleted
    } catch (...) {
        inst->state.store(kEmpty, std::memory_order_release);
        throw;
    }
    void *value = holder.get();
    const void *key = ClassBinding<T>::type_ptr();
    new (inst->storage) HeldBy{key, value, std::move(holder)};
    inst->state.store(kHeld, std::memory_order_release);
    PyObject *standing = pyo3cpp_holder_register(value, key, object);
    if (standing == nullptr) {  // out of memory: the instance stays empty, T goes
        inst->state.store(kEmpty, std::memory_order_release);
        inst->held().~HeldBy();
        throw_fetched(py);
    }
    Py_DECREF(standing);  // `object` itself (T is new: nothing else stands for it)
}

// tp_dealloc of a held instance (attached): leaves the identity map first (a lookup from now on
// makes a new object), then gives up this object's share of T (~T runs here if it was the last).
inline void release_held(PyObject *object) noexcept
{
    Instance<char> *inst = Instance<char>::of(object);
    if (inst->state.load(std::memory_order_acquire) != kHeld) return;
    HeldBy &held = inst->held();
    pyo3cpp_holder_forget(held.value, held.key, object);
    inst->state.store(kEmpty, std::memory_order_relaxed);
    held.~HeldBy();
}

[[noreturn, gnu::cold]] inline void raise_not_sole_owner(Python py, const char *cls, long owners)
{
    std::string text = std::string("a std::unique_ptr<") + cls + "> cannot take this " + cls + "'s value: " +
                       (owners > 1 ? "C++ shares it (" + std::to_string(owners) + " std::shared_ptr owners)"
                                   : std::string("it came from C++ as a std::shared_ptr, whose owner decides "
                                                 "how it is deleted"));
    throw PyErr::new_err(py, PyExc_ValueError, text);
}

[[noreturn, gnu::cold]] inline void raise_reference_taken(Python py, const char *cls)
{
    std::string text = std::string("a std::unique_ptr<") + cls + "> cannot take this " + cls +
                       ": it is a reference into its owner's value (a member), not an object of its own";
    throw PyErr::new_err(py, PyExc_ValueError, text);
}

[[noreturn, gnu::cold]] inline void raise_taken_while_exported(Python py, const char *cls, Py_ssize_t exports)
{
    std::string text = std::string("a std::unique_ptr<") + cls + "> cannot take this " + cls +
                       "'s value while its memory is exported (" + std::to_string(exports) +
                       " memoryview or array of it is alive)";
    throw PyErr::new_err(py, PyExc_BufferError, text);
}

[[noreturn, gnu::cold]] inline void raise_trampoline_taken(Python py, const char *cls, PyObject *object)
{
    std::string text = std::string("a std::unique_ptr<") + cls + "> cannot take this " + Py_TYPE(object)->tp_name +
                       "'s value: it calls its Python methods back (a trampoline), so it cannot live "
                       "without the object; take a std::shared_ptr<" + cls + "> instead";
    throw PyErr::new_err(py, PyExc_ValueError, text);
}

// A std::unique_ptr<T> parameter: T taken out of the instance (exclusive lock held meanwhile).
template <class T> std::unique_ptr<T> take_held(Python py, PyObject *object)
{
    checked_instance<T>(py, object);
    Access<T, true> access(py, object, nullptr);  // raises if empty or moved out already
    Instance<T> *inst = Instance<T>::of(object);
    if (inst->state.load(std::memory_order_acquire) != kHeld) [[unlikely]]  // a member read through its owner
        raise_reference_taken(py, ClassBinding<T>::name);
    HeldBy &held = inst->held();
    auto *deleter = std::get_deleter<HeldDeleter<T>>(held.holder);
    if (deleter != nullptr && deleter->calls_python) [[unlikely]]
        raise_trampoline_taken(py, ClassBinding<T>::name, object);
    const long owners = held.holder.use_count();
    if (deleter == nullptr || owners != 1) raise_not_sole_owner(py, ClassBinding<T>::name, owners);
    T *value = static_cast<T *>(held.value);
    if (BufferSlots<T>::exports != nullptr) [[unlikely]]  // a live export points into T
        if (Py_ssize_t exports = (value->*BufferSlots<T>::exports).active()) raise_taken_while_exported(py, ClassBinding<T>::name, exports);
    pyo3cpp_holder_forget(held.value, held.key, object);
    deleter->released = true;
    inst->state.store(kMovedOut, std::memory_order_release);
    held.~HeldBy();  // the deleter lets go: nothing deleted
    return std::unique_ptr<T>(value);
}

// A std::shared_ptr<T> parameter: the instance's T, shared (shared lock while its holder is read).
template <class T> std::shared_ptr<T> share_held(Python py, PyObject *object)
{
    checked_instance<T>(py, object);
    Access<T, false> access(py, object, nullptr);
    T *value = const_cast<T *>(&access.get());
    if constexpr (shares_python_object<T>::value) {
        auto keeper = std::make_shared<Py<PyAny>>(Borrowed<PyAny>::from_ptr(py, object).unbind());
        return std::shared_ptr<T>(std::move(keeper), value);  // owns the object, which owns T
    } else {
        // A reference into an owner (def_readwrite) has no holder of its own: share the owner's.
        Instance<char> *inst = Instance<char>::of(object);
        if ((inst->state.load(std::memory_order_acquire) & kHeld) != 0) {
            const std::shared_ptr<void> &holder = inst->held().holder;
            if constexpr (has_trampoline_v<T>) {
                // A trampoline calls back into its object: the object comes along (this object's
                // own holder, so not for a bound C++ subclass's value, which has no trampoline of T).
                auto *deleter = std::get_deleter<HeldDeleter<T>>(holder);
                if (deleter != nullptr && deleter->calls_python) {
                    auto keeper = std::make_shared<Py<PyAny>>(Borrowed<PyAny>::from_ptr(py, object).unbind());
                    return std::shared_ptr<T>(std::move(keeper), value);
                }
            }
            return std::shared_ptr<T>(holder, value);
        }
        auto keeper = std::make_shared<Py<PyAny>>(Borrowed<PyAny>::from_ptr(py, object).unbind());
        return std::shared_ptr<T>(std::move(keeper), value);
    }
}

template <BoundClass T>
    requires is_shared_held_v<T>
struct param<std::shared_ptr<T>> : instance_param {
    static constexpr bool locks_instance = is_locked_v<T>;
    static std::shared_ptr<T> convert(Python py, PyObject *object) { return share_held<T>(py, object); }
};
// Puts a taken value back (its call failed before the body got it): held and registered again.
template <class T> void restore_held(PyObject *object, std::unique_ptr<T> value) noexcept
{
    std::shared_ptr<T> holder;
    try {
        holder = std::shared_ptr<T>(value.get(), HeldDeleter<T>{});
        (void)value.release();
    } catch (...) {  // out of memory: T goes, the object stays empty
        return;
    }
    Instance<T> *inst = Instance<T>::of(object);
    void *address = holder.get();
    const void *key = ClassBinding<T>::type_ptr();
    new (inst->storage) HeldBy{key, address, std::move(holder)};
    inst->state.store(kHeld, std::memory_order_release);
    PyObject *type, *error, *traceback;  // the call's own error stays the one raised
    PyErr_Fetch(&type, &error, &traceback);
    if (PyObject *standing = pyo3cpp_holder_register(address, key, object)) Py_DECREF(standing);
    PyErr_Clear();  // out of memory: held but not findable
    PyErr_Restore(type, error, traceback);
}

// A std::unique_ptr<T> argument between conversion and call: the value taken out of the object
// (which reads as moved out meanwhile). The body gets it by conversion; if the call fails before
// (a later argument does not convert), the value goes back into the object.
template <class T> class TakenValue {
public:
    TakenValue(PyObject *object, std::unique_ptr<T> value) noexcept : object_(object), value_(std::move(value)) {}
    TakenValue(TakenValue &&other) noexcept : object_(other.object_), value_(std::move(other.value_)) {}
    TakenValue &operator=(TakenValue &&) = delete;
    ~TakenValue()
    {
        if (value_) restore_held<T>(object_, std::move(value_));
    }
    operator std::unique_ptr<T>() && noexcept { return std::move(value_); }

private:
    PyObject *object_;  // borrowed: the call's arguments hold it
    std::unique_ptr<T> value_;
};

template <BoundClass T>
    requires is_shared_held_v<T>
struct param_decay<std::unique_ptr<T>> {
    using type = TakenValue<T>;
};
template <BoundClass T>
    requires is_shared_held_v<T>
struct param_decay<std::unique_ptr<T> &&> {
    using type = TakenValue<T>;
};

template <class T> struct param<TakenValue<T>> : instance_param {
    static_assert(!is_frozen_v<T>, "pyo3cpp: a std::unique_ptr<T> parameter cannot take a frozen class's value "
                                   "(it is read without a lock)");
    static constexpr bool locks_instance = is_locked_v<T>;
    static TakenValue<T> convert(Python py, PyObject *object) { return {object, take_held<T>(py, object)}; }
};

template <BoundClass T>
    requires is_shared_held_v<T>
struct moves_into_python<std::shared_ptr<T>> : std::true_type {
    static PyObject *convert(Python py, std::shared_ptr<T> value) { return wrap_shared<T>(py, std::move(value)); }
};
template <BoundClass T>
    requires is_shared_held_v<T>
struct moves_into_python<std::unique_ptr<T>> : std::true_type {
    static PyObject *convert(Python py, std::unique_ptr<T> value)
    {
        if (!value) return Py_NewRef(Py_None);
        return wrap_shared<T>(py, std::shared_ptr<T>(value.release(), HeldDeleter<T>{}));
    }
};

}  // namespace detail

template <BoundClass T>
    requires is_shared_held_v<T>
struct TypeHint<std::shared_ptr<T>> {
    static std::string text() { return detail::ClassBinding<T>::name; }
};
template <BoundClass T>
    requires is_shared_held_v<T>
struct TypeHint<std::unique_ptr<T>> {
    static std::string text() { return detail::ClassBinding<T>::name; }
};
template <class T> struct TypeHint<detail::TakenValue<T>> {
    static std::string text() { return detail::ClassBinding<T>::name; }
};

// into_py(py, shared): the instance standing for it (None for nullptr).
template <BoundClass T>
    requires is_shared_held_v<T>
struct IntoPython<std::shared_ptr<T>> {
    static Bound<PyAny> convert(Python py, const std::shared_ptr<T> &value)
    {
        return Bound<PyAny>::from_owned_ptr(py, detail::wrap_shared<T>(py, value));
    }
};
// extract<std::shared_ptr<T>>() from C++ code: shares the instance's T.
template <BoundClass T>
    requires is_shared_held_v<T>
struct FromPython<std::shared_ptr<T>> {
    static std::shared_ptr<T> extract(Borrowed<PyAny> obj) { return detail::share_held<T>(obj.py(), obj.as_ptr()); }
};

}  // namespace pyo3cpp
