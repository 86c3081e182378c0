// module_state.hpp — a typed state per module object: the home of what would otherwise be a
// C++ `static` of an extension module.
//
//   struct Cache {
//       std::atomic<long> calls{0};                 // shared by every thread: synchronise it
//       Py<PyAny> callback;                        // Python references: declare traverse/clear
//       void traverse(pyo3cpp::Visit &visit) const { visit(callback); }
//       void clear() { callback = {}; }
//   };
//
//   PYO3CPP_MODULE(mymod, m)
//   {
//       m.state<Cache>();                                       // Cache() or Cache(Python)
//       // m.state<Cache>([](Python py) { return Cache{...}; });   // or a factory
//       m.def("calls", [](ModuleState<Cache> state) { return state->calls.load(); });
//   }
//
//   S &s = module_state<Cache>(module);        // from a module object (Borrowed/Bound/PyObject *)
//   S &s = module_state_of_type<Cache>(type);  // from a class defined by the module (its methods)
//
// Contract:
//   - One state per module object. It is constructed when the module's exec starts (before any
//     function, class or on_exec step of the module can run), from the factory given to
//     state<S>(factory) — a callable taking Python and returning S — or else S(Python) if S has
//     that constructor, else S(). A throwing constructor fails the import with its exception.
//     Two module objects of the same extension (importlib.util.module_from_spec + exec_module)
//     have two states.
//   - The garbage collector sees the state: its optional `void traverse(Visit &) const` visits
//     the Python references it holds (the class layer's rules: no refcount operation, no
//     attach; class_gc.hpp, traverse.hpp), its optional `void clear()` drops them. When the
//     module is cleared (m_clear: a module always sits in a cycle with its functions) or freed
//     (m_free), whichever comes first, clear() runs and then the destructor, attached; neither
//     may throw. From then on the state is gone.
//   - A `ModuleState<S>` first parameter of a module function (before the Python token) is
//     filled in from the function's module (`__self__`); it is not a Python parameter and does
//     not show in signatures or stubs. Methods reach the state through their class:
//     module_state_of_type<S>(Py_TYPE(self)) (PyType_GetModuleByDef on the defining class).
//   - Misuse is a Python exception, never a crash: TypeError for an object that is not a module
//     with a state of type S (or a class not defined by such a module), RuntimeError for a state
//     used before the module's exec or after it was cleared or freed.
//   - Only a top-level PYO3CPP_MODULE has a state (submodules are made without a PyModuleDef).
//     One type S per module definition: module_state_of_type<S> finds the module by S.
// Thread: the state is shared by every thread of the interpreter and, on free-threaded builds,
// used concurrently: synchronising it is the user's (std::atomic, pyo3cpp::Mutex, critical
// sections). The library only guarantees it is constructed before and destroyed after any call
// that reached it through a live module.
// Cost: ModuleState<S> parameter: PyModule_GetState plus two compares, +24 instructions per
// call over reading a C++ static on 3.11 (+28 on 3.13t; bench/module_state.md);
// module_state_of_type<S> from a method: PyType_GetModuleByDef (a walk of the MRO) instead of
// __self__, +43 (+51); module_state<S>(module) adds the module-type and PyModuleDef checks.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <type_traits>
#include <utility>

#include "pyo3cpp/borrowed.hpp"
#include "pyo3cpp/class_gc.hpp"
#include "pyo3cpp/error.hpp"
#include "pyo3cpp/python.hpp"
#include "pyo3cpp/traverse.hpp"

namespace pyo3cpp {
namespace detail {

// What a module's state type can do, erased (one static table per S).
struct ModuleStateOps {
    int (*traverse)(const void *state, visitproc visit, void *arg);
    void (*destroy)(void *state) noexcept;  // clear() if declared, then the destructor
    PyModuleDef *def;                        // the module that declared S (for classes)
};

// What PyModule_GetState points at (PyModuleDef.m_size = sizeof(ModuleStateSlot)); zeroed by
// CPython when the module object is made.
struct ModuleStateSlot {
    void *object;                 // the S; null before exec and after clear/free
    const ModuleStateOps *ops;    // set at exec; kept after clear/free (tells "gone" from "not yet")
};

template <class S> struct ModuleStateOpsFor {
    static int traverse(const void *state, visitproc visit, void *arg)
    {
        if constexpr (requires(const S &s, Visit &v) { s.traverse(v); }) {
            TraverseGuard guard;
            Visit v(visit, arg);
            static_cast<const S *>(state)->traverse(v);
            return v.result();
        } else {
            (void)state, (void)visit, (void)arg;
            return 0;
        }
    }
    static void destroy(void *state) noexcept
    {
        auto *s = static_cast<S *>(state);
        if constexpr (requires(S &x) { x.clear(); }) s->clear();
        delete s;
    }
    static inline ModuleStateOps ops{&traverse, &destroy, nullptr};
};

// m_traverse / m_clear / m_free of a module with a state (ModuleDef::initialise).
inline int module_state_traverse(PyObject *module, visitproc visit, void *arg)
{
    auto *slot = static_cast<ModuleStateSlot *>(PyModule_GetState(module));
    if (slot == nullptr || slot->object == nullptr) return 0;
    return slot->ops->traverse(slot->object, visit, arg);
}
inline int module_state_clear(PyObject *module)
{
    auto *slot = static_cast<ModuleStateSlot *>(PyModule_GetState(module));
    if (slot == nullptr || slot->object == nullptr) return 0;
    // Gone before the destructor runs: what it releases may run code that looks for the state.
    void *state = std::exchange(slot->object, nullptr);
    slot->ops->destroy(state);
    return 0;
}
inline void module_state_free(void *module) { (void)module_state_clear(static_cast<PyObject *>(module)); }

// Why `module` has no live state of the type `ops` describes (the slow path of every lookup).
[[noreturn, gnu::cold, gnu::noinline]] inline void raise_module_state_error(Python py, PyObject *module,
                                                                            const ModuleStateOps *ops)
{
    bool has_state_def = false;
    if (module != nullptr && PyModule_Check(module)) {
        PyModuleDef *actual = PyModule_GetDef(module);
        if (actual == nullptr) PyErr_Clear();
        has_state_def = actual != nullptr && actual == ops->def;
    }
    if (module == nullptr) {
        PyErr_SetString(PyExc_TypeError, "module state: this function has no module (__self__)");
    } else if (!PyModule_Check(module)) {
        PyErr_Format(PyExc_TypeError, "module state: expected a module, not %.200s",
                     Py_TYPE(module)->tp_name);
    } else if (!has_state_def) {
        PyErr_Format(PyExc_TypeError,
                     "module state: module %R has no pyo3cpp module state of the requested type",
                     module);
    } else {
        auto *slot = static_cast<ModuleStateSlot *>(PyModule_GetState(module));
        if (slot == nullptr || slot->ops == nullptr)
            PyErr_Format(PyExc_RuntimeError,
                         "the state of module %R is used before the module's exec (it is "
                         "constructed when exec starts)",
                         module);
        else
            PyErr_Format(PyExc_RuntimeError,
                         "the state of module %R is used after the module was cleared or freed",
                         module);
    }
    throw_fetched(py);
}

// The state of a module object made from a PyModuleDef that declared S, or null.
template <class S> [[gnu::always_inline]] inline S *module_state_if_live(PyObject *module) noexcept
{
    auto *slot = static_cast<ModuleStateSlot *>(PyModule_GetState(module));
    if (slot != nullptr && slot->ops == &ModuleStateOpsFor<S>::ops) [[likely]]
        return static_cast<S *>(slot->object);
    return nullptr;
}

// Does `module` come from the PyModuleDef that declared S (so its state slot is ours)?
template <class S> bool declares_state(PyObject *module) noexcept
{
    PyModuleDef *def = ModuleStateOpsFor<S>::ops.def;
    if (def == nullptr || !PyModule_Check(module)) return false;
    PyModuleDef *actual = PyModule_GetDef(module);
    if (actual == nullptr) PyErr_Clear();
    return actual == def;
}

// A module made by ModuleDef: a module function's own (its __self__, a module object made
// from the function's PyModuleDef or a submodule, which has no state) or the one
// PyType_GetModuleByDef found. The slot check is enough: no module-type or PyModuleDef check.
template <class S> [[gnu::always_inline]] inline S &state_of_own_module(Python py, PyObject *module)
{
    if (module != nullptr) [[likely]] {
        if (S *state = module_state_if_live<S>(module)) [[likely]]
            return *state;
    }
    raise_module_state_error(py, module, &ModuleStateOpsFor<S>::ops);
}

}  // namespace detail

// The state of `module` (a module object whose PyModuleDef declared state<S>()); raises as the
// contract above says.
template <class S> S &module_state(Python py, PyObject *module)
{
    if (detail::declares_state<S>(module)) [[likely]] {
        if (S *state = detail::module_state_if_live<S>(module)) [[likely]]
            return *state;
    }
    detail::raise_module_state_error(py, module, &detail::ModuleStateOpsFor<S>::ops);
}
template <class S, class O>
    requires requires(const O &o) { o.as_ptr(); o.py(); }
S &module_state(const O &module)
{
    return module_state<S>(module.py(), module.as_ptr());
}

// The state of the module that defined class `type` (or a base of it): for methods.
template <class S> S &module_state_of_type(Python py, PyTypeObject *type)
{
    PyModuleDef *def = detail::ModuleStateOpsFor<S>::ops.def;
    if (def == nullptr) {
        PyErr_Format(PyExc_TypeError, "module state: no module declares this state type (class %.200s)",
                     type->tp_name);
        throw_fetched(py);
    }
    PyObject *module = PyType_GetModuleByDef(type, def);  // borrowed
    if (module == nullptr) throw_fetched(py);
    return detail::state_of_own_module<S>(py, module);
}
template <class S, class O>
    requires requires(const O &o) { o.as_ptr(); o.py(); }
S &module_state_of_type(const O &instance)
{
    return module_state_of_type<S>(instance.py(), Py_TYPE(instance.as_ptr()));
}

// A module function's first parameter: the state of the function's module, filled in by the
// binding layer (not a Python parameter). A reference to the state; copy it freely.
template <class S> class ModuleState {
public:
    using module_state_type = S;  // marks the parameter for the binding layer (callable_traits.hpp)

    static ModuleState from_function_self(Python py, PyObject *module)
    {
        return ModuleState(detail::state_of_own_module<S>(py, module));
    }
    explicit ModuleState(S &state) noexcept : state_(&state) {}

    S &get() const noexcept { return *state_; }
    S &operator*() const noexcept { return *state_; }
    S *operator->() const noexcept { return state_; }

private:
    S *state_;
};

}  // namespace pyo3cpp
