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
//     member values are the C++ enumerators' underlying integers. One class per C++ type per
//     interpreter.
//   - Into Python: the member object for that value (ValueError naming the enum for a value
//     that is not a declared member).
//   - From Python: a member of the class (or of a subclass). EnumKind::IntEnum also accepts an
//     int that is a member's value. Anything else is a TypeError ("must be Color, not int");
//     an int that is no member's value is a ValueError ("5 is not a valid Color").
//   - Type hints (stubs) name the class.
// Thread: any attached thread. Cost: into Python a scan of the members (a few compares) and an
// incref; from Python an isinstance check and a read of `value`.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "pyo3cpp/convert.hpp"
#include "pyo3cpp/once_lock.hpp"
#include "pyo3cpp/py.hpp"
#include "pyo3cpp/type_hint.hpp"

namespace pyo3cpp {

enum class EnumKind { Enum, IntEnum };

namespace detail {

template <class E> struct EnumBinding {
    static_assert(std::is_enum_v<E>);
    using Underlying = std::underlying_type_t<E>;

    struct Members {
        Py<PyAny> type;
        std::vector<std::pair<long long, Py<PyAny>>> members;
    };
    static inline OnceLock<Members> bound{"bound enum"};
    // Recorded at definition (no Python): the Python name and the declared members.
    static inline const char *name = nullptr;
    static inline EnumKind kind = EnumKind::Enum;
    static inline std::vector<std::pair<std::string, long long>> declared;

    static const Members &get(Python py)
    {
        const Members *m = bound.get();
        if (m == nullptr) {
            std::string text = std::string("the Python class of enum ") + (name ? name : "?") +
                               " is not made yet (its module is not imported)";
            throw PyErr::new_err(py, PyExc_TypeError, text);
        }
        return *m;
    }

    static Borrowed<PyAny> create(Python py, PyObject *module_name, const char *doc)
    {
        const Members &m = bound.get_or_init(py, [&] {
            auto enum_module = Bound<PyAny>::from_owned_ptr(py, PyImport_ImportModule("enum"));
            auto base = enum_module.getattr(kind == EnumKind::IntEnum ? "IntEnum" : "Enum");
            auto names = Bound<PyAny>::from_owned_ptr(py, PyList_New(0));
            for (const auto &[member, value] : declared) {
                auto pair = Bound<PyAny>::from_owned_ptr(
                    py, Py_BuildValue("(sL)", member.c_str(), value));
                check_status(py, PyList_Append(names.as_ptr(), pair.as_ptr()));
            }
            auto args = Bound<PyAny>::from_owned_ptr(py, Py_BuildValue("(sO)", name, names.as_ptr()));
            auto kwargs = Bound<PyAny>::from_owned_ptr(
                py, Py_BuildValue("{sOss}", "module", module_name, "qualname", name));
            auto cls = Bound<PyAny>::from_owned_ptr(
                py, PyObject_Call(base.as_ptr(), args.as_ptr(), kwargs.as_ptr()));
            if (doc != nullptr) {
                auto text = Bound<PyAny>::from_owned_ptr(py, PyUnicode_FromString(doc));
                check_status(py, PyObject_SetAttrString(cls.as_ptr(), "__doc__", text.as_ptr()));
            }
            Members made{cls.unbind(), {}};
            for (const auto &[member, value] : declared)
                made.members.emplace_back(value, made.type.bind(py).getattr(member.c_str()).unbind());
            return made;
        });
        return m.type.bind_borrowed(py);
    }

    static Bound<PyAny> to_python(Python py, E value)
    {
        const Members &m = get(py);
        const long long wanted = static_cast<long long>(static_cast<Underlying>(value));
        for (const auto &[v, member] : m.members)
            if (v == wanted) return member.bind(py);
        PyErr_Format(PyExc_ValueError, "%lld is not a valid %s", wanted, name);
        throw_fetched(py);
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
        } else if (kind != EnumKind::IntEnum || !PyLong_Check(obj.as_ptr())) {
            PyErr_Format(PyExc_TypeError, "must be %s, not %.200s", name, Py_TYPE(obj.as_ptr())->tp_name);
            throw_fetched(py);
        }
        const long long v = PyLong_AsLongLong(value.as_ptr());
        if (v == -1 && PyErr_Occurred()) throw_fetched(py);
        for (const auto &[declared_value, member] : m.members)
            if (declared_value == v) return static_cast<E>(static_cast<Underlying>(v));
        PyErr_Format(PyExc_ValueError, "%R is not a valid %s", value.as_ptr(), name);
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
        return name != nullptr ? name : "int";
    }
};

}  // namespace pyo3cpp
