// overload.hpp — a name defined more than once: one callable that tries each definition.
//
//   m.def("scale", [](long x, long k) { return x * k; }, arg("x"), arg("k"));
//   m.def("scale", [](double x, double k) { return x * k; }, arg("x"), arg("k"));
//   // scale(2, 3) -> 6 (the first), scale(2.0, 3) -> 6.0 (the second, by conversion)
//
// ModuleDef::def, ClassDef::def / def_static / def_classmethod / def_init build a set when a
// name is defined again (module.hpp, class.hpp); a name defined once stays the single record it
// always was, with its own entry: it pays nothing for this.
//
// Contract:
//   - A call tries the definitions in the order they were written, first taking every argument
//     only as its own type (convert_exact.hpp: an int is not taken for a float parameter, a bool
//     not for an int one, a generator not for a std::vector), then in order again with the
//     conversions; the first that accepts the arguments (their count and keywords, then every
//     conversion) runs. Keywords are bound per definition, with its own names and defaults.
//   - A definition refuses when binding fails or a conversion fails with TypeError, ValueError
//     or OverflowError (subclasses included); any other exception from a conversion, and
//     anything the body raises, propagates: the next definition is not tried.
//   - None accepts: TypeError listing the arguments' types and every signature (the runtime
//     words it: pyo3cpp_overload_call in abi/pyo3cpp.h).
//   - `__doc__` starts with every signature, one per line, then each definition's doc; there is
//     no __text_signature__ (inspect.signature raises ValueError, as for any built-in without
//     one); stubs get one `@overload` per definition (pyo3cpp.stubgen).
// Thread: any attached thread; a set is built before the module or class is published and never
// changes after. Cost per call: one call into the runtime, then per definition tried its
// binding (the runtime's, with a count check first) and one type check per argument in the first
// pass; a conversion that is refused in the second pass costs a C++ exception.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <stdexcept>
#include <string>
#include <vector>

#include "pyo3cpp/function.hpp"

namespace pyo3cpp::detail {

// The record of a set; its members are records made by def() as for a single definition (kept
// alive by whoever made them). Called like a TypedFunction (call(args, nargs, kwnames, self)),
// so the class layer's entries serve it unchanged.
struct OverloadSet final : FunctionRecord {
    std::vector<FunctionRecord *> members;
    std::vector<pyo3cpp_overload> table;  // filled at prepare, from members
    int flags = 0;                        // PYO3CPP_OVERLOAD_*

    // `set_name`: the name in the doc and the error (the class's for constructors). `with_entry`:
    // a function or static method (an exact built-in with a runtime entry); methods and
    // constructors are called through their class's entries instead.
    OverloadSet(std::string set_name, bool with_entry, int set_flags = 0) : flags(set_flags)
    {
        name = std::move(set_name);
        entry = &OverloadSet::vectorcall;
        show_signature = false;  // the doc is the set's own (no "--" marker)
        describe = &OverloadSet::describe_set;
        refresh_names = &OverloadSet::refresh_members;
        if (with_entry) {
            invoke = [](void *record, PyObject *const *args, ptrdiff_t nargs, PyObject *kwnames) {
                return static_cast<const OverloadSet *>(record)->call(args, nargs, kwnames);
            };
            fastcall_entry = reinterpret_cast<decltype(fastcall_entry)>(pyo3cpp_function_shared_entry(invoke, this));
        }
    }

    // Adds a definition; std::invalid_argument for one that cannot be tried (def_raw).
    void add(FunctionRecord *member)
    {
        if (member->attempt == nullptr)
            throw std::invalid_argument("pyo3cpp: \"" + name +
                                        "\" is defined twice, and a def_raw function cannot be one "
                                        "of several definitions of a name");
        members.push_back(member);
    }

    PyObject *call(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, PyObject *self = nullptr) const
    {
        return pyo3cpp_overload_call(&signature, table.data(), static_cast<ptrdiff_t>(table.size()), self,
                                     args, nargs, kwnames);
    }

    static PyObject *vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
    {
        return static_cast<const OverloadSet &>(FunctionRecord::of(callable))
            .call(args, PyVectorcall_NARGS(nargsf), kwnames);
    }

private:
    // Runs once, inside prepare(): the members first (their signatures), then the set's texts.
    static void describe_set(FunctionRecord &base)
    {
        auto &self = static_cast<OverloadSet &>(base);
        Python py = Python::assume_attached();
        self.table.clear();
        for (FunctionRecord *member : self.members) {
            member->prepare(py);
            self.table.push_back({member->attempt, member, &member->signature,
                                  member->doc.empty() ? nullptr : member->doc.c_str()});
        }
        self.signature.name = self.name.c_str();
        const char *doc = pyo3cpp_overload_prepare(&self.signature, self.table.data(),
                                                   static_cast<ptrdiff_t>(self.table.size()), self.flags);
        if (doc == nullptr) throw_fetched(py);
        self.doc = doc;  // prepare() publishes it as the PyMethodDef's doc
    }
    static void refresh_members(FunctionRecord &base, Python py)
    {
        for (FunctionRecord *member : static_cast<OverloadSet &>(base).members) member->prepare(py);
    }
};

}  // namespace pyo3cpp::detail
