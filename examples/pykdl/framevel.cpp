// framevel.cpp — doubleVel, VectorVel, TwistVel, RotationVel, FrameVel (values with their
// derivatives) and the free functions over them, as upstream's framevel.cpp binds them.
// Upstream writes its mixed operators in pybind11's `py::self` shorthand; here each is a
// __mul__ (the class on the left) or an __rmul__ (the other operand on the left) definition.
#include "pykdl.hpp"

#include <kdl/framevel_io.hpp>

#include <tuple>

using namespace KDL;
using pyo3cpp::arg;

namespace pykdl {
namespace {

// ==, != with itself and with its value type V on either side.
template <class C, class V> void compare_with(pyo3cpp::ClassDef<C> &c)
{
    c.def("__eq__", [](const C &a, const C &b) { return a == b; })
        .def("__ne__", [](const C &a, const C &b) { return a != b; })
        .def("__eq__", [](const C &a, const V &b) { return b == a; })
        .def("__ne__", [](const C &a, const V &b) { return b != a; });
}

// Equal(r1, r2, eps) for the class with itself and with its value type on either side.
template <class C, class V> void equal_with(pyo3cpp::ModuleDef &m, const char *a, const char *b)
{
    m.def("Equal", [](const C &x, const C &y, double eps) { return Equal(x, y, eps); }, arg(a), arg(b),
          arg("eps") = epsilon);
    m.def("Equal", [](const V &x, const C &y, double eps) { return Equal(x, y, eps); }, arg(a), arg(b),
          arg("eps") = epsilon);
    m.def("Equal", [](const C &x, const V &y, double eps) { return Equal(x, y, eps); }, arg(a), arg(b),
          arg("eps") = epsilon);
}

void double_vel(pyo3cpp::ModuleDef &m)
{
    m.add_class<doubleVel>("doubleVel")
        .def_init<>()
        .def_init<double>()
        .def_init<double, double>()
        .def_init<const doubleVel &>()
        .def_readwrite("t", &doubleVel::t)
        .def_readwrite("grad", &doubleVel::grad)
        .def("value", &doubleVel::value)
        .def("deriv", &doubleVel::deriv)
        .def("__repr__", &text_of<doubleVel>)
        .def_copy()
        .def("__eq__", [](const doubleVel &a, const doubleVel &b) { return a == b; })
        .def("__ne__", [](const doubleVel &a, const doubleVel &b) { return a != b; })
        .def("__neg__", [](const doubleVel &a) { return doubleVel(-a); });
    m.def("diff", [](const doubleVel &a, const doubleVel &b, double dt) { return diff(a, b, dt); },
          arg("a"), arg("b"), arg("dt") = 1.0);
    m.def("addDelta", [](const doubleVel &a, const doubleVel &da, double dt) { return addDelta(a, da, dt); },
          arg("a"), arg("da"), arg("dt") = 1.0);
    m.def("Equal", [](const doubleVel &a, const doubleVel &b, double eps) { return Equal(a, b, eps); },
          arg("r1"), arg("r2"), arg("eps") = epsilon);
}

void vector_vel(pyo3cpp::ModuleDef &m)
{
    using VV = VectorVel;
    auto &c = m.add_class<VV>("VectorVel");
    c.def_readwrite("p", &VV::p)
        .def_readwrite("v", &VV::v)
        .def_init<>()
        .def_init<const Vector &, const Vector &>(arg("p"), arg("v"))
        .def_init<const Vector &>(arg("p"))
        .def_init<const VV &>()
        .def("value", &VV::value)
        .def("deriv", &VV::deriv)
        .def("__repr__", &text_of<VV>)
        .def_copy()
        .def_static("Zero", &VV::Zero)
        .def("ReverseSign", &VV::ReverseSign)
        .def("Norm", &VV::Norm, arg("eps") = epsilon)
        .def("__iadd__", [](VV &a, const VV &b) { a += b; })
        .def("__isub__", [](VV &a, const VV &b) { a -= b; })
        .def("__add__", [](const VV &a, const VV &b) { return VV(a + b); })
        .def("__sub__", [](const VV &a, const VV &b) { return VV(a - b); })
        .def("__radd__", [](const VV &a, const Vector &b) { return VV(b + a); })
        .def("__rsub__", [](const VV &a, const Vector &b) { return VV(b - a); })
        .def("__add__", [](const VV &a, const Vector &b) { return VV(a + b); })
        .def("__sub__", [](const VV &a, const Vector &b) { return VV(a - b); })
        .def("__mul__", [](const VV &a, const VV &b) { return VV(a * b); })
        .def("__mul__", [](const VV &a, const Vector &b) { return VV(a * b); })
        .def("__rmul__", [](const VV &a, const Vector &b) { return VV(b * a); })
        .def("__rmul__", [](const VV &a, double k) { return VV(k * a); })
        .def("__mul__", [](const VV &a, double k) { return VV(a * k); })
        .def("__rmul__", [](const VV &a, const doubleVel &k) { return VV(k * a); })
        .def("__mul__", [](const VV &a, const doubleVel &k) { return VV(a * k); })
        .def("__rmul__", [](const VV &a, const Rotation &r) { return VV(r * a); })
        .def("__truediv__", [](const VV &a, double k) { return VV(a / k); })
        .def("__truediv__", [](const VV &a, const doubleVel &k) { return VV(a / k); })
        .def("__neg__", [](const VV &a) { return VV(-a); })
        .def_pickle([](const VV &v) { return std::make_tuple(v.p, v.v); },
                    [](std::tuple<Vector, Vector> s) { return VV(std::get<0>(s), std::get<1>(s)); });
    compare_with<VV, Vector>(c);
    m.def("SetToZero", [](VV &v) { SetToZero(v); });
    equal_with<VV, Vector>(m, "r1", "r2");
    m.def("dot", [](const VV &a, const VV &b) { return dot(a, b); });
    m.def("dot", [](const VV &a, const Vector &b) { return dot(a, b); });
    m.def("dot", [](const Vector &a, const VV &b) { return dot(a, b); });
}

void twist_vel(pyo3cpp::ModuleDef &m)
{
    using TV = TwistVel;
    auto &c = m.add_class<TV>("TwistVel");
    c.def_readwrite("vel", &TV::vel)
        .def_readwrite("rot", &TV::rot)
        .def_init<>()
        .def_init<const VectorVel &, const VectorVel &>(arg("vel"), arg("rot"))
        .def_init<const Twist &, const Twist &>(arg("p"), arg("v"))
        .def_init<const Twist &>(arg("p"))
        .def_init<const TV &>()
        .def("value", &TV::value)
        .def("deriv", &TV::deriv)
        .def("__repr__", &text_of<TV>)
        .def_copy()
        .def_static("Zero", &TV::Zero)
        .def("ReverseSign", &TV::ReverseSign)
        .def("RefPoint", &TV::RefPoint, arg("base"))
        .def("GetTwist", &TV::GetTwist)
        .def("GetTwistDot", &TV::GetTwistDot)
        .def("__isub__", [](TV &a, const TV &b) { a -= b; })
        .def("__iadd__", [](TV &a, const TV &b) { a += b; })
        .def("__mul__", [](const TV &a, double k) { return TV(a * k); })
        .def("__rmul__", [](const TV &a, double k) { return TV(k * a); })
        .def("__truediv__", [](const TV &a, double k) { return TV(a / k); })
        .def("__mul__", [](const TV &a, const doubleVel &k) { return TV(a * k); })
        .def("__rmul__", [](const TV &a, const doubleVel &k) { return TV(k * a); })
        .def("__truediv__", [](const TV &a, const doubleVel &k) { return TV(a / k); })
        .def("__add__", [](const TV &a, const TV &b) { return TV(a + b); })
        .def("__sub__", [](const TV &a, const TV &b) { return TV(a - b); })
        .def("__neg__", [](const TV &a) { return TV(-a); })
        .def_pickle([](const TV &t) { return std::make_tuple(t.vel, t.rot); },
                    [](std::tuple<VectorVel, VectorVel> s) { return TV(std::get<0>(s), std::get<1>(s)); });
    compare_with<TV, Twist>(c);
    m.def("SetToZero", [](TV &t) { SetToZero(t); });
    equal_with<TV, Twist>(m, "a", "b");
}

void rotation_vel(pyo3cpp::ModuleDef &m)
{
    using RV = RotationVel;
    auto &c = m.add_class<RV>("RotationVel");
    c.def_readwrite("R", &RV::R)
        .def_readwrite("w", &RV::w)
        .def_init<>()
        .def_init<const Rotation &>(arg("R"))
        .def_init<const Rotation &, const Vector &>(arg("R"), arg("w"))
        .def_init<const RV &>()
        .def("value", &RV::value)
        .def("deriv", &RV::deriv)
        .def("__repr__", &text_of<RV>)
        .def_copy()
        .def("UnitX", &RV::UnitX)
        .def("UnitY", &RV::UnitY)
        .def("UnitZ", &RV::UnitZ)
        .def_static("Identity", &RV::Identity)
        .def("Inverse", [](const RV &r) { return r.Inverse(); })
        .def("Inverse", [](const RV &r, const VectorVel &v) { return r.Inverse(v); })
        .def("Inverse", [](const RV &r, const Vector &v) { return r.Inverse(v); })
        .def("DoRotX", &RV::DoRotX)
        .def("DoRotY", &RV::DoRotY)
        .def("DoRotZ", &RV::DoRotZ)
        .def_static("RotX", &RV::RotX)
        .def_static("RotY", &RV::RotY)
        .def_static("RotZ", &RV::RotZ)
        .def_static("Rot", &RV::Rot)
        .def_static("Rot2", &RV::Rot2)
        .def("Inverse", [](const RV &r, const TwistVel &t) { return r.Inverse(t); })
        .def("Inverse", [](const RV &r, const Twist &t) { return r.Inverse(t); })
        .def("__mul__", [](const RV &r, const VectorVel &v) { return VectorVel(r * v); })
        .def("__mul__", [](const RV &r, const Vector &v) { return VectorVel(r * v); })
        .def("__mul__", [](const RV &r, const TwistVel &t) { return TwistVel(r * t); })
        .def("__mul__", [](const RV &r, const Twist &t) { return TwistVel(r * t); })
        .def("__mul__", [](const RV &a, const RV &b) { return RV(a * b); })
        .def("__rmul__", [](const RV &a, const Rotation &b) { return RV(b * a); })
        .def("__mul__", [](const RV &a, const Rotation &b) { return RV(a * b); })
        .def_pickle([](const RV &r) { return std::make_tuple(r.R, r.w); },
                    [](std::tuple<Rotation, Vector> s) { return RV(std::get<0>(s), std::get<1>(s)); });
    compare_with<RV, Rotation>(c);
    equal_with<RV, Rotation>(m, "r1", "r2");
}

void frame_vel(pyo3cpp::ModuleDef &m)
{
    using FV = FrameVel;
    auto &c = m.add_class<FV>("FrameVel");
    c.def_readwrite("M", &FV::M)
        .def_readwrite("p", &FV::p)
        .def_init<>()
        .def_init<const Frame &>(arg("T"))
        .def_init<const Frame &, const Twist &>(arg("T"), arg("t"))
        .def_init<const RotationVel &, const VectorVel &>(arg("M"), arg("p"))
        .def_init<const FV &>()
        .def("value", &FV::value)
        .def("deriv", &FV::deriv)
        .def("__repr__", &text_of<FV>)
        .def_copy()
        .def_static("Identity", &FV::Identity)
        .def("Inverse", [](const FV &f) { return f.Inverse(); })
        .def("Inverse", [](const FV &f, const VectorVel &v) { return f.Inverse(v); })
        .def("Inverse", [](const FV &f, const Vector &v) { return f.Inverse(v); })
        .def("__mul__", [](const FV &f, const VectorVel &v) { return VectorVel(f * v); })
        .def("__mul__", [](const FV &f, const Vector &v) { return VectorVel(f * v); })
        .def("GetFrame", &FV::GetFrame)
        .def("GetTwist", &FV::GetTwist)
        .def("Inverse", [](const FV &f, const TwistVel &t) { return f.Inverse(t); })
        .def("Inverse", [](const FV &f, const Twist &t) { return f.Inverse(t); })
        .def("__mul__", [](const FV &f, const TwistVel &t) { return TwistVel(f * t); })
        .def("__mul__", [](const FV &f, const Twist &t) { return TwistVel(f * t); })
        .def("__mul__", [](const FV &a, const FV &b) { return FV(a * b); })
        .def("__rmul__", [](const FV &a, const Frame &b) { return FV(b * a); })
        .def("__mul__", [](const FV &a, const Frame &b) { return FV(a * b); })
        .def_pickle([](const FV &f) { return std::make_tuple(f.M, f.p); },
                    [](std::tuple<RotationVel, VectorVel> s) { return FV(std::get<0>(s), std::get<1>(s)); });
    compare_with<FV, Frame>(c);
    equal_with<FV, Frame>(m, "r1", "r2");
}

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

void init_framevel(pyo3cpp::ModuleDef &m)
{
    double_vel(m);
    vector_vel(m);
    twist_vel(m);
    rotation_vel(m);
    frame_vel(m);
    diff_of<VectorVel, VectorVel, VectorVel>(m);
    diff_of<VectorVel, RotationVel, RotationVel>(m);
    diff_of<TwistVel, FrameVel, FrameVel>(m);
    add_delta_of<VectorVel, VectorVel, VectorVel>(m);
    add_delta_of<RotationVel, RotationVel, VectorVel>(m);
    add_delta_of<FrameVel, FrameVel, TwistVel>(m);
}

}  // namespace pykdl
