// bench_classes.cpp — the cost of using an instance of a bound class, beside the hand-written C
// type an expert writes for the same contract, and pybind11 (GIL builds).
//
// The class is a counter holding a C long: Counter(count) (one positional argument), a method
// get() -> count, a method add(n) -> count += n; count, and a read-only property `count`.
// Forms:
//   capi      a heap type from PyType_Spec/PyType_FromSpec: tp_new (tp_alloc), tp_init (one
//             positional argument, no keywords), tp_dealloc, METH_FASTCALL methods, a PyGetSetDef
//             getter; variant capi_member: the property as a PyMemberDef (T_LONG, READONLY);
//             variant capi_cs (3.13+ only): the methods inside Py_BEGIN_CRITICAL_SECTION(self),
//             what a C author writes to make add() safe on a free-threaded build;
//   pyo3cpp   m.add_class<Counter<P>>() for each policy P (rows suffixed _frozen, _unsync,
//             _locked): def_init<long>(), def("get", &get), def("add", &add) (frozen: the const
//             def("plus", &plus) -> count + n, the same shape without the write),
//             def_readonly("count", &count); positional-only, like the C methods;
//   pybind11  py::class_ with py::init<long>(), def("get"), def("add"), def_readonly("count").
// Operations, every form through the same C entry:
//   class_method0    PyObject_VectorcallMethod("get", {obj}, 1 | OFFSET)       (interned name)
//   class_method1    PyObject_VectorcallMethod("add", {obj, 1}, 2 | OFFSET)    (frozen: "plus")
//   class_property   PyObject_GetAttr(obj, "count")                            (interned name)
//   class_construct  PyObject_Vectorcall(Counter, {1000}, 1 | OFFSET); the instance is dropped
//                    (type call -> tp_new -> tp_init, then tp_dealloc)
// The pyo3cpp rows (operation_<policy>) are compared with the operation's capi row. count
// starts at 1000 so that every result is a fresh int (none from the small-int cache) in every
// form; add(1) then keeps it growing, plus(1) stays at 1001.
#include "bench_support.hpp"

#include <structmember.h>

#include <pyo3cpp/pyo3cpp.hpp>

#ifdef PYO3CPP_BENCH_PYBIND11
#include <pybind11/pybind11.h>
namespace pyb = pybind11;
#endif

namespace {

constexpr long kStart = 1000;

// ---- the hand-written C type

struct CapiCounter {
    PyObject_HEAD
    long count;
};

PyObject *capi_new(PyTypeObject *type, PyObject *, PyObject *)
{
    return type->tp_alloc(type, 0);
}

int capi_init(PyObject *self, PyObject *args, PyObject *kwargs)
{
    if (kwargs != nullptr && PyDict_GET_SIZE(kwargs) != 0) {
        PyErr_SetString(PyExc_TypeError, "Counter() takes no keyword arguments");
        return -1;
    }
    if (PyTuple_GET_SIZE(args) != 1) {
        PyErr_Format(PyExc_TypeError, "Counter() takes 1 positional argument but %zd were given",
                     PyTuple_GET_SIZE(args));
        return -1;
    }
    long count = PyLong_AsLong(PyTuple_GET_ITEM(args, 0));
    if (count == -1 && PyErr_Occurred()) return -1;
    reinterpret_cast<CapiCounter *>(self)->count = count;
    return 0;
}

void capi_dealloc(PyObject *self)
{
    PyTypeObject *type = Py_TYPE(self);
    type->tp_free(self);
    Py_DECREF(type);
}

PyObject *capi_get(PyObject *self, PyObject *const *, Py_ssize_t nargs)
{
    if (nargs != 0) {
        PyErr_Format(PyExc_TypeError, "get() takes no arguments (%zd given)", nargs);
        return nullptr;
    }
    return PyLong_FromLong(reinterpret_cast<CapiCounter *>(self)->count);
}

PyObject *capi_add(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError, "add() takes exactly one argument (%zd given)", nargs);
        return nullptr;
    }
    long n = PyLong_AsLong(args[0]);
    if (n == -1 && PyErr_Occurred()) return nullptr;
    auto *c = reinterpret_cast<CapiCounter *>(self);
    c->count += n;
    return PyLong_FromLong(c->count);
}

#if PY_VERSION_HEX >= 0x030D0000
// The same methods made safe for concurrent callers on a free-threaded build.
PyObject *capi_get_cs(PyObject *self, PyObject *const *, Py_ssize_t nargs)
{
    if (nargs != 0) {
        PyErr_Format(PyExc_TypeError, "get_cs() takes no arguments (%zd given)", nargs);
        return nullptr;
    }
    long count;
    Py_BEGIN_CRITICAL_SECTION(self);
    count = reinterpret_cast<CapiCounter *>(self)->count;
    Py_END_CRITICAL_SECTION();
    return PyLong_FromLong(count);
}

PyObject *capi_add_cs(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 1) {
        PyErr_Format(PyExc_TypeError, "add_cs() takes exactly one argument (%zd given)", nargs);
        return nullptr;
    }
    long n = PyLong_AsLong(args[0]);
    if (n == -1 && PyErr_Occurred()) return nullptr;
    long count;
    Py_BEGIN_CRITICAL_SECTION(self);
    auto *c = reinterpret_cast<CapiCounter *>(self);
    c->count += n;
    count = c->count;
    Py_END_CRITICAL_SECTION();
    return PyLong_FromLong(count);
}
#endif

PyObject *capi_count_get(PyObject *self, void *)
{
    return PyLong_FromLong(reinterpret_cast<CapiCounter *>(self)->count);
}

template <class F> PyCFunction as_cfunction(F *fn)
{
    return reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(fn));
}

PyMethodDef capi_methods[] = {
    {"get", as_cfunction(capi_get), METH_FASTCALL, nullptr},
    {"add", as_cfunction(capi_add), METH_FASTCALL, nullptr},
#if PY_VERSION_HEX >= 0x030D0000
    {"get_cs", as_cfunction(capi_get_cs), METH_FASTCALL, nullptr},
    {"add_cs", as_cfunction(capi_add_cs), METH_FASTCALL, nullptr},
#endif
    {nullptr, nullptr, 0, nullptr}};

PyGetSetDef capi_getset[] = {
    {"count", capi_count_get, nullptr, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr}};

PyMemberDef capi_members[] = {
    {"count_member", T_LONG, offsetof(CapiCounter, count), READONLY, nullptr},
    {nullptr, 0, 0, 0, nullptr}};

PyType_Slot capi_slots[] = {
    {Py_tp_new, reinterpret_cast<void *>(capi_new)},
    {Py_tp_init, reinterpret_cast<void *>(capi_init)},
    {Py_tp_dealloc, reinterpret_cast<void *>(capi_dealloc)},
    {Py_tp_methods, capi_methods},
    {Py_tp_getset, capi_getset},
    {Py_tp_members, capi_members},
    {0, nullptr}};

PyType_Spec capi_spec = {"bench_capi.Counter", static_cast<int>(sizeof(CapiCounter)), 0,
                         Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE, capi_slots};

// ---- the C++ type bound by pyo3cpp, once per policy

template <class Policy> struct Counter {
    long count;
    explicit Counter(long start) : count(start) {}
    long get() const { return count; }
    long add(long n)
    {
        count += n;
        return count;
    }
    long plus(long n) const { return count + n; }
};

}  // namespace

PYO3CPP_CLASS(Counter<pyo3cpp::frozen>, pyo3cpp::frozen);
PYO3CPP_CLASS(Counter<pyo3cpp::unsynchronized>, pyo3cpp::unsynchronized);
PYO3CPP_CLASS(Counter<pyo3cpp::locked>, pyo3cpp::locked);

PYO3CPP_MODULE(bench_classes_pyo3cpp, m)
{
    using Frozen = Counter<pyo3cpp::frozen>;
    using Unsync = Counter<pyo3cpp::unsynchronized>;
    using Locked = Counter<pyo3cpp::locked>;
    m.add_class<Frozen>("FrozenCounter")
        .def_init<long>()
        .def("get", &Frozen::get)
        .def("plus", &Frozen::plus)
        .def_readonly("count", &Frozen::count);
    m.add_class<Unsync>("UnsyncCounter")
        .def_init<long>()
        .def("get", &Unsync::get)
        .def("add", &Unsync::add)
        .def_readonly("count", &Unsync::count);
    m.add_class<Locked>("LockedCounter")
        .def_init<long>()
        .def("get", &Locked::get)
        .def("add", &Locked::add)
        .def_readonly("count", &Locked::count);
}

#ifdef PYO3CPP_BENCH_PYBIND11
namespace {
struct PbCounter {
    long count;
    explicit PbCounter(long start) : count(start) {}
    long get() const { return count; }
    long add(long n)
    {
        count += n;
        return count;
    }
};
}  // namespace

PYBIND11_MODULE(bench_classes_pybind11, m)
{
    pyb::class_<PbCounter>(m, "Counter")
        .def(pyb::init<long>())
        .def("get", &PbCounter::get)
        .def("add", &PbCounter::add)
        .def_readonly("count", &PbCounter::count);
}
#endif

namespace {

// The columns: one type each.
enum Form { kCapi, kFrozen, kUnsync, kLocked, kPybind11, kForms };

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

PyObject *module_from_multiphase(PyObject *def_object, const char *name)
{
    PyObject *machinery = PyImport_ImportModule("importlib.machinery");
    if (machinery == nullptr) die();
    PyObject *spec = PyObject_CallMethod(machinery, "ModuleSpec", "sO", name, Py_None);
    if (spec == nullptr) die();
    PyObject *module = PyModule_FromDefAndSpec(reinterpret_cast<PyModuleDef *>(def_object), spec);
    if (module == nullptr || PyModule_ExecDef(module, reinterpret_cast<PyModuleDef *>(def_object)) < 0)
        die();
    PyDict_SetItemString(PyImport_GetModuleDict(), name, module);
    Py_DECREF(spec);
    Py_DECREF(machinery);
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

        f.type[kCapi] = PyType_FromSpec(&capi_spec);
        if (f.type[kCapi] == nullptr) die();
        PyObject *ours = module_from_multiphase(PyInit_bench_classes_pyo3cpp(), "bench_classes_pyo3cpp");
        f.type[kFrozen] = attr_or_die(ours, "FrozenCounter");
        f.type[kUnsync] = attr_or_die(ours, "UnsyncCounter");
        f.type[kLocked] = attr_or_die(ours, "LockedCounter");
#ifdef PYO3CPP_BENCH_PYBIND11
        PyObject *theirs = PyInit_bench_classes_pybind11();
        if (theirs == nullptr) die();
        f.type[kPybind11] = attr_or_die(theirs, "Counter");
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
