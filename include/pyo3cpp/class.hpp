// class.hpp — defining a Python class from a C++ type: ModuleDef::add_class<T> returns a
// ClassDef<T>, a builder for the type's constructor, methods, properties and special methods.
//
//   struct Counter {
//       long count = 0;
//       explicit Counter(long start) : count(start) {}
//       void add(long n) { count += n; }
//       long get() const { return count; }
//   };
//   PYO3CPP_CLASS(Counter);                        // class_policy.hpp: locked (the default)
//
//   PYO3CPP_MODULE(counters, m) {
//       m.add_class<Counter>("Counter", "Counts things.")
//           .def_init<long>(arg("start") = 0)                    // Counter(start=0)
//           .def("add", &Counter::add, "Add n.", arg("n"))       // exclusive (non-const)
//           .def("get", &Counter::get)                           // shared (const)
//           .def("__len__", [](const Counter &c) { return c.count; })
//           .def_readwrite("count", &Counter::count);
//   }
//
// Contract:
//   - The type is a heap type made at the module's exec (PyType_FromModuleAndSpec), named
//     "<module>.<Name>" (so __module__, __qualname__, repr and pickling by reference are right),
//     immutable like a built-in type; T lives inline in the object (class_object.hpp). One type
//     per C++ type per interpreter (kept in a OnceLock): a second exec adds the same type again.
//     Bind each T once per extension (ClassDef<T> keeps per-T tables); its name is cut to 63
//     bytes in messages.
//   - Constructor: def_init<A...>(arg()...) constructs T(A...) in place; def_init(factory,
//     arg()...) constructs T from factory(...)'s result. Arguments convert exactly as def()'s
//     (function.hpp), errors name "Counter.__init__()". The class's __text_signature__ is the
//     constructor's (inspect.signature(Counter) works). A failed constructor leaves the instance
//     empty (no T, ~T never runs for it; methods raise TypeError); __init__ on an initialised
//     instance raises TypeError. No def_init: the class cannot be instantiated from Python
//     (make_instance from C++ still works). Calling the class itself goes through its
//     tp_vectorcall (type_vectorcall: no argument tuple); Python subclasses, which CPython never
//     gives the base's tp_vectorcall, go through type.__call__ (their __new__/__init__ apply).
//   - def(name, callable, [doc], arg()...): `callable` is a member function pointer (const or
//     not), or a callable whose first parameter is `T&`, `const T&` (the instance's T, locked as
//     the policy says) or `Bound<T>` / `Borrowed<T>` (the object itself, no lock, not checked
//     for initialisation: use lock()/read()). Methods are method descriptors
//     (METH_FASTCALL | METH_KEYWORDS) with "name($self, ...)" text signatures; errors name the
//     method ("add() argument 'n' must be int, not str"). A result is converted while the lock
//     is still held (a returned reference is copied first). def<&T::m>(name, [doc], arg()...):
//     the same for a member function given as a template argument, whose call then inlines.
//   - Special methods by name, through the type's slots (so len(), iter(), ==, hash() ... use
//     them): __repr__, __str__, __len__, __iter__, __next__ (a std::optional result that is
//     empty ends the iteration), __getitem__, __setitem__, __delitem__, __contains__, __eq__,
//     __ne__, __lt__, __le__, __gt__, __ge__ (a comparison whose first parameter is a bound class
//     returns NotImplemented for other types), __hash__, __bool__, __call__, and the number
//     protocol: __add__ ... __xor__ with their reflected (__radd__) and in-place (__iadd__: self
//     is the value) forms, divmod, pow with an optional modulus, __neg__ __pos__ __abs__
//     __invert__ __int__ __float__ __index__ (an operand that does not convert gives
//     NotImplemented: class_number.hpp). A __getitem__ / __delitem__ taking several key
//     parameters (and __setitem__ several before the value) receives a tuple key's items:
//     r[0, 1] calls fn(r, 0, 1), r[0, 1] = v fn(r, 0, 1, v); a key that is not a tuple is a
//     TypeError ("Mat3 indices must be a tuple, not int") unless another definition of the set
//     takes the key whole; stubs type the key as tuple[int, int]. __getitem__ also fills the
//     sequence item slot, so a class without __iter__ iterates over items 0, 1, ... until
//     IndexError, as a Python class with __getitem__ does. Defining __eq__ without
//     __hash__ makes instances unhashable, as in Python. Other dunder names are plain methods
//     (__getstate__, __enter__, __format__, __complex__, ...), except those only a slot not bound yet would reach (__init__
//     — use def_init —, __getattr__, descriptors, ...): def() refuses them with
//     std::invalid_argument (ValueError at import).
//   - construct_in_new(): T() is built by __new__ instead, so every instance holds a T (what
//     CPython's own types such as _random.Random do; a Python subclass whose __init__ never
//     calls the base's still works); def("__init__", [](T &, ...) {...}) is then an ordinary
//     method that may run again. Exclusive with def_init.
//   - extends<B>(): single inheritance between bound classes. T's type derives from B's; B's
//     methods, properties and slots apply to T instances, T instances convert to B&, const B&,
//     Bound<B> (upcasts), B's traversal is inherited. B must be subclassable(), made first, a
//     non-virtual base at offset 0 of T, with T's policy, and without dict()/weakref().
//     B.__init__ on a T instance raises TypeError (it would build a B where a T belongs).
//   - def_classmethod(name, fn(Bound<PyType> cls, ...), ...): a classmethod ("($cls, ...)").
//   - def_static(name, callable, ...): a staticmethod. def_readonly / def_readwrite (data
//     members) and def_property(name, getter, [setter]): properties; getters shared, setters
//     exclusive; the value is converted before the lock is taken. A data member of a bound,
//     non-frozen class type reads as a reference into the owner, which takes the owner's lock
//     (class_member_ref.hpp); reference_internal(fn) does the same for a method returning T&.
//   - arg("x").keep_alive(): the argument lives as long as self (methods, __init__) or the
//     result (static methods, classmethods): keep_alive.hpp.
//   - Overloads (overload.hpp): def_init, def, def_static or def_classmethod again with a name
//     the class already has in that kind makes one set, tried in order, exact types first; the
//     class's doc then lists every constructor. A special method defined again is a set too
//     (__mul__ for a scalar and for a vector, __getitem__ for an int and for a tuple): an
//     operator answers NotImplemented, and a comparison too, when no definition takes the
//     other operand.
//   - traverse(&T::a, &T::b, ...) (Py<...> members) or gc(visit, clear): the class becomes a GC
//     type; tp_traverse runs under TraverseGuard, visits the type and the members of a
//     constructed T (skipped while a writer holds the instance: GC then treats them as
//     reachable); tp_clear drops them. Without it: no GC flag, no traversal cost (unless dict()).
//   - subclassable() (Py_TPFLAGS_BASETYPE), dict() (instances get __dict__; implies GC),
//     weakref() (weak references), def_pickle(getstate, setstate) (__getstate__ returns any
//     object, None included; __setstate__ builds T from it on the empty instance pickle makes:
//     pickle protocols 0-5, copy.copy and copy.deepcopy then work, and keep a Python subclass's
//     __dict__ and __slots__ (class_pickle.hpp)).
//   - def_buffer(describe, &T::exports): the buffer protocol (memoryview(obj) sees T's memory);
//     reallocating<&T::exports>(&T::m) marks methods that raise BufferError while it is
//     exported (class_buffer.hpp, docs/arrays.md).
//   - attr(name, value), enum_<E>(name, members, ...), export_enum_values<E>(): attributes of
//     the class itself, constants and nested enums (class_attributes.hpp). def_copy():
//     __copy__ and __deepcopy__ from T's copy constructor.
//   - Strings: the class name and doc are kept as pointers (pass literals); method names and
//     docs are copied.
//   - Stubs: the typed signatures of methods, static methods, __init__, special methods and
//     properties are registered with the runtime at the first exec (pyo3cpp_method_register,
//     pyo3cpp_class_member_register), for pyo3cpp.stubgen (docs/stubs.md).
// Thread: definition at import (pure C++, no Python); calls on any attached thread under the
// class's policy. Cost per method call: the method descriptor's call, the record's own C entry
// (the first method of each signature; others: one indexed load and an indirect call more), the
// lock (instance_lock.hpp), then def()'s path. bench/bench_classes.cpp measures it against a
// hand-written C type (docs/classes.md). The runtime's shared entries are a fast path only:
// once a process has used them all, further methods, classmethods and static methods get
// function objects of their own (no limit; a bound method object per call: LateEntry).
#pragma once

#include <Python.h>
#include <structmember.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "pyo3cpp/class_attributes.hpp"
#include "pyo3cpp/class_buffer.hpp"
#include "pyo3cpp/class_dealloc.hpp"
#include "pyo3cpp/class_gc.hpp"
#include "pyo3cpp/class_holder.hpp"
#include "pyo3cpp/class_member_ref.hpp"
#include "pyo3cpp/class_method.hpp"
#include "pyo3cpp/class_number.hpp"
#include "pyo3cpp/class_object.hpp"
#include "pyo3cpp/class_pickle.hpp"
#include "pyo3cpp/class_property.hpp"
#include "pyo3cpp/class_special.hpp"
#include "pyo3cpp/keep_alive.hpp"
#include "pyo3cpp/module.hpp"
#include "pyo3cpp/overload.hpp"
#include "pyo3cpp/traverse.hpp"

namespace pyo3cpp {

// ---------------------------------------------------------------------------- ClassDef<T>

template <class T> class ClassDef {
    static_assert(BoundClass<T>, "pyo3cpp::ModuleDef::add_class<T>: declare T with PYO3CPP_CLASS(T) first");
    using Binding = detail::ClassBinding<T>;
    using Specials = detail::Specials<T>;
    using Instance = detail::Instance<T>;

public:
    ClassDef(const char *name, const char *doc) : name_(name), doc_(doc != nullptr ? doc : "")
    {
        std::strncpy(Binding::name, name, sizeof(Binding::name) - 1);
        Binding::name[sizeof(Binding::name) - 1] = '\0';
    }
    ClassDef(const ClassDef &) = delete;
    ClassDef &operator=(const ClassDef &) = delete;

    // __init__ constructing T(A...) from the converted arguments.
    template <class... A, class... Specs>
        requires(detail::is_arg_spec_v<Specs> && ...)
    ClassDef &def_init(Specs &&...specs)
    {
        using Call = detail::InitArgs<T, A...>;
        return set_init<Call>(Call{init_name()}, std::forward<Specs>(specs)...);
    }
    // __init__ constructing T from factory(args...) (which returns T).
    template <class F, class... Specs>
        requires(detail::is_arg_spec_v<Specs> && ... && !detail::is_arg_spec_v<std::decay_t<F>>)
    ClassDef &def_init(F &&factory, Specs &&...specs)
    {
        using Call = detail::InitFactory<T, std::decay_t<F>>;
        return set_init<Call>(Call{std::forward<F>(factory), init_name()}, std::forward<Specs>(specs)...);
    }

    // A method (or a special method, by its dunder name). See the contract above.
    template <class F, class... Specs>
        requires(detail::is_arg_spec_v<Specs> && ...)
    ClassDef &def(const char *name, F &&fn, Specs &&...specs)
    {
        return def(name, std::forward<F>(fn), static_cast<const char *>(nullptr), std::forward<Specs>(specs)...);
    }
    template <class F, class... Specs>
        requires(detail::is_arg_spec_v<Specs> && ...)
    ClassDef &def(const char *name, F &&fn, const char *doc, Specs &&...specs)
    {
        if (std::strcmp(name, "__init__") == 0)  // an ordinary method of a construct_in_new class
            return add_method<false>(init_name(), std::forward<F>(fn), doc, detail::kInit,
                                     std::forward<Specs>(specs)...);
        if (detail::unsupported_special(name))
            throw std::invalid_argument(std::string("pyo3cpp::ClassDef::def(\"") + name +
                                        "\"): not supported (use def_init for __init__; the attribute "
                                        "and descriptor protocols are not bound yet)");
        const int special = detail::special_slot_of(name);
        if constexpr (detail::returns_self_reference<T, std::decay_t<F>>)  // T &operator+=: no copy
            if (detail::is_in_place_special(special))
                return add_method<false>(name, detail::DiscardResult<std::decay_t<F>>{std::forward<F>(fn)}, doc,
                                         special, std::forward<Specs>(specs)...);
        if (std::strcmp(name, "__next__") == 0)
            return add_method<true>(name, std::forward<F>(fn), doc, special, std::forward<Specs>(specs)...);
        return add_method<false>(name, std::forward<F>(fn), doc, special, std::forward<Specs>(specs)...);
    }

    // The same, with the member function as a template argument: def<&Counter::get>("get").
    // The call then inlines into the method's entry (a member function pointer passed as a value
    // is called indirectly); arguments, locking and errors are def()'s.
    template <auto Fn, class... Specs>
        requires(std::is_member_function_pointer_v<decltype(Fn)> && (detail::is_arg_spec_v<Specs> && ...))
    ClassDef &def(const char *name, Specs &&...specs)
    {
        return def(name, detail::fixed_member<Fn>{}, static_cast<const char *>(nullptr),
                   std::forward<Specs>(specs)...);
    }
    template <auto Fn, class... Specs>
        requires(std::is_member_function_pointer_v<decltype(Fn)> && (detail::is_arg_spec_v<Specs> && ...))
    ClassDef &def(const char *name, const char *doc, Specs &&...specs)
    {
        return def(name, detail::fixed_member<Fn>{}, doc, std::forward<Specs>(specs)...);
    }

    // A classmethod: fn(Bound<PyType> cls, args...) (or Borrowed<PyType>); cls is the class it
    // was called on or through (a subclass included). Arguments convert exactly as def()'s.
    template <class F, class... Specs>
        requires(detail::is_arg_spec_v<Specs> && ...)
    ClassDef &def_classmethod(const char *name, F &&fn, const char *doc = nullptr, Specs &&...specs)
    {
        using Call = detail::ClassMethodCall<std::decay_t<F>>;
        using Record = detail::TypedFunction<Call, std::remove_cvref_t<Specs>...>;
        auto *record = keep_record<Record>(name, Call{std::decay_t<F>(std::forward<F>(fn))},
                                           std::remove_cvref_t<Specs>(std::forward<Specs>(specs))...);
        record->doc = doc != nullptr ? doc : "";
        return add_method_record<Record>(record, METH_CLASS);
    }

    // T is default-constructed by __new__, so every instance holds a T from the start (a Python
    // subclass whose __init__ never calls the base's still gets a working instance, as with
    // CPython's own types such as _random.Random). __init__, if any, is then an ordinary method:
    // def("__init__", [](T &self, ...) {...}) (exclusive, may run again). Without __init__,
    // Name(args) raises TypeError "Name() takes no arguments". Exclusive with def_init.
    template <class U = T> ClassDef &construct_in_new()
    {
        static_assert(std::is_default_constructible_v<U> ||
                          (detail::has_trampoline_v<U> && std::is_default_constructible_v<detail::trampoline_t<U>>),
                      "pyo3cpp::ClassDef::construct_in_new: T must be default-constructible");
        construct_in_new_ = true;
        return *this;
    }

    // Single inheritance between bound classes: T's Python type derives from B's (which must be
    // subclassable() and made first: added earlier to this module, or its module imported), so
    // B's methods, properties and special methods apply to T instances, and a T instance is
    // accepted wherever a B&, const B&, Bound<B> is (upcast). Requirements: B is a public,
    // non-virtual base of T at offset 0 (single inheritance; checked here), with the same policy;
    // B has no dict()/weakref() (declare them on T). B's traversal (traverse/gc) is inherited.
    template <BoundClass B> ClassDef &extends()
    {
        static_assert(std::is_base_of_v<B, T> && !std::is_same_v<B, T>,
                      "pyo3cpp::ClassDef::extends<B>: B must be a base class of T");
        static_assert(requires(B *b) { static_cast<T *>(b); },
                      "pyo3cpp::ClassDef::extends<B>: B must be a non-virtual, unambiguous base of T");
        static_assert(is_shared_held_v<B> == is_shared_held_v<T>,
                      "pyo3cpp::ClassDef::extends<B>: T and B must both be inline or both held by "
                      "std::shared_ptr (they share the instance's storage)");
        static_assert(std::is_same_v<policy_of<B>, policy_of<T>>,
                      "pyo3cpp::ClassDef::extends<B>: T and B must have the same policy (they share "
                      "the instance and its lock)");
        if (!detail::base_at_offset_zero<B, T>())
            throw std::invalid_argument(std::string("pyo3cpp::ClassDef::extends: the base ") +
                                        detail::ClassBinding<B>::name + " is not at offset 0 of " + name_ +
                                        " (only single, non-virtual inheritance where the base comes "
                                        "first is supported; a polymorphic class over a "
                                        "non-polymorphic base is not)");
        using BaseBinding = detail::ClassBinding<B>;
        bool known = false;
        for (int i = 0; i < BaseBinding::derived_count; ++i)
            known = known || BaseBinding::derived_check[i] == &Binding::check;
        if (!known) {
            if (BaseBinding::derived_count == BaseBinding::kMaxDerived)
                throw std::length_error("pyo3cpp::ClassDef::extends: more than 16 bound subclasses of one class");
            BaseBinding::derived_check[BaseBinding::derived_count++] = &Binding::check;
        }
        detail::GcHooks<T>::base_visit = [](const T &value, Visit &v) { detail::GcHooks<B>::visit_all(value, v); };
        detail::GcHooks<T>::base_clear = [](T &value) { detail::GcHooks<B>::clear_all(value); };
        inherit_specials_ = &Specials::template inherit_from<B>;
        base_type_ = &BaseBinding::type_ptr;
        base_name_ = BaseBinding::name;
        base_constructs_in_init_ = &BaseBinding::constructs_in_init;
        return *this;
    }

    // A staticmethod: any callable, converted exactly as ModuleDef::def's.
    template <class F, class... Specs>
        requires(detail::is_arg_spec_v<Specs> && ...)
    ClassDef &def_static(const char *name, F &&fn, const char *doc = nullptr, Specs &&...specs)
    {
        using Record = detail::TypedFunction<std::decay_t<F>, std::remove_cvref_t<Specs>...>;
        auto *record = keep_record<Record>(name, std::decay_t<F>(std::forward<F>(fn)),
                                           std::remove_cvref_t<Specs>(std::forward<Specs>(specs))...);
        record->doc = doc != nullptr ? doc : "";
        if (merge_overload(record, kLateStatic)) return *this;
        return add_static_record(record);
    }

    // A read-only property of a data member.
    template <class M> ClassDef &def_readonly(const char *name, M T::*member, const char *doc = nullptr)
    {
        return add_property(name, doc, member, detail::NoSetter{});
    }
    // A read-write property of a data member (not for frozen classes).
    template <class M> ClassDef &def_readwrite(const char *name, M T::*member, const char *doc = nullptr)
    {
        static_assert(!is_frozen_v<T>, "pyo3cpp::ClassDef::def_readwrite: a frozen class is immutable");
        return add_property(name, doc, member, member);
    }
    // A property from getter(const T&) -> value and, optionally, setter(T&, value).
    template <class G> ClassDef &def_property(const char *name, G getter, const char *doc = nullptr)
    {
        return add_property(name, doc, std::move(getter), detail::NoSetter{});
    }
    template <class G, class S>
        requires(!std::is_convertible_v<S, const char *>)
    ClassDef &def_property(const char *name, G getter, S setter, const char *doc = nullptr)
    {
        static_assert(!is_frozen_v<T>, "pyo3cpp::ClassDef::def_property: a frozen class has no setters");
        return add_property(name, doc, std::move(getter), std::move(setter));
    }

    // GC support for Py<...> members: traverse<&T::callback, &T::items>().
    template <auto... Members> ClassDef &traverse()
    {
        using Gc = detail::MemberGc<T, Members...>;
        return gc(&Gc::visit, &Gc::clear);
    }
    // GC support with your own functions: visit(const T&, Visit&) calls visit(member) for each
    // Python reference; clear(T&) drops them (may be nullptr: then tp_clear only clears __dict__).
    ClassDef &gc(void (*visit)(const T &, Visit &), void (*clear)(T &))
    {
        detail::GcHooks<T>::visit = visit;
        detail::GcHooks<T>::clear = clear;
        gc_ = true;
        return *this;
    }

    // The buffer protocol: memoryview(obj) sees what describe(T&) says (class_buffer.hpp).
    template <class Describe> ClassDef &def_buffer(Describe describe, BufferExports T::*exports)
    {
        detail::BufferSlots<T>::describe = [describe](T &value) { return std::invoke(describe, value); };
        detail::BufferSlots<T>::exports = exports;
        return *this;
    }

    ClassDef &subclassable(bool yes = true)
    {
        subclassable_ = yes;
        return *this;
    }
    ClassDef &dict(bool yes = true)
    {
        dict_ = yes;
        return *this;
    }
    ClassDef &weakref(bool yes = true)
    {
        weakref_ = yes;
        return *this;
    }

    // Pickling (and copy.copy/deepcopy): getstate(const T&) -> any value; setstate(value) -> T.
    template <class G, class S> ClassDef &def_pickle(G getstate, S setstate)
    {
        def("__getstate__", std::move(getstate));
        using Call = detail::InitFactory<T, S>;
        using Record = detail::TypedFunction<Call>;
        auto *record = keep_record<Record>("__setstate__", Call{std::move(setstate),
                                                                keep(std::string(name_) + ".__setstate__")});
        add_method_record<Record>(record);
        // Every state reaches __setstate__, None included (class_pickle.hpp). Not in stubs: the
        // protocol's plumbing, as object's own __reduce_ex__ is.
        std::size_t before = methods_.size();
        def("__reduce_ex__", [](Borrowed<T> self, int) { return detail::pickle_reduce(Python::assume_attached(), self.as_ptr()); },
            arg("protocol"));
        if (methods_.size() > before) methods_.back().in_stubs = false;
        before = methods_.size();
        def_classmethod("_pyo3cpp_unpickle", [](Bound<PyType> cls, Bound<PyAny> state, Bound<PyAny> extra) {
            return detail::pickle_restore(Python::assume_attached(), cls.as_ptr(), state.as_ptr(), extra.as_ptr());
        });
        if (methods_.size() > before) methods_.back().in_stubs = false;
        return *this;
    }

    // Class attributes and nested enums (class_attributes.hpp): set once the type is made.
    template <class V> ClassDef &attr(const char *name, V value)
    {
        attributes_.steps.push_back([name, value = std::move(value)](Python py, PyObject *type, PyObject *) mutable {
            Bound<PyAny> object = detail::to_python_value(py, value);
            detail::set_class_attribute(py, type, name, object.as_ptr());
        });
        return *this;
    }
    template <class E>
        requires std::is_enum_v<E>
    ClassDef &enum_(const char *name, std::initializer_list<std::pair<const char *, E>> members,
                    EnumKind kind = EnumKind::Enum, const char *doc = nullptr)
    {
        detail::nest_enum<E>(attributes_, name, keep(std::string(name_) + "." + name), members, kind, doc);
        return *this;
    }
    template <class E>
        requires std::is_enum_v<E>
    ClassDef &export_enum_values()
    {
        detail::export_enum_members<E>(attributes_);
        return *this;
    }

    // __copy__ and __deepcopy__(memo, /) from T's copy constructor (copy.copy, copy.deepcopy): a
    // new instance of this class holding a copy of T, taken under the shared lock (a reference
    // into an owner copies the owner's member). The copy is T's: Py<> members are shared, and a
    // Python subclass's instance copies as this class (def_pickle keeps the subclass).
    template <class U = T> ClassDef &def_copy()
    {
        static_assert(std::is_copy_constructible_v<U>, "pyo3cpp::ClassDef::def_copy: T must be copy-constructible");
        def("__copy__", [](const T &self) { return T(self); });
        def("__deepcopy__", [](const T &self, Bound<PyDict>) { return T(self); }, arg("memo"), pos_only());
        return *this;
    }

    // For ModuleDef: makes the type (first exec) and adds it to `module`.
    void create(Python py, PyObject *module)
    {
        bool made = false;
        const Py<PyAny> &type = Binding::type.get_or_init(py, [&] {
            made = true;
            return Bound<PyAny>::from_owned_ptr(py, make_type(py, module)).unbind();
        });
        // After the OnceLock holds the type: values of T itself convert.
        if (made) attributes_.run(py, type.as_ptr(), module);
        check_status(py, PyModule_AddObjectRef(module, name_, type.as_ptr()));
    }

private:
    struct MethodEntry {
        detail::FunctionRecord *record;
        void *entry;
        int extra_flags;  // METH_CLASS for classmethods
        bool in_stubs = true;
    };
    // Methods, classmethods and static methods defined once the runtime's shared entries are
    // all taken (a process with thousands): function objects of their own, whose vectorcall
    // reaches the record through the function (no entry needed), added to the type's dict as
    // instancemethod / classmethod / staticmethod. No limit; a bound method object per call.
    enum LateKind { kLateMethod, kLateClassMethod, kLateStatic };
    struct LateEntry {
        detail::FunctionRecord *record;
        vectorcallfunc call;  // kLateStatic: the record's own vectorcall
        LateKind kind;
    };

    const char *init_name()
    {
        return keep(std::string(name_) + ".__init__");
    }
    const char *keep(std::string text) { return texts_.emplace_back(std::move(text)).c_str(); }

    template <class Record, class... A> Record *keep_record(A &&...args)
    {
        auto owned = std::make_shared<Record>(std::forward<A>(args)...);
        Record *raw = owned.get();
        records_.push_back(std::move(owned));
        return raw;
    }

    template <class Call, class... Specs> ClassDef &set_init(Call call, Specs &&...specs)
    {
        using Record = detail::TypedFunction<Call, std::remove_cvref_t<Specs>...>;
        auto *record = keep_record<Record>(init_name(), std::move(call),
                                           std::remove_cvref_t<Specs>(std::forward<Specs>(specs))...);
        if (init_ != nullptr) return add_init_overload(record);
        init_ = record;
        init_invoke_ = &detail::invoke_with_self<Record>;
        init_slot_ = reinterpret_cast<void *>(&ClassDef::tp_init<Record>);
        init_vectorcall_ = &ClassDef::type_vectorcall<Record>;
        return *this;
    }

    template <bool Next, class F, class... Specs>
    ClassDef &add_method(const char *name, F &&fn, const char *doc, int special, Specs &&...specs)
    {
        using Call = detail::MethodCall<T, std::decay_t<F>, Next>;
        using Record = detail::TypedFunction<Call, std::remove_cvref_t<Specs>...>;
        auto *record = keep_record<Record>(name, Call{std::decay_t<F>(std::forward<F>(fn)), keep(name)},
                                           std::remove_cvref_t<Specs>(std::forward<Specs>(specs))...);
        record->doc = doc != nullptr ? doc : "";
        if (special >= 0) {
            detail::SpecialProbe probe;
            if (detail::is_number_special(special)) {  // class_number.hpp
                detail::check_number_arity(name, special, Record::arity);
                probe.fits[0] = detail::operand_probe<Record, 0>();
                probe.fits[1] = detail::operand_probe<Record, 1>();
                if (detail::is_in_place_special(special)) record->describe = &detail::describe_in_place<Record, T>;
            } else if (detail::is_comparison_special(special)) {
                probe.fits[0] = detail::operand_probe<Record, 0>();
            }
            if (special == detail::kGetItem || special == detail::kSetItem || special == detail::kDelItem) {
                // r[0, 1]: several key parameters take a tuple key's items (class_special.hpp).
                const std::size_t value_params = special == detail::kSetItem ? 1 : 0;
                const std::size_t key_params = Record::arity > value_params ? Record::arity - value_params : 0;
                const bool own = Specials::record[special] != nullptr && !Specials::inherited[special];
                if (!own) Specials::key_unpacks[special] = Specials::key_single[special] = false;
                (key_params > 1 ? Specials::key_unpacks : Specials::key_single)[special] = true;
            }
            using Rest = typename detail::method_shape<std::decay_t<F>>::rest;
            if constexpr (Rest::size >= 1) {
                using First = typename first_param<Rest>::type;
                if constexpr (BoundClass<std::remove_cvref_t<First>>)
                    probe.accepts = &detail::ClassBinding<std::remove_cvref_t<First>>::check;
            }
            if (Specials::record[special] != nullptr && !Specials::inherited[special])
                return add_special_overload(special, record, probe);
            Specials::record[special] = record;
            Specials::invoke[special] = &detail::invoke_with_self<Record>;
            Specials::accepts[special] = probe.accepts;
            Specials::operand_fits[special][0] = probe.fits[0];
            Specials::operand_fits[special][1] = probe.fits[1];
            Specials::set_probes[special].clear();  // the base's set, if inherited, no longer applies
            return *this;
        }
        return add_method_record<Record>(record);
    }

    template <class L> struct first_param;
    template <class P, class... Rest> struct first_param<detail::type_list<P, Rest...>> {
        using type = P;
    };

    // ---- overloads (overload.hpp): a name defined again becomes one set in the place of the first

    // def_init again: the constructors are one set, named by the class in its doc and errors.
    ClassDef &add_init_overload(detail::FunctionRecord *record)
    {
        if (init_set_ == nullptr) {
            init_set_ = keep_record<detail::OverloadSet>(std::string(name_), false, PYO3CPP_OVERLOAD_CONSTRUCTOR);
            init_set_->add(init_);
            init_ = init_set_;
            init_invoke_ = &detail::invoke_with_self<detail::OverloadSet>;
            init_slot_ = reinterpret_cast<void *>(&ClassDef::tp_init<detail::OverloadSet>);
            init_vectorcall_ = &ClassDef::type_vectorcall<detail::OverloadSet>;
        }
        init_set_->add(record);
        return *this;
    }

    // A special method defined again: its slot's record becomes one set (built on the first
    // repeat), and the slot asks every definition's probe whether an operand fits (NotImplemented
    // when none takes it, as for a single definition).
    ClassDef &add_special_overload(int special, detail::FunctionRecord *record, detail::SpecialProbe probe)
    {
        detail::OverloadSet *&set = special_sets_[special];
        if (set == nullptr) {
            auto *first = const_cast<detail::FunctionRecord *>(Specials::record[special]);
            set = keep_record<detail::OverloadSet>(first->name, false);
            set->add(first);
            Specials::set_probes[special] = {{Specials::accepts[special],
                                              {Specials::operand_fits[special][0], Specials::operand_fits[special][1]}}};
            Specials::record[special] = set;
            Specials::invoke[special] = &detail::invoke_with_self<detail::OverloadSet>;
        }
        set->add(record);
        Specials::set_probes[special].push_back(probe);
        return *this;
    }

    static bool is_overload_set(const detail::FunctionRecord *record)
    {
        return record->entry == &detail::OverloadSet::vectorcall;
    }

    // A method, classmethod or static method whose name this class already has in the same kind:
    // true once `record` is in that name's set. False: a new name.
    bool merge_overload(detail::FunctionRecord *record, LateKind kind)
    {
        if (names_[kind].insert(record->name).second) return false;  // a new name: no search
        const int flags = kind == kLateClassMethod ? METH_CLASS : 0;
        detail::FunctionRecord *existing = nullptr;
        auto same = [&](const detail::FunctionRecord *other) { return other->name == record->name; };
        if (kind != kLateStatic) {
            for (auto it = methods_.begin(); existing == nullptr && it != methods_.end(); ++it)
                if (it->extra_flags == flags && same(it->record)) {
                    existing = it->record;
                    if (!is_overload_set(existing)) methods_.erase(it);
                    break;
                }
        } else {
            for (auto it = statics_.begin(); existing == nullptr && it != statics_.end(); ++it)
                if (same(*it)) {
                    existing = *it;
                    if (!is_overload_set(existing)) statics_.erase(it);
                    break;
                }
        }
        for (auto it = late_.begin(); existing == nullptr && it != late_.end(); ++it)
            if (it->kind == kind && same(it->record)) {
                existing = it->record;
                if (!is_overload_set(existing)) late_.erase(it);
                break;
            }
        if (existing == nullptr) return false;
        if (is_overload_set(existing)) {
            static_cast<detail::OverloadSet *>(existing)->add(record);
            return true;
        }
        auto *set = keep_record<detail::OverloadSet>(record->name, kind == kLateStatic);
        set->add(existing);
        set->add(record);
        if (kind == kLateStatic)
            add_static_record(set);
        else
            add_method_record<detail::OverloadSet>(set, flags);
        return true;
    }

    ClassDef &add_static_record(detail::FunctionRecord *record)
    {
        if (record->fastcall_entry == nullptr)  // the runtime's shared entries are all taken
            late_.push_back({record, nullptr, kLateStatic});
        else
            statics_.push_back(record);
        return *this;
    }

    template <class Record> ClassDef &add_method_record(Record *record, int extra_flags = 0)
    {
        if constexpr (!std::is_same_v<Record, detail::OverloadSet>)
            if (merge_overload(record, (extra_flags & METH_CLASS) != 0 ? kLateClassMethod : kLateMethod))
                return *this;
        using Direct = detail::DirectMethod<Record>;
        void *entry = nullptr;
        if (Direct::sole == nullptr) {
            Direct::sole = record;
            entry = reinterpret_cast<void *>(&Direct::entry);
        } else {
            entry = pyo3cpp_method_shared_entry(&detail::invoke_method_record<Record>, record);
        }
        if (entry == nullptr) {  // the runtime's shared entries are all taken
            if ((extra_flags & METH_CLASS) != 0)
                late_.push_back({record, &detail::late_classmethod_call<Record, T>, kLateClassMethod});
            else
                late_.push_back({record, &detail::late_method_call<Record, T>, kLateMethod});
            return *this;
        }
        methods_.push_back({record, entry, extra_flags});
        return *this;
    }

    template <class G, class S> ClassDef &add_property(const char *name, const char *doc, G getter, S setter)
    {
        if constexpr (!std::is_member_object_pointer_v<G>) {
            using Self = typename detail::method_shape<G>::self;
            static_assert(std::is_same_v<Self, const T &>,
                          "pyo3cpp::ClassDef::def_property: the getter takes const T& (or is a "
                          "const member function)");
        }
        auto prop = std::make_shared<detail::TypedProperty<T, G, S>>(std::move(getter), std::move(setter));
        prop->name = name;
        prop->doc = doc != nullptr ? doc : "";
        PyGetSetDef def{};
        def.name = prop->name.c_str();
        def.get = &detail::TypedProperty<T, G, S>::getter;
        if constexpr (!std::is_same_v<S, detail::NoSetter>) def.set = &detail::TypedProperty<T, G, S>::setter;
        def.doc = prop->doc.empty() ? nullptr : prop->doc.c_str();
        def.closure = prop.get();
        getsets_.push_back(def);
        properties_.push_back(std::move(prop));
        return *this;
    }

    // "name(a, b)\n--\n\n..." -> "name($self, a, b)\n--\n\n..." (a method's text signature;
    // "$cls" for a classmethod).
    static std::string with_self(const char *doc, const std::string &name, const char *self = "$self")
    {
        std::string text = doc != nullptr ? doc : "";
        if (text.compare(0, name.size() + 1, name + "(") != 0) return text;
        const std::size_t at = name.size() + 1;
        const bool empty = text.size() > at && text[at] == ')';
        text.insert(at, empty ? self : std::string(self) + ", ");
        return text;
    }

    // ---- the slots
    static PyObject *tp_new(PyTypeObject *type, PyObject *, PyObject *)
    {
        return type->tp_alloc(type, 0);  // zeroed: no T, lock free
    }
    // construct_in_new(): T() in place. Arguments belong to __init__; with no __init__ anywhere
    // in the class's line, they are an error (as object.__new__ words it).
    static PyObject *tp_new_constructing(PyTypeObject *type, PyObject *args, PyObject *kwargs)
    {
        if (type->tp_init == PyBaseObject_Type.tp_init &&
            (PyTuple_GET_SIZE(args) != 0 || (kwargs != nullptr && PyDict_GET_SIZE(kwargs) != 0))) {
            PyErr_Format(PyExc_TypeError, "%s() takes no arguments", type->tp_name);
            return nullptr;
        }
        PyObject *self = type->tp_alloc(type, 0);
        if (self == nullptr) return nullptr;
        Python py = Python::assume_attached();
        try {
            if constexpr (detail::has_trampoline_v<T>)  // a Python subclass holds the trampoline
                detail::construct_in<T>(
                    py, self, Binding::name,
                    [&](void *where) { detail::build_value<T>(self, type == Binding::type_ptr(), where); },
                    detail::builds_trampoline<T>(type == Binding::type_ptr()));
            else if constexpr (std::is_default_constructible_v<T>)
                detail::construct_in<T>(py, self, Binding::name, [](void *where) { new (where) T(); });
        } PYO3CPP_CATCH_ALL {
            translate_current_exception(py);
            Py_DECREF(self);
            return nullptr;
        }
        return self;
    }
    static inline const detail::FunctionRecord *s_init = nullptr;
    static inline detail::SelfInvoke s_init_invoke = nullptr;
    static inline Py_ssize_t s_dict_offset = 0;
    static inline Py_ssize_t s_weaklist_offset = 0;

    // Record: s_init's type (set_init's), so the call without keywords is direct and inline.
    template <class Record> static int tp_init(PyObject *self, PyObject *args, PyObject *kwargs)
    {
        const auto &record = static_cast<const Record &>(*s_init);
        PyObject *result =
            kwargs == nullptr || PyDict_GET_SIZE(kwargs) == 0
                ? record.call(reinterpret_cast<PyTupleObject *>(args)->ob_item, PyTuple_GET_SIZE(args),
                              nullptr, self)
                : detail::call_with_dict(record, s_init_invoke, self, args, kwargs);
        if (result == nullptr) return -1;
        Py_DECREF(result);
        return 0;
    }
    // Name(args) on the class itself (the type's tp_vectorcall, set by make_type for def_init
    // classes): what type_call does through tp_new and tp_init<Record>, without building the
    // argument tuple and keyword dict. CPython never inherits a type's tp_vectorcall, so a
    // Python subclass (which may override __new__ or __init__) still goes through type_call;
    // any other type reaching here is sent there too.
    template <class Record>
    static PyObject *type_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
    {
        auto *type = reinterpret_cast<PyTypeObject *>(callable);
        if (type != s_vectorcall_type) [[unlikely]]
            return detail::call_type_slot(callable, args, nargsf, kwnames);
        PyObject *self = type->tp_alloc(type, 0);  // tp_new: zeroed, no T, lock free
        if (self == nullptr) return nullptr;
        PyObject *result = static_cast<const Record &>(*s_init).call(args, PyVectorcall_NARGS(nargsf), kwnames, self);
        if (result == nullptr) {
            Py_DECREF(self);
            return nullptr;
        }
        Py_DECREF(result);
        return self;
    }
    static inline PyTypeObject *s_vectorcall_type = nullptr;

    static PyObject **dict_slot(PyObject *self)
    {
        return reinterpret_cast<PyObject **>(reinterpret_cast<char *>(self) + s_dict_offset);
    }
    static void tp_dealloc(PyObject *self)
    {
        PyTypeObject *type = Py_TYPE(self);
        const bool gc = PyType_IS_GC(type);
        if (gc) PyObject_GC_UnTrack(self);
        // Nothing a trivially destructible T without __dict__ lets go of can free another
        // instance: no depth to count (the common small value class pays nothing).
        if (std::is_trivially_destructible_v<T> && s_dict_offset == 0) return finish_dealloc(self, type);
        // A deferred non-GC instance is linked through its lock's bytes (class_dealloc.hpp).
        static_assert(offsetof(Instance, lock) == sizeof(PyObject) && sizeof(decltype(Instance::lock)) >= sizeof(void *));
        // A chain of instances (T holding a Py<> to the next) frees one level at a time.
        detail::DeallocDepth depth(self, &ClassDef::tp_dealloc, gc);
        if (!depth.entered()) return;  // deferred: finished later, nearer the top of the stack
        finish_dealloc(self, type);
    }
    static void finish_dealloc(PyObject *self, PyTypeObject *type)
    {
        if (s_weaklist_offset != 0) PyObject_ClearWeakRefs(self);
        // Out of the identity map, then this object's share of T goes (~T if it was the last).
        if constexpr (is_shared_held_v<T>) detail::release_held(self);
        if constexpr (!std::is_trivially_destructible_v<T> && !is_shared_held_v<T>) {  // else nothing to run or mark
            Instance *inst = Instance::of(self);
            if (inst->state.load(std::memory_order_acquire) == detail::kReady) {
                inst->state.store(detail::kEmpty, std::memory_order_relaxed);
                inst->value()->~T();
            }
        }
        // A reference into an owner holds no T, but the owner (class_member_ref.hpp); what T
        // kept alive goes after ~T, which may still use it (keep_alive.hpp).
        PyObject *owner = detail::reference_owner(self);
        if (detail::keeps_objects(self)) [[unlikely]] detail::release_kept(self);
        if (s_dict_offset != 0) Py_CLEAR(*dict_slot(self));
        type->tp_free(self);
        Py_XDECREF(owner);
        Py_DECREF(type);
    }
    static int tp_traverse(PyObject *self, visitproc visit, void *arg)
    {
        TraverseGuard guard;
        Py_VISIT(reinterpret_cast<PyObject *>(Py_TYPE(self)));
        if (s_dict_offset != 0) Py_VISIT(*dict_slot(self));
        Py_VISIT(detail::reference_owner(self));
        if (detail::keeps_objects(self))
            if (int kept = pyo3cpp_keep_alive_traverse(self, visit, arg)) return kept;
        Instance *inst = Instance::of(self);
        if (detail::GcHooks<T>::any() && inst->ready()) {
            if constexpr (is_locked_v<T>)
                if (inst->lock.held_exclusive()) return 0;  // being changed: treated as reachable
            Visit visitor(visit, arg);
            detail::GcHooks<T>::visit_all(*inst->value(), visitor);
            return visitor.result();
        }
        return 0;
    }
    static int tp_clear(PyObject *self)
    {
        Instance *inst = Instance::of(self);
        if (inst->ready()) detail::GcHooks<T>::clear_all(*inst->value());
        if (s_dict_offset != 0) Py_CLEAR(*dict_slot(self));
        return 0;
    }

    void add_late_entries(Python py, PyObject *module, PyTypeObject *type)
    {
        if (late_.empty()) return;
        PyObject *dict = type->tp_dict;  // an immutable type: its dict is filled here, once
        for (const LateEntry &late : late_) {
            late.record->prepare(py);  // METH_FASTCALL | METH_KEYWORDS | METH_METHOD: no C entry
            // "(self, ...)", not "($self, ...)": the function is bound as a plain callable, and
            // inspect then drops the first parameter once, for the bound method.
            const char *self_name = late.kind == kLateClassMethod ? "cls" : "self";
            const std::string already = late.record->name + "(" + self_name;  // a later exec
            if (late.kind != kLateStatic && late.record->show_signature &&
                std::strncmp(late.record->method.ml_doc != nullptr ? late.record->method.ml_doc : "",
                             already.c_str(), already.size()) != 0)
                late.record->method.ml_doc = keep(with_self(late.record->method.ml_doc, late.record->name, self_name));
            vectorcallfunc call = late.kind == kLateStatic ? late.record->entry : late.call;
            auto function = Bound<PyAny>::from_owned_ptr(
                py, pyo3cpp_function_new(&late.record->method, reinterpret_cast<void *>(call),
                                         &late.record->signature, module));
            PyObject *wrapped = late.kind == kLateStatic      ? PyStaticMethod_New(function.as_ptr())
                                : late.kind == kLateClassMethod ? PyClassMethod_New(function.as_ptr())
                                                                : PyInstanceMethod_New(function.as_ptr());
            auto descriptor = Bound<PyAny>::from_owned_ptr(py, wrapped);
            check_status(py, PyDict_SetItemString(dict, late.record->name.c_str(), descriptor.as_ptr()));
        }
        PyType_Modified(type);
    }

    PyObject *make_type(Python py, PyObject *module)
    {
        // Signatures and docs.
        detail::FunctionRecord *init_method = const_cast<detail::FunctionRecord *>(Specials::record[detail::kInit]);
        if (init_method != nullptr && !construct_in_new_)
            throw std::invalid_argument(std::string("pyo3cpp::ClassDef<") + name_ +
                                        ">: def(\"__init__\") is for classes constructed in __new__ "
                                        "(construct_in_new()); use def_init to construct T in __init__");
        if (construct_in_new_ && init_ != nullptr)
            throw std::invalid_argument(std::string("pyo3cpp::ClassDef<") + name_ +
                                        ">: construct_in_new() and def_init are exclusive");
        std::string class_doc = doc_;
        if (detail::FunctionRecord *init_doc = init_ != nullptr ? init_ : init_method) {
            init_doc->prepare(py);
            // "Counter.__init__(start=0)\n--\n\n" -> "Counter(start=0)\n--\n\n" + the class doc.
            std::string text = init_doc->method.ml_doc != nullptr ? init_doc->method.ml_doc : "";
            const std::string prefix = std::string(name_) + ".__init__(";
            if (text.compare(0, prefix.size(), prefix) == 0)
                class_doc = std::string(name_) + "(" + text.substr(prefix.size()) + doc_;
            else if (init_set_ != nullptr)  // every constructor's line, then the docs
                class_doc = text + (doc_.empty() ? "" : "\n\n") + doc_;
        }
        method_defs_.clear();
        for (const MethodEntry &m : methods_) {
            m.record->prepare(py);
            PyMethodDef def{};
            def.ml_name = m.record->name.c_str();
            def.ml_meth = reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)(void)>(m.entry));
            def.ml_flags = METH_FASTCALL | METH_KEYWORDS | m.extra_flags;
            const char *self_name = (m.extra_flags & METH_CLASS) != 0 ? "$cls" : "$self";
            def.ml_doc = m.record->show_signature
                             ? keep(with_self(m.record->method.ml_doc, m.record->name, self_name))
                             : m.record->method.ml_doc;
            method_defs_.push_back(def);
        }
        for (detail::FunctionRecord *record : statics_) {
            record->prepare(py);
            PyMethodDef def = record->method;
            def.ml_flags = METH_FASTCALL | METH_KEYWORDS | METH_STATIC;
            method_defs_.push_back(def);
        }
        if (inherit_specials_ != nullptr) inherit_specials_();
        for (int i = 0; i < detail::kSpecialCount; ++i)
            if (Specials::record[i] != nullptr && !Specials::inherited[i])
                const_cast<detail::FunctionRecord *>(Specials::record[i])->prepare(py);
        method_defs_.push_back(PyMethodDef{nullptr, nullptr, 0, nullptr});
        // The typed signatures, for pyo3cpp_function_signature (stubs).
        for (std::size_t i = 0; i < methods_.size(); ++i)
            if (methods_[i].in_stubs && pyo3cpp_method_register(&method_defs_[i], &methods_[i].record->signature) < 0)
                throw_fetched(py);
        for (std::size_t i = 0; i < statics_.size(); ++i)
            if (pyo3cpp_method_register(&method_defs_[methods_.size() + i], &statics_[i]->signature) < 0)
                throw_fetched(py);
        // And those of the members that are not method descriptors, by name under this table.
        const void *table = method_defs_.data();
        if (init_ != nullptr && pyo3cpp_class_member_register(table, "__init__", &init_->signature) < 0)
            throw_fetched(py);
        for (int i = 0; i < detail::kSpecialCount; ++i)
            if (Specials::record[i] != nullptr && !Specials::inherited[i] &&
                pyo3cpp_class_member_register(table, detail::special_name(i), &Specials::record[i]->signature) < 0)
                throw_fetched(py);
        for (const auto &prop : properties_) {
            prop->prepare(py);
            if (pyo3cpp_class_member_register(table, prop->name.c_str(), &prop->signature) < 0)
                throw_fetched(py);
        }
        getset_defs_ = getsets_;
        if (dict_)
            getset_defs_.push_back(PyGetSetDef{const_cast<char *>("__dict__"), &PyObject_GenericGetDict,
                                               &PyObject_GenericSetDict, nullptr, nullptr});
        getset_defs_.push_back(PyGetSetDef{nullptr, nullptr, nullptr, nullptr, nullptr});

        // Layout: the instance, then __dict__ and the weak-reference list when asked for.
        Py_ssize_t size = static_cast<Py_ssize_t>((sizeof(Instance) + sizeof(void *) - 1) /
                                                  sizeof(void *) * sizeof(void *));
        member_defs_.clear();
        if (dict_) {
            s_dict_offset = size;
            size += static_cast<Py_ssize_t>(sizeof(PyObject *));
            member_defs_.push_back(PyMemberDef{const_cast<char *>("__dictoffset__"), T_PYSSIZET,
                                               s_dict_offset, READONLY, nullptr});
        }
        if (weakref_) {
            s_weaklist_offset = size;
            size += static_cast<Py_ssize_t>(sizeof(PyObject *));
            member_defs_.push_back(PyMemberDef{const_cast<char *>("__weaklistoffset__"), T_PYSSIZET,
                                               s_weaklist_offset, READONLY, nullptr});
        }
        member_defs_.push_back(PyMemberDef{nullptr, 0, 0, 0, nullptr});

        // The bound base, if any: made already, open to subclassing, no layout of its own past T.
        PyTypeObject *base = nullptr;
        if (base_type_ != nullptr) {
            base = base_type_();
            auto refuse = [&](const std::string &why) {
                std::string text = std::string("pyo3cpp: ") + name_ + " cannot extend " + base_name_ + ": " + why;
                throw PyErr::new_err(py, PyExc_TypeError, text);
            };
            if (base == nullptr)
                refuse("the base class is not made yet (add it to the module first, or import its module)");
            if ((base->tp_flags & Py_TPFLAGS_BASETYPE) == 0)
                refuse("the base class is not subclassable() (declare it so)");
            if (base->tp_dictoffset != 0 || base->tp_weaklistoffset != 0)
                refuse("the base class has dict() or weakref(); declare them on the subclass instead");
        }

        s_init = init_;
        Binding::constructs_in_init = init_ != nullptr;
        s_init_invoke = init_invoke_;
        const bool gc = gc_ || dict_ || (base != nullptr && PyType_IS_GC(base));
        std::vector<PyType_Slot> slots;
        slots.push_back({Py_tp_dealloc, reinterpret_cast<void *>(&ClassDef::tp_dealloc)});
        if (init_ != nullptr) {
            slots.push_back({Py_tp_new, reinterpret_cast<void *>(&ClassDef::tp_new)});
            slots.push_back({Py_tp_init, init_slot_});
        }
        if (construct_in_new_) {
            slots.push_back({Py_tp_new, reinterpret_cast<void *>(&ClassDef::tp_new_constructing)});
            if (init_method != nullptr)
                slots.push_back({Py_tp_init, reinterpret_cast<void *>(&Specials::init_slot)});
            else if (base_constructs_in_init_ != nullptr && *base_constructs_in_init_)
                slots.push_back({Py_tp_init, reinterpret_cast<void *>(PyBaseObject_Type.tp_init)});
        }
        if (!class_doc.empty()) slots.push_back({Py_tp_doc, const_cast<char *>(keep(class_doc))});
        slots.push_back({Py_tp_methods, method_defs_.data()});
        slots.push_back({Py_tp_getset, getset_defs_.data()});
        slots.push_back({Py_tp_members, member_defs_.data()});
        if (gc) {
            slots.push_back({Py_tp_traverse, reinterpret_cast<void *>(&ClassDef::tp_traverse)});
            slots.push_back({Py_tp_clear, reinterpret_cast<void *>(&ClassDef::tp_clear)});
        }
        auto special = [&](int which, int slot, void *fn) {
            if (Specials::record[which] != nullptr) slots.push_back({slot, fn});
        };
        special(detail::kRepr, Py_tp_repr, reinterpret_cast<void *>(&Specials::repr));
        special(detail::kStr, Py_tp_str, reinterpret_cast<void *>(&Specials::str));
        special(detail::kLen, Py_mp_length, reinterpret_cast<void *>(&Specials::len));
        special(detail::kLen, Py_sq_length, reinterpret_cast<void *>(&Specials::len));
        special(detail::kIter, Py_tp_iter, reinterpret_cast<void *>(&Specials::iter));
        special(detail::kNext, Py_tp_iternext, reinterpret_cast<void *>(&Specials::next));
        special(detail::kGetItem, Py_mp_subscript, reinterpret_cast<void *>(&Specials::getitem));
        special(detail::kGetItem, Py_sq_item, reinterpret_cast<void *>(&Specials::sq_item));
        if (Specials::record[detail::kSetItem] != nullptr || Specials::record[detail::kDelItem] != nullptr)
            slots.push_back({Py_mp_ass_subscript, reinterpret_cast<void *>(&Specials::setitem)});
        special(detail::kContains, Py_sq_contains, reinterpret_cast<void *>(&Specials::contains));
        special(detail::kHash, Py_tp_hash, reinterpret_cast<void *>(&Specials::hash));
        special(detail::kBool, Py_nb_bool, reinterpret_cast<void *>(&Specials::boolean));
        special(detail::kCall, Py_tp_call, reinterpret_cast<void *>(&Specials::call_slot));
        detail::NumberSlots<T>::add_slots(slots);
        detail::BufferSlots<T>::add_slots(slots);
        for (int op : {detail::kLt, detail::kLe, detail::kEq, detail::kNe, detail::kGt, detail::kGe})
            if (Specials::record[op] != nullptr) {
                slots.push_back({Py_tp_richcompare, reinterpret_cast<void *>(&Specials::richcompare)});
                break;
            }
        slots.push_back({0, nullptr});

        auto module_name = Bound<PyAny>::from_owned_ptr(py, PyModule_GetNameObject(module));
        const char *module_text = PyUnicode_AsUTF8(module_name.as_ptr());
        if (module_text == nullptr) throw_fetched(py);
        qualified_ = std::string(module_text) + "." + name_;  // kept: 3.11 points tp_name at it

        unsigned int flags = Py_TPFLAGS_DEFAULT;
#if PY_VERSION_HEX >= 0x030A0000
        flags |= Py_TPFLAGS_IMMUTABLETYPE;
        if (init_ == nullptr && !construct_in_new_) flags |= Py_TPFLAGS_DISALLOW_INSTANTIATION;
#endif
        if (gc) flags |= Py_TPFLAGS_HAVE_GC;
        if (subclassable_) flags |= Py_TPFLAGS_BASETYPE;
        spec_ = PyType_Spec{qualified_.c_str(), static_cast<int>(size), 0, flags, nullptr};
        slots_ = std::move(slots);
        spec_.slots = slots_.data();
        PyObject *type = PyType_FromModuleAndSpec(module, &spec_, reinterpret_cast<PyObject *>(base));
        if (type == nullptr) throw_fetched(py);
        auto made = Bound<PyAny>::from_owned_ptr(py, type);
        add_late_entries(py, module, reinterpret_cast<PyTypeObject *>(type));
        if (init_ != nullptr) {  // def_init: calls skip type_call's tuple (type_vectorcall)
            s_vectorcall_type = reinterpret_cast<PyTypeObject *>(type);
            s_vectorcall_type->tp_vectorcall = init_vectorcall_;
        }
        return std::move(made).into_ptr();  // a new reference: the class's OnceLock keeps it
    }

    const char *name_;
    std::string doc_;
    std::deque<std::string> texts_;
    std::vector<std::shared_ptr<void>> records_;
    detail::FunctionRecord *init_ = nullptr;
    detail::OverloadSet *init_set_ = nullptr;  // def_init more than once: init_ is this set
    detail::OverloadSet *special_sets_[detail::kSpecialCount] = {};  // special methods defined again
    std::unordered_set<std::string> names_[3];  // per LateKind: the names defined so far
    detail::SelfInvoke init_invoke_ = nullptr;
    void *init_slot_ = nullptr;  // tp_init<Record> for init_'s record type
    vectorcallfunc init_vectorcall_ = nullptr;  // type_vectorcall<Record> for it
    std::vector<MethodEntry> methods_;
    std::vector<LateEntry> late_;
    std::vector<detail::FunctionRecord *> statics_;
    std::vector<PyGetSetDef> getsets_;
    std::vector<std::shared_ptr<detail::PropertyRecord>> properties_;
    detail::ClassAttributes attributes_;
    std::vector<PyMethodDef> method_defs_;
    std::vector<PyGetSetDef> getset_defs_;
    std::vector<PyMemberDef> member_defs_;
    std::vector<PyType_Slot> slots_;
    std::string qualified_;
    PyType_Spec spec_{};
    bool gc_ = false;
    bool subclassable_ = false;
    bool dict_ = false;
    bool weakref_ = false;
    bool construct_in_new_ = false;
    PyTypeObject *(*base_type_)() noexcept = nullptr;  // extends<B>(): B's type, once made
    void (*inherit_specials_)() noexcept = nullptr;     // extends<B>(): B's special methods
    const char *base_name_ = nullptr;
    const bool *base_constructs_in_init_ = nullptr;
};

template <class T> ClassDef<T> &ModuleDef::add_class(const char *name, const char *doc)
{
    auto def = std::make_shared<ClassDef<T>>(name, doc);
    ClassDef<T> &ref = *def;
    classes_.push_back(std::move(def));
    steps_.push_back([&ref](Python py, PyObject *module) { ref.create(py, module); });
    return ref;
}

}  // namespace pyo3cpp
