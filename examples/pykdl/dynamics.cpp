// dynamics.cpp — JntSpaceInertiaMatrix and ChainDynParam, as upstream's dynamics.cpp binds them
// (ChainDynParam keeps its Chain alive, as the solvers of kinfam.cpp do).
#include "pykdl.hpp"

#include <kdl/chaindynparam.hpp>
#include <kdl/jntspaceinertiamatrix.hpp>
#include <kdl/kinfam_io.hpp>

using namespace KDL;
using pyo3cpp::arg;

namespace pykdl {

void init_dynamics(pyo3cpp::ModuleDef &m)
{
    using JSIM = JntSpaceInertiaMatrix;
    auto in_range = [](const JSIM &jm, int i, int j) {
        check_index(i >= 0 && static_cast<unsigned int>(i) < jm.rows() && j >= 0 &&
                        static_cast<unsigned int>(j) < jm.columns(),
                    "Inertia");
    };
    m.add_class<JSIM>("JntSpaceInertiaMatrix")
        .def_init<>()
        .def_init<int>()
        .def_init<const JSIM &>()
        .def("resize", &JSIM::resize)
        .def("rows", &JSIM::rows)
        .def("columns", &JSIM::columns)
        .def("__getitem__", [in_range](const JSIM &jm, int i, int j) {
            in_range(jm, i, j);
            return jm(i, j);
        })
        .def("__setitem__", [in_range](JSIM &jm, int i, int j, double value) {
            in_range(jm, i, j);
            jm(i, j) = value;
        })
        .def("__repr__", &text_of<JSIM>)
        .def("__eq__", [](const JSIM &a, const JSIM &b) { return a == b; });
    m.def("Add", [](const JSIM &a, const JSIM &b, JSIM &out) { Add(a, b, out); });
    m.def("Subtract", [](const JSIM &a, const JSIM &b, JSIM &out) { Subtract(a, b, out); });
    m.def("Multiply", [](const JSIM &a, double k, JSIM &out) { Multiply(a, k, out); });
    m.def("Divide", [](const JSIM &a, double k, JSIM &out) { Divide(a, k, out); });
    m.def("Multiply", [](const JSIM &a, const JntArray &b, JntArray &out) { Multiply(a, b, out); });
    m.def("SetToZero", [](JSIM &a) { SetToZero(a); });
    m.def("Equal", [](const JSIM &a, const JSIM &b, double eps) { return Equal(a, b, eps); }, arg("src1"),
          arg("src2"), arg("eps") = epsilon);

    m.add_class<ChainDynParam>("ChainDynParam")
        .def_init<const Chain &, Vector>(arg("chain").keep_alive(), arg("grav"))
        .def("JntToCoriolis", &ChainDynParam::JntToCoriolis)
        .def("JntToMass", &ChainDynParam::JntToMass)
        .def("JntToGravity", &ChainDynParam::JntToGravity);
}

}  // namespace pykdl
