// bench_classes.cpp — the cost of using an instance of a bound class, beside the hand-written C
// type an expert writes for the same contract, pybind11 (GIL builds) and nanobind.
//
// Each side's class lives in an extension module of its own (bench/classes/*.cpp), imported from
// the build directory as Python imports any extension: a shared object, so header-only code pays
// what it pays in a real extension (its thread-locals through __tls_get_addr, calls into
// libpyo3cpp through the PLT), not what it would cost linked into this executable.
//
// The class is a counter holding a C long: Counter(count) (one positional argument), a method
// get() -> count, a method add(n) -> count += n; count, and a read-only property `count`.
// Forms:
//   capi      bench_classes_capi.Counter, a heap type from PyType_Spec: tp_new (tp_alloc),
//             tp_init (one positional argument, no keywords), tp_dealloc, METH_FASTCALL methods,
//             a PyGetSetDef getter; variant capi_member: the property as a PyMemberDef (T_LONG,
//             READONLY); variant capi_cs (3.13+ only): the methods inside
//             Py_BEGIN_CRITICAL_SECTION(self), what a C author writes to make add() safe on a
//             free-threaded build;
//   pyo3cpp   bench_classes_pyo3cpp, m.add_class<Counter<P>>() for each policy P (rows suffixed
//             _frozen, _unsync, _locked): def_init<long>(), def("get", ...), def("add", ...)
//             (frozen: the const def("plus", ...) -> count + n, the same shape without the
//             write), def_readonly("count", &count); positional-only, like the C methods;
//             and rows suffixed _shared: the locked class held by std::shared_ptr (its T on the
//             heap, registered in the identity map at construction: docs/ownership.md);
//   pybind11  bench_classes_pybind11: py::class_ with py::init<long>(), def("get"), def("add"),
//             def_readonly("count");
//   nanobind  bench_classes_nanobind: nb::class_ with nb::init<long>(), def("get"), def("add"),
//             def_ro("count"); its runtime built from its sources into the module.
// Operations, every form through the same C entry:
//   class_method0    PyObject_VectorcallMethod("get", {obj}, 1 | OFFSET)       (interned name)
//   class_method1    PyObject_VectorcallMethod("add", {obj, 1}, 2 | OFFSET)    (frozen: "plus")
//   class_property   PyObject_GetAttr(obj, "count")                            (interned name)
//   class_construct  PyObject_Vectorcall(Counter, {1000}, 1 | OFFSET); the instance is dropped
//                    (the type's call: tp_vectorcall where the type has one, else type_call ->
//                    tp_new -> tp_init; then tp_dealloc)
// The pyo3cpp rows (operation_<policy>) are compared with the operation's capi row. count
// starts at 1000 so that every result is a fresh int (none from the small-int cache) in every
// form; add(1) then keeps it growing, plus(1) stays at 1001.
#include "bench_support.hpp"

#ifndef PYO3CPP_BENCH_MODULE_DIR
#error "PYO3CPP_BENCH_MODULE_DIR: the directory holding the bench_classes_* extension modules"
#endif

namespace {

constexpr long kStart = 1000;

// The columns: one type each.
enum Form { kCapi, kFrozen, kUnsync, kLocked, kShared, kPybind11, kNanobind, kForms };

struct Fixture {
    PyObject *type[kForms] = {};
    PyObject *instance[kForms] = {};  // Counter(1000), kept for the method and property bodies
    PyObject *name_get, *name_add, *name_plus, *name_count, *name_count_member;
    PyObject *name_get_cs, *name_add_cs;
    PyObject *one, *start;
};

[[noreturn]] void die()
{
    PyErr_Print();
    std::abort();
}

// Imports one of the bench's extension modules (the directory is on sys.path).
PyObject *import_or_die(const char *name)
{
    PyObject *module = PyImport_ImportModule(name);
    if (module == nullptr) die();
    return module;
}

PyObject *attr_or_die(PyObject *object, const char *name)
{
    PyObject *value = PyObject_GetAttrString(object, name);
    if (value == nullptr) die();
    return value;
}

const Fixture &fixture()
{
    static Fixture f = [] {
        Fixture f{};
        f.name_get = PyUnicode_InternFromString("get");
        f.name_add = PyUnicode_InternFromString("add");
        f.name_plus = PyUnicode_InternFromString("plus");
        f.name_count = PyUnicode_InternFromString("count");
        f.name_count_member = PyUnicode_InternFromString("count_member");
        f.name_get_cs = PyUnicode_InternFromString("get_cs");
        f.name_add_cs = PyUnicode_InternFromString("add_cs");
        f.one = PyLong_FromLong(1);
        f.start = PyLong_FromLong(kStart);

        PyObject *sys_path = PySys_GetObject("path");  // borrowed
        PyObject *dir = PyUnicode_FromString(PYO3CPP_BENCH_MODULE_DIR);
        if (sys_path == nullptr || dir == nullptr || PyList_Insert(sys_path, 0, dir) < 0) die();
        Py_DECREF(dir);
        f.type[kCapi] = attr_or_die(import_or_die("bench_classes_capi"), "Counter");
        PyObject *ours = import_or_die("bench_classes_pyo3cpp");
        f.type[kFrozen] = attr_or_die(ours, "FrozenCounter");
        f.type[kUnsync] = attr_or_die(ours, "UnsyncCounter");
        f.type[kLocked] = attr_or_die(ours, "LockedCounter");
        f.type[kShared] = attr_or_die(ours, "SharedCounter");
#ifdef PYO3CPP_BENCH_PYBIND11
        f.type[kPybind11] = attr_or_die(import_or_die("bench_classes_pybind11"), "Counter");
#endif
#ifdef PYO3CPP_BENCH_NANOBIND
        f.type[kNanobind] = attr_or_die(import_or_die("bench_classes_nanobind"), "Counter");
#endif
        for (int form = 0; form < kForms; ++form) {
            if (f.type[form] == nullptr) continue;
            f.instance[form] = PyObject_CallOneArg(f.type[form], f.start);
            if (f.instance[form] == nullptr) die();
        }
        return f;
    }();
    return f;
}

void method_call(benchmark::State &state, Form form, PyObject *Fixture::*name, int nargs)
{
    auto guard = pyo3cpp::attach();
    const Fixture &f = fixture();
    PyObject *method = f.*name;
    PyObject *self = f.instance[form];
    for (auto _ : state) {
        PyObject *args[3] = {nullptr, self, f.one};
        PyObject *r = PyObject_VectorcallMethod(
            method, args + 1, static_cast<size_t>(1 + nargs) | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
        if (r == nullptr) die();
        Py_DECREF(r);
    }
}

void property_get(benchmark::State &state, Form form, PyObject *Fixture::*name)
{
    auto guard = pyo3cpp::attach();
    const Fixture &f = fixture();
    PyObject *attr = f.*name;
    PyObject *self = f.instance[form];
    for (auto _ : state) {
        PyObject *r = PyObject_GetAttr(self, attr);
        if (r == nullptr) die();
        Py_DECREF(r);
    }
}

void construct(benchmark::State &state, Form form)
{
    auto guard = pyo3cpp::attach();
    const Fixture &f = fixture();
    PyObject *type = f.type[form];
    for (auto _ : state) {
        PyObject *args[2] = {nullptr, f.start};
        PyObject *r = PyObject_Vectorcall(type, args + 1, 1 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
        if (r == nullptr) die();
        Py_DECREF(r);
    }
}

}  // namespace

PYO3CPP_BENCH(class_method0, capi) { method_call(state, kCapi, &Fixture::name_get, 0); }
PYO3CPP_BENCH(class_method0_frozen, pyo3cpp) { method_call(state, kFrozen, &Fixture::name_get, 0); }
PYO3CPP_BENCH(class_method0_unsync, pyo3cpp) { method_call(state, kUnsync, &Fixture::name_get, 0); }
PYO3CPP_BENCH(class_method0_locked, pyo3cpp) { method_call(state, kLocked, &Fixture::name_get, 0); }

PYO3CPP_BENCH(class_method1, capi) { method_call(state, kCapi, &Fixture::name_add, 1); }
PYO3CPP_BENCH(class_method1_frozen, pyo3cpp) { method_call(state, kFrozen, &Fixture::name_plus, 1); }
PYO3CPP_BENCH(class_method1_unsync, pyo3cpp) { method_call(state, kUnsync, &Fixture::name_add, 1); }
PYO3CPP_BENCH(class_method1_locked, pyo3cpp) { method_call(state, kLocked, &Fixture::name_add, 1); }

PYO3CPP_BENCH(class_property, capi) { property_get(state, kCapi, &Fixture::name_count); }
PYO3CPP_BENCH(class_property, capi_member) { property_get(state, kCapi, &Fixture::name_count_member); }
PYO3CPP_BENCH(class_property_frozen, pyo3cpp) { property_get(state, kFrozen, &Fixture::name_count); }
PYO3CPP_BENCH(class_property_unsync, pyo3cpp) { property_get(state, kUnsync, &Fixture::name_count); }
PYO3CPP_BENCH(class_property_locked, pyo3cpp) { property_get(state, kLocked, &Fixture::name_count); }

PYO3CPP_BENCH(class_construct, capi) { construct(state, kCapi); }
PYO3CPP_BENCH(class_construct_frozen, pyo3cpp) { construct(state, kFrozen); }
PYO3CPP_BENCH(class_construct_unsync, pyo3cpp) { construct(state, kUnsync); }
PYO3CPP_BENCH(class_construct_locked, pyo3cpp) { construct(state, kLocked); }

PYO3CPP_BENCH(class_method0_shared, pyo3cpp) { method_call(state, kShared, &Fixture::name_get, 0); }
PYO3CPP_BENCH(class_method1_shared, pyo3cpp) { method_call(state, kShared, &Fixture::name_add, 1); }
PYO3CPP_BENCH(class_property_shared, pyo3cpp) { property_get(state, kShared, &Fixture::name_count); }
PYO3CPP_BENCH(class_construct_shared, pyo3cpp) { construct(state, kShared); }

#if PY_VERSION_HEX >= 0x030D0000
PYO3CPP_BENCH(class_method0, capi_cs) { method_call(state, kCapi, &Fixture::name_get_cs, 0); }
PYO3CPP_BENCH(class_method1, capi_cs) { method_call(state, kCapi, &Fixture::name_add_cs, 1); }
#endif

#ifdef PYO3CPP_BENCH_PYBIND11
PYO3CPP_BENCH(class_method0, pybind11) { method_call(state, kPybind11, &Fixture::name_get, 0); }
PYO3CPP_BENCH(class_method1, pybind11) { method_call(state, kPybind11, &Fixture::name_add, 1); }
PYO3CPP_BENCH(class_property, pybind11) { property_get(state, kPybind11, &Fixture::name_count); }
PYO3CPP_BENCH(class_construct, pybind11) { construct(state, kPybind11); }
#endif

#ifdef PYO3CPP_BENCH_NANOBIND
PYO3CPP_BENCH(class_method0, nanobind) { method_call(state, kNanobind, &Fixture::name_get, 0); }
PYO3CPP_BENCH(class_method1, nanobind) { method_call(state, kNanobind, &Fixture::name_add, 1); }
PYO3CPP_BENCH(class_property, nanobind) { property_get(state, kNanobind, &Fixture::name_count); }
PYO3CPP_BENCH(class_construct, nanobind) { construct(state, kNanobind); }
#endif
