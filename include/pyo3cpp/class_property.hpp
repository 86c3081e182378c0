// class_property.hpp — a bound class's properties (def_readonly, def_readwrite, def_property):
// the getset records and their getter/setter functions.
//
// Getters take the instance shared, setters exclusive; a member of a bound (non-frozen) class
// type reads as a reference into the owner (class_member_ref.hpp: no copy; its uses take the
// owner's lock), and assigning it copy-assigns (assigning a member its own reference, as
// `f.p += v` does last, does nothing). A setter converts the value before it takes the
// lock and releases the references it gives up (the old value) after it, so no Python
// code runs under it (no __del__, no weakref callback); it words a bad value as
// "Counter.count must be int, not str". Deleting a property raises AttributeError. An unset
// Py<> member reads as None.
// Thread: any attached thread. Cost: the lock and one conversion per access.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <array>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>
#include <optional>

#include "pyo3cpp/class_method.hpp"

namespace pyo3cpp::detail {

// ------------------------------------------------------------------------------ properties

struct PropertyRecord {
    std::string name;
    std::string doc;
    // For stubs (pyo3cpp_class_member_register): "() -> <getter type>", or with a setter
    // "(value: <setter type>, /) -> <getter type>". Filled at the first exec (the hints of bound
    // classes need their names, which later add_class calls may set).
    pyo3cpp_signature signature{};
    pyo3cpp_parameter value{};
    std::string get_hint, set_hint;
    virtual void describe() = 0;
    void prepare(Python py)
    {
        if (signature.prepared != nullptr) return;
        describe();
        signature.name = name.c_str();
        signature.return_annotation = get_hint.c_str();
        if (!set_hint.empty()) {
            value = pyo3cpp_parameter{"value", nullptr, set_hint.c_str(), PYO3CPP_PARAM_POSITIONAL_ONLY, 1};
            signature.params = &value;
            signature.count = 1;
        }
        if (pyo3cpp_signature_prepare(&signature, nullptr) == nullptr) throw_fetched(py);
    }
    virtual ~PropertyRecord() = default;
};

template <class T> [[noreturn]] void raise_setter_error(Python py, const PyErr &err, const char *attr)
{
    // "Counter.count must be int, not str" (the conversion's clause, prefixed like def()'s).
    Bound<PyAny> value = err.value(py);
    auto text = Bound<PyAny>::from_owned_ptr(py, PyObject_Str(value.as_ptr()));
    const char *clause = PyUnicode_AsUTF8(text.as_ptr());
    if (clause == nullptr) throw_fetched(py);
    const bool whole = std::strncmp(clause, "must be ", 8) == 0;
    std::string message = std::string(ClassBinding<T>::name) + "." + attr + (whole ? " " : ": ") + clause;
    PyObject *type = reinterpret_cast<PyObject *>(Py_TYPE(value.as_ptr()));
    if (type == PyExc_TypeError || type == PyExc_ValueError || type == PyExc_OverflowError)
        throw PyErr::new_err(py, type, message);
    throw err;
}

// A stand-in for "no setter".
struct NoSetter {};

// A data member read through its owner as a reference into it (not a copy): one of a bound,
// non-frozen class type.
template <class M> constexpr bool refers_into_owner()
{
    if constexpr (BoundClass<M>)
        return !is_frozen_v<M>;
    else
        return false;
}

template <class T, class Get, class Set> struct TypedProperty final : PropertyRecord {
    Get get_fn;
    Set set_fn;
    TypedProperty(Get g, Set s) : get_fn(std::move(g)), set_fn(std::move(s)) {}

    void describe() override
    {
        if constexpr (std::is_member_object_pointer_v<Get>) {
            using M = std::remove_cvref_t<decltype(std::declval<const T &>().*std::declval<Get>())>;
            get_hint = type_hint<M>();
            if constexpr (owner_kind<M>::py || owner_kind<M>::bound)  // unset: None
                if (get_hint != "object" && get_hint != "Any") get_hint += " | None";
        } else {
            get_hint = result_hint<std::invoke_result_t<const Get &, const T &>>();
        }
        if constexpr (std::is_member_object_pointer_v<Set>) {
            using M = std::remove_cvref_t<decltype(std::declval<T &>().*std::declval<Set>())>;
            set_hint = type_hint<M>();
        } else if constexpr (!std::is_same_v<Set, NoSetter>) {
            set_hint = type_hint<typename first_of<typename method_shape<Set>::rest>::type>();
        }
    }

    // A member of a bound class type: a reference into the owner (class_member_ref.hpp).
    static constexpr bool kRefersIntoOwner = [] {
        if constexpr (std::is_member_object_pointer_v<Get>)
            return refers_into_owner<std::remove_cvref_t<decltype(std::declval<const T &>().*std::declval<Get>())>>();
        else
            return false;
    }();

    static PyObject *getter(PyObject *self, void *closure)
    {
        const auto &rec = *static_cast<const TypedProperty *>(closure);
        Python py = Python::assume_attached();
        if constexpr (kRefersIntoOwner) {
            // Only the member's address is taken: no lock (the reference's uses take the owner's).
            using M = std::remove_cvref_t<decltype(std::declval<const T &>().*std::declval<Get>())>;
            try {
                T &owner = ready_value<T>(py, self, rec.name.c_str());
                return make_member_reference<M>(py, self, &(owner.*rec.get_fn),
                                                std::is_same_v<Set, NoSetter> || is_frozen_v<T>, is_locked_v<T>);
            } PYO3CPP_CATCH_ALL {
                translate_current_exception(py);
                return nullptr;
            }
        } else {
            if constexpr (std::is_member_object_pointer_v<Get> && !is_locked_v<T>) {
                // Nothing to lock: an integer member of an instance holding its own T is one
                // compare and the conversion's tail call (a reference into an owner, or no T
                // yet, takes the general path).
                using M = std::remove_cvref_t<decltype(std::declval<const T &>().*std::declval<Get>())>;
                if constexpr (std::is_integral_v<M> && !std::is_same_v<M, bool>) {
                    Instance<T> *inst = Instance<T>::of(self);
                    if (inst->ready()) [[likely]]
                        return result_to_python(py, static_cast<M>(inst->value()->*rec.get_fn));
                    return read_value_out_of_line(self, closure);  // the getter's own arguments
                }
            }
            return read_value(py, rec, self);
        }
    }
    [[gnu::noinline]] static PyObject *read_value_out_of_line(PyObject *self, void *closure)
    {
        return read_value(Python::assume_attached(), *static_cast<const TypedProperty *>(closure), self);
    }

    static PyObject *read_value(Python py, const TypedProperty &rec, PyObject *self)
    {
        if constexpr (std::is_member_object_pointer_v<Get>) {
            using M = std::remove_cvref_t<decltype(std::declval<const T &>().*std::declval<Get>())>;
            if constexpr (std::is_integral_v<M> && !std::is_same_v<M, bool>) {
                // An integer is copied under the lock and converted after it, outside the try:
                // the conversion (which cannot throw) is then the getter's tail call.
                M copy;
                try {
                    Access<T, false> access(py, self, rec.name.c_str());
                    copy = access.get().*rec.get_fn;
                } PYO3CPP_CATCH_ALL {
                    translate_current_exception(py);
                    return nullptr;
                }
                return result_to_python(py, copy);
            }
        }
        try {
            Access<T, false> access(py, self, rec.name.c_str());
            if constexpr (std::is_member_object_pointer_v<Get>) {
                const auto &value = access.get().*rec.get_fn;
                using M = std::remove_cvref_t<decltype(value)>;
                if constexpr (owner_kind<M>::py || owner_kind<M>::bound)
                    if (value.is_null()) Py_RETURN_NONE;  // an unset Py<> member reads as None
                return result_to_python(py, value);
            }
            else
                return result_to_python(py, std::invoke(rec.get_fn, access.get()));
        } PYO3CPP_CATCH_ALL {
            translate_current_exception(py);
            return nullptr;
        }
    }

    // `value` is a reference into self's own member `member` (what `f.p = f.p` passes).
    template <class M, class Member> static bool is_own_member(PyObject *self, PyObject *value, Member member) noexcept
    {
        if (!ClassBinding<M>::check(value)) return false;
        Instance<M> *ref = Instance<M>::of(value);
        if ((ref->state.load(std::memory_order_acquire) & kRefersInto) == 0) return false;
        Instance<T> *inst = Instance<T>::of(self);
        const std::uint8_t state = inst->state.load(std::memory_order_acquire);
        T *owner;
        if (state == kReady)
            owner = inst->value();
        else if ((state & kRefersInto) != 0)
            owner = static_cast<T *>(inst->refers().value);
        else
            return false;
        return ref->refers().value == static_cast<void *>(std::addressof(owner->*member));
    }

    template <class V> static void assign(Python py, const TypedProperty &rec, PyObject *self, PyObject *value)
    {
        if constexpr (std::is_member_object_pointer_v<Set> && BoundClass<std::remove_cvref_t<V>>) {
            // `f.p += v` ends with `f.p = <f.p's reference>`. Converting it would copy the member
            // before the lock and write that copy back after, undoing what other threads changed
            // in between; assigning a member to itself changes nothing, so nothing is done.
            if (is_own_member<std::remove_cvref_t<V>>(self, value, rec.set_fn)) return;
        }
        using P = param_decay_t<V>;
        std::optional<P> converted;
        try {
            converted.emplace(param<P>::convert(py, value));
        } catch (const PyErr &err) {
            raise_setter_error<T>(py, err, rec.name.c_str());
        }
        // The old value (and what it held) goes after the unlock; plain data holds no Python.
        constexpr bool plain = std::is_member_object_pointer_v<Set> &&
                               (std::is_arithmetic_v<V> || std::is_enum_v<V> || std::is_same_v<V, std::string>);
        [[maybe_unused]] std::conditional_t<plain, char, DropsAfterUnlock> drops{};
        Access<T, true> access(py, self, rec.name.c_str());
        if constexpr (std::is_member_object_pointer_v<Set>)
            access.get().*rec.set_fn = std::move(*converted);
        else
            std::invoke(rec.set_fn, access.get(), std::move(*converted));
    }

    static int setter(PyObject *self, PyObject *value, void *closure)
    {
        const auto &rec = *static_cast<const TypedProperty *>(closure);
        Python py = Python::assume_attached();
        if (value == nullptr) {
            PyErr_Format(PyExc_AttributeError, "cannot delete attribute '%s' of '%s' objects",
                         rec.name.c_str(), ClassBinding<T>::name);
            return -1;
        }
        try {
            if constexpr (std::is_member_object_pointer_v<Set>) {
                using M = std::remove_cvref_t<decltype(std::declval<T &>().*std::declval<Set>())>;
                assign<M>(py, rec, self, value);
            } else {
                using V = typename method_shape<Set>::rest;
                static_assert(V::size == 1, "pyo3cpp: a property setter takes (T&, value)");
                assign<typename first_of<V>::type>(py, rec, self, value);
            }
            return 0;
        } PYO3CPP_CATCH_ALL {
            translate_current_exception(py);
            return -1;
        }
    }

    template <class L> struct first_of;
    template <class V> struct first_of<type_list<V>> {
        using type = V;
    };
};
}  // namespace pyo3cpp::detail
