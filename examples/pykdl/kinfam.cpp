// kinfam.cpp — kinematic families: Joint (with its nested JointType), inertias, Segment, Chain,
// Tree, Jacobian, JntArray, JntArrayVel, and the solvers with their class hierarchy, as
// upstream's kinfam.cpp binds them.
//
// Where the port differs from upstream on purpose: every solver keeps the Chain it was built on
// (and ChainIkSolverPos_NR[_JL] their fk and ik solvers) alive for as long as it lives
// (arg(...).keep_alive()). KDL stores `const Chain &`; upstream does not keep it, so a solver
// whose chain was collected reads freed memory. Parameters upstream takes as Eigen matrices take
// sequences of floats here (ChainIkSolverPos_LMA's L, ChainIkSolverVel_wdls' weights).
#include "pykdl.hpp"

#include <kdl/chain.hpp>
#include <kdl/chainfksolver.hpp>
#include <kdl/chainfksolverpos_recursive.hpp>
#include <kdl/chainfksolvervel_recursive.hpp>
#include <kdl/chainidsolver_recursive_newton_euler.hpp>
#include <kdl/chainiksolver.hpp>
#include <kdl/chainiksolverpos_lma.hpp>
#include <kdl/chainiksolverpos_nr.hpp>
#include <kdl/chainiksolverpos_nr_jl.hpp>
#include <kdl/chainiksolvervel_pinv.hpp>
#include <kdl/chainiksolvervel_pinv_givens.hpp>
#include <kdl/chainiksolvervel_pinv_nso.hpp>
#include <kdl/chainiksolvervel_wdls.hpp>
#include <kdl/chainjnttojacdotsolver.hpp>
#include <kdl/chainjnttojacsolver.hpp>
#include <kdl/jntarrayvel.hpp>
#include <kdl/joint.hpp>
#include <kdl/kinfam_io.hpp>
#include <kdl/rigidbodyinertia.hpp>
#include <kdl/rotationalinertia.hpp>
#include <kdl/segment.hpp>
#include <kdl/tree.hpp>

#include <vector>

using namespace KDL;
using pyo3cpp::arg;

namespace pykdl {
namespace {

void joint(pyo3cpp::ModuleDef &m)
{
    using T = Joint::JointType;
    m.add_class<Joint>("Joint")
        .enum_<T>("JointType", {{"RotAxis", Joint::RotAxis},
                                {"RotX", Joint::RotX},
                                {"RotY", Joint::RotY},
                                {"RotZ", Joint::RotZ},
                                {"TransAxis", Joint::TransAxis},
                                {"TransX", Joint::TransX},
                                {"TransY", Joint::TransY},
                                {"TransZ", Joint::TransZ},
                                {"Fixed", Joint::Fixed}})
        .export_enum_values<T>()
        .def_init<>()
        .def_init<std::string, T, double, double, double, double, double>(
            arg("name"), arg("type") = Joint::Fixed, arg("scale") = 1.0, arg("offset") = 0.0,
            arg("inertia") = 0.0, arg("damping") = 0.0, arg("stiffness") = 0.0)
        .def_init<T, double, double, double, double, double>(
            arg("type") = Joint::Fixed, arg("scale") = 1.0, arg("offset") = 0.0, arg("inertia") = 0.0,
            arg("damping") = 0.0, arg("stiffness") = 0.0)
        .def_init<std::string, Vector, Vector, T, double, double, double, double, double>(
            arg("name"), arg("origin"), arg("axis"), arg("type"), arg("scale") = 1.0, arg("offset") = 0.0,
            arg("inertia") = 0.0, arg("damping") = 0.0, arg("stiffness") = 0.0)
        .def_init<Vector, Vector, T, double, double, double, double, double>(
            arg("origin"), arg("axis"), arg("type"), arg("scale") = 1.0, arg("offset") = 0.0,
            arg("inertia") = 0.0, arg("damping") = 0.0, arg("stiffness") = 0.0)
        .def_init<const Joint &>()
        .def("pose", &Joint::pose)
        .def("twist", &Joint::twist)
        .def("JointAxis", &Joint::JointAxis)
        .def("JointOrigin", &Joint::JointOrigin)
        .def("getName", &Joint::getName)
        .def("getType", &Joint::getType)
        .def("getTypeName", &Joint::getTypeName)
        .def("__repr__", &text_of<Joint>);
}

void inertias(pyo3cpp::ModuleDef &m)
{
    using RI = RotationalInertia;
    m.add_class<RI>("RotationalInertia")
        .def_init<double, double, double, double, double, double>(arg("Ixx") = 0.0, arg("Iyy") = 0.0,
                                                                  arg("Izz") = 0.0, arg("Ixy") = 0.0,
                                                                  arg("Ixz") = 0.0, arg("Iyz") = 0.0)
        .def_static("Zero", &RI::Zero)
        .def("__getitem__", [](const RI &r, int i) {
            check_index(i >= 0 && i <= 8, "RotationalInertia");
            return r.data[i];
        })
        .def("__setitem__", [](RI &r, int i, double value) {
            check_index(i >= 0 && i <= 8, "RotationalInertia");
            r.data[i] = value;
        })
        .def("__rmul__", [](const RI &r, double k) { return RI(k * r); })
        .def("__add__", [](const RI &a, const RI &b) { return RI(a + b); })
        .def("__mul__", [](const RI &r, const Vector &v) { return r * v; });

    using RBI = RigidBodyInertia;
    m.add_class<RBI>("RigidBodyInertia")
        .def_init<double, Vector, RI>(arg("m") = 0.0, arg("oc") = Vector::Zero(),
                                                     arg("Ic") = RI::Zero())
        .def_static("Zero", &RBI::Zero)
        .def("RefPoint", &RBI::RefPoint)
        .def("getMass", &RBI::getMass)
        .def("getCOG", &RBI::getCOG)
        .def("getRotationalInertia", &RBI::getRotationalInertia)
        .def("__rmul__", [](const RBI &i, double k) { return RBI(k * i); })
        .def("__add__", [](const RBI &a, const RBI &b) { return RBI(a + b); })
        .def("__mul__", [](const RBI &i, const Twist &t) { return i * t; })
        .def("__rmul__", [](const RBI &i, const Frame &f) { return RBI(f * i); })
        .def("__rmul__", [](const RBI &i, const Rotation &r) { return RBI(r * i); });
}

void segment_chain_tree(pyo3cpp::ModuleDef &m)
{
    m.add_class<Segment>("Segment")
        .def_init<const std::string &, Joint, Frame, RigidBodyInertia>(
            arg("name"), arg("joint") = Joint(), arg("f_tip") = Frame::Identity(),
            arg("I") = RigidBodyInertia::Zero())
        .def_init<Joint, Frame, RigidBodyInertia>(
            arg("joint") = Joint(), arg("f_tip") = Frame::Identity(), arg("I") = RigidBodyInertia::Zero())
        .def_init<const Segment &>()
        .def("getFrameToTip", &Segment::getFrameToTip)
        .def("pose", &Segment::pose)
        .def("twist", &Segment::twist)
        .def("getName", &Segment::getName)
        .def("getJoint", &Segment::getJoint)
        .def("getInertia", &Segment::getInertia)
        .def("setInertia", &Segment::setInertia);

    m.add_class<Chain>("Chain")
        .def_init<>()
        .def_init<const Chain &>()
        .def("addSegment", &Chain::addSegment)
        .def("addChain", &Chain::addChain)
        .def("getNrOfJoints", &Chain::getNrOfJoints)
        .def("getNrOfSegments", &Chain::getNrOfSegments)
        .def("getSegment", [](const Chain &c, unsigned int nr) {
            // KDL checks nothing here; upstream reads past the vector.
            if (nr >= c.getNrOfSegments()) throw std::out_of_range("Chain segment index out of range");
            return c.getSegment(nr);
        })
        .def("__repr__", &text_of<Chain>);

    m.add_class<Tree>("Tree")
        .def_init<const std::string &>(arg("root_name") = std::string("root"))
        .def("addSegment", &Tree::addSegment, arg("segment"), arg("hook_name"))
        .def("addChain", &Tree::addChain, arg("chain"), arg("hook_name"))
        .def("addTree", &Tree::addTree, arg("tree"), arg("hook_name"))
        .def("getNrOfJoints", &Tree::getNrOfJoints)
        .def("getNrOfSegments", &Tree::getNrOfSegments)
        .def("getChain", [](const Tree &t, const std::string &root, const std::string &tip) {
            Chain chain;
            t.getChain(root, tip, chain);
            return chain;
        }, arg("chain_root"), arg("chain_tip"))
        .def("__repr__", &text_of<Tree>);
}

void jacobian(pyo3cpp::ModuleDef &m)
{
    auto in_range = [](const Jacobian &jac, int i, int j) {
        check_index(i >= 0 && i <= 5 && j >= 0 && static_cast<unsigned int>(j) < jac.columns(), "Jacobian");
    };
    m.add_class<Jacobian>("Jacobian")
        .def_init<>()
        .def_init<unsigned int>()
        .def_init<const Jacobian &>()
        .def("rows", &Jacobian::rows)
        .def("columns", &Jacobian::columns)
        .def("resize", &Jacobian::resize)
        .def("getColumn", &Jacobian::getColumn)
        .def("setColumn", &Jacobian::setColumn)
        .def("changeRefPoint", &Jacobian::changeRefPoint, arg("base"))
        .def("changeBase", &Jacobian::changeBase, arg("rot"))
        .def("changeRefFrame", &Jacobian::changeRefFrame, arg("frame"))
        .def("__getitem__", [in_range](const Jacobian &jac, int i, int j) {
            in_range(jac, i, j);
            return jac(i, j);
        })
        .def("__setitem__", [in_range](Jacobian &jac, int i, int j, double value) {
            in_range(jac, i, j);
            jac(i, j) = value;
        })
        .def("__repr__", &text_of<Jacobian>);
    m.def("SetToZero", [](Jacobian &j) { SetToZero(j); });
    m.def("changeRefPoint", [](const Jacobian &in, const Vector &base, Jacobian &out) {
        return changeRefPoint(in, base, out);
    });
    m.def("changeBase", [](const Jacobian &in, const Rotation &rot, Jacobian &out) { return changeBase(in, rot, out); });
    // Upstream's name for changeRefFrame(), kept.
    m.def("SetToZero", [](const Jacobian &in, const Frame &frame, Jacobian &out) {
        return changeRefFrame(in, frame, out);
    });
}

void joint_arrays(pyo3cpp::ModuleDef &m)
{
    m.add_class<JntArray>("JntArray")
        .def_init<>()
        .def_init<unsigned int>()
        .def_init<const JntArray &>()
        .def("rows", &JntArray::rows)
        .def("columns", &JntArray::columns)
        .def("resize", &JntArray::resize)
        .def("__getitem__", [](const JntArray &a, int i) {
            check_index(i >= 0 && static_cast<unsigned int>(i) < a.rows(), "JntArray");
            return a(i);
        })
        .def("__setitem__", [](JntArray &a, int i, double value) {
            check_index(i >= 0 && static_cast<unsigned int>(i) < a.rows(), "JntArray");
            a(i) = value;
        })
        .def("__repr__", &text_of<JntArray>)
        .def("__eq__", [](const JntArray &a, const JntArray &b) { return a == b; });
    using JA = const JntArray &;
    m.def("Add", [](JA a, JA b, JntArray &out) { Add(a, b, out); });
    m.def("Subtract", [](JA a, JA b, JntArray &out) { Subtract(a, b, out); });
    m.def("Multiply", [](JA a, double k, JntArray &out) { Multiply(a, k, out); });
    m.def("Divide", [](JA a, double k, JntArray &out) { Divide(a, k, out); });
    m.def("MultiplyJacobian", [](const Jacobian &jac, JA q, Twist &out) { MultiplyJacobian(jac, q, out); });
    m.def("SetToZero", [](JntArray &a) { SetToZero(a); });
    m.def("Equal", [](JA a, JA b, double eps) { return Equal(a, b, eps); }, arg("src1"), arg("src2"),
          arg("eps") = epsilon);

    m.add_class<JntArrayVel>("JntArrayVel")
        .def_readwrite("q", &JntArrayVel::q)
        .def_readwrite("qdot", &JntArrayVel::qdot)
        .def_init<unsigned int>()
        .def_init<JA, JA>(arg("q"), arg("qdot"))
        .def_init<JA>()
        .def("resize", &JntArrayVel::resize)
        .def("value", &JntArrayVel::value)
        .def("deriv", &JntArrayVel::deriv);
    using JV = const JntArrayVel &;
    m.def("Add", [](JV a, JV b, JntArrayVel &out) { Add(a, b, out); });
    m.def("Add", [](JV a, JA b, JntArrayVel &out) { Add(a, b, out); });
    m.def("Subtract", [](JV a, JV b, JntArrayVel &out) { Subtract(a, b, out); });
    m.def("Subtract", [](JV a, JA b, JntArrayVel &out) { Subtract(a, b, out); });
    m.def("Multiply", [](JV a, double k, JntArrayVel &out) { Multiply(a, k, out); });
    m.def("Multiply", [](JV a, const doubleVel &k, JntArrayVel &out) { Multiply(a, k, out); });
    m.def("Divide", [](JV a, double k, JntArrayVel &out) { Divide(a, k, out); });
    m.def("Divide", [](JV a, const doubleVel &k, JntArrayVel &out) { Divide(a, k, out); });
    m.def("SetToZero", [](JntArrayVel &a) { SetToZero(a); });
    m.def("Equal", [](JV a, JV b, double eps) { return Equal(a, b, eps); }, arg("src1"), arg("src2"),
          arg("eps") = epsilon);
}

// A sequence of floats as the Eigen vector or matrix KDL takes.
template <int Rows> Eigen::Matrix<double, Rows, 1> column(const std::vector<double> &xs, const char *what)
{
    if (Rows != Eigen::Dynamic && xs.size() != static_cast<std::size_t>(Rows))
        throw std::invalid_argument(std::string(what) + ": expected " + std::to_string(Rows) + " values, got " +
                                    std::to_string(xs.size()));
    Eigen::Matrix<double, Rows, 1> v(static_cast<Eigen::Index>(xs.size()));
    for (std::size_t i = 0; i < xs.size(); ++i) v(static_cast<Eigen::Index>(i)) = xs[i];
    return v;
}
Eigen::MatrixXd matrix(const std::vector<std::vector<double>> &rows)
{
    const std::size_t n = rows.size(), k = n ? rows[0].size() : 0;
    Eigen::MatrixXd out(n, k);
    for (std::size_t i = 0; i < n; ++i) {
        if (rows[i].size() != k) throw std::invalid_argument("matrix rows must have the same length");
        for (std::size_t j = 0; j < k; ++j) out(i, j) = rows[i][j];
    }
    return out;
}

void solvers(pyo3cpp::ModuleDef &m)
{
    m.add_class<SolverI>("SolverI")
        .subclassable()
        .def("getError", &SolverI::getError)
        .def("strError", [](const SolverI &s, int error) { return std::string(s.strError(error)); })
        .def("updateInternalDataStructures", &SolverI::updateInternalDataStructures);

    m.add_class<ChainFkSolverPos>("ChainFkSolverPos")
        .extends<SolverI>()
        .subclassable()
        .def("JntToCart", [](ChainFkSolverPos &s, const JntArray &q, Frame &out, int nr) { return s.JntToCart(q, out, nr); },
             arg("q_in"), arg("p_out"), arg("segmentNr") = -1)
        // Upstream converts the list to a vector that the call fills and then drops: the same.
        .def("JntToCart", [](ChainFkSolverPos &s, const JntArray &q, std::vector<Frame> out, int nr) {
            return s.JntToCart(q, out, nr);
        }, arg("q_in"), arg("p_out"), arg("segmentNr") = -1);

    m.add_class<ChainFkSolverVel>("ChainFkSolverVel")
        .extends<SolverI>()
        .subclassable()
        .def("JntToCart", [](ChainFkSolverVel &s, const JntArrayVel &q, FrameVel &out, int nr) {
            return s.JntToCart(q, out, nr);
        }, arg("q_in"), arg("p_out"), arg("segmentNr") = -1);

    m.add_class<ChainFkSolverPos_recursive>("ChainFkSolverPos_recursive")
        .extends<ChainFkSolverPos>()
        .def_init<const Chain &>(arg("chain").keep_alive());
    m.add_class<ChainFkSolverVel_recursive>("ChainFkSolverVel_recursive")
        .extends<ChainFkSolverVel>()
        .def_init<const Chain &>(arg("chain").keep_alive());

    m.add_class<ChainIkSolverPos>("ChainIkSolverPos")
        .extends<SolverI>()
        .subclassable()
        .def("CartToJnt", [](ChainIkSolverPos &s, const JntArray &q, const Frame &p, JntArray &out) {
            return s.CartToJnt(q, p, out);
        }, arg("q_init"), arg("p_in"), arg("q_out"));
    m.add_class<ChainIkSolverVel>("ChainIkSolverVel")
        .extends<SolverI>()
        .subclassable()
        .def("CartToJnt", [](ChainIkSolverVel &s, const JntArray &q, const Twist &v, JntArray &out) {
            return s.CartToJnt(q, v, out);
        }, arg("q_in"), arg("v_in"), arg("qdot_out"));

    m.add_class<ChainIkSolverPos_NR>("ChainIkSolverPos_NR")
        .extends<ChainIkSolverPos>()
        .def_init<const Chain &, ChainFkSolverPos &, ChainIkSolverVel &, unsigned int, double>(
            arg("chain").keep_alive(), arg("fksolver").keep_alive(), arg("iksolver").keep_alive(),
            arg("maxiter") = 100u, arg("eps") = epsilon);
    m.add_class<ChainIkSolverPos_NR_JL>("ChainIkSolverPos_NR_JL")
        .extends<ChainIkSolverPos>()
        .def_init<const Chain &, const JntArray &, const JntArray &, ChainFkSolverPos &, ChainIkSolverVel &,
                  unsigned int, double>(arg("chain").keep_alive(), arg("q_min"), arg("q_max"),
                                        arg("fksolver").keep_alive(), arg("iksolver").keep_alive(),
                                        arg("maxiter") = 100u, arg("eps") = epsilon);

    m.add_class<ChainIkSolverVel_pinv>("ChainIkSolverVel_pinv")
        .extends<ChainIkSolverVel>()
        .def_init<const Chain &, double, int>(arg("chain").keep_alive(), arg("eps") = 0.00001, arg("maxiter") = 150);

    using WDLS = ChainIkSolverVel_wdls;
    m.add_class<WDLS>("ChainIkSolverVel_wdls")
        .extends<ChainIkSolverVel>()
        .def_init<const Chain &, double, int>(arg("chain").keep_alive(), arg("eps") = 0.00001, arg("maxiter") = 150)
        .def("setWeightTS", [](WDLS &s, const std::vector<std::vector<double>> &mx) { return s.setWeightTS(matrix(mx)); })
        .def("setWeightJS", [](WDLS &s, const std::vector<std::vector<double>> &mq) { return s.setWeightJS(matrix(mq)); })
        .def("setLambda", &WDLS::setLambda)
        .def("setEps", &WDLS::setEps)
        .def("setMaxIter", &WDLS::setMaxIter)
        .def("getNrZeroSigmas", &WDLS::getNrZeroSigmas)
        .def("getSigmaMin", &WDLS::getSigmaMin)
        // Upstream converts the argument to a vector that the call fills and then drops: the same.
        .def("getSigma", [](WDLS &s, const std::vector<double> &out) {
            Eigen::VectorXd sigma = column<Eigen::Dynamic>(out, "getSigma");
            return s.getSigma(sigma);
        })
        .def("getEps", &WDLS::getEps)
        .def("getLambda", &WDLS::getLambda)
        .def("getLambdaScaled", &WDLS::getLambdaScaled)
        .def("getSVDResult", &WDLS::getSVDResult);

    using LMA = ChainIkSolverPos_LMA;
    m.add_class<LMA>("ChainIkSolverPos_LMA")
        .extends<ChainIkSolverPos>()
        .def_init([](const Chain &chain, const std::vector<double> &L, double eps, int maxiter, double eps_joints) {
            return LMA(chain, column<6>(L, "ChainIkSolverPos_LMA() argument 'L'"), eps, maxiter, eps_joints);
        }, arg("chain").keep_alive(), arg("L"), arg("eps") = 1e-5, arg("maxiter") = 500, arg("eps_joints") = 1e-15)
        .def_init<const Chain &, double, int, double>(arg("chain").keep_alive(), arg("eps") = 1e-5,
                                                      arg("maxiter") = 500, arg("eps_joints") = 1e-15);

    using NSO = ChainIkSolverVel_pinv_nso;
    m.add_class<NSO>("ChainIkSolverVel_pinv_nso")
        .extends<ChainIkSolverVel>()
        .def_init<const Chain &, double, int, double>(arg("chain").keep_alive(), arg("eps") = 0.00001,
                                                      arg("maxiter") = 150, arg("alpha") = 0.25)
        .def("setWeights", &NSO::setWeights)
        .def("setOptPos", &NSO::setOptPos)
        .def("setAlpha", &NSO::setAlpha)
        .def("getWeights", &NSO::getWeights)
        .def("getOptPos", &NSO::getOptPos)
        .def("getAlpha", [](const NSO &s) { return s.getAlpha(); });

    m.add_class<ChainIkSolverVel_pinv_givens>("ChainIkSolverVel_pinv_givens")
        .extends<ChainIkSolverVel>()
        .def_init<const Chain &>(arg("chain").keep_alive());

    m.add_class<ChainJntToJacSolver>("ChainJntToJacSolver")
        .extends<SolverI>()
        .def_init<const Chain &>(arg("chain").keep_alive())
        .def("JntToJac", &ChainJntToJacSolver::JntToJac, arg("q_in"), arg("jac"), arg("seg_nr") = -1)
        .def("setLockedJoints", &ChainJntToJacSolver::setLockedJoints);

    using JD = ChainJntToJacDotSolver;
    m.add_class<JD>("ChainJntToJacDotSolver")
        .extends<SolverI>()
        .def_init<const Chain &>(arg("chain").keep_alive())
        .def("JntToJacDot", [](JD &s, const JntArrayVel &q, Jacobian &jdot, int nr) { return s.JntToJacDot(q, jdot, nr); },
             arg("q_in"), arg("jdot"), arg("seg_nr") = -1)
        .def("JntToJacDot", [](JD &s, const JntArrayVel &q, Twist &out, int nr) { return s.JntToJacDot(q, out, nr); },
             arg("q_in"), arg("jac_dot_q_dot"), arg("seg_nr") = -1)
        .def("setLockedJoints", &JD::setLockedJoints, arg("locked_joints"))
        .attr("E_JAC_DOT_FAILED", int(JD::E_JAC_DOT_FAILED))
        .attr("E_JACSOLVER_FAILED", int(JD::E_JACSOLVER_FAILED))
        .attr("E_FKSOLVERPOS_FAILED", int(JD::E_FKSOLVERPOS_FAILED))
        .attr("HYBRID", int(JD::HYBRID))
        .attr("BODYFIXED", int(JD::BODYFIXED))
        .attr("INERTIAL", int(JD::INERTIAL))
        .def("setHybridRepresentation", &JD::setHybridRepresentation)
        .def("setBodyFixedRepresentation", &JD::setBodyFixedRepresentation)
        .def("setInertialRepresentation", &JD::setInertialRepresentation)
        .def("setRepresentation", [](JD &s, int representation) { s.setRepresentation(representation); },
             arg("representation"));

    m.add_class<ChainIdSolver>("ChainIdSolver")
        .extends<SolverI>()
        .subclassable()
        .def("CartToJnt", [](ChainIdSolver &s, const JntArray &q, const JntArray &qdot, const JntArray &qdotdot,
                             const std::vector<Wrench> &f_ext, JntArray &torques) {
            return s.CartToJnt(q, qdot, qdotdot, f_ext, torques);
        });
    m.add_class<ChainIdSolver_RNE>("ChainIdSolver_RNE")
        .extends<ChainIdSolver>()
        .def_init<const Chain &, Vector>(arg("chain").keep_alive(), arg("grav"));
}

}  // namespace

void init_kinfam(pyo3cpp::ModuleDef &m)
{
    joint(m);
    inertias(m);
    segment_chain_tree(m);
    jacobian(m);
    joint_arrays(m);
    solvers(m);
}

}  // namespace pykdl
