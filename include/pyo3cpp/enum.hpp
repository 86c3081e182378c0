// enum.hpp — a C++ enumeration as a real Python enum.Enum / enum.IntEnum subclass, converted
// both ways.
//
//   enum class Color { Red = 1, Green = 2, Blue = 4 };
//   PYO3CPP_MODULE(paint, m) {
//       m.enum_<Color>("Color", {{"RED", Color::Red}, {"GREEN", Color::Green},
//                                {"BLUE", Color::Blue}}, EnumKind::Enum, "Primary colours.");
//       m.def("mix", [](Color a, Color b) { ... return Color::Blue; });
//   }
//   >>> paint.mix(paint.Color.RED, paint.Color.GREEN)   -> <Color.BLUE: 4>
//
// Contract:
//   - The class is made at the module's first exec with the enum module's functional API
//     (module and qualname set, so members pickle, compare, iterate and print like any enum's);
//     member values are the C++ enumerators' underlying integers, exactly, for every underlying
//     type (int8_t ... uint64_t, bool: 0 and 1; 1 << 63 of a uint64_t enum is 2**63). One class
//     per C++ type per interpreter. EnumKind::Flag / IntFlag make an enum.Flag / IntFlag:
//     members combine with | & ^ ~, and any combination of declared bits converts both ways.
//   - Into Python: the member object for that value (ValueError naming the enum for a value
//     that is not a declared member; a Flag kind builds a combination of declared bits, as
//     Class(value) does, and refuses other bits whatever the class's boundary).
//   - From Python: a member of the class (or of a subclass). EnumKind::IntEnum / IntFlag also
//     accept an int that is a member's value (IntFlag: a combination of declared bits).
//     Anything else is a TypeError ("must be Color, not int"); an int that is no member's value,
//     or outside the underlying type's range, is a ValueError ("5 is not a valid Color").
//   - Type hints (stubs) name the class. An enum nested in a bound class (ClassDef::enum_,
//     class_attributes.hpp) has the qualname "Joint.JointType", which hints and messages use.
// Thread: any attached thread. Cost: into Python a scan of the members (a few compares) and an
// incref; from Python an isinstance check and a read of `value`.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "pyo3cpp/convert.hpp"
#include "pyo3cpp/once_lock.hpp"
#include "pyo3cpp/py.hpp"
#include "pyo3cpp/type_hint.hpp"

namespace pyo3cpp {

enum class EnumKind { Enum, IntEnum, Flag, IntFlag };

namespace detail {

template <class E> struct EnumBinding {
    static_assert(std::is_enum_v<E>);
    using Underlying = std::underlying_type_t<E>;
    static constexpr bool kBool = std::is_same_v<Underlying, bool>;
    using Bits = std::conditional_t<kBool, unsigned char, std::make_unsigned_t<std::conditional_t<kBool, int, Underlying>>>;

    struct Members {
        Py<PyAny> type;
        std::vector<std::pair<Underlying, Py<PyAny>>> members;
        Bits all_bits = 0;  // Flag kinds: every declared bit
    };
    static inline OnceLock<Members> bound{"bound enum"};
    // Recorded at definition (no Python): the Python name and the declared members.
    static inline const char *name = nullptr;
    // Nested in a bound class (ClassDef::enum_): "Joint.JointType", else nullptr (the name).
    static inline const char *qualname = nullptr;
    static const char *display_name() noexcept { return qualname != nullptr ? qualname : name; }
    static inline EnumKind kind = EnumKind::Enum;
    static inline std::vector<std::pair<std::string, Underlying>> declared;

    static bool is_flag() noexcept { return kind == EnumKind::Flag || kind == EnumKind::IntFlag; }
    static bool takes_int() noexcept { return kind == EnumKind::IntEnum || kind == EnumKind::IntFlag; }
    static const char *base_name() noexcept
    {
        switch (kind) {
        case EnumKind::IntEnum: return "IntEnum";
        case EnumKind::Flag: return "Flag";
        case EnumKind::IntFlag: return "IntFlag";
        default: return "Enum";
        }
    }

    // The Python int of a value, exact for every underlying type.
    static PyObject *int_of(Underlying v) noexcept
    {
        if constexpr (kBool)
            return PyLong_FromLong(v ? 1 : 0);
        else if constexpr (std::is_signed_v<Underlying>)
            return PyLong_FromLongLong(static_cast<long long>(v));
        else
            return PyLong_FromUnsignedLongLong(static_cast<unsigned long long>(v));
    }
    static std::string text_of(Underlying v)
    {
        if constexpr (kBool)
            return v ? "1" : "0";
        else
            return std::to_string(v);
    }
    // The int `o` as an Underlying; false (no exception) when outside its range.
    static bool exact_value(Python py, PyObject *o, Underlying &out)
    {
        int overflow = 0;
        const long long s = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (s == -1 && overflow == 0 && PyErr_Occurred()) throw_fetched(py);
        if constexpr (!kBool && std::is_signed_v<Underlying>) {
            if (overflow != 0 || s < std::numeric_limits<Underlying>::min() ||
                s > std::numeric_limits<Underlying>::max())
                return false;
            out = static_cast<Underlying>(s);
            return true;
        } else {
            constexpr unsigned long long top = kBool ? 1ull : std::numeric_limits<Underlying>::max();
            unsigned long long u;
            if (overflow < 0 || (overflow == 0 && s < 0)) return false;
            if (overflow > 0) {
                u = PyLong_AsUnsignedLongLong(o);
                if (u == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
                    PyErr_Clear();  // beyond 64 bits
                    return false;
                }
            } else {
                u = static_cast<unsigned long long>(s);
            }
            if (u > top) return false;
            out = static_cast<Underlying>(u);
            return true;
        }
    }
    static Bits bits_of(Underlying v) noexcept { return static_cast<Bits>(v); }

    static const Members &get(Python py)
    {
        const Members *m = bound.get();
        if (m == nullptr) {
            std::string text = std::string("the Python class of enum ") + (name ? display_name() : "?") +
                               " is not made yet (its module is not imported)";
            throw PyErr::new_err(py, PyExc_TypeError, text);
        }
        return *m;
    }

    static Borrowed<PyAny> create(Python py, PyObject *module_name, const char *doc)
    {
        const Members &m = bound.get_or_init(py, [&] {
            auto enum_module = Bound<PyAny>::from_owned_ptr(py, PyImport_ImportModule("enum"));
            auto base = enum_module.getattr(base_name());
            auto names = Bound<PyAny>::from_owned_ptr(py, PyList_New(0));
            for (const auto &[member, value] : declared) {
                auto number = Bound<PyAny>::from_owned_ptr(py, int_of(value));
                auto pair = Bound<PyAny>::from_owned_ptr(
                    py, Py_BuildValue("(sO)", member.c_str(), number.as_ptr()));
                check_status(py, PyList_Append(names.as_ptr(), pair.as_ptr()));
            }
            auto args = Bound<PyAny>::from_owned_ptr(py, Py_BuildValue("(sO)", name, names.as_ptr()));
            auto kwargs = Bound<PyAny>::from_owned_ptr(
                py, Py_BuildValue("{sOss}", "module", module_name, "qualname", display_name()));
            auto cls = Bound<PyAny>::from_owned_ptr(
                py, PyObject_Call(base.as_ptr(), args.as_ptr(), kwargs.as_ptr()));
            if (doc != nullptr) {
                auto text = Bound<PyAny>::from_owned_ptr(py, PyUnicode_FromString(doc));
                check_status(py, PyObject_SetAttrString(cls.as_ptr(), "__doc__", text.as_ptr()));
            }
            Members made{cls.unbind(), {}, 0};
            for (const auto &[member, value] : declared) {
                made.members.emplace_back(value, made.type.bind(py).getattr(member.c_str()).unbind());
                made.all_bits = static_cast<Bits>(made.all_bits | bits_of(value));
            }
            return made;
        });
        return m.type.bind_borrowed(py);
    }

    static Bound<PyAny> to_python(Python py, E value)
    {
        const Members &m = get(py);
        const auto wanted = static_cast<Underlying>(value);
        for (const auto &[v, member] : m.members)
            if (v == wanted) return member.bind(py);
        if (is_flag() && (bits_of(wanted) & static_cast<Bits>(~m.all_bits)) == 0) {  // a combination
            auto number = Bound<PyAny>::from_owned_ptr(py, int_of(wanted));
            return Bound<PyAny>::from_owned_ptr(py, PyObject_CallOneArg(m.type.as_ptr(), number.as_ptr()));
        }
        std::string text = text_of(wanted) + " is not a valid " + display_name();
        throw PyErr::new_err(py, PyExc_ValueError, text);
    }

    static E from_python(Borrowed<PyAny> obj)
    {
        Python py = obj.py();
        const Members &m = get(py);
        const int is_member = PyObject_IsInstance(obj.as_ptr(), m.type.as_ptr());
        if (is_member < 0) throw_fetched(py);
        Bound<PyAny> value = obj.to_owned();
        if (is_member) {
            value = obj.getattr("value");
        } else if (!takes_int() || !PyLong_Check(obj.as_ptr())) {
            PyErr_Format(PyExc_TypeError, "must be %s, not %.200s", display_name(), Py_TYPE(obj.as_ptr())->tp_name);
            throw_fetched(py);
        }
        Underlying v{};
        if (exact_value(py, value.as_ptr(), v)) {
            if (is_flag()) {
                if ((bits_of(v) & static_cast<Bits>(~m.all_bits)) == 0) return static_cast<E>(v);
            } else {
                for (const auto &[declared_value, member] : m.members)
                    if (declared_value == v) return static_cast<E>(v);
            }
        }
        PyErr_Format(PyExc_ValueError, "%R is not a valid %s", value.as_ptr(), display_name());
        throw_fetched(py);
    }
};

}  // namespace detail

template <class E>
    requires std::is_enum_v<E>
struct FromPython<E> {
    static E extract(Borrowed<PyAny> obj) { return detail::EnumBinding<E>::from_python(obj); }
};

template <class E>
    requires std::is_enum_v<E>
struct IntoPython<E> {
    static Bound<PyAny> convert(Python py, const E &value)
    {
        return detail::EnumBinding<E>::to_python(py, value);
    }
};

template <class E>
    requires std::is_enum_v<E>
struct TypeHint<E> {
    static std::string text()
    {
        const char *name = detail::EnumBinding<E>::name;
        return name != nullptr ? detail::EnumBinding<E>::display_name() : "int";
    }
};

}  // namespace pyo3cpp
