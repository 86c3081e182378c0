// class_object.hpp — a bound class's instances from C++: the object layout (T inline after the
// header), the typed handles Bound<T>/Py<T>/Borrowed<T>, making instances, and T as a
// parameter or result of bound functions.
//
//   PYO3CPP_CLASS(Counter);                                   // class_policy.hpp
//   Bound<Counter> c = make_instance<Counter>(py, 5);         // Counter(5), constructed in place
//   c.lock(py)->add(1);                                       // exclusive access (locked policy)
//   long n = c.read(py)->count;                               // shared access
//   Bound<PyType> cls = type_object<Counter>(py);             // the Python class
//   Bound<Counter> same = any.cast<Counter>();                // TypeError unless a Counter (or
//                                                             // a Python subclass of it)
//   m.def("total", [](const Counter &a, Counter &b) { ... });  // parameters: checked, locked
//   m.def("fresh", [] { return Counter(3); });                // result: moved into a new instance
//
// Contract:
//   - Layout: PyObject header, the instance lock (8 bytes, used by `locked` classes), a state
//     byte (empty / being constructed / constructed / a reference into an owner, whose storage
//     then holds the owner and the address of its T: class_member_ref.hpp), a keep-alive byte
//     (keep_alive.hpp), then T at a 16-byte boundary: the same
//     offset for every bound class, so a bound subclass's object is also its base's (the base
//     subobject sits at offset 0 of the derived T; class.hpp checks it). T's alignment must not
//     exceed 16. ~T runs once, in tp_dealloc, only if T was constructed.
//   - An instance whose T is not constructed (a Python subclass whose __init__ did not call
//     the base's, or a failed constructor) is never handed to C++: conversions and methods raise
//     TypeError "<Class>.<method>(): the instance is not initialised ...".
//   - cast<T>(), and parameters of type T / T& / const T& / Bound<T> / Py<T> / Borrowed<T>,
//     accept instances of the class and of its subclasses (PyObject_TypeCheck), and raise
//     TypeError "must be Counter, not int" (the binder adds the function and argument).
//   - Parameters `T&` take the instance lock exclusively and `const T&` shared, for the call
//     (locked policy); `T` by value copies T under a shared lock. Two parameters naming the same
//     instance as `T&` raise RuntimeError (it would be held twice).
//   - A T returned by value from a bound function is moved into a new instance.
//   - Before the module that defines the class has run its exec, the class has no type: every
//     check fails and make_instance raises TypeError.
// Thread: any attached thread. Cost: a type check is PyObject_TypeCheck against the type, read
// from a OnceLock (one acquire load); locking costs are in instance_lock.hpp.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "pyo3cpp/class_policy.hpp"
#include "pyo3cpp/function.hpp"
#include "pyo3cpp/instance_lock.hpp"
#include "pyo3cpp/once_lock.hpp"
#include "pyo3cpp/py.hpp"
#include "pyo3cpp/trampoline_storage.hpp"
#include "pyo3cpp/type_hint.hpp"

namespace pyo3cpp {

namespace detail {

enum : std::uint8_t { kEmpty = 0, kConstructing = 1, kReady = 2 };
// A reference into an owner (class_member_ref.hpp): the state is kRefersInto plus its flags, and
// the storage holds a RefersInto instead of a T. Never kReady, so the ready check on every access
// sends it down the slow path: plain instances pay nothing for references existing.
enum : std::uint8_t { kRefersInto = 0x10, kRefConst = 0x01, kRefOwnerLocked = 0x02 };
struct RefersInto {
    PyObject *owner;  // a strong reference: the object whose memory holds the T
    void *value;      // the T inside it
};
// An instance of a class held by std::shared_ptr (class_holder.hpp): the state is kHeld, never
// kReady, so it too takes the slow path; its storage holds a HeldBy, whose `value` sits where a
// RefersInto's does. Once a std::unique_ptr parameter has taken the value, the state is
// kMovedOut and the storage is empty.
enum : std::uint8_t { kHeld = 0x20, kMovedOut = 0x40 };
struct HeldBy {
    const void *key;  // the class it is registered under in the identity map (its type)
    void *value;      // the T (or the bound subclass's value) the holder owns
    std::shared_ptr<void> holder;
};
template <class T> constexpr std::size_t instance_storage_size() noexcept
{
    if constexpr (requires { typename class_policy<T>::holder; })
        if constexpr (!std::is_void_v<typename class_policy<T>::holder>) return sizeof(HeldBy);
    return value_size<T>() > sizeof(RefersInto) ? value_size<T>() : sizeof(RefersInto);
}

// The object of a bound class T.
template <class T> struct Instance {
    PyObject ob_base;
    InstanceLock lock;
    std::atomic<std::uint8_t> state;
    std::atomic<std::uint8_t> keeps;  // 1: the runtime keeps objects alive for it (keep_alive.hpp)
    // One offset for all T (bound inheritance); room for a RefersInto (free: the object's size
    // is a multiple of 16 either way).
    // A class with a trampoline (trampoline_storage.hpp) has room for it too; a class held by
    // std::shared_ptr keeps a HeldBy here and its T on the heap.
    alignas(16) unsigned char storage[instance_storage_size<T>()];

    T *value() noexcept { return std::launder(reinterpret_cast<T *>(storage)); }
    bool ready() const noexcept { return state.load(std::memory_order_acquire) == kReady; }
    RefersInto &refers() noexcept { return *reinterpret_cast<RefersInto *>(storage); }
    HeldBy &held() noexcept { return *std::launder(reinterpret_cast<HeldBy *>(storage)); }
    static Instance *of(PyObject *o) noexcept
    {
        // The object is bigger than a PyObject; keep the compiler from assuming otherwise.
        __asm__("" : "+r"(o));
        return reinterpret_cast<Instance *>(o);
    }
};

// Per bound class: its Python type (once made) and its name.
template <class T> struct ClassBinding {
    static_assert(alignof(T) <= 16, "pyo3cpp: a bound class's alignment must not exceed 16");
    // The type, made by the first exec of the module that declares the class (one initialiser
    // even under concurrent imports; emptied at interpreter finalisation, so a re-initialised
    // interpreter makes it again).
    static inline OnceLock<Py<PyAny>> type{"bound class type"};
    static inline char name[64] = "?";  // the Python name, for messages (set by add_class)
    // Bound C++ subclasses (ClassDef<D>::extends<T>): their checks. An instance of one of them
    // holds a D, so T's constructor must never run on it (construct_in refuses).
    static constexpr int kMaxDerived = 16;
    static inline bool (*derived_check[kMaxDerived])(PyObject *) = {};
    static inline int derived_count = 0;
    // Its __init__ constructs T (def_init): a bound subclass built in __new__ must not inherit it.
    static inline bool constructs_in_init = false;

    static PyTypeObject *type_ptr() noexcept
    {
        const Py<PyAny> *t = type.get();
        return t != nullptr ? reinterpret_cast<PyTypeObject *>(t->as_ptr()) : nullptr;
    }
    static PyTypeObject *type_or_throw(Python py)
    {
        PyTypeObject *t = type_ptr();
        if (t == nullptr) {
            std::string text = std::string("the Python class ") + name +
                               " is not made yet (its module is not imported)";
            throw PyErr::new_err(py, PyExc_TypeError, text);
        }
        return t;
    }
    static bool check(PyObject *o) noexcept
    {
        PyTypeObject *t = type_ptr();
        return t != nullptr && PyObject_TypeCheck(o, t);
    }
    // o is an instance of a bound C++ subclass of T (so its storage holds more than a T).
    static bool holds_derived(PyObject *o) noexcept
    {
        for (int i = 0; i < derived_count; ++i)
            if (derived_check[i](o)) return true;
        return false;
    }
};

[[noreturn, gnu::cold]] inline void raise_not_initialised(Python py, const char *cls, const char *method)
{
    std::string text = (method != nullptr ? std::string(cls) + "." + method + "(): the instance"
                                          : std::string("the ") + cls + " instance") +
                       " is not initialised (its __init__ failed or a subclass's "
                       "__init__ did not call " +
                       cls + ".__init__)";
    throw PyErr::new_err(py, PyExc_TypeError, text);
}

// The instance lock of any bound class's object: at the same offset for every T.
inline InstanceLock &lock_of(PyObject *object) noexcept { return Instance<char>::of(object)->lock; }

[[noreturn, gnu::cold]] inline void raise_read_only_reference(Python py, const char *cls, const char *method)
{
    std::string text = (method != nullptr ? std::string(cls) + "." + method + "(): the instance"
                                          : std::string("the ") + cls + " instance") +
                       " is a read-only reference into its owner (a def_readonly member, or an "
                       "immutable owner); modify a copy (copy.copy) instead";
    throw PyErr::new_err(py, PyExc_TypeError, text);
}

[[noreturn, gnu::cold]] inline void raise_moved_out(Python py, const char *cls, const char *method)
{
    std::string text = (method != nullptr ? std::string(cls) + "." + method + "(): the instance"
                                          : std::string("the ") + cls + " instance") +
                       " holds no value: it was moved into C++ (a std::unique_ptr<" + cls +
                       "> parameter took ownership of it)";
    throw PyErr::new_err(py, PyExc_ValueError, text);
}

// The slow path of ready_value: the T a held instance's holder owns, the T a reference refers to
// (raises for an exclusive use of a read-only one, or when its owner's value was moved out), or
// TypeError when the instance holds no T (ValueError once moved out).
[[gnu::cold, gnu::noinline]] inline void *referent(Python py, PyObject *object, bool exclusive, const char *cls,
                                                   const char *method)
{
    Instance<char> *inst = Instance<char>::of(object);
    const std::uint8_t state = inst->state.load(std::memory_order_acquire);
    if ((state & kHeld) != 0) return inst->refers().value;
    if (state == kMovedOut) raise_moved_out(py, cls, method);
    if ((state & kRefersInto) == 0) raise_not_initialised(py, cls, method);
    if (exclusive && (state & kRefConst) != 0) raise_read_only_reference(py, cls, method);
    // A reference into a held owner whose value went to a std::unique_ptr: it points at memory
    // the owner no longer owns (checked under the owner's lock, which the move takes).
    if (Instance<char>::of(inst->refers().owner)->state.load(std::memory_order_acquire) == kMovedOut)
        raise_moved_out(py, Py_TYPE(inst->refers().owner)->tp_name, method);
    return inst->refers().value;
}

// The T of `object` (an instance of T's class, or a reference into an owner's T), or TypeError
// when it holds none (or, Exclusive, when it is a read-only reference).
template <class T, bool Exclusive = false> T &ready_value(Python py, PyObject *object, const char *method)
{
    Instance<T> *inst = Instance<T>::of(object);
    if (!inst->ready()) [[unlikely]]
        return *std::launder(static_cast<T *>(referent(py, object, Exclusive, ClassBinding<T>::name, method)));
    return *inst->value();
}

// The lock a reference's access takes (nullptr: none: its owner is not a `locked` class, or the
// access is refused anyway). For an instance that is not a reference: its own lock (the access
// then fails on the missing T, as before).
[[gnu::cold, gnu::noinline]] inline InstanceLock *referent_lock(PyObject *object, bool exclusive) noexcept
{
    Instance<char> *inst = Instance<char>::of(object);
    const std::uint8_t state = inst->state.load(std::memory_order_acquire);
    if ((state & kRefersInto) == 0) return &inst->lock;
    if ((state & kRefOwnerLocked) == 0 || (exclusive && (state & kRefConst) != 0)) return nullptr;
    return &lock_of(inst->refers().owner);
}

// Access to the T of an instance for one call: locked as the policy says (Exclusive: T&,
// otherwise const T&). Movable; releases at destruction.
template <class T, bool Exclusive> class Access {
public:
    using ref = std::conditional_t<Exclusive, T &, const T &>;
    Access(Python py, PyObject *object, const char *method)
        : Access(py, object, method, Instance<T>::of(object)->ready())
    {
    }
    ref get() const noexcept { return *value_; }
    ref operator*() const noexcept { return *value_; }
    std::remove_reference_t<ref> *operator->() const noexcept { return value_; }

private:
    // `own`: the instance holds its T (checked once, before the lock: the state of an instance
    // others can reach only goes from empty to ready, never back while it is alive).
    Access(Python py, PyObject *object, const char *method, bool own)
        : guard_(make_guard(py, object, method, own)),
          value_(own ? Instance<T>::of(object)->value() : &ready_value<T, Exclusive>(py, object, method))
    {
    }
    static constexpr bool kLocks = is_locked_v<T>;
    using Guard = std::conditional_t<kLocks, InstanceGuard<Exclusive>, char>;
    static Guard make_guard(Python py, PyObject *object, const char *method, bool own)
    {
        if constexpr (kLocks) {
            Instance<T> *inst = Instance<T>::of(object);
            if (own) [[likely]]
                return InstanceGuard<Exclusive>(py, inst->lock, ClassBinding<T>::name, method);
            // A reference into an owner takes the owner's lock (class_member_ref.hpp).
            InstanceLock *lock = referent_lock(object, Exclusive);
            if (lock == nullptr) return InstanceGuard<Exclusive>();
            return InstanceGuard<Exclusive>(py, *lock, ClassBinding<T>::name, method);
        } else {
            return 0;
        }
    }
    [[no_unique_address]] Guard guard_;
    T *value_;
};

// Open for a change the library makes under an instance lock (a setter, __init__ run again):
// references given up meanwhile are released when it ends, after the lock (declare it before
// the Access), so no __del__ or weakref callback runs under the lock.
struct DropsAfterUnlock {
    DropsAfterUnlock() noexcept { pyo3cpp_drop_scope_enter(); }
    ~DropsAfterUnlock() noexcept(false) { pyo3cpp_drop_scope_exit(); }
    DropsAfterUnlock(const DropsAfterUnlock &) = delete;
    DropsAfterUnlock &operator=(const DropsAfterUnlock &) = delete;
};

// A T& / const T& parameter of a bound function, held between conversion and call.
template <class Q> class ClassRef {
public:
    using T = std::remove_const_t<Q>;
    static constexpr bool exclusive = !std::is_const_v<Q> && !is_frozen_v<T>;
    explicit ClassRef(Access<T, exclusive> access) : access_(std::move(access)) {}
    operator Q &() const noexcept { return access_.get(); }

private:
    Access<T, exclusive> access_;
};

template <class T> PyObject *checked_instance(Python py, PyObject *object)
{
    if (!ClassBinding<T>::check(object)) {
        const char *type_name = Py_TYPE(object)->tp_name;  // short, as CPython's own messages
        if (const char *dot = std::strrchr(type_name, '.')) type_name = dot + 1;
        PyErr_Format(PyExc_TypeError, "must be %s, not %.200s", ClassBinding<T>::name, type_name);
        throw_fetched(py);
    }
    return object;
}

}  // namespace detail

// The type tag side: Bound<T>, Py<T>, Borrowed<T>, cast<T>().
template <BoundClass T> struct type_traits<T> {
    static constexpr const char *name = detail::ClassBinding<T>::name;
    static bool check(PyObject *o) noexcept { return detail::ClassBinding<T>::check(o); }
};

// Methods of Bound<T> / Borrowed<T> for a bound class.
template <class Self, BoundClass T> struct Methods<Self, T> : AnyMethods<Self> {
    // Exclusive access for the guard's life: `auto c = obj.lock(py); c->add(1);` (locked and
    // unsynchronized: no lock for the latter). RuntimeError if this thread already uses it.
    detail::Access<T, true> lock(Python py) const
        requires(!is_frozen_v<T>)
    {
        return detail::Access<T, true>(py, this->ptr(), "lock");
    }
    // Shared access: `obj.read(py)->count`.
    detail::Access<T, false> read(Python py) const
    {
        return detail::Access<T, false>(py, this->ptr(), "read");
    }
    // frozen classes: the value, with no lock (TypeError if not initialised).
    const T &get() const
        requires is_frozen_v<T>
    {
        return detail::ready_value<T>(this->token(), this->ptr(), "get");
    }
};

// The Python class of T (TypeError if its module has not made it yet).
template <BoundClass T> Bound<PyType> type_object(Python py)
{
    PyObject *type = reinterpret_cast<PyObject *>(detail::ClassBinding<T>::type_or_throw(py));
    return Borrowed<PyAny>::from_ptr(py, type).template cast_unchecked<PyType>().to_owned();
}

// A new instance of T's class holding T(args...), constructed in place.
namespace detail {
// class_holder.hpp: T built on the heap and adopted by a new instance's std::shared_ptr holder.
template <class T, class Build>
void construct_held(Python py, PyObject *object, const char *method, Build &&build, bool as_trampoline = false);
}  // namespace detail

template <BoundClass T, class... A> Bound<T> make_instance(Python py, A &&...args)
{
    PyTypeObject *type = detail::ClassBinding<T>::type_or_throw(py);
    auto object = Bound<PyAny>::from_owned_ptr(py, type->tp_alloc(type, 0));
    if constexpr (is_shared_held_v<T>) {  // T on the heap, owned by a std::shared_ptr
        detail::construct_held<T>(py, object.as_ptr(), detail::ClassBinding<T>::name, [&](void *where) { new (where) T(std::forward<A>(args)...); });
    } else {
        auto *inst = detail::Instance<T>::of(object.as_ptr());
        inst->state.store(detail::kConstructing, std::memory_order_relaxed);
        try {
            new (inst->storage) T(std::forward<A>(args)...);
        } catch (...) {
            inst->state.store(detail::kEmpty, std::memory_order_relaxed);
            throw;
        }
        inst->state.store(detail::kReady, std::memory_order_release);
    }
    return std::move(object).template cast_unchecked<T>();
}

namespace detail {

// Parameters: T& / const T& (param_decay gives ClassRef), T by value (a copy under a shared
// lock), and the handles (checked against the class).
template <class Q>
    requires BoundClass<std::remove_const_t<Q>>
struct param_decay<Q &> {
    using type = ClassRef<Q>;
};
template <class Q>
    requires BoundClass<std::remove_const_t<Q>>
struct param_decay<Q &&> {
    using type = std::remove_const_t<Q>;
};

// What every parameter naming an instance shares: required, not variadic, worded by
// checked_instance ("must be Counter, not int").
struct instance_param {
    static constexpr bool optional = false;
    static constexpr bool variadic = false;
    static constexpr const char *expected = nullptr;
};

template <class Q> struct param<ClassRef<Q>> : instance_param {
    using T = std::remove_const_t<Q>;
    static constexpr bool locks_instance = is_locked_v<T>;
    static ClassRef<Q> convert(Python py, PyObject *object)
    {
        checked_instance<T>(py, object);
        return ClassRef<Q>(Access<T, ClassRef<Q>::exclusive>(py, object, nullptr));
    }
};
template <BoundClass T> struct param<T> : instance_param {
    static constexpr bool locks_instance = is_locked_v<T>;
    static T convert(Python py, PyObject *object)
    {
        checked_instance<T>(py, object);
        Access<T, false> access(py, object, nullptr);
        return T(access.get());
    }
};
template <BoundClass T> struct param<Borrowed<T>> : instance_param {
    static Borrowed<T> convert(Python py, PyObject *object)
    {
        return Borrowed<PyAny>::from_ptr(py, checked_instance<T>(py, object)).template cast_unchecked<T>();
    }
};
template <BoundClass T> struct param<Bound<T>> : instance_param {
    static Bound<T> convert(Python py, PyObject *object)
    {
        return param<Borrowed<T>>::convert(py, object).to_owned();
    }
};
template <BoundClass T> struct param<Py<T>> : instance_param {
    static Py<T> convert(Python py, PyObject *object)
    {
        return param<Borrowed<T>>::convert(py, object).unbind();
    }
};

// keep_alive (keep_alive.hpp): these results are always instances of a bound class.
template <BoundClass T> struct result_is_instance<T> : std::true_type {};
template <BoundClass T> struct result_is_instance<Bound<T>> : std::true_type {};
template <BoundClass T> struct result_is_instance<Py<T>> : std::true_type {};

// Results: a T by value becomes a new instance holding it (moved).
template <BoundClass T> struct moves_into_python<T> : std::true_type {
    template <class R> static PyObject *convert(Python py, R &&value)
    {
        return make_instance<T>(py, std::forward<R>(value)).into_any().into_ptr();
    }
};

}  // namespace detail

template <BoundClass T> struct TypeHint<T> {
    static std::string text() { return detail::ClassBinding<T>::name; }
};
template <class Q> struct TypeHint<detail::ClassRef<Q>> {
    static std::string text() { return detail::ClassBinding<std::remove_const_t<Q>>::name; }
};

// extract<T>() from C++ code: a copy of the T (shared lock while copying).
template <BoundClass T> struct FromPython<T> {
    static T extract(Borrowed<PyAny> obj) { return detail::param<T>::convert(obj.py(), obj.as_ptr()); }
};
// into_py(py, t): a new instance holding a copy of t.
template <BoundClass T> struct IntoPython<T> {
    static Bound<PyAny> convert(Python py, const T &value)
    {
        return make_instance<T>(py, value).into_any();
    }
};

}  // namespace pyo3cpp
