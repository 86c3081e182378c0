// capi_counter.cpp — the bench's hand-written C type (bench_classes.cpp's `capi` column), in an
// extension module of its own, bench_classes_capi, so it is measured as an extension is loaded.
// The type is what an expert writes for the contract: tp_new (tp_alloc), tp_init (one positional
// argument, no keywords), tp_dealloc, METH_FASTCALL methods, a PyGetSetDef getter, and (3.13+)
// the methods inside Py_BEGIN_CRITICAL_SECTION(self).
#include <Python.h>
#include <structmember.h>

namespace {

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

PyType_Spec capi_spec = {"bench_classes_capi.Counter", static_cast<int>(sizeof(CapiCounter)), 0,
                         Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE, capi_slots};

int capi_exec(PyObject *module)
{
    PyObject *type = PyType_FromSpec(&capi_spec);
    if (type == nullptr) return -1;
    int status = PyModule_AddObjectRef(module, "Counter", type);
    Py_DECREF(type);
    return status;
}

PyModuleDef_Slot capi_module_slots[] = {
    {Py_mod_exec, reinterpret_cast<void *>(capi_exec)},
#ifdef Py_GIL_DISABLED
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, nullptr}};

PyModuleDef capi_module = {PyModuleDef_HEAD_INIT, "bench_classes_capi", nullptr, 0, nullptr,
                           capi_module_slots, nullptr, nullptr, nullptr};

}  // namespace

PyMODINIT_FUNC PyInit_bench_classes_capi()
{
    return PyModuleDef_Init(&capi_module);
}
