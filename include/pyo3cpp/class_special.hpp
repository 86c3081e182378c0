// class_special.hpp — a bound class's special methods (__repr__, __len__, __getitem__, the
// comparisons, __hash__, __call__, ... and __init__ of a class built in __new__) as type slots:
// which dunder names map to which slot, which ones are refused because no slot is bound for them,
// and the slot functions that call the method records. The number protocol's names are listed
// here too (one table, inherited one by one with the others); its slots are class_number.hpp's.
//
// Used by class.hpp (ClassDef<T>::def registers a record under its slot; make_type fills the
// slots that have one). Slot functions follow CPython's slot contracts: -1/NULL with an
// exception set, __len__ results checked >= 0, comparisons NotImplemented for other types.
// Thread: any attached thread. Cost: one indexed load and an indirect call to the record.
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

#include "pyo3cpp/class_method.hpp"

namespace pyo3cpp::detail {

// ------------------------------------------------------------------------- special methods

// The number protocol's binary operators, in this order; each has three entries in SpecialSlot
// (forward, reflected, in place: __add__, __radd__, __iadd__), class_number.hpp fills their slots.
inline constexpr int kBinaryOpCount = 14;
inline constexpr int kUnaryOpCount = 7;  // __neg__ __pos__ __abs__ __invert__ __int__ __float__ __index__

enum SpecialSlot : int {
    kRepr, kStr, kLen, kIter, kNext, kGetItem, kSetItem, kDelItem, kContains, kHash, kBool,
    kCall, kLt, kLe, kEq, kNe, kGt, kGe,
    kInit,  // __init__ as a method, for classes constructed in __new__ (construct_in_new)
    kNumberFirst,  // binary operator b: kNumberFirst + 3 * b + (0 forward, 1 reflected, 2 in place)
    kUnaryFirst = kNumberFirst + 3 * kBinaryOpCount,
    kSpecialCount = kUnaryFirst + kUnaryOpCount
};
inline constexpr bool is_number_special(int slot) noexcept { return slot >= kNumberFirst && slot < kSpecialCount; }
inline constexpr bool is_comparison_special(int slot) noexcept { return slot >= kLt && slot <= kGe; }
inline constexpr bool is_in_place_special(int slot) noexcept
{
    return slot >= kNumberFirst && slot < kUnaryFirst && (slot - kNumberFirst) % 3 == 2;
}
// Special methods CPython reaches only through a type slot this layer does not fill yet:
// defined as plain methods they would be silently ignored by the operators, so def() refuses them.
inline bool unsupported_special(const char *name)
{
    static const char *const names[] = {
        "__init__", "__new__", "__del__", "__getattr__", "__getattribute__", "__setattr__",
        "__delattr__", "__get__", "__set__", "__delete__", "__await__", "__aiter__", "__anext__",
        "__buffer__", "__release_buffer__"};
    for (const char *n : names)
        if (std::strcmp(name, n) == 0) return true;
    return false;
}

// nullptr for the in-place entry of divmod (Python has no __idivmod__).
inline const char *special_name(int slot)
{
    static const char *const names[kSpecialCount] = {
        "__repr__", "__str__", "__len__", "__iter__", "__next__", "__getitem__",
        "__setitem__", "__delitem__", "__contains__", "__hash__", "__bool__", "__call__",
        "__lt__", "__le__", "__eq__", "__ne__", "__gt__", "__ge__", "__init__",
        "__add__", "__radd__", "__iadd__", "__sub__", "__rsub__", "__isub__",
        "__mul__", "__rmul__", "__imul__", "__matmul__", "__rmatmul__", "__imatmul__",
        "__truediv__", "__rtruediv__", "__itruediv__", "__floordiv__", "__rfloordiv__", "__ifloordiv__",
        "__mod__", "__rmod__", "__imod__", "__divmod__", "__rdivmod__", nullptr,
        "__pow__", "__rpow__", "__ipow__", "__lshift__", "__rlshift__", "__ilshift__",
        "__rshift__", "__rrshift__", "__irshift__", "__and__", "__rand__", "__iand__",
        "__or__", "__ror__", "__ior__", "__xor__", "__rxor__", "__ixor__",
        "__neg__", "__pos__", "__abs__", "__invert__", "__int__", "__float__", "__index__"};
    return names[slot];
}

inline int special_slot_of(const std::string &name)
{
    for (int i = 0; i < kSpecialCount; ++i)
        if (const char *known = special_name(i); known != nullptr && name == known) return i;
    return -1;
}

// What one definition of an overloaded special method takes (ClassDef::def of the same dunder
// again makes the slot's record an OverloadSet): the other operand's class check for a
// comparison, the operand probes for an operator (nullptr: anything).
struct SpecialProbe {
    bool (*accepts)(PyObject *) = nullptr;
    bool (*fits[2])(PyObject *) = {nullptr, nullptr};
};
// An overloaded special method takes `other` as its `which` operand (0: the other one, 1: pow's
// modulus; -1: a comparison's other object) when one of its definitions does.
inline bool any_definition_takes(const std::vector<SpecialProbe> &set, int which, PyObject *other)
{
    for (const SpecialProbe &p : set) {
        auto probe = which < 0 ? p.accepts : p.fits[which];
        if (probe == nullptr || probe(other)) return true;
    }
    return false;
}

template <class T> struct Specials {
    static inline const FunctionRecord *record[kSpecialCount] = {};
    // Not empty: the slot's record is an overload set, one probe per definition (accepts and
    // operand_fits are then unused for it).
    static inline std::vector<SpecialProbe> set_probes[kSpecialCount];
    static inline SelfInvoke invoke[kSpecialCount] = {};
    static inline bool (*accepts[kSpecialCount])(PyObject *) = {};  // comparisons: the other type
    // Operators: whether an object converts to the first (second: pow's modulus) operand's
    // parameter type (class_number.hpp asks after a failed call).
    static inline bool (*operand_fits[kSpecialCount][2])(PyObject *) = {};
    static inline bool inherited[kSpecialCount] = {};  // taken from a bound base (not T's own)

    // extends<B>: every special method T does not define is B's (B made first, its own table
    // complete), so a slot T fills for one method of a group (the comparisons, __setitem__ and
    // __delitem__) still reaches B's others. B's records run on T's instances as B's method
    // descriptors do. As in Python, a class that defines __eq__ without __hash__ does not
    // inherit __hash__: its instances are unhashable.
    template <class B> static void inherit_from() noexcept
    {
        const bool own_eq_without_hash = record[kEq] != nullptr && !inherited[kEq] && record[kHash] == nullptr;
        for (int i = 0; i < kSpecialCount; ++i) {
            if (i == kInit || (record[i] != nullptr && !inherited[i])) continue;
            if (i == kHash && own_eq_without_hash) continue;
            record[i] = Specials<B>::record[i];
            invoke[i] = Specials<B>::invoke[i];
            accepts[i] = Specials<B>::accepts[i];
            operand_fits[i][0] = Specials<B>::operand_fits[i][0];
            operand_fits[i][1] = Specials<B>::operand_fits[i][1];
            set_probes[i] = Specials<B>::set_probes[i];
            key_unpacks[i] = Specials<B>::key_unpacks[i];
            key_single[i] = Specials<B>::key_single[i];
            inherited[i] = record[i] != nullptr;
        }
    }

    static PyObject *call(int slot, PyObject *self, PyObject *const *args, Py_ssize_t nargs)
    {
        return invoke[slot](*record[slot], self, args, nargs, nullptr);
    }
    static PyObject *unary(PyObject *self, int slot) { return call(slot, self, nullptr, 0); }
    static PyObject *repr(PyObject *self) { return unary(self, kRepr); }
    static PyObject *str(PyObject *self) { return unary(self, kStr); }
    static PyObject *iter(PyObject *self) { return unary(self, kIter); }
    static PyObject *next(PyObject *self) { return unary(self, kNext); }
    static Py_ssize_t ssize_result(PyObject *result, const char *what)
    {
        if (result == nullptr) return -1;
        Py_ssize_t n = PyLong_AsSsize_t(result);
        Py_DECREF(result);
        if (n == -1 && PyErr_Occurred()) return -1;
        if (n < 0 && std::strcmp(what, "__len__") == 0) {
            PyErr_SetString(PyExc_ValueError, "__len__() should return >= 0");
            return -1;
        }
        return n;
    }
    static Py_ssize_t len(PyObject *self) { return ssize_result(unary(self, kLen), "__len__"); }
    static Py_hash_t hash(PyObject *self)
    {
        PyObject *result = unary(self, kHash);
        if (result == nullptr) return -1;
        Py_hash_t h = PyObject_Hash(result);  // an int hashes to itself (mod), like CPython's slot
        Py_DECREF(result);
        return h;
    }
    static int truth(PyObject *result)
    {
        if (result == nullptr) return -1;
        int t = PyObject_IsTrue(result);
        Py_DECREF(result);
        return t;
    }
    static int boolean(PyObject *self) { return truth(unary(self, kBool)); }
    // __getitem__/__setitem__/__delitem__ taking several key parameters (r[0, 1] -> (0, 1)):
    // a tuple key's items are the arguments; `key_single`: some definition takes the key whole.
    static inline bool key_unpacks[kSpecialCount] = {};
    static inline bool key_single[kSpecialCount] = {};
    [[gnu::noinline]] static PyObject *call_with_key(int slot, PyObject *self, PyObject *key, PyObject *value)
    {
        if (!PyTuple_Check(key)) {
            if (!key_single[slot]) {
                PyErr_Format(PyExc_TypeError, "%.200s indices must be a tuple, not %.200s",
                             Py_TYPE(self)->tp_name, Py_TYPE(key)->tp_name);
                return nullptr;
            }
            PyObject *args[2] = {key, value};
            return call(slot, self, args, value != nullptr ? 2 : 1);
        }
        const Py_ssize_t n = PyTuple_GET_SIZE(key);  // borrowed items: the caller holds the key
        PyObject *small[8];
        std::vector<PyObject *> large;
        PyObject **args = small;
        if (n + 1 > 8) {
            large.resize(static_cast<std::size_t>(n + 1));
            args = large.data();
        }
        for (Py_ssize_t i = 0; i < n; ++i) args[i] = PyTuple_GET_ITEM(key, i);
        if (value != nullptr) args[n] = value;
        return call(slot, self, args, n + (value != nullptr ? 1 : 0));
    }
    static PyObject *getitem(PyObject *self, PyObject *key)
    {
        if (key_unpacks[kGetItem]) [[unlikely]]
            return call_with_key(kGetItem, self, key, nullptr);
        return call(kGetItem, self, &key, 1);
    }
    // The sequence protocol's item slot, as CPython gives a Python class that defines
    // __getitem__: iter(), `in` and the like then read items 0, 1, ... until IndexError.
    static PyObject *sq_item(PyObject *self, Py_ssize_t i)
    {
        PyObject *index = PyLong_FromSsize_t(i);
        if (index == nullptr) return nullptr;
        PyObject *result = getitem(self, index);
        Py_DECREF(index);
        return result;
    }
    static int setitem(PyObject *self, PyObject *key, PyObject *value)
    {
        PyObject *result;
        if (value == nullptr) {
            if (record[kDelItem] == nullptr) {
                PyErr_Format(PyExc_TypeError, "'%.200s' object doesn't support item deletion",
                             Py_TYPE(self)->tp_name);
                return -1;
            }
            result = key_unpacks[kDelItem] ? call_with_key(kDelItem, self, key, nullptr) : call(kDelItem, self, &key, 1);
        } else {
            if (record[kSetItem] == nullptr) {
                PyErr_Format(PyExc_TypeError, "'%.200s' object does not support item assignment",
                             Py_TYPE(self)->tp_name);
                return -1;
            }
            PyObject *args[2] = {key, value};
            result = key_unpacks[kSetItem] ? call_with_key(kSetItem, self, key, value) : call(kSetItem, self, args, 2);
        }
        if (result == nullptr) return -1;
        Py_DECREF(result);
        return 0;
    }
    static int contains(PyObject *self, PyObject *item) { return truth(call(kContains, self, &item, 1)); }
    static PyObject *call_slot(PyObject *self, PyObject *args, PyObject *kwargs)
    {
        return call_with_tuple(*record[kCall], invoke[kCall], self, args, kwargs);
    }
    static int init_slot(PyObject *self, PyObject *args, PyObject *kwargs)
    {
        // __init__ run again replaces members under the lock: what they held goes after it.
        PyObject *result;
        try {
            DropsAfterUnlock drops;
            result = call_with_tuple(*record[kInit], invoke[kInit], self, args, kwargs);
        } PYO3CPP_CATCH_ALL {
            translate_current_exception(Python::assume_attached());
            return -1;
        }
        if (result == nullptr) return -1;
        Py_DECREF(result);
        return 0;
    }
    static PyObject *richcompare(PyObject *self, PyObject *other, int op)
    {
        static constexpr int slot_of_op[6] = {kLt, kLe, kEq, kNe, kGt, kGe};  // Py_LT .. Py_GE
        const int slot = slot_of_op[op];
        if (record[slot] == nullptr) Py_RETURN_NOTIMPLEMENTED;
        if (set_probes[slot].empty() ? accepts[slot] != nullptr && !accepts[slot](other)
                                     : !any_definition_takes(set_probes[slot], -1, other))
            Py_RETURN_NOTIMPLEMENTED;
        PyObject *result = call(slot, self, &other, 1);
        if (result != nullptr || !PyErr_ExceptionMatches(PyExc_TypeError)) [[likely]]
            return result;
        return not_comparable(slot, other);
    }
    // The comparison failed with TypeError: when `other` does not convert to what any definition
    // takes, the answer is NotImplemented (== then falls back to identity, < raises Python's own
    // "not supported between instances"), as Python's own types answer; otherwise the error stands.
    [[gnu::cold]] static PyObject *not_comparable(int slot, PyObject *other)
    {
        Python py = Python::assume_attached();
        PyErr error = PyErr::fetch(py);  // the probes may raise and clear errors of their own
        const bool takes = set_probes[slot].empty()
                               ? operand_fits[slot][0] == nullptr || operand_fits[slot][0](other)
                               : any_definition_takes(set_probes[slot], 0, other);
        if (!takes) Py_RETURN_NOTIMPLEMENTED;  // `error` is dropped with it
        error.restore(py);
        return nullptr;
    }
};

}  // namespace pyo3cpp::detail
