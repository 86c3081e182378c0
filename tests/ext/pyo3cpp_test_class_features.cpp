// pyo3cpp_test_class_features — what a geometry/robotics binding is made of besides operators
// and overloads, each on its own: an enum nested in a class and exported onto it, class
// attributes (constants and instances of the class itself), def_copy, __getitem__/__setitem__
// with tuple keys, __hash__/__eq__/__repr__ with overloads and through inheritance,
// std::vector/std::map/std::string conversions, and C++ exceptions mapped to Python ones.
// Driven by tests/python/test_class_features.py.
#include <pyo3cpp/pyo3cpp.hpp>

#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

using namespace pyo3cpp;

namespace {

struct Vec3 {
    double x = 0, y = 0, z = 0;
    Vec3() = default;
    Vec3(double x_, double y_, double z_) : x(x_), y(y_), z(z_) {}
    bool operator==(const Vec3 &o) const { return x == o.x && y == o.y && z == o.z; }
    // x, y, z = k in turn with pauses between: a copy taken without the lock could see it half done.
    void fill(double k)
    {
        x = k;
        pause();
        y = k;
        pause();
        z = k;
    }
    static void pause()
    {
        for (int i = 0; i < 2000; ++i) __asm__ volatile("" ::: "memory");
    }
};

// A 3x3 matrix indexed by (row, column).
struct Mat3 {
    double m[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    static int checked(int i)
    {
        if (i < 0 || i > 2) throw std::out_of_range("index out of range: " + std::to_string(i));
        return i;
    }
    double at(int i, int j) const { return m[checked(i) * 3 + checked(j)]; }
    void set(int i, int j, double v) { m[checked(i) * 3 + checked(j)] = v; }
};

struct Joint {
    enum JointType { RotAxis = 0, RotX = 1, RotY = 2, TransX = 3, Fixed = 8 };
    std::string name;
    JointType type = Fixed;
    Joint() = default;
    Joint(std::string n, JointType t) : name(std::move(n)), type(t) {}
};

// A base with __eq__/__hash__/__repr__, and a subclass that inherits them.
struct Shape {
    std::string label;
    double size = 1;
};
struct Square : Shape {
    double side() const { return size; }
};

// Three coordinates read by one index, as KDL's Vector: __getitem__ alone makes it iterable.
struct Coords {
    double c[3] = {0, 0, 0};
};

struct Chain {
    std::vector<Joint> joints;
    std::map<std::string, double> limits;
};

// An exception hierarchy of the library's own, mapped to Python classes.
struct KinematicsError : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct SingularityError : KinematicsError {
    using KinematicsError::KinematicsError;
};
struct NotAnException {
    int code;
};

std::string repr_vec(const Vec3 &v)
{
    char text[96];
    std::snprintf(text, sizeof text, "Vec3(%g, %g, %g)", v.x, v.y, v.z);
    return text;
}

}  // namespace

PYO3CPP_CLASS(Vec3);
PYO3CPP_CLASS(Mat3);
PYO3CPP_CLASS(Joint);
PYO3CPP_CLASS(Shape);
PYO3CPP_CLASS(Square);
PYO3CPP_CLASS(Chain);
PYO3CPP_CLASS(Coords);

PYO3CPP_MODULE(pyo3cpp_test_class_features, m)
{
    m.exception<KinematicsError>("KinematicsError", PyExc_RuntimeError, "A kinematics failure.");
    m.exception<SingularityError, KinematicsError>("SingularityError");

    m.add_class<Vec3>("Vec3", "A vector.")
        .def_init<>()
        .def_init<double, double, double>(arg("x"), arg("y"), arg("z"))
        .def_readwrite("x", &Vec3::x, "The x coordinate.")
        .def_readwrite("y", &Vec3::y)
        .def_readwrite("z", &Vec3::z)
        .def("__repr__", &repr_vec)
        .def("__eq__", [](const Vec3 &a, const Vec3 &b) { return a == b; })
        .def("__eq__", [](const Vec3 &a, double s) { return a.x == s && a.y == s && a.z == s; })
        .def("__hash__", [](const Vec3 &v) { return static_cast<long>(v.x * 1000003 + v.y * 1009 + v.z); })
        .def("fill", &Vec3::fill, arg("k"))
        .def_property("norm1", [](const Vec3 &v) { return std::fabs(v.x) + std::fabs(v.y) + std::fabs(v.z); },
                      "The 1-norm.")
        .def_property("first", [](const Vec3 &v) { return v.x; }, [](Vec3 &v, double x) { v.x = x; },
                      "The first coordinate (x).")
        .def_copy()
        .attr("Zero", Vec3{})
        .attr("DIMENSION", 3);

    m.add_class<Mat3>("Mat3", "A 3x3 matrix.")
        .def_init<>()
        // Two ints: a tuple key's items are the arguments.
        .def("__getitem__", [](const Mat3 &r, int i, int j) { return r.at(i, j); })
        .def("__setitem__", [](Mat3 &r, int i, int j, double v) { r.set(i, j, v); })
        .def("get", [](const Mat3 &r, std::tuple<int, int> key) { return r.at(std::get<0>(key), std::get<1>(key)); },
             arg("key"))
        .def_copy();

    m.add_class<Joint>("Joint", "A joint.")
        .enum_<Joint::JointType>("JointType",
                                 {{"RotAxis", Joint::RotAxis},
                                  {"RotX", Joint::RotX},
                                  {"RotY", Joint::RotY},
                                  {"TransX", Joint::TransX},
                                  {"Fixed", Joint::Fixed}},
                                 EnumKind::Enum, "The kinds of joint.")
        .export_enum_values<Joint::JointType>()
        .def_init<>()
        .def_init<std::string, Joint::JointType>(arg("name"), arg("type") = Joint::Fixed)
        .def("getType", [](const Joint &j) { return j.type; })
        .def("getTypeName", [](const Joint &j) { return j.name; })
        .def_readwrite("name", &Joint::name)
        .attr("MAX_DOF", 6);

    m.add_class<Shape>("Shape")
        .subclassable()
        .def_init<>()
        .def_readwrite("label", &Shape::label)
        .def_readwrite("size", &Shape::size)
        .def("__eq__", [](const Shape &a, const Shape &b) { return a.label == b.label && a.size == b.size; })
        .def("__hash__", [](const Shape &s) { return static_cast<long>(s.label.size() * 31 + static_cast<long>(s.size)); })
        .def("__repr__", [](const Shape &s) { return "<" + s.label + ">"; });
    m.add_class<Square>("Square").extends<Shape>().def_init<>().def("side", &Square::side);

    m.add_class<Coords>("Coords")
        .def_init([](double x, double y, double z) { return Coords{{x, y, z}}; }, arg("x"), arg("y"), arg("z"))
        .def("__getitem__", [](const Coords &v, int i) {
            if (i < 0 || i > 2) throw std::out_of_range("Coords index out of range");
            return v.c[i];
        });

    m.add_class<Chain>("Chain")
        .def_init<>()
        .def("addJoint", [](Chain &c, const Joint &j) { c.joints.push_back(j); }, arg("joint"))
        .def("getNrOfJoints", [](const Chain &c) { return static_cast<long>(c.joints.size()); })
        .def("names", [](const Chain &c) {
            std::vector<std::string> out;
            for (const Joint &j : c.joints) out.push_back(j.name);
            return out;
        })
        .def("setLimits", [](Chain &c, std::map<std::string, double> limits) { c.limits = std::move(limits); },
             arg("limits"))
        .def("getLimits", [](const Chain &c) { return c.limits; })
        .def("getJoint", [](const Chain &c, long i) -> Joint {
            if (i < 0 || i >= static_cast<long>(c.joints.size())) throw std::out_of_range("no joint " + std::to_string(i));
            return c.joints[static_cast<std::size_t>(i)];
        }, arg("index"));

    m.def("sum", [](std::vector<double> values) {
        double s = 0;
        for (double v : values) s += v;
        return s;
    }, "The sum of the values.", arg("values"));
    m.def("scaled", [](std::vector<double> values, double k) {
        for (double &v : values) v *= k;
        return values;
    }, arg("values"), arg("k"));
    // Type information: parameters accepting any iterable, results that are lists.
    m.def("transpose", [](std::vector<std::vector<double>> rows, std::optional<std::vector<long>> picks,
                          std::map<std::string, std::vector<double>> extra) {
        std::vector<std::vector<double>> out;
        for (std::size_t j = 0; !rows.empty() && j < rows[0].size(); ++j) {
            out.emplace_back();
            for (const auto &row : rows) out.back().push_back(row.at(j));
        }
        (void)picks;
        (void)extra;
        return out;
    }, "Rows to columns.", arg("rows"), arg("picks") = std::nullopt, arg("extra") = std::map<std::string, std::vector<double>>{});
    m.def("greet", [](const std::string &who) { return "hello " + who; }, arg("who"));

    // Each C++ exception the table maps, and the module's own.
    m.def("raise_cpp", [](std::string kind) {
        if (kind == "out_of_range") throw std::out_of_range("index 7 out of range");
        if (kind == "invalid_argument") throw std::invalid_argument("bad argument");
        if (kind == "domain_error") throw std::domain_error("outside the domain");
        if (kind == "overflow_error") throw std::overflow_error("too large");
        if (kind == "bad_alloc") throw std::bad_alloc();
        if (kind == "runtime_error") throw std::runtime_error("something failed");
        if (kind == "kinematics") throw KinematicsError("no solution");
        if (kind == "singularity") throw SingularityError("singular at q=0");
        if (kind == "not_an_exception") throw NotAnException{3};
        return kind;
    }, arg("kind"));
}
