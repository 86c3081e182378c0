// module.hpp — defining an extension module: functions, constants, exception classes, enums
// and submodules, with multi-phase initialisation.
//
//   #include <pyo3cpp/pyo3cpp.hpp>
//   using namespace pyo3cpp;
//
//   PYO3CPP_MODULE(mybisect, m)          // defines PyInit_mybisect; `m` is a ModuleDef&
//   {
//       m.doc("Bisection algorithms.");
//       m.def("bisect_left", bisect_left, "Return the index where to insert x in a.",
//             arg("a"), arg("x"), arg("lo") = 0, arg("hi") = std::nullopt);
//       m.def("add", [](long a, long b) { return a + b; });      // positional-only, no names
//       m.def_raw("heappush", heappush, "Push item onto heap.");  // vectorcall arguments as-is
//       m.def_raw<&heappop>("heappop", "Pop the smallest item.");  // compile-time C entry
//       m.exception<ParseError>("ParseError", PyExc_ValueError);   // custom_exception.hpp
//       m.enum_<Color>("Color", {{"RED", Color::Red}, {"BLUE", Color::Blue}});   // enum.hpp
//       m.add("VERSION", 2);                                      // constant (into_py at exec)
//       m.add("Error", [](Python py) { return make_error_type(py); });   // object, built lazily
//       m.submodule("fast", [](ModuleDef &sub) { sub.def("f", f); });    // mybisect.fast
//       m.add_class<Counter>("Counter", "Counts.").def_init<long>(arg("start") = 0);  // class.hpp
//       m.def("scale", scale_int).def("scale", scale_float);      // overloads (overload.hpp)
//       m.on_exec([](Python py, Borrowed<PyModule> module) { /* anything else */ });
//       m.state<Cache>();   // a Cache per module object (module_state.hpp)
//       // m.gil_used();   // opt out: this module needs the GIL (3.13t re-enables it)
//   }
//
// Where the rest is: parameters and their names (arg.hpp), conversions, errors, the function
// objects and what a call costs (function.hpp), def_raw<&fn> (raw_function.hpp), exception
// translation (exception_translation.hpp).
//
// Contract:
//   - The body of PYO3CPP_MODULE runs once per process, on the first import, and only records
//     the definition (pure C++: it must not call Python). Each module object is then built by
//     CPython's multi-phase initialisation: the create step runs the runtime check
//     (PYO3CPP_CHECK_RUNTIME: ImportError when libpyo3cpp.so does not match) and builds the
//     complete submodules (before the parent is in sys.modules), then exec adds the functions,
//     then the exception classes, enums, add() and on_exec steps in the order they were
//     written. Concurrent importers wait for exec to finish (CPython's module locks), so they
//     never see the module half-built; `import parent.sub` always finds the submodule already
//     in sys.modules.
//   - Py_mod_gil = Py_MOD_GIL_NOT_USED unless gil_used() is called (CPython 3.13+; the slot is
//     absent before). Py_mod_multiple_interpreters = NOT_SUPPORTED on 3.12+ (the runtime check
//     refuses 3.11 subinterpreters).
//   - Strings given to doc(), add(), exception(), enum_() and submodule() names, and the module
//     name, are kept as pointers: pass string literals. def()/def_raw() copy the function name
//     and docstring.
// Thread: the definition runs under the import lock; functions run on whatever thread calls
// them (function.hpp).
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "pyo3cpp/arg.hpp"
#include "pyo3cpp/custom_exception.hpp"
#include "pyo3cpp/enum.hpp"
#include "pyo3cpp/exception_translation.hpp"
#include "pyo3cpp/forced_unwind.hpp"
#include "pyo3cpp/function.hpp"
#include "pyo3cpp/module_state.hpp"
#include "pyo3cpp/overload.hpp"
#include "pyo3cpp/raw_function.hpp"

namespace pyo3cpp {

template <class T> class ClassDef;  // class.hpp

namespace detail {
// Converts whatever add() was given into a Python object (a new reference as Bound).
template <class T> Bound<PyAny> to_python_value(Python py, T &&value)
{
    using V = std::remove_cvref_t<T>;
    if constexpr (std::is_invocable_v<T &, Python>) {
        return to_python_value(py, std::invoke(value, py));
    } else if constexpr (owner_kind<V>::bound) {
        return Bound<PyAny>(value);
    } else if constexpr (owner_kind<V>::borrowed) {
        return value.as_any().to_owned();
    } else if constexpr (owner_kind<V>::py) {
        return value.bind(py);
    } else {
        return into_py(py, value);
    }
}
}  // namespace detail

// ------------------------------------------------------------------------------ ModuleDef

class ModuleDef {
public:
    explicit ModuleDef(const char *name) : name_(name) { holder_.owner = this; }
    ModuleDef(const ModuleDef &) = delete;
    ModuleDef &operator=(const ModuleDef &) = delete;

    // The module's docstring.
    ModuleDef &doc(const char *text)
    {
        doc_ = text;
        return *this;
    }

    // A function from a C++ callable: def("name", fn, [doc], arg("a"), arg("b") = 1, ...).
    // Parameters, names, defaults, errors and costs: function.hpp and arg.hpp.
    template <class F, class... Specs>
        requires(detail::is_arg_spec_v<Specs> && ...)
    ModuleDef &def(const char *name, F &&fn, Specs &&...specs)
    {
        return def(name, std::forward<F>(fn), static_cast<const char *>(nullptr),
                   std::forward<Specs>(specs)...);
    }
    template <class F, class... Specs>
        requires(detail::is_arg_spec_v<Specs> && ...)
    ModuleDef &def(const char *name, F &&fn, const char *doc, Specs &&...specs)
    {
        using Record = detail::TypedFunction<std::decay_t<F>, std::remove_cvref_t<Specs>...>;
        return add_function(make_record<Record>(name, std::decay_t<F>(std::forward<F>(fn)),
                                                std::remove_cvref_t<Specs>(std::forward<Specs>(specs))...),
                            doc);
    }

    // def<&fn>(name, [doc], args...): the same for a function known at compile time; it gets a
    // C entry of its own, which the interpreter's call specialisation uses (as a captureless
    // lambda does). Prefer it to def(name, fn) for a plain function on a hot path.
    template <auto Fn, class... Specs>
        requires(detail::is_arg_spec_v<Specs> && ...)
    ModuleDef &def(const char *name, Specs &&...specs)
    {
        return def(name, detail::StaticFunction<Fn>{}, std::forward<Specs>(specs)...);
    }
    template <auto Fn, class... Specs>
        requires(detail::is_arg_spec_v<Specs> && ...)
    ModuleDef &def(const char *name, const char *doc, Specs &&...specs)
    {
        return def(name, detail::StaticFunction<Fn>{}, doc, std::forward<Specs>(specs)...);
    }

    // A function that takes the vectorcall arguments as they come: fn(Python, const
    // Borrowed<PyAny> *args, Py_ssize_t nargs, Borrowed<PyAny> kwnames) — `args[0..nargs)`
    // positional, then one value per name in `kwnames` (a tuple of str, or a null Borrowed when
    // there are no keywords). Its signature shows as (*args, **kwargs).
    template <class F> ModuleDef &def_raw(const char *name, F &&fn, const char *doc = nullptr)
    {
        using Record = detail::RawFunction<std::decay_t<F>>;
        return add_function(make_record<Record>(name, std::decay_t<F>(std::forward<F>(fn))), doc);
    }

    // A function whose C entry point is generated for `Fn` at compile time (raw_function.hpp):
    // def_raw<&heappop>("heappop", "heappop($module, heap, /)\n--\n\nPop ...").
    template <auto Fn> ModuleDef &def_raw(const char *name, const char *doc = nullptr)
    {
        using Entry = detail::StaticRawEntry<Fn>;
        auto record = make_record<detail::FunctionRecord>();
        record->name = name;
        record->show_signature = false;
        record->method.ml_meth = Entry::method();
        record->method.ml_flags = Entry::flags;
        return add_function(std::move(record), doc);
    }

    // A Python exception class `<module>.<name>` deriving from `base`, raised for C++
    // exceptions of type E (custom_exception.hpp).
    template <class E>
    ModuleDef &exception(const char *name, PyObject *base = PyExc_Exception, const char *doc = nullptr)
    {
        detail::ExceptionBinding<E>::register_translator();
        steps_.push_back([name, base, doc](Python py, PyObject *module) {
            auto qualified = qualified_name(py, module, name);
            Borrowed<PyAny> cls = detail::ExceptionBinding<E>::create(py, qualified, doc, base);
            check_status(py, PyModule_AddObjectRef(module, name, cls.as_ptr()));
        });
        return *this;
    }
    // The same, deriving from the class declared for C++ exception type BaseE (declare it first).
    template <class E, class BaseE>
        requires(!std::is_same_v<BaseE, void>)
    ModuleDef &exception(const char *name, const char *doc = nullptr)
    {
        detail::ExceptionBinding<E>::register_translator();
        steps_.push_back([name, doc](Python py, PyObject *module) {
            auto qualified = qualified_name(py, module, name);
            Borrowed<PyAny> base = exception_type<BaseE>(py);
            Borrowed<PyAny> cls = detail::ExceptionBinding<E>::create(py, qualified, doc, base.as_ptr());
            check_status(py, PyModule_AddObjectRef(module, name, cls.as_ptr()));
        });
        return *this;
    }

    // An enum.Enum (IntEnum, Flag, IntFlag) subclass `name` for the C++ enumeration E (enum.hpp).
    template <class E>
        requires std::is_enum_v<E>
    ModuleDef &enum_(const char *name, std::initializer_list<std::pair<const char *, E>> members,
                     EnumKind kind = EnumKind::Enum, const char *doc = nullptr)
    {
        using Binding = detail::EnumBinding<E>;
        Binding::name = name;
        Binding::kind = kind;
        Binding::declared.clear();
        for (const auto &[member, value] : members)
            Binding::declared.emplace_back(member, static_cast<typename Binding::Underlying>(value));
        steps_.push_back([name, doc](Python py, PyObject *module) {
            auto module_name = Bound<PyAny>::from_owned_ptr(py, PyModule_GetNameObject(module));
            Borrowed<PyAny> cls = Binding::create(py, module_name.as_ptr(), doc);
            check_status(py, PyModule_AddObjectRef(module, name, cls.as_ptr()));
        });
        return *this;
    }

    // module.<name> = value at exec: a Python object (Bound/Py/Borrowed), a C++ value
    // (IntoPython), or a callable taking Python that returns either (run at exec).
    template <class T> ModuleDef &add(const char *name, T value)
    {
        steps_.push_back([name, value = std::move(value)](Python py, PyObject *module) mutable {
            Bound<PyAny> object = detail::to_python_value(py, value);
            check_status(py, PyModule_AddObjectRef(module, name, object.as_ptr()));
        });
        return *this;
    }

    // A submodule `parent.name`, defined by build(ModuleDef &) now. It is built completely,
    // entered in sys.modules and set as an attribute of the parent while the parent is being
    // created — before the import system publishes the parent in sys.modules. That order is
    // what makes concurrent `import parent.sub` safe: CPython's import of a dotted name checks
    // only whether the parent is *in* sys.modules (not whether its exec has finished), so a
    // submodule registered during exec could be looked for too early ("not a package").
    template <class Build> ModuleDef &submodule(const char *name, Build &&build)
    {
        auto child = std::make_unique<ModuleDef>(name);
        std::forward<Build>(build)(*child);
        children_.push_back(std::move(child));
        return *this;
    }

    // A Python class `name` for the C++ type T (declared with PYO3CPP_CLASS), made at exec in
    // the order written; returns the builder for its methods and properties (class.hpp).
    template <class T> ClassDef<T> &add_class(const char *name, const char *doc = nullptr);

    // Runs fn(Python, Borrowed<PyModule>) at exec, after the steps written before it.
    template <class F> ModuleDef &on_exec(F &&fn)
    {
        steps_.push_back([fn = std::forward<F>(fn)](Python py, PyObject *module) mutable {
            fn(py, Borrowed<PyAny>::from_ptr(py, module).cast_unchecked<PyModule>());
        });
        return *this;
    }

    // A state of type S per module object, made at exec before anything else (module_state.hpp):
    // by factory(Python) when given, else S(Python) or S(). Top-level modules only.
    template <class S> ModuleDef &state()
    {
        if constexpr (std::is_constructible_v<S, Python>)
            return state<S>([](Python py) { return S(py); });
        else
            return state<S>([](Python) { return S(); });
    }
    template <class S, class Factory>
        requires std::is_same_v<std::invoke_result_t<Factory &, Python>, S>
    ModuleDef &state(Factory factory)
    {
        detail::ModuleStateOpsFor<S>::ops.def = &holder_.def;
        state_ops_ = &detail::ModuleStateOpsFor<S>::ops;
        make_state_ = [factory = std::move(factory)](Python py) mutable -> void * {
            return new S(factory(py));
        };
        return *this;
    }

    // Opt out of free-threading: the module declares Py_MOD_GIL_USED, and a free-threaded
    // CPython re-enables the GIL when it is imported (with a RuntimeWarning).
    ModuleDef &gil_used(bool used = true)
    {
        gil_used_ = used;
        return *this;
    }

    const char *name() const noexcept { return name_; }

    // For PYO3CPP_MODULE: runs define(def) and returns the initialised PyModuleDef.
    static PyObject *create(const char *name, void (*define)(ModuleDef &))
    {
        auto def = std::make_unique<ModuleDef>(name);
        define(*def);
        PyObject *result = def->initialise();
        (void)def.release();  // lives for the process: module objects refer to it
        return result;
    }

private:
    // Standard layout, PyModuleDef first: the exec slot gets back to its ModuleDef from the
    // PyModuleDef CPython hands it (PyModule_GetDef).
    struct Holder {
        PyModuleDef def;
        ModuleDef *owner;
    };
    static_assert(std::is_standard_layout_v<Holder>);

    using RecordPtr = std::unique_ptr<detail::FunctionRecord, void (*)(detail::FunctionRecord *)>;

    // Records are deleted as their own type (FunctionRecord has no virtual destructor: it must
    // stay standard layout, its PyMethodDef first).
    template <class Record, class... A> static RecordPtr make_record(A &&...args)
    {
        return RecordPtr(new Record(std::forward<A>(args)...), [](detail::FunctionRecord *r) {
            delete static_cast<Record *>(r);
        });
    }

    ModuleDef &add_function(RecordPtr record, const char *doc)
    {
        record->doc = doc != nullptr ? doc : "";
        if (!function_names_.insert(record->name).second)  // defined before: find it
            for (RecordPtr &existing : functions_)
                if (existing->name == record->name) return add_overload(existing, std::move(record));
        functions_.push_back(std::move(record));
        return *this;
    }

    // A name defined again: its definitions become one overload set (overload.hpp), in the
    // place of the first.
    ModuleDef &add_overload(RecordPtr &existing, RecordPtr record)
    {
        if (existing->entry != &detail::OverloadSet::vectorcall) {
            auto set = make_record<detail::OverloadSet>(existing->name, true);
            static_cast<detail::OverloadSet &>(*set).add(existing.get());
            overloaded_.push_back(std::move(existing));
            existing = std::move(set);
        }
        static_cast<detail::OverloadSet &>(*existing).add(record.get());
        overloaded_.push_back(std::move(record));
        return *this;
    }

    static std::string qualified_name(Python py, PyObject *module, const char *name)
    {
        auto module_name = Bound<PyAny>::from_owned_ptr(py, PyModule_GetNameObject(module));
        const char *text = PyUnicode_AsUTF8(module_name.as_ptr());
        if (text == nullptr) throw_fetched(py);
        return std::string(text) + "." + name;
    }

    PyObject *initialise()
    {
        slots_.push_back({Py_mod_create, reinterpret_cast<void *>(&ModuleDef::create_slot)});
        slots_.push_back({Py_mod_exec, reinterpret_cast<void *>(&ModuleDef::exec_slot)});
#if PY_VERSION_HEX >= 0x030C0000
        // The runtime's state is process-wide (once-cells, intern/import caches, the pool):
        // CPython refuses the import in a subinterpreter. On 3.11 the runtime check in
        // create_slot refuses it (ImportError saying why).
        slots_.push_back(
            {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_NOT_SUPPORTED});
#endif
#if PY_VERSION_HEX >= 0x030D0000
        slots_.push_back({Py_mod_gil, gil_used_ ? Py_MOD_GIL_USED : Py_MOD_GIL_NOT_USED});
#endif
        slots_.push_back({0, nullptr});
        PyModuleDef def = {PyModuleDef_HEAD_INIT, name_, doc_, 0, nullptr, slots_.data(),
                           nullptr, nullptr, nullptr};
        if (state_ops_ != nullptr) {
            def.m_size = sizeof(detail::ModuleStateSlot);
            def.m_traverse = &detail::module_state_traverse;
            def.m_clear = &detail::module_state_clear;
            def.m_free = &detail::module_state_free;
        }
        holder_.def = def;
        return PyModuleDef_Init(&holder_.def);
    }

    // Runs before the import system puts the module in sys.modules: the runtime check, then the
    // module object with its submodules complete (see submodule()).
    static PyObject *create_slot(PyObject *spec, PyModuleDef *def)
    {
        Python py = Python::assume_attached();
        ModuleDef *self = reinterpret_cast<Holder *>(def)->owner;
        if (PYO3CPP_CHECK_RUNTIME(self->name_) != 0) return nullptr;
        try {
            auto name = Bound<PyAny>::from_owned_ptr(py, PyObject_GetAttrString(spec, "name"));
            auto module = Bound<PyAny>::from_owned_ptr(py, PyModule_NewObject(name.as_ptr()));
            try {
                self->build_children(py, module.as_ptr());
            } PYO3CPP_CATCH_ALL {
                self->forget_children(py, module.as_ptr());
                throw;
            }
            return std::move(module).into_ptr();
        } PYO3CPP_CATCH_ALL {
            translate_current_exception(py);
            return nullptr;
        }
    }

    static int exec_slot(PyObject *module)
    {
        Python py = Python::assume_attached();
        auto *holder = reinterpret_cast<Holder *>(PyModule_GetDef(module));
        if (holder == nullptr) return -1;
        ModuleDef *self = holder->owner;
        try {
            if (self->state_ops_ != nullptr) self->make_state(py, module);
            self->populate(py, module);
            return 0;
        } PYO3CPP_CATCH_ALL {
            translate_current_exception(py);
            self->forget_children(py, module);  // the import fails: no orphans in sys.modules
            return -1;
        }
    }

    // The state first: functions, classes and on_exec steps may use it.
    void make_state(Python py, PyObject *module)
    {
        auto *slot = static_cast<detail::ModuleStateSlot *>(PyModule_GetState(module));
        if (slot == nullptr) throw_fetched(py);
        if (slot->object != nullptr) return;  // exec again on the same object: keep it
        slot->object = make_state_(py);
        slot->ops = state_ops_;
    }

    void build_children(Python py, PyObject *module)
    {
        for (auto &child : children_) child->build_submodule(py, module);
    }

    // Removes this module's submodules (and theirs) from sys.modules, keeping any exception
    // that is being raised.
    void forget_children(Python py, PyObject *module) noexcept
    {
        PyObject *pending = compat::take_raised_exception();
        if (PyObject *parent_name = PyModule_GetNameObject(module)) {
            for (auto &child : children_) {
                if (PyObject *full = PyUnicode_FromFormat("%U.%s", parent_name, child->name_)) {
                    if (PyObject *sub = PyDict_GetItemWithError(PyImport_GetModuleDict(), full)) {
                        Py_INCREF(sub);
                        child->forget_children(py, sub);
                        Py_DECREF(sub);
                    }
                    if (PyDict_DelItem(PyImport_GetModuleDict(), full) < 0) PyErr_Clear();
                    Py_DECREF(full);
                }
                PyErr_Clear();
            }
            Py_DECREF(parent_name);
        }
        PyErr_Clear();
        compat::set_raised_exception(pending);
    }

    // Functions first, then add / submodule / on_exec steps in the order written.
    void populate(Python py, PyObject *module)
    {
        auto module_name = Bound<PyAny>::from_owned_ptr(py, PyModule_GetNameObject(module));
        for (auto &record : functions_) {
            record->prepare(py);
            // def_raw<&fn>: a plain built-in with the module as self (CPython's own dispatch);
            // everything else: a pyo3cpp function object calling its record's entry directly.
            auto function =
                record->entry == nullptr
                    ? Bound<PyAny>::from_owned_ptr(
                          py, PyCFunction_NewEx(&record->method, module, module_name.as_ptr()))
                    : Bound<PyAny>::from_owned_ptr(
                          py, pyo3cpp_function_new(&record->method,
                                                   reinterpret_cast<void *>(record->entry),
                                                   &record->signature, module));
            check_status(py, PyModule_AddObjectRef(module, record->name.c_str(), function.as_ptr()));
        }
        for (auto &step : steps_) step(py, module);
    }

    void build_submodule(Python py, PyObject *parent)
    {
        if (state_ops_ != nullptr)
            throw PyErr::new_err(py, PyExc_ImportError,
                                 "pyo3cpp: a submodule cannot have a module state (only a "
                                 "PYO3CPP_MODULE can)");
        auto parent_name = Bound<PyAny>::from_owned_ptr(py, PyModule_GetNameObject(parent));
        auto full_name = Bound<PyAny>::from_owned_ptr(
            py, PyUnicode_FromFormat("%U.%s", parent_name.as_ptr(), name_));
        auto sub = Bound<PyAny>::from_owned_ptr(py, PyModule_NewObject(full_name.as_ptr()));
        if (doc_ != nullptr) check_status(py, PyModule_SetDocString(sub.as_ptr(), doc_));
        build_children(py, sub.as_ptr());
        populate(py, sub.as_ptr());
        check_status(py, PyModule_AddObjectRef(parent, name_, sub.as_ptr()));
        PyObject *modules = PyImport_GetModuleDict();  // borrowed
        check_status(py, PyObject_SetItem(modules, full_name.as_ptr(), sub.as_ptr()));
    }

    Holder holder_{};
    const char *name_;
    const char *doc_ = nullptr;
    bool gil_used_ = false;
    std::vector<RecordPtr> functions_;
    std::vector<RecordPtr> overloaded_;  // the definitions of overload sets (in functions_)
    std::unordered_set<std::string> function_names_;  // a new name needs no search
    std::vector<std::function<void(Python, PyObject *)>> steps_;
    std::vector<std::unique_ptr<ModuleDef>> children_;
    std::vector<std::shared_ptr<void>> classes_;  // ClassDef<T>s (class.hpp)
    std::vector<PyModuleDef_Slot> slots_;
    const detail::ModuleStateOps *state_ops_ = nullptr;    // state<S>() (module_state.hpp)
    std::function<void *(Python)> make_state_;
};

}  // namespace pyo3cpp

// Defines PyInit_<name> for an extension module named `name` (a bare identifier, the same as
// the shared object's base name). The body that follows receives `ModuleDef &var`.
#define PYO3CPP_MODULE(name, var)                                                           \
    static void pyo3cpp_define_module_##name(::pyo3cpp::ModuleDef &var);                    \
    PyMODINIT_FUNC PyInit_##name(void)                                                      \
    {                                                                                       \
        try {                                                                               \
            static PyObject *const definition =                                             \
                ::pyo3cpp::ModuleDef::create(#name, &pyo3cpp_define_module_##name);         \
            return definition;                                                              \
        } PYO3CPP_CATCH_ALL {                                                                     \
            ::pyo3cpp::translate_current_exception(::pyo3cpp::Python::assume_attached());   \
            return nullptr;                                                                 \
        }                                                                                   \
    }                                                                                       \
    static void pyo3cpp_define_module_##name(::pyo3cpp::ModuleDef &var)
