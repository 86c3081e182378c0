// A 3-d vector with Python's operators: binary, reflected (2.0 * v), in place (v += w changes v
// under its lock), unary. Shown in docs/classes.md; tested by tests/python/test_operators.py.
#include <pyo3cpp/pyo3cpp.hpp>
#include <cmath>
#include <string>
using namespace pyo3cpp;

struct Vector {
    double x = 0, y = 0, z = 0;
    Vector operator+(const Vector &o) const { return {x + o.x, y + o.y, z + o.z}; }
    Vector operator-(const Vector &o) const { return {x - o.x, y - o.y, z - o.z}; }
    Vector operator*(double k) const { return {x * k, y * k, z * k}; }
    Vector &operator+=(const Vector &o) { return *this = *this + o; }
    double dot(const Vector &o) const { return x * o.x + y * o.y + z * o.z; }
};
PYO3CPP_CLASS(Vector);  // locked: v += w from many threads never loses an update

PYO3CPP_MODULE(pyo3cpp_vector, m)
{
    m.add_class<Vector>("Vector", "A 3-d vector.")
        .def_init([](double x, double y, double z) { return Vector{x, y, z}; },
                  arg("x") = 0.0, arg("y") = 0.0, arg("z") = 0.0)
        .def_readwrite("x", &Vector::x)
        .def_readwrite("y", &Vector::y)
        .def_readwrite("z", &Vector::z)
        .def("__add__", &Vector::operator+)                  // Vector + Vector
        .def("__sub__", &Vector::operator-)
        .def("__mul__", &Vector::operator*, arg("k"))        // Vector * float
        .def("__rmul__", &Vector::operator*, arg("k"))       // float * Vector
        .def("__matmul__", &Vector::dot)                     // Vector @ Vector
        .def("__iadd__", &Vector::operator+=)                // v += w: v itself, changed
        .def("__neg__", [](const Vector &v) { return v * -1.0; })
        .def("__abs__", [](const Vector &v) { return std::sqrt(v.dot(v)); })
        .def("__eq__", [](const Vector &a, const Vector &b) { return a.x == b.x && a.y == b.y && a.z == b.z; })
        .def("__repr__", [](const Vector &v) {
            return "Vector(" + std::to_string(v.x) + ", " + std::to_string(v.y) + ", " + std::to_string(v.z) + ")";
        });
}
