// pyo3cpp_test_module — exercises the module definition helper (module.hpp) from Python:
// argument binding and conversion, error wording, exception translation, raw functions,
// constants, a submodule, and an exec step that is slow on purpose so that concurrent importers
// would see a half-built module if the import system let them.
#include <pyo3cpp/pyo3cpp.hpp>

#include "checked_arithmetic.hpp"

#include <atomic>
#include <chrono>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

using namespace pyo3cpp;

namespace {

std::atomic<long> g_exec_calls{0};

using pyo3cpp_tests::checked_add;
using pyo3cpp_tests::checked_mul;

// CPython's bisect.bisect_left, without `key`: the shape the heapq/bisect port will use.
Py_ssize_t bisect_left(Python py, Borrowed<PyAny> a, Borrowed<PyAny> x, Py_ssize_t lo,
                       std::optional<Py_ssize_t> hi)
{
    if (lo < 0) PyErr::raise(py, PyExc_ValueError, "lo must be non-negative");
    // As CPython's: hi=-1 means "not given" (its C default), any other negative hi is an empty
    // range. Only the length of `a` can fail.
    Py_ssize_t high = hi && *hi != -1 ? *hi : PySequence_Size(a.as_ptr());
    if (high < 0 && PyErr_Occurred()) throw_fetched(py);
    while (lo < high) {
        const Py_ssize_t mid = lo + (high - lo) / 2;
        auto item = Bound<PyAny>::from_owned_ptr(py, PySequence_GetItem(a.as_ptr(), mid));
        const int less = check_status(py, PyObject_RichCompareBool(item.as_ptr(), x.as_ptr(), Py_LT));
        if (less)
            lo = mid + 1;
        else
            high = mid;
    }
    return lo;
}

// Raises the C++ exception named by `kind`, to check the translation table.
void raise_cpp(Python py, const std::string &kind)
{
    if (kind == "bad_alloc") throw std::bad_alloc();
    if (kind == "out_of_range") throw std::out_of_range("index 7 out of range");
    if (kind == "invalid_argument") throw std::invalid_argument("bad argument");
    if (kind == "domain_error") throw std::domain_error("outside the domain");
    if (kind == "overflow_error") throw std::overflow_error("too big");
    if (kind == "runtime_error") throw std::runtime_error("something broke");
    if (kind == "logic_error") throw std::logic_error("a logic error");
    if (kind == "pyerr") throw PyErr::new_err(py, PyExc_KeyError, "missing-key");
    if (kind == "bad_utf8") throw std::runtime_error("bad \xff byte");
    if (kind == "int") throw 42;
}

// Raw: sums positional ints; returns (sum, number of keyword names).
Bound<PyAny> raw_sum(Python py, const Borrowed<PyAny> *args, Py_ssize_t nargs,
                     Borrowed<PyAny> kwnames)
{
    long long total = 0;
    for (Py_ssize_t i = 0; i < nargs; ++i) total += extract<long long>(args[i]);
    const Py_ssize_t nkw = kwnames.as_ptr() ? PyTuple_GET_SIZE(kwnames.as_ptr()) : 0;
    for (Py_ssize_t k = 0; k < nkw; ++k) total += extract<long long>(args[nargs + k]);
    return Bound<PyAny>::from_owned_ptr(py, Py_BuildValue("(Ln)", total, nkw));
}

// Compile-time raw functions (def_raw<&fn>), one per calling convention.
// METH_FASTCALL with the module: (module name, number of positional arguments, their sum).
Bound<PyAny> fast_sum(Python py, Borrowed<PyModule> module, const Borrowed<PyAny> *args,
                      Py_ssize_t nargs)
{
    long long total = 0;
    for (Py_ssize_t i = 0; i < nargs; ++i) total += extract<long long>(args[i]);
    return Bound<PyAny>::from_owned_ptr(
        py, Py_BuildValue("(NnL)", PyModule_GetNameObject(module.as_ptr()), nargs, total));
}
// METH_FASTCALL | METH_KEYWORDS without the module: the keyword names as given (or None).
Bound<PyAny> fast_keywords(Python py, const Borrowed<PyAny> *, Py_ssize_t,
                           Borrowed<PyAny> kwnames)
{
    if (kwnames.as_ptr() == nullptr) return Bound<PyAny>::from_borrowed_ptr(py, Py_None);
    return kwnames.to_owned();
}
// METH_O: the argument itself, or a C++ exception when it is None (translated).
Borrowed<PyAny> one_identity(Python, Borrowed<PyModule>, Borrowed<PyAny> arg)
{
    if (arg.as_ptr() == Py_None) throw std::out_of_range("None is out of range");
    return arg;
}
// METH_NOARGS: the module itself (__self__ must be the module, not a capsule).
Borrowed<PyModule> no_args_module(Python, Borrowed<PyModule> module) { return module; }

}  // namespace

PYO3CPP_MODULE(pyo3cpp_test_module, m)
{
    m.doc("pyo3cpp's module-helper test module.");
    m.def("bisect_left", bisect_left, "Return the index where to insert x in a, keeping it sorted.",
          arg("a"), arg("x"), arg("lo") = 0, arg("hi") = std::nullopt);
    m.def("add", [](long a, long b) { return checked_add(a, b); });  // positional-only: no names
    m.def("scale", [](double x, double factor) { return x * factor; }, arg("x"),
          arg("factor") = 2.0);
    m.def("greet", [](const std::string &name, const std::string &greeting) {
              return greeting + ", " + name + "!";
          },
          arg("name"), arg("greeting") = "Hello");
    m.def("maybe", [](std::optional<long> x) { return x ? checked_mul(*x, 10) : -1L; }, arg("x"));
    m.def("flag", [](bool b) { return !b; }, arg("b"));
    m.def("list_len", [](Bound<PyList> items) { return PyList_GET_SIZE(items.as_ptr()); },
          arg("items"));
    m.def("identity", [](Borrowed<PyAny> o) { return o; }, arg("obj"));
    m.def("nothing", [] {});
    m.def("token_only", [](Python py) { return py.none(); });
    m.def("raise_cpp", raise_cpp, arg("kind"));
    m.def("exec_calls", [] { return g_exec_calls.load(); });
    long calls = 0;  // a capturing lambda keeps its own state
    m.def("counter", [calls]() mutable { return ++calls; });
    m.def_raw("raw_sum", raw_sum, "Sum of all arguments; (sum, number of keywords).");
    m.def_raw<&fast_sum>("fast_sum", "fast_sum($module, /, *args)\n--\n\nSum of the arguments.");
    m.def_raw<&fast_keywords>("fast_keywords");
    m.def_raw<&one_identity>("one_identity", "Its argument.");
    m.def_raw<&no_args_module>("no_args_module");
    m.def_raw<[](Python, Borrowed<PyAny> x) { return extract<long>(x) * 2; }>("lambda_double");

    m.add("ANSWER", 42);
    m.add("NAME", std::string("pyo3cpp"));
    m.add("REGISTRY", [](Python py) { return Bound<PyAny>::from_owned_ptr(py, PyDict_New()); });
    m.submodule("sub", [](ModuleDef &sub) {
        sub.doc("A submodule.");
        sub.def("triple", [](long x) { return checked_mul(x, 3); });
        sub.add("READY", true);
    });
    m.on_exec([](Python py, Borrowed<PyModule> module) {
        g_exec_calls.fetch_add(1);
        // Slow on purpose: a concurrent importer that could see the module now would find no
        // COMPLETE attribute.
        detach(py, [] { std::this_thread::sleep_for(std::chrono::milliseconds(50)); });
        check_status(py, PyModule_AddObjectRef(module.as_ptr(), "COMPLETE", Py_True));
    });
}
