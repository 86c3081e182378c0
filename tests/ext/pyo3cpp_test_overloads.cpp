// pyo3cpp_test_overloads — names defined more than once (overload.hpp): module functions,
// methods, static methods, classmethods and constructors. Driven by
// tests/python/test_overloads.py. The example of docs/bindings.md ("Overloads") is in here:
// every line of it, in order (the test checks it), among the test's own definitions.
#include <pyo3cpp/pyo3cpp.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using namespace pyo3cpp;

struct Vec2 {
    double x = 0, y = 0;
    Vec2() = default;
    Vec2(double x_, double y_) : x(x_), y(y_) {}
    Vec2 shifted(double d) const { return {x + d, y + d}; }
    Vec2 plus(const Vec2 &o) const { return {x + o.x, y + o.y}; }
};
PYO3CPP_CLASS(Vec2);

struct Unit {};
PYO3CPP_CLASS(Unit);
struct Point {  // Vec2's (double, double) constructor alone: bench/overload_calls.sh compares
    double x, y;
    Point(double x_, double y_) : x(x_), y(y_) {}
};
PYO3CPP_CLASS(Point);

PYO3CPP_MODULE(pyo3cpp_test_overloads, m)
{
    // Functions: tried in the order written, exact types first (half(3) -> the long one).
    m.def("half", [](long n) { return n / 2; }, "Integer half.", arg("n"));
    m.def("half", [](double x) { return x / 2; }, "Real half.", arg("x"));
    m.def("half", [](const std::string &s) { return s.substr(0, s.size() / 2); }, arg("s"));

    m.add_class<Vec2>("Vec2", "A 2-D vector.")
        .def_init<>()                                               // Vec2()
        .def_init<double, double>(arg("x"), arg("y"))               // Vec2(1, 2)
        .def_init([](const std::vector<double> &xy) {               // Vec2([1, 2])
            if (xy.size() != 2) throw std::invalid_argument("need 2 coordinates");
            return Vec2(xy[0], xy[1]);
        }, arg("xy"))
        .def("add", &Vec2::shifted, "Both coordinates plus d.", arg("d"))  // v.add(1.5)
        .def("add", &Vec2::plus, "The sum of two vectors.", arg("o"))     // v.add(w)
        // The test's own definitions (not in the docs).
        .def_static("origin", [] { return Vec2(); })
        .def_static("origin", [](double both) { return Vec2(both, both); }, nullptr, arg("both"))
        .def_classmethod("kind", [](Bound<PyType>) { return std::string("none"); })
        .def_classmethod("kind", [](Bound<PyType>, long) { return std::string("int"); }, nullptr, arg("n"))
        .def("same", [](const Vec2 &, const Vec2 &) { return true; }, arg("other"))  // defined once
        // (the docs again)
        .def_readonly("x", &Vec2::x)
        .def_readonly("y", &Vec2::y);

    // The same pair in both orders: the first pass picks by the value's own type.
    m.def("int_first", [](long) { return std::string("int"); });
    m.def("int_first", [](double) { return std::string("float"); });
    m.def("float_first", [](double) { return std::string("float"); });
    m.def("float_first", [](long) { return std::string("int"); });
    // bool is not an int in the first pass: with a bool overload anywhere, it wins.
    m.def("with_bool", [](long) { return std::string("int"); });
    m.def("with_bool", [](bool) { return std::string("bool"); });
    // A generator is not a list in the first pass: the str overload does not take it either,
    // so the second pass gives it to the vector.
    m.def("items", [](const std::string &) { return std::string("str"); });
    m.def("items", [](const std::vector<long> &v) { return "vector of " + std::to_string(v.size()); });
    // Keywords, per overload, with their own names and defaults.
    m.def("place", [](long row, long col) { return "cell " + std::to_string(row) + "," + std::to_string(col); },
          arg("row"), arg("col") = 0);
    m.def("place", [](const std::string &name, std::optional<long> at) {
              return name + "@" + (at ? std::to_string(*at) : std::string("end"));
          },
          arg("name"), kw_only(), arg("at") = std::nullopt);
    // The body's exception propagates: the second definition is not tried.
    m.def("strict", [](long n) -> long {
        if (n < 0) throw std::invalid_argument("negative");
        return n;
    });
    m.def("strict", [](double) -> long { return -1; });
    // A TypeError the body raises is the body's, not a refusal: it propagates.
    m.def("body_type_error", [](Python py, long) -> long {
        throw PyErr::new_err(py, PyExc_TypeError, "raised by the body");
    });
    m.def("body_type_error", [](double) -> long { return 2; });
    // Bodies that call back into Python (which may call overload sets, or refuse arguments of
    // functions defined once) while they run.
    m.def("run", [](long n, Bound<PyAny> callback) { return callback.call(n); });
    m.def("run", [](const std::string &s, Bound<PyAny> callback) { return callback.call(s); });
    m.def("once", [](long n) { return n; }, arg("n"));
    // A conversion that overflows refuses the definition (the next takes it).
    m.def("narrow", [](signed char) { return std::string("int8"); });
    m.def("narrow", [](long long) { return std::string("int64"); });
    // Classes as parameters.
    m.def("describe", [](const Vec2 &v) { return "Vec2(" + std::to_string(v.x) + ")"; });
    m.def("describe", [](const Unit &) { return std::string("Unit"); });
    m.add_class<Unit>("Unit").def_init<>();
    m.add_class<Point>("Point").def_init<double, double>(arg("x"), arg("y"));
}
