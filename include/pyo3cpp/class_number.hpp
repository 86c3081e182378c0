// class_number.hpp — a bound class's number protocol: the binary operators with their reflected
// and in-place forms (__add__ __radd__ __iadd__ ... __xor__, divmod, pow with its optional
// modulus), the unary ones (__neg__ __pos__ __abs__ __invert__) and the conversions __int__
// __float__ __index__, as the type's nb_* slots.
//
// Used by class.hpp: ClassDef<T>::def("__add__", fn) makes the same method record as any method
// (so an operator costs no template code of its own: the name is known only at run time) and
// keeps it in Specials<T> under the name's entry (class_special.hpp: inherited through
// extends<> one by one like every special method), with a probe per operand (operand_fits);
// make_type asks NumberSlots<T>::add_slots for the slots.
//
// Contract:
//   - An operand that does not convert to its parameter's type is not an error: the method returns
//     NotImplemented (no exception set), so Python tries the other operand's reflected method and
//     finally raises its own "TypeError: unsupported operand type(s) for +: 'Vec' and 'str'".
//     "Does not convert" means: for a parameter naming a bound class (T&, const T&, T, Bound<T>,
//     Borrowed<T>, Py<T>), an object that is not an instance of it; for any other parameter, a
//     conversion that raises TypeError. (The call runs as any method's; when it fails with
//     TypeError the slot asks the operands' probes, and drops the error if one does not fit:
//     nothing extra on the path that succeeds.) Any other error of a conversion
//     (OverflowError for an int too large for a double or a long, ValueError, an error raised by
//     the operand's own __index__ or __float__) propagates, worded as a method argument's error,
//     as CPython's own int * float raises OverflowError instead of answering NotImplemented.
//   - Dispatch: a slot receives (left, right), either of which may be the class's. As CPython's
//     slot functions (SLOT1BINFULL) do: left's forward method runs when left is the class's; when
//     right is the class's too and of another type, right's reflected method runs if the forward
//     one is missing or answered NotImplemented; operands of one type never reach the reflected
//     method. "The class's" is a type check (an instance of the class or a subclass), as in
//     CPython's own int and float, not "its type uses this slot" as for Python classes: the
//     wrappers CPython adds (Vec.__add__, Vec.__radd__) call this slot again from a Python
//     subclass's own slot, with an operand whose type uses another slot. So, as with int, a Python
//     subclass's override answering NotImplemented falls back to the C++ method. A subclass on the
//     right that overrides the reflected method (in Python, or a bound subclass defining it) has a
//     slot of its own, which CPython calls first. A bound subclass that defines none of an
//     operator's methods keeps its base's slot (CPython inherits it): one dispatch for both.
//   - In place (__iadd__ ...): the method runs on self (exclusively locked when it takes T&) and
//     the expression's value is self; the C++ result, if any, is discarded (a T& returned, as by
//     `T &operator+=`, is not even copied). An operand that does
//     not convert gives NotImplemented, and Python falls back to __add__/__radd__.
//   - pow: __pow__(other) or __pow__(other, mod) with an optional modulus (std::optional<M> or an
//     arg(...) default): pow(a, b) passes one argument, pow(a, b, m) two. The three-argument form
//     calls left's __pow__, then right's __rpow__(left, mod) (what CPython 3.14 does; earlier
//     versions never call __rpow__ with a modulus), each with the modulus converted as its
//     parameter says (a method without one raises TypeError for the extra argument).
//   - Aliasing: `v += v`, `a * a` take the instance once, in the strongest mode the call needs
//     (instance_lock.hpp); no deadlock, no copy.
//   - __int__/__float__/__index__: CPython checks their results' types (int, float, int).
//     __complex__, __round__, __trunc__, __floor__, __ceil__ are plain methods in CPython: def()
//     binds them as methods.
// Thread: any attached thread, under the class's policy. Cost per operator: the class's type (an
// acquire load) and a type check per operand (a compare; a walk of the MRO for subclasses), then
// one indexed load and an indirect call to the record, as for every special method.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "pyo3cpp/class_special.hpp"

namespace pyo3cpp::detail {

inline constexpr int kPowOp = 8;  // pow's place among the binary operators (class_special.hpp)

// ------------------------------------------------------------------------------ operands

// The bound class a parameter type names (void: none).
template <class X> struct operand_class {
    using type = void;
};
template <class Q> struct operand_class<ClassRef<Q>> {
    using type = std::remove_const_t<Q>;
};
template <BoundClass C> struct operand_class<C> {
    using type = C;
};
template <BoundClass C> struct operand_class<Borrowed<C>> {
    using type = C;
};
template <BoundClass C> struct operand_class<Bound<C>> {
    using type = C;
};
template <BoundClass C> struct operand_class<Py<C>> {
    using type = C;
};

// Whether `object` converts to an operator's parameter type X: for a parameter naming a bound
// class, an instance check (nothing converted, no lock taken); for any other, a conversion that
// raises TypeError does not fit, one that succeeds or raises anything else does (that error is
// the method's). Asked only after the method's call failed with TypeError (a cold path).
template <class X> bool operand_fits(PyObject *object)
{
    using C = typename operand_class<X>::type;
    if constexpr (!std::is_void_v<C>) {
        return ClassBinding<C>::check(object);
    } else {
        Python py = Python::assume_attached();
        try {
            ViewScope views(py);  // views inside containers need one (view_scope.hpp)
            (void)param<X>::convert(py, object);
            return true;
        } catch (const PyErr &err) {
            return !err.matches(py, PyExc_TypeError);
        } PYO3CPP_CATCH_ALL {
            return true;  // not a type mismatch: the method's own error stands
        }
    }
}

// The probe for the I-th Python parameter of a method record (nullptr: none, or not an operand).
using OperandFits = bool (*)(PyObject *);
template <class Record, std::size_t I> constexpr OperandFits operand_probe() noexcept
{
    if constexpr (I < Record::arity) {
        using X = std::tuple_element_t<I, typename Record::values_tuple>;
        if constexpr (param<X>::variadic)
            return nullptr;
        else
            return &operand_fits<X>;
    } else {
        return nullptr;
    }
}

// An in-place method whose C++ function returns a reference to the instance (`T &operator+=`):
// called without converting that result (the slot gives self), so no copy of T is made.
template <class F, class Shape = method_shape<F>, class Rest = typename Shape::rest> struct DiscardResult;
template <class F, class Shape, class... A> struct DiscardResult<F, Shape, type_list<A...>> {
    F fn;
    void operator()(typename Shape::self self, A... args) const
    {
        std::invoke(fn, std::forward<typename Shape::self>(self), std::forward<A>(args)...);
    }
};
template <class F> struct method_shape<DiscardResult<F>> {
    using self = typename method_shape<F>::self;
    using rest = typename method_shape<F>::rest;
    using result = void;
};
template <class T, class F>
inline constexpr bool returns_self_reference = [] {
    using R = typename method_shape<F>::result;
    if constexpr (std::is_lvalue_reference_v<R>)
        return std::is_base_of_v<std::remove_cvref_t<R>, T> && !std::is_const_v<std::remove_reference_t<R>>;
    else
        return false;
}();

// Stubs: an in-place method's value is the instance.
template <class Record, class T> void describe_in_place(FunctionRecord &base)
{
    Record::describe_types(base);
    base.signature.return_annotation = base.keep(type_hint<T>());
}

// def() time: the number of operands each kind of operator method takes.
[[gnu::cold]] inline void check_number_arity(const char *name, int special, std::size_t arity)
{
    const int pow_first = kNumberFirst + 3 * kPowOp;  // __pow__ __rpow__ __ipow__ may take a modulus
    const bool unary = special >= kUnaryFirst;
    const bool pow = special >= pow_first && special < pow_first + 3;
    const bool ok = unary ? arity == 0 : (arity == 1 || (pow && arity == 2));
    if (!ok)
        throw std::invalid_argument(std::string("pyo3cpp::ClassDef::def(\"") + name + "\"): " +
                                    (unary ? "takes no argument besides the instance"
                                           : pow ? "takes the other operand and optionally a modulus"
                                                 : "takes exactly one argument besides the instance (the other operand)"));
}

// ------------------------------------------------------------------------------- the slots

// One operator method's entry in a class's special-method table (Specials<T>).
struct NumberMethod {
    const FunctionRecord *record;
    SelfInvoke invoke;
    const OperandFits *fits;  // [2]: the other operand's, the modulus's
    const std::vector<SpecialProbe> *set;  // not empty: an overload set, a probe per definition
};

// Calls an operator method with the operands after the instance (the other one, then the modulus
// if not nullptr). A failure with TypeError where an operand does not fit its parameter
// (operand_fits) becomes NotImplemented, the error dropped.
inline PyObject *call_number(const NumberMethod &method, PyObject *self, PyObject *other, PyObject *modulus)
{
    PyObject *args[2] = {other, modulus};
    PyObject *result = method.invoke(*method.record, self, args, modulus != nullptr ? 2 : 1, nullptr);
    if (result != nullptr || !PyErr_ExceptionMatches(PyExc_TypeError)) [[likely]]
        return result;
    Python py = Python::assume_attached();
    PyErr error = PyErr::fetch(py);  // the probes below may raise and clear errors of their own
    const bool mismatch =
        method.set->empty()
            ? (method.fits[0] != nullptr && !method.fits[0](other)) ||
                  (modulus != nullptr && method.fits[1] != nullptr && !method.fits[1](modulus))
            : !any_definition_takes(*method.set, 0, other) ||
                  (modulus != nullptr && !any_definition_takes(*method.set, 1, modulus));
    if (mismatch) Py_RETURN_NOTIMPLEMENTED;  // `error` is dropped with it
    error.restore(py);
    return nullptr;
}

// One binary (or three-argument pow) slot call, for any class: `type` is the class's, `forward`
// and `reflected` its methods (record nullptr: not defined). An operand is the class's when it
// is an instance of it or of a subclass (a type check, as CPython's own int and float slots do;
// not "its type uses this slot", which the slot wrappers CPython adds fail when reached from a
// Python subclass's own slot). Not a template: compiled once, whatever the number of classes.
inline PyObject *dispatch_number(PyObject *left, PyObject *right, PyObject *modulus, PyTypeObject *type,
                                 const NumberMethod &forward, const NumberMethod &reflected)
{
    if (type == nullptr) Py_RETURN_NOTIMPLEMENTED;  // not made: no instance can exist
    const bool left_ours = PyObject_TypeCheck(left, type);
    const bool right_ours = Py_TYPE(left) != Py_TYPE(right) && PyObject_TypeCheck(right, type);
    if (left_ours && forward.record != nullptr) {
        PyObject *result = call_number(forward, left, right, modulus);
        if (result != Py_NotImplemented || !right_ours) return result;  // NULL included
        Py_DECREF(result);
    }
    if (right_ours && reflected.record != nullptr) return call_number(reflected, right, left, modulus);
    Py_RETURN_NOTIMPLEMENTED;
}

// An in-place call: self is the value (the method's own result is dropped).
inline PyObject *in_place_number(const NumberMethod &method, PyObject *self, PyObject *other, PyObject *modulus)
{
    PyObject *result = call_number(method, self, other, modulus);
    if (result == nullptr || result == Py_NotImplemented) return result;
    Py_DECREF(result);
    return Py_NewRef(self);
}

template <class T> struct NumberSlots {
    using Specials = detail::Specials<T>;
    struct Op {
        int slot, in_place_slot;  // Py_nb_* ids (0: none)
    };
    static constexpr Op ops[kBinaryOpCount] = {
        {Py_nb_add, Py_nb_inplace_add},
        {Py_nb_subtract, Py_nb_inplace_subtract},
        {Py_nb_multiply, Py_nb_inplace_multiply},
        {Py_nb_matrix_multiply, Py_nb_inplace_matrix_multiply},
        {Py_nb_true_divide, Py_nb_inplace_true_divide},
        {Py_nb_floor_divide, Py_nb_inplace_floor_divide},
        {Py_nb_remainder, Py_nb_inplace_remainder},
        {Py_nb_divmod, 0},
        {Py_nb_power, Py_nb_inplace_power},
        {Py_nb_lshift, Py_nb_inplace_lshift},
        {Py_nb_rshift, Py_nb_inplace_rshift},
        {Py_nb_and, Py_nb_inplace_and},
        {Py_nb_or, Py_nb_inplace_or},
        {Py_nb_xor, Py_nb_inplace_xor},
    };
    static constexpr int kPow = kPowOp;
    static constexpr int unary_ids[kUnaryOpCount] = {Py_nb_negative, Py_nb_positive, Py_nb_absolute, Py_nb_invert,
                                                     Py_nb_int,      Py_nb_float,    Py_nb_index};

    static NumberMethod method(int entry) noexcept
    {
        return {Specials::record[entry], Specials::invoke[entry], Specials::operand_fits[entry],
                &Specials::set_probes[entry]};
    }
    template <int B> static PyObject *binary(PyObject *left, PyObject *right)
    {
        constexpr int forward = kNumberFirst + 3 * B;
        return dispatch_number(left, right, nullptr, ClassBinding<T>::type_ptr(), method(forward), method(forward + 1));
    }
    template <int B> static PyObject *in_place(PyObject *self, PyObject *other)
    {
        return in_place_number(method(kNumberFirst + 3 * B + 2), self, other, nullptr);
    }
    static PyObject *power(PyObject *left, PyObject *right, PyObject *modulus)
    {
        constexpr int forward = kNumberFirst + 3 * kPow;
        return dispatch_number(left, right, modulus == Py_None ? nullptr : modulus, ClassBinding<T>::type_ptr(),
                               method(forward), method(forward + 1));
    }
    static PyObject *in_place_power(PyObject *self, PyObject *other, PyObject *modulus)
    {
        return in_place_number(method(kNumberFirst + 3 * kPow + 2), self, other, modulus == Py_None ? nullptr : modulus);
    }
    template <int U> static PyObject *unary(PyObject *self) { return Specials::unary(self, kUnaryFirst + U); }

    // T's own methods only: for an operator whose methods are all inherited, the base's slot is
    // inherited by CPython (one dispatch for base and subclass, as for Python subclasses).
    static bool own(int entry) noexcept { return Specials::record[entry] != nullptr && !Specials::inherited[entry]; }

    template <int B> static void add_binary(std::vector<PyType_Slot> &slots)
    {
        const int forward = kNumberFirst + 3 * B;
        if (own(forward) || own(forward + 1)) {
            if constexpr (B == kPow)
                slots.push_back({ops[B].slot, reinterpret_cast<void *>(&power)});
            else
                slots.push_back({ops[B].slot, reinterpret_cast<void *>(&binary<B>)});
        }
        if (ops[B].in_place_slot != 0 && own(forward + 2)) {
            if constexpr (B == kPow)
                slots.push_back({ops[B].in_place_slot, reinterpret_cast<void *>(&in_place_power)});
            else
                slots.push_back({ops[B].in_place_slot, reinterpret_cast<void *>(&in_place<B>)});
        }
    }
    template <int... B, int... U>
    static void add_all(std::vector<PyType_Slot> &slots, std::integer_sequence<int, B...>, std::integer_sequence<int, U...>)
    {
        (add_binary<B>(slots), ...);
        ((own(kUnaryFirst + U) ? slots.push_back({unary_ids[U], reinterpret_cast<void *>(&unary<U>)}) : void()), ...);
    }
    static void add_slots(std::vector<PyType_Slot> &slots)
    {
        add_all(slots, std::make_integer_sequence<int, kBinaryOpCount>(), std::make_integer_sequence<int, kUnaryOpCount>());
    }
};

}  // namespace pyo3cpp::detail
