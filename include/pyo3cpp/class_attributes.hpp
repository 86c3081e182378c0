// class_attributes.hpp — attributes of a bound class itself: constants and enums nested in it.
//
//   struct Joint { enum class Type { RotX, RotY, None }; ... };
//   m.add_class<Joint>("Joint")
//       .enum_<Joint::Type>("JointType", {{"RotX", Joint::Type::RotX}, {"RotY", Joint::Type::RotY},
//                                         {"None", Joint::Type::None}})
//       .export_enum_values<Joint::Type>()      // Joint.RotX is Joint.JointType.RotX
//       .attr("MAX_DOF", 6)                     // Joint.MAX_DOF == 6
//       .attr("Identity", Joint{});             // an instance of the class itself
//   >>> Joint.JointType.RotX                    -> <JointType.RotX: 0>
//   >>> Joint.JointType.__qualname__            -> 'Joint.JointType'
//
// Contract:
//   - ClassDef::attr(name, value): `value` is what ModuleDef::add takes (a Python object, a C++
//     value converted with IntoPython, or a callable taking Python that returns either), converted
//     once, when the type is made (first exec of the module), after the type exists: a value of
//     the class's own type, or of an enum nested in it before, converts. The attribute is a plain
//     class attribute (`Joint.MAX_DOF`, and read through instances), read-only like the rest of
//     an immutable type: assigning it raises TypeError.
//   - ClassDef::enum_<E>(name, members, kind, doc): enum.hpp's enum, with __qualname__
//     "Class.name" and __module__ the module's, set as an attribute of the class (not of the
//     module); members pickle by that qualname. Type hints and error messages say "Joint.JointType".
//     export_enum_values<E>() also sets each member as a class attribute (pybind11's
//     export_values), after enum_<E>.
//   - A name the class already has (a method, a property, an earlier attribute) is refused at
//     import: ValueError "Joint already has an attribute 'name'".
//   - Stubs: a nested enum is written inside its class; attributes as `NAME: ClassVar[type]`.
// Thread: definition at import (pure C++); the attributes are set while the module is being
// executed, before the type is reachable from Python code. Cost: none per call.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <cstring>
#include <functional>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "pyo3cpp/enum.hpp"
#include "pyo3cpp/error.hpp"

namespace pyo3cpp::detail {

// Sets type.<name> = value in the dict of a type that is being made (an immutable type refuses
// setattr, so the dict is written directly, then the type's method cache is told).
inline void set_class_attribute(Python py, PyObject *type, const char *name, PyObject *value)
{
    auto *t = reinterpret_cast<PyTypeObject *>(type);
    auto key = Bound<PyAny>::from_owned_ptr(py, PyUnicode_InternFromString(name));
    const int present = PyDict_Contains(t->tp_dict, key.as_ptr());
    if (present < 0) throw_fetched(py);
    if (present) {
        const char *dot = std::strrchr(t->tp_name, '.');  // "module.Name" -> "Name"
        std::string text = std::string(dot != nullptr ? dot + 1 : t->tp_name) + " already has an attribute '" +
                           name + "'";
        throw PyErr::new_err(py, PyExc_ValueError, text);
    }
    check_status(py, PyDict_SetItemString(t->tp_dict, name, value));
    PyType_Modified(t);
}

// The steps ClassDef::attr / enum_ / export_enum_values recorded, run in order once the type
// exists (ClassDef::create, first exec only).
struct ClassAttributes {
    std::vector<std::function<void(Python, PyObject *type, PyObject *module)>> steps;

    void run(Python py, PyObject *type, PyObject *module) const
    {
        for (const auto &step : steps) step(py, type, module);
    }
};

// enum_<E> nested in the class `class_name`: records the enum (enum.hpp) and the step that makes
// it and sets it on the class. `qualname` must live for the process ("Joint.JointType").
template <class E>
void nest_enum(ClassAttributes &attributes, const char *name, const char *qualname,
               std::initializer_list<std::pair<const char *, E>> members, EnumKind kind, const char *doc)
{
    using Binding = EnumBinding<E>;
    Binding::name = name;
    Binding::qualname = qualname;
    Binding::kind = kind;
    Binding::declared.clear();
    for (const auto &[member, value] : members)
        Binding::declared.emplace_back(member, static_cast<typename Binding::Underlying>(value));
    attributes.steps.push_back([name, doc](Python py, PyObject *type, PyObject *module) {
        auto module_name = Bound<PyAny>::from_owned_ptr(py, PyModule_GetNameObject(module));
        Borrowed<PyAny> cls = Binding::create(py, module_name.as_ptr(), doc);
        set_class_attribute(py, type, name, cls.as_ptr());
    });
}

template <class E> void export_enum_members(ClassAttributes &attributes)
{
    attributes.steps.push_back([](Python py, PyObject *type, PyObject *) {
        using Binding = EnumBinding<E>;
        const auto &made = Binding::get(py);  // TypeError when enum_<E> was not declared first
        for (std::size_t i = 0; i < made.members.size(); ++i)
            set_class_attribute(py, type, Binding::declared[i].first.c_str(), made.members[i].second.as_ptr());
    });
}

}  // namespace pyo3cpp::detail
