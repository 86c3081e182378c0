// pyo3cpp_test_bindings — the function-binding layer as Python users meet it: signatures of
// every parameter kind and default type, functions that behave like built-ins (pickle, copy,
// help), every entry form (unique, shared, builtin_method once the shared set is used up),
// custom exception classes with chaining, and enums. Driven by tests/python/test_bindings.py.
#include <pyo3cpp/pyo3cpp.hpp>

#include "checked_arithmetic.hpp"

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

using namespace pyo3cpp;

namespace {

using pyo3cpp_tests::checked_add;
using pyo3cpp_tests::checked_mul;
long add(long a, long b) { return checked_add(a, b); }
long twice(long x) { return checked_mul(x, 2); }

std::string describe(const std::string &text, double ratio, std::optional<long> limit,
                     const std::string &sep, bool loud)
{
    std::string out = text + sep + std::to_string(ratio) + sep +
                      (limit ? std::to_string(*limit) : std::string("none"));
    return loud ? out + "!" : out;
}

// *args and **kwargs: (prefix, number of extra positionals, sorted keyword names, flag)
Bound<PyAny> collect(Python py, const std::string &prefix, Args args, bool flag, Kwargs kwargs)
{
    auto keys = Bound<PyAny>::from_owned_ptr(py, PyDict_Keys(kwargs.as_ptr()));
    check_status(py, PyList_Sort(keys.as_ptr()));
    return Bound<PyAny>::from_owned_ptr(
        py, Py_BuildValue("(snOO)", prefix.c_str(), PyTuple_GET_SIZE(args.as_ptr()), keys.as_ptr(),
                          flag ? Py_True : Py_False));
}

long total(const std::map<std::string, long> &counts)
{
    long sum = 0;
    for (const auto &[key, value] : counts) sum = checked_add(sum, value);
    return sum;
}

// ---- custom exceptions
struct ParseError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct SyntaxProblem : ParseError {
    using ParseError::ParseError;
};
struct NotAnException {};  // a thrown type that does not derive from std::exception

void fail(Python py, const std::string &kind)
{
    if (kind == "parse") throw ParseError("bad input at line 3");
    if (kind == "syntax") throw SyntaxProblem("unexpected ')'");
    if (kind == "runtime") throw std::runtime_error("plain runtime error");
    if (kind == "typed") throw PyErr::new_err(py, exception_type<ParseError>(py).as_ptr(), "raised from C++ by type");
}

// Calls `callback`; a Python exception from it is wrapped: ParseError from that KeyError.
long parse_with(Python, Borrowed<PyAny> callback)
{
    try {
        return extract<long>(callback.call());
    } catch (const PyErr &) {
        std::throw_with_nested(ParseError("the callback failed"));
    }
}

// Two levels: a C++ exception nested in a C++ exception nested in ParseError.
void nested_twice()
{
    try {
        try {
            throw std::out_of_range("innermost index 9");
        } catch (...) {
            std::throw_with_nested(std::invalid_argument("middle"));
        }
    } catch (...) {
        std::throw_with_nested(ParseError("outer"));
    }
}

// ---- enums
enum class Color { Red = 1, Green = 2, Blue = 4 };
enum class Level : unsigned char { Low = 0, High = 10 };

Color mix(Color a, Color b) { return a == Color::Red ? b : a; }

// 1100 functions sharing one C++ type (function pointers): the first ones take shared entries,
// the rest become builtin_method objects (the runtime holds 1024 for the process).
std::vector<std::string> &many_names()
{
    static std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (int i = 0; i < 1100; ++i) out.push_back("fn_" + std::to_string(i));
        return out;
    }();
    return names;
}

}  // namespace

PYO3CPP_MODULE(pyo3cpp_test_bindings, m)
{
    m.doc("pyo3cpp's binding-layer test module.");
    m.exception<ParseError>("ParseError", PyExc_ValueError, "Input could not be parsed.");
    m.exception<SyntaxProblem, ParseError>("SyntaxProblem");
    m.enum_<Color>("Color", {{"RED", Color::Red}, {"GREEN", Color::Green}, {"BLUE", Color::Blue}},
                   EnumKind::Enum, "Primary colours.");
    m.enum_<Level>("Level", {{"LOW", Level::Low}, {"HIGH", Level::High}}, EnumKind::IntEnum);

    m.def("add", add);                                              // shared entry, positional-only
    m.def<&twice>("twice", "Twice x.", arg("x"));                   // compile-time entry
    m.def("lambda_add", [](long a, long b) { return checked_add(a, b); }, arg("a"), arg("b"));  // unique entry
    m.def("describe", describe, "Describe text.", arg("text"), arg("ratio") = 0.5,
          arg("limit") = std::nullopt, arg("sep") = ", ", arg("loud") = false);
    m.def("quoted", [](const std::string &s) { return s; }, arg("s") = "it's \"q\"\n\\");
    m.def("floats", [](double a, double b, double c) { return a + b + c; }, arg("a") = 1e100,
          arg("b") = 2.0, arg("c") = -0.25);
    m.def("find", [](const std::string &hay, const std::string &needle, long start) {
              auto at = hay.find(needle, static_cast<std::size_t>(start));
              return at == std::string::npos ? -1L : static_cast<long>(at);
          },
          arg("hay"), arg("needle"), kw_only(), arg("start") = 0);
    m.def("norm", [](double x, double y) { return x * x + y * y; }, arg("x"), arg("y"), pos_only());
    m.def("mixed", [](long a, long b, long c) { return a * 100 + b * 10 + c; }, arg("a"),
          pos_only(), arg("b"), kw_only(), arg("c"));
    m.def("collect", collect, arg("prefix"), arg("flag") = false);
    m.def("only_kwargs", [](Kwargs kw) { return PyDict_Size(kw.as_ptr()); });
    m.def("total", total, arg("counts"));
    m.def("pair_sum", [](std::pair<long, long> p) { return p.first + p.second; }, arg("p"));
    m.def("opt_list", [](std::optional<std::vector<long>> v) { return v ? static_cast<long>(v->size()) : -1L; },
          arg("v"));
    m.def("small", [](unsigned char x) { return static_cast<int>(x); }, arg("x"));
    m.def("opt_int", [](std::optional<int> x) { return x.value_or(-1); }, arg("x"));
    m.def("names", [](const std::vector<std::string> &xs) { return static_cast<long>(xs.size()); },
          arg("xs"));
    m.def("positional_only_int", [](long x) { return x; });
    m.def("optional_first", [](std::optional<long> a, long b) { return a.value_or(-1) * 10 + b; });
    m.def("fail", fail, arg("kind"));
    m.def("parse_with", parse_with, arg("callback"));
    m.def("nested_twice", nested_twice);
    m.def("throw_non_exception", [] { throw NotAnException{}; });
    m.def("mix", mix, arg("a"), arg("b"));
    m.def("level_value", [](Level l) { return static_cast<int>(l); }, arg("level"));
    m.def("make_level", [](int v) { return static_cast<Level>(v); }, arg("v"));
    m.def("all_colors", [] { return std::vector<Color>{Color::Red, Color::Green, Color::Blue}; });
    for (const std::string &name : many_names()) m.def(name.c_str(), add, "Adds.", arg("a"), arg("b") = 1);
    m.submodule("sub", [](ModuleDef &sub) { sub.def("triple", [](long x) { return checked_mul(x, 3); }, arg("x")); });
}
