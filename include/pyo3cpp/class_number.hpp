// class_number.hpp — a bound class's number protocol: the binary operators with their reflected
// and in-place forms (__add__ __radd__ __iadd__ ... __xor__, divmod, pow with its optional
// modulus), the unary ones (__neg__ __pos__ __abs__ __invert__) and the conversions __int__
// __float__ __index__, as the type's nb_* slots.
//
// Used by class.hpp: ClassDef<T>::def("__add__", fn) makes a record whose callable is a
// NumberCall (below) and keeps it in Specials<T> under the name's entry (class_special.hpp, so
// it is inherited through extends<> one by one like every special method); make_type asks
// NumberSlots<T>::add_slots for the slots.
//
// Contract:
//   - An operand that does not convert to its parameter's type is not an error: the method returns
//     NotImplemented (no exception set), so Python tries the other operand's reflected method and
//     finally raises its own "TypeError: unsupported operand type(s) for +: 'Vec' and 'str'".
//     "Does not convert" means: for a parameter naming a bound class (T&, const T&, T, Bound<T>,
//     Borrowed<T>, Py<T>), an object that is not an instance of it (no conversion is attempted);
//     for any other parameter, a conversion that raises TypeError. Any other error of a conversion
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
//     the expression's value is self; the C++ result, if any, is discarded. An operand that does
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
#include <type_traits>
#include <utility>
#include <vector>

#include "pyo3cpp/class_special.hpp"

namespace pyo3cpp::detail {

inline constexpr int kPowOp = 8;  // pow's place among the binary operators (class_special.hpp)

// ------------------------------------------------------------------------------ operands

// An operand parameter X of an operator method, converted or found not to be for this method.
template <class X> class Operand {
public:
    Operand() = default;  // the operand does not convert: the method answers NotImplemented
    template <class V>
        requires(!std::is_same_v<std::remove_cvref_t<V>, Operand> && std::is_constructible_v<X, V &&>)
    Operand(V &&value) : value_(std::in_place, std::forward<V>(value))
    {
    }
    bool mismatched() const noexcept { return !value_.has_value(); }
    X &&take() noexcept { return std::move(*value_); }

private:
    std::optional<X> value_;
};

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

template <class X> struct param<Operand<X>> {
    static_assert(!param<X>::variadic, "pyo3cpp::ClassDef::def: an operator takes no *args/**kwargs");
    static constexpr bool optional = param<X>::optional;
    static constexpr bool variadic = false;
    static constexpr const char *expected = param<X>::expected;
    static constexpr bool locks_instance = ::pyo3cpp::detail::locks_instance<X>;
    static Operand<X> convert(Python py, PyObject *object)
    {
        using C = typename operand_class<X>::type;
        if constexpr (!std::is_void_v<C>) {
            if (!ClassBinding<C>::check(object)) return Operand<X>();
            return Operand<X>(param<X>::convert(py, object));
        } else {
            try {
                return Operand<X>(param<X>::convert(py, object));
            } catch (const PyErr &err) {
                if (!err.matches(py, PyExc_TypeError)) throw;
                return Operand<X>();  // the error is dropped here: nothing stays set
            }
        }
    }
};

// ------------------------------------------------------------------------------- results

// What an operator method gives back: a value, self (in place), or NotImplemented.
template <class Out> struct NumberResult {
    enum Kind : unsigned char { kValue, kSelf, kNotImplemented };
    Kind kind = kNotImplemented;
    PyObject *self = nullptr;  // kSelf: borrowed (the caller holds it for the call)
    std::optional<Out> value;
};
template <> struct NumberResult<void> {
    enum Kind : unsigned char { kValue, kSelf, kNotImplemented };
    Kind kind = kNotImplemented;
    PyObject *self = nullptr;
};

template <class Out> struct moves_into_python<NumberResult<Out>> : std::true_type {
    template <class R> static PyObject *convert(Python py, R &&result)
    {
        if (result.kind == NumberResult<Out>::kNotImplemented) return Py_NewRef(Py_NotImplemented);
        if (result.kind == NumberResult<Out>::kSelf) return Py_NewRef(result.self);
        if constexpr (std::is_void_v<Out>) {
            (void)py;
            return Py_NewRef(Py_None);
        } else {
            return result_to_python(py, std::move(*result.value));
        }
    }
};

// ------------------------------------------------------------------------------- the call

// The callable of an operator method's record: its operands as Operand<...> parameters (so the
// binder converts them in order, under the call's lock scope, as for any method), then the
// instance locked as the policy says, then the C++ method. in_place: the result is self.
template <class T, class F, class Shape = method_shape<F>, class Rest = typename Shape::rest> struct NumberCall;
template <class T, class F, class Shape, class... A> struct NumberCall<T, F, Shape, type_list<A...>> {
    using S = typename Shape::self;
    using R = typename Shape::result;
    using kind = self_kind<T, S>;
    using Out = std::conditional_t<std::is_void_v<R>, void, std::remove_cvref_t<R>>;
    using Result = NumberResult<Out>;
    static_assert(((!std::is_same_v<std::remove_cvref_t<A>, Python>) && ...),
                  "pyo3cpp::ClassDef::def: an operator method takes no Python token");
    static constexpr bool locks_operand = (locks_instance<param_decay_t<A>> || ...);
    F fn;
    const char *name;
    bool in_place;

    Result operator()(MethodSelf self, Operand<param_decay_t<A>>... operands) const
    {
        Result result;
        if ((operands.mismatched() || ...)) return result;  // NotImplemented
        Python py = Python::assume_attached();
        auto run = [&](auto &&instance) {
            if (in_place) {
                std::invoke(fn, instance, operands.take()...);
                result.kind = Result::kSelf;
                result.self = self.self;
            } else if constexpr (std::is_void_v<R>) {
                std::invoke(fn, instance, operands.take()...);
                result.kind = Result::kValue;
            } else {
                result.value.emplace(std::invoke(fn, instance, operands.take()...));  // under the lock
                result.kind = Result::kValue;
            }
        };
        if constexpr (kind::handle) {
            if constexpr (locks_operand) leave_call_scope();
            auto view = Borrowed<PyAny>::from_ptr(py, self.self).template cast_unchecked<T>();
            if constexpr (std::is_same_v<std::remove_cvref_t<S>, Bound<T>>)
                run(view.to_owned());
            else
                run(view);
        } else {
            Access<T, kind::exclusive> access(py, self.self, name);
            if constexpr (locks_operand) leave_call_scope();  // self was the call's last lock
            run(access.get());
        }
        return result;
    }
};

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

// One binary (or three-argument pow) slot call, for any class: `type` is the class's, `records`/
// `invokes` its special-method table (Specials<T>), `forward` the entry of the forward method (the
// reflected one follows it). The operands after the instance: the other one, then the modulus if
// not nullptr. An operand is the class's when it is an instance of it or of a subclass (a type
// check, as CPython's own int and float slots do; not "its type uses this slot", which a slot
// wrapper reached from a Python subclass's own slot would fail). Not a template: compiled once,
// whatever the number of classes.
inline PyObject *dispatch_number(PyObject *left, PyObject *right, PyObject *modulus, int forward,
                                 PyTypeObject *type, const FunctionRecord *const *records,
                                 const SelfInvoke *invokes)
{
    if (type == nullptr) Py_RETURN_NOTIMPLEMENTED;  // not made: no instance can exist
    const bool left_ours = PyObject_TypeCheck(left, type);
    const bool right_ours = Py_TYPE(left) != Py_TYPE(right) && PyObject_TypeCheck(right, type);
    const Py_ssize_t nargs = modulus != nullptr ? 2 : 1;
    if (left_ours && records[forward] != nullptr) {
        PyObject *args[2] = {right, modulus};
        PyObject *result = invokes[forward](*records[forward], left, args, nargs, nullptr);
        if (result != Py_NotImplemented || !right_ours) return result;  // NULL included
        Py_DECREF(result);
    }
    if (right_ours && records[forward + 1] != nullptr) {
        PyObject *args[2] = {left, modulus};
        return invokes[forward + 1](*records[forward + 1], right, args, nargs, nullptr);
    }
    Py_RETURN_NOTIMPLEMENTED;
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

    static PyObject *dispatch(PyObject *left, PyObject *right, PyObject *modulus, int forward)
    {
        return dispatch_number(left, right, modulus, forward, ClassBinding<T>::type_ptr(), Specials::record,
                               Specials::invoke);
    }
    template <int B> static PyObject *binary(PyObject *left, PyObject *right)
    {
        return dispatch(left, right, nullptr, kNumberFirst + 3 * B);
    }
    template <int B> static PyObject *in_place(PyObject *self, PyObject *other)
    {
        return Specials::call(kNumberFirst + 3 * B + 2, self, &other, 1);
    }
    static PyObject *power(PyObject *left, PyObject *right, PyObject *modulus)
    {
        return dispatch(left, right, modulus == Py_None ? nullptr : modulus, kNumberFirst + 3 * kPow);
    }
    static PyObject *in_place_power(PyObject *self, PyObject *other, PyObject *modulus)
    {
        PyObject *args[2] = {other, modulus};
        return Specials::call(kNumberFirst + 3 * kPow + 2, self, args, modulus == Py_None ? 1 : 2);
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

namespace pyo3cpp {
template <class X> struct TypeHint<detail::Operand<X>> {
    static std::string text() { return type_hint<X>(); }
};
template <class Out> struct TypeHint<detail::NumberResult<Out>> {
    static std::string text() { return detail::result_hint<Out>(); }
};
}  // namespace pyo3cpp
