// bench_bindings.cpp — the cost of calling a bound module function, beside the hand-written C
// function an expert writes for the same contract, and pybind11 (GIL builds).
//
// The function is `add(a, b) -> a + b` on C longs (errors checked, OverflowError/TypeError as
// CPython raises them). Forms:
//   capi      a METH_FASTCALL function (positional), or METH_FASTCALL | METH_KEYWORDS matching
//             interned keyword names by pointer then by value (keywords), in a PyMethodDef
//             table, made with PyCFunction_NewEx — what CPython's own modules do;
//   pyo3cpp   m.def("add", add) with a plain function pointer (positional-only), or
//             m.def("add_kw", add, arg("a"), arg("b")) called with keywords;
//   pybind11  m.def("add", &add) / m.def("add_kw", &add, "a"_a, "b"_a).
// Operations:
//   call_add_positional   PyObject_Vectorcall(f, {1, 2}, 2, NULL)           (from C)
//   call_add_keywords     PyObject_Vectorcall(f, {1, 2}, 0, ("a", "b"))     (from C)
//   py_call_add_x100      a Python loop calling add(1, 2) 100 times: the interpreter's own
//                         call path (3.11's specialising interpreter included); per iteration
// The Python-level loop is the same code object for every form; only the function differs.
#include "bench_support.hpp"

#include <pyo3cpp/pyo3cpp.hpp>

#ifdef PYO3CPP_BENCH_PYBIND11
#include <pybind11/pybind11.h>
namespace pyb = pybind11;
using namespace pybind11::literals;
#endif

using namespace pyo3cpp;

namespace {

long add(long a, long b) { return a + b; }

// ---- the hand-written C functions

PyObject *capi_add(PyObject *, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "add() takes 2 positional arguments but %zd were given", nargs);
        return nullptr;
    }
    long a = PyLong_AsLong(args[0]);
    if (a == -1 && PyErr_Occurred()) return nullptr;
    long b = PyLong_AsLong(args[1]);
    if (b == -1 && PyErr_Occurred()) return nullptr;
    return PyLong_FromLong(add(a, b));
}

PyObject *g_name_a, *g_name_b;  // interned "a", "b"

PyObject *capi_add_kw(PyObject *, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *slots[2] = {nullptr, nullptr};
    if (nargs > 2) {
        PyErr_Format(PyExc_TypeError, "add_kw() takes 2 positional arguments but %zd were given", nargs);
        return nullptr;
    }
    for (Py_ssize_t i = 0; i < nargs; ++i) slots[i] = args[i];
    const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; ++k) {
        PyObject *key = PyTuple_GET_ITEM(kwnames, k);
        int j = key == g_name_a ? 0 : key == g_name_b ? 1 : -1;
        if (j < 0) {
            if (PyUnicode_Compare(key, g_name_a) == 0)
                j = 0;
            else if (PyUnicode_Compare(key, g_name_b) == 0)
                j = 1;
            else {
                PyErr_Format(PyExc_TypeError, "add_kw() got an unexpected keyword argument '%S'", key);
                return nullptr;
            }
        }
        if (slots[j] != nullptr) {
            PyErr_Format(PyExc_TypeError, "add_kw() got multiple values for argument '%s'",
                         j == 0 ? "a" : "b");
            return nullptr;
        }
        slots[j] = args[nargs + k];
    }
    if (slots[0] == nullptr || slots[1] == nullptr) {
        PyErr_Format(PyExc_TypeError, "add_kw() missing required argument '%s' (pos %d)",
                     slots[0] == nullptr ? "a" : "b", slots[0] == nullptr ? 1 : 2);
        return nullptr;
    }
    long a = PyLong_AsLong(slots[0]);
    if (a == -1 && PyErr_Occurred()) return nullptr;
    long b = PyLong_AsLong(slots[1]);
    if (b == -1 && PyErr_Occurred()) return nullptr;
    return PyLong_FromLong(add(a, b));
}

PyMethodDef capi_methods[] = {
    {"add", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(capi_add)), METH_FASTCALL,
     nullptr},
    {"add_kw", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(capi_add_kw)),
     METH_FASTCALL | METH_KEYWORDS, nullptr},
    {nullptr, nullptr, 0, nullptr}};

PyModuleDef capi_module_def = {PyModuleDef_HEAD_INIT, "bench_capi", nullptr, 0, capi_methods,
                               nullptr, nullptr, nullptr, nullptr};

}  // namespace

// ---- pyo3cpp's module
PYO3CPP_MODULE(bench_pyo3cpp, m)
{
    m.def("add", add);
    m.def("add_kw", add, arg("a"), arg("b"));
}

#ifdef PYO3CPP_BENCH_PYBIND11
PYBIND11_MODULE(bench_pybind11, m)
{
    m.def("add", &add);
    m.def("add_kw", &add, "a"_a, "b"_a);
}
#endif

namespace {

struct Fixture {
    PyObject *add[3] = {};     // by form: capi, pyo3cpp, pybind11
    PyObject *add_kw[3] = {};
    PyObject *loop[3] = {};    // a Python function running add(1, 2) 100 times
    PyObject *one, *two, *kwnames;
};

PyObject *module_from_multiphase(PyObject *def_object, const char *name)
{
    PyObject *machinery = PyImport_ImportModule("importlib.machinery");
    PyObject *spec = PyObject_CallMethod(machinery, "ModuleSpec", "sO", name, Py_None);
    PyObject *module = PyModule_FromDefAndSpec(reinterpret_cast<PyModuleDef *>(def_object), spec);
    if (module == nullptr || PyModule_ExecDef(module, reinterpret_cast<PyModuleDef *>(def_object)) < 0) {
        PyErr_Print();
        std::abort();
    }
    PyObject *modules = PyImport_GetModuleDict();
    PyDict_SetItemString(modules, name, module);
    Py_DECREF(spec);
    Py_DECREF(machinery);
    return module;
}

PyObject *attr(PyObject *module, const char *name)
{
    PyObject *value = PyObject_GetAttrString(module, name);
    if (value == nullptr) {
        PyErr_Print();
        std::abort();
    }
    return value;
}

const Fixture &fixture()
{
    static Fixture f = [] {
        Fixture f{};
        g_name_a = PyUnicode_InternFromString("a");
        g_name_b = PyUnicode_InternFromString("b");
        PyObject *capi = PyModule_Create(&capi_module_def);
        PyObject *ours = module_from_multiphase(PyInit_bench_pyo3cpp(), "bench_pyo3cpp");
        PyObject *modules[3] = {capi, ours, nullptr};
#ifdef PYO3CPP_BENCH_PYBIND11
        modules[2] = PyInit_bench_pybind11();
        if (modules[2] == nullptr) {
            PyErr_Print();
            std::abort();
        }
#endif
        pyo3cpp_bench::run_python_or_die(
            "def bench_make_loop(add):\n"
            "    r = range(100)\n"
            "    def loop():\n"
            "        for _ in r:\n"
            "            add(1, 2)\n"
            "    return loop\n");
        PyObject *make_loop = pyo3cpp_bench::main_global("bench_make_loop");
        for (int form = 0; form < 3; ++form) {
            if (modules[form] == nullptr) continue;
            f.add[form] = attr(modules[form], "add");
            f.add_kw[form] = attr(modules[form], "add_kw");
            f.loop[form] = PyObject_CallOneArg(make_loop, f.add[form]);
        }
        f.one = PyLong_FromLong(1);
        f.two = PyLong_FromLong(2);
        f.kwnames = PyTuple_Pack(2, g_name_a, g_name_b);
        return f;
    }();
    return f;
}

[[noreturn]] void die()
{
    PyErr_Print();
    std::abort();
}

void call_positional(benchmark::State &state, int form)
{
    auto guard = pyo3cpp::attach();
    const Fixture &f = fixture();
    PyObject *fn = f.add[form];
    for (auto _ : state) {
        PyObject *args[3] = {nullptr, f.one, f.two};
        PyObject *r = PyObject_Vectorcall(fn, args + 1, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, nullptr);
        if (r == nullptr) die();
        Py_DECREF(r);
    }
}

void call_keywords(benchmark::State &state, int form)
{
    auto guard = pyo3cpp::attach();
    const Fixture &f = fixture();
    PyObject *fn = f.add_kw[form];
    for (auto _ : state) {
        PyObject *args[3] = {nullptr, f.one, f.two};
        PyObject *r = PyObject_Vectorcall(fn, args + 1, 0 | PY_VECTORCALL_ARGUMENTS_OFFSET, f.kwnames);
        if (r == nullptr) die();
        Py_DECREF(r);
    }
}

void python_loop(benchmark::State &state, int form)
{
    auto guard = pyo3cpp::attach();
    const Fixture &f = fixture();
    PyObject *loop = f.loop[form];
    for (auto _ : state) {
        PyObject *r = PyObject_CallNoArgs(loop);
        if (r == nullptr) die();
        Py_DECREF(r);
    }
}

}  // namespace

PYO3CPP_BENCH(call_add_positional, capi) { call_positional(state, 0); }
PYO3CPP_BENCH(call_add_positional, pyo3cpp) { call_positional(state, 1); }
PYO3CPP_BENCH(call_add_keywords, capi) { call_keywords(state, 0); }
PYO3CPP_BENCH(call_add_keywords, pyo3cpp) { call_keywords(state, 1); }
PYO3CPP_BENCH(py_call_add_x100, capi) { python_loop(state, 0); }
PYO3CPP_BENCH(py_call_add_x100, pyo3cpp) { python_loop(state, 1); }
#ifdef PYO3CPP_BENCH_PYBIND11
PYO3CPP_BENCH(call_add_positional, pybind11) { call_positional(state, 2); }
PYO3CPP_BENCH(call_add_keywords, pybind11) { call_keywords(state, 2); }
PYO3CPP_BENCH(py_call_add_x100, pybind11) { python_loop(state, 2); }
#endif
