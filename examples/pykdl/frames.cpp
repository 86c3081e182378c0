// frames.cpp — Vector, Wrench, Twist, Rotation, Frame and the free functions over them
// (SetToZero, dot, Equal, diff, addDelta), as upstream's frames.cpp binds them.
#include "pykdl.hpp"

#include <kdl/frames_io.hpp>

#include <tuple>

using namespace KDL;
using pyo3cpp::arg;

namespace pykdl {
namespace {

// Vector, Wrench and Twist share their arithmetic: + - (also in place), * and / by a number,
// scaling from the left, unary -, ==, !=.
template <class V> void linear_ops(pyo3cpp::ClassDef<V> &c)
{
    c.def("__isub__", [](V &a, const V &b) { a -= b; })
        .def("__iadd__", [](V &a, const V &b) { a += b; })
        .def("__add__", [](const V &a, const V &b) { return V(a + b); })
        .def("__sub__", [](const V &a, const V &b) { return V(a - b); })
        .def("__mul__", [](const V &a, double k) { return V(a * k); })
        .def("__rmul__", [](const V &a, double k) { return V(k * a); })
        .def("__truediv__", [](const V &a, double k) { return V(a / k); })
        .def("__eq__", [](const V &a, const V &b) { return a == b; })
        .def("__ne__", [](const V &a, const V &b) { return a != b; })
        .def("__neg__", [](const V &a) { return V(-a); })
        .def_copy();
}

// Element access by one index in [0, size).
template <class V, int Size> void indexed(pyo3cpp::ClassDef<V> &c, const char *what)
{
    c.def("__getitem__", [what](const V &v, int i) {
         check_index(i >= 0 && i < Size, what);
         return v(i);
     }).def("__setitem__", [what](V &v, int i, double value) {
        check_index(i >= 0 && i < Size, what);
        v(i) = value;
    });
}

void vector(pyo3cpp::ModuleDef &m)
{
    auto &c = m.add_class<Vector>("Vector");
    c.def_init<>()
        .def_init<double, double, double>(arg("x"), arg("y"), arg("z"))
        .def_init<const Vector &>()
        .def("x", [](Vector &v, double x) { v.x(x); })
        .def("y", [](Vector &v, double y) { v.y(y); })
        .def("z", [](Vector &v, double z) { v.z(z); })
        .def("x", [](const Vector &v) { return v.x(); })
        .def("y", [](const Vector &v) { return v.y(); })
        .def("z", [](const Vector &v) { return v.z(); });
    indexed<Vector, 3>(c, "Vector");
    c.def("__repr__", &text_of<Vector>).def("ReverseSign", &Vector::ReverseSign);
    linear_ops(c);
    c.def("__mul__", [](const Vector &a, const Vector &b) { return a * b; })  // the cross product
        .def_static("Zero", &Vector::Zero)
        .def("Norm", &Vector::Norm, arg("eps") = epsilon)
        .def("Normalize", &Vector::Normalize, arg("eps") = epsilon)
        .def_pickle([](const Vector &v) { return std::make_tuple(v.x(), v.y(), v.z()); },
                    [](std::tuple<double, double, double> s) {
                        return Vector(std::get<0>(s), std::get<1>(s), std::get<2>(s));
                    });
    m.def("SetToZero", [](Vector &v) { SetToZero(v); });
    m.def("dot", [](const Vector &a, const Vector &b) { return dot(a, b); });
    m.def("Equal", [](const Vector &a, const Vector &b, double eps) { return Equal(a, b, eps); },
          arg("a"), arg("b"), arg("eps") = epsilon);
}

// Wrench and Twist: two Vectors (members read as references into the owner), six coordinates.
template <class W> void six(pyo3cpp::ModuleDef &m, const char *name, const char *first, Vector W::*a,
                            const char *second, Vector W::*b)
{
    auto &c = m.add_class<W>(name);
    c.template def_init<>()
        .template def_init<const Vector &, const Vector &>(arg(first), arg(second))
        .template def_init<const W &>();
    c.def_readwrite(first, a).def_readwrite(second, b);
    indexed<W, 6>(c, name);
    c.def("__repr__", &text_of<W>)
        .def_static("Zero", &W::Zero)
        .def("ReverseSign", &W::ReverseSign)
        .def("RefPoint", &W::RefPoint, arg("base"));
    linear_ops(c);
    c.def_pickle([a, b](const W &w) { return std::make_tuple(w.*a, w.*b); },
                 [](std::tuple<Vector, Vector> s) { return W(std::get<0>(s), std::get<1>(s)); });
    m.def("SetToZero", [](W &w) { SetToZero(w); });
    m.def("Equal", [](const W &x, const W &y, double eps) { return Equal(x, y, eps); },
          arg("a"), arg("b"), arg("eps") = epsilon);
}

void rotation(pyo3cpp::ModuleDef &m)
{
    auto &c = m.add_class<Rotation>("Rotation");
    c.def_init<>()
        .def_init<double, double, double, double, double, double, double, double, double>(
            arg("xx"), arg("yx"), arg("zx"), arg("xy"), arg("yy"), arg("zy"), arg("xz"), arg("yz"), arg("zz"))
        .def_init<const Vector &, const Vector &, const Vector &>(arg("x"), arg("y"), arg("z"))
        .def_init<const Rotation &>()
        .def("__getitem__", [](const Rotation &r, int i, int j) {
            check_index(i >= 0 && i <= 2 && j >= 0 && j <= 2, "Rotation");
            return r(i, j);
        })
        .def("__setitem__", [](Rotation &r, int i, int j, double value) {
            check_index(i >= 0 && i <= 2 && j >= 0 && j <= 2, "Rotation");
            r(i, j) = value;
        })
        .def("__repr__", &text_of<Rotation>)
        .def_copy()
        .def("SetInverse", &Rotation::SetInverse)
        .def("Inverse", [](const Rotation &r) { return r.Inverse(); })
        .def("Inverse", [](const Rotation &r, const Vector &v) { return r.Inverse(v); })
        .def("Inverse", [](const Rotation &r, const Wrench &w) { return r.Inverse(w); })
        .def("Inverse", [](const Rotation &r, const Twist &t) { return r.Inverse(t); })
        .def_static("Identity", &Rotation::Identity)
        .def_static("RotX", &Rotation::RotX)
        .def_static("RotY", &Rotation::RotY)
        .def_static("RotZ", &Rotation::RotZ)
        .def_static("Rot", &Rotation::Rot)
        .def_static("Rot2", &Rotation::Rot2)
        .def_static("EulerZYZ", &Rotation::EulerZYZ)
        .def_static("RPY", &Rotation::RPY)
        .def_static("EulerZYX", &Rotation::EulerZYX)
        .def_static("Quaternion", &Rotation::Quaternion, nullptr, arg("x"), arg("y"), arg("z"), arg("w"))
        .def("DoRotX", &Rotation::DoRotX)
        .def("DoRotY", &Rotation::DoRotY)
        .def("DoRotZ", &Rotation::DoRotZ)
        .def("GetRot", &Rotation::GetRot)
        .def("GetRotAngle", [](const Rotation &r, double eps) {
            Vector axis;
            double angle = r.GetRotAngle(axis, eps);
            return std::make_tuple(angle, axis);
        }, arg("eps") = epsilon)
        .def("GetEulerZYZ", [](const Rotation &r) {
            double a, b, g;
            r.GetEulerZYZ(a, b, g);
            return std::make_tuple(a, b, g);
        })
        .def("GetRPY", [](const Rotation &r) {
            double roll, pitch, yaw;
            r.GetRPY(roll, pitch, yaw);
            return std::make_tuple(roll, pitch, yaw);
        })
        .def("GetEulerZYX", [](const Rotation &r) {
            double a, b, g;
            r.GetEulerZYX(a, b, g);
            return std::make_tuple(a, b, g);
        })
        .def("GetQuaternion", [](const Rotation &r) {
            double x, y, z, w;
            r.GetQuaternion(x, y, z, w);
            return std::make_tuple(x, y, z, w);
        })
        .def("UnitX", [](const Rotation &r) { return r.UnitX(); })
        .def("UnitY", [](const Rotation &r) { return r.UnitY(); })
        .def("UnitZ", [](const Rotation &r) { return r.UnitZ(); })
        .def("UnitX", [](Rotation &r, const Vector &v) { r.UnitX(v); })
        .def("UnitY", [](Rotation &r, const Vector &v) { r.UnitY(v); })
        .def("UnitZ", [](Rotation &r, const Vector &v) { r.UnitZ(v); })
        .def("__mul__", [](const Rotation &r, const Vector &v) { return r * v; })
        .def("__mul__", [](const Rotation &r, const Twist &t) { return r * t; })
        .def("__mul__", [](const Rotation &r, const Wrench &w) { return r * w; })
        .def("__eq__", [](const Rotation &a, const Rotation &b) { return a == b; })
        .def("__ne__", [](const Rotation &a, const Rotation &b) { return a != b; })
        .def("__mul__", [](const Rotation &a, const Rotation &b) { return a * b; })
        .def_pickle(
            [](const Rotation &r) {
                double roll = 0, pitch = 0, yaw = 0;
                r.GetRPY(roll, pitch, yaw);
                return std::make_tuple(roll, pitch, yaw);
            },
            [](std::tuple<double, double, double> s) {
                return Rotation::RPY(std::get<0>(s), std::get<1>(s), std::get<2>(s));
            });
    m.def("Equal", [](const Rotation &a, const Rotation &b, double eps) { return Equal(a, b, eps); },
          arg("a"), arg("b"), arg("eps") = epsilon);
}

void frame(pyo3cpp::ModuleDef &m)
{
    auto &c = m.add_class<Frame>("Frame");
    c.def_init<const Rotation &, const Vector &>(arg("R"), arg("V"))
        .def_init<const Vector &>()
        .def_init<const Rotation &>()
        .def_init<const Frame &>()
        .def_init<>()
        .def_readwrite("M", &Frame::M)
        .def_readwrite("p", &Frame::p)
        .def("__getitem__", [](const Frame &f, int i, int j) {
            check_index(i >= 0 && i <= 2 && j >= 0 && j <= 3, "Frame");
            return f(i, j);
        })
        .def("__setitem__", [](Frame &f, int i, int j, double value) {
            check_index(i >= 0 && i <= 2 && j >= 0 && j <= 3, "Frame");
            if (j == 3)
                f.p(i) = value;
            else
                f.M(i, j) = value;
        })
        .def("__repr__", &text_of<Frame>)
        .def_copy()
        // Static in KDL; upstream binds them as methods, callable only through the class
        // (Frame.DH(a, alpha, d, theta)). Static methods answer that call and f.DH(...) too.
        .def_static("DH_Craig1989", &Frame::DH_Craig1989)
        .def_static("DH", &Frame::DH)
        .def("Inverse", [](const Frame &f) { return f.Inverse(); })
        .def("Inverse", [](const Frame &f, const Vector &v) { return f.Inverse(v); })
        .def("Inverse", [](const Frame &f, const Wrench &w) { return f.Inverse(w); })
        .def("Inverse", [](const Frame &f, const Twist &t) { return f.Inverse(t); })
        .def_static("Identity", &Frame::Identity)
        .def("Integrate", &Frame::Integrate)
        .def("__mul__", [](const Frame &f, const Vector &v) { return f * v; })
        .def("__mul__", [](const Frame &f, const Wrench &w) { return f * w; })
        .def("__mul__", [](const Frame &f, const Twist &t) { return f * t; })
        .def("__mul__", [](const Frame &a, const Frame &b) { return a * b; })
        .def("__eq__", [](const Frame &a, const Frame &b) { return a == b; })
        .def("__ne__", [](const Frame &a, const Frame &b) { return a != b; })
        .def_pickle([](const Frame &f) { return std::make_tuple(f.M, f.p); },
                    [](std::tuple<Rotation, Vector> s) { return Frame(std::get<0>(s), std::get<1>(s)); });
    m.def("Equal", [](const Frame &a, const Frame &b, double eps) { return Equal(a, b, eps); },
          arg("a"), arg("b"), arg("eps") = epsilon);
}

// diff(a, b, dt=1) and addDelta(a, da, dt=1) for each type KDL defines them on.
template <class R, class A, class B> void diff_of(pyo3cpp::ModuleDef &m)
{
    m.def("diff", [](const A &a, const B &b, double dt) -> R { return diff(a, b, dt); },
          arg("a"), arg("b"), arg("dt") = 1.0);
}
template <class R, class A, class D> void add_delta_of(pyo3cpp::ModuleDef &m)
{
    m.def("addDelta", [](const A &a, const D &da, double dt) -> R { return addDelta(a, da, dt); },
          arg("a"), arg("da"), arg("dt") = 1.0);
}

}  // namespace

void init_frames(pyo3cpp::ModuleDef &m)
{
    vector(m);
    six<Wrench>(m, "Wrench", "force", &Wrench::force, "torque", &Wrench::torque);
    six<Twist>(m, "Twist", "vel", &Twist::vel, "rot", &Twist::rot);
    m.def("dot", [](const Twist &t, const Wrench &w) { return dot(t, w); });
    m.def("dot", [](const Wrench &w, const Twist &t) { return dot(w, t); });
    rotation(m);
    frame(m);
    diff_of<Vector, Vector, Vector>(m);
    diff_of<Vector, Rotation, Rotation>(m);
    diff_of<Twist, Frame, Frame>(m);
    diff_of<Twist, Twist, Twist>(m);
    diff_of<Wrench, Wrench, Wrench>(m);
    add_delta_of<Vector, Vector, Vector>(m);
    add_delta_of<Rotation, Rotation, Vector>(m);
    add_delta_of<Frame, Frame, Twist>(m);
    add_delta_of<Twist, Twist, Twist>(m);
    add_delta_of<Wrench, Wrench, Wrench>(m);
}

}  // namespace pykdl
