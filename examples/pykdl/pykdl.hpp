// pykdl.hpp — what the files of the PyKDL port share: the KDL types it binds (each declared a
// class once, here, so every file converts them the same way) and the functions that define
// each part of the module (frames.cpp, framevel.cpp, kinfam.cpp, dynamics.cpp; PyKDL.cpp calls
// them in that order, as upstream's module does). The port follows upstream's pybind11
// bindings (python_orocos_kdl/PyKDL/*.cpp in the orocos-kdl sources) name for name.
//
// Every class keeps the default `locked` policy: a KDL value (a Frame, a JntArray, a solver
// with its scratch space) is never changed by two threads at once, and a solver's output
// argument (`Frame &p_out`) is taken exclusively for the call.
#pragma once

#include <pyo3cpp/pyo3cpp.hpp>

#include <kdl/frames.hpp>
#include <kdl/framevel.hpp>

#include <sstream>
#include <string>

// Only declared here: the files that bind or use them include their headers (Eigen's among
// them), so frames.cpp and framevel.cpp compile without.
namespace KDL {
class Joint; class RotationalInertia; class RigidBodyInertia; class Segment; class Chain; class Tree;
class Jacobian; class JntArray; class JntArrayVel; class SolverI; class ChainFkSolverPos;
class ChainFkSolverVel; class ChainFkSolverPos_recursive; class ChainFkSolverVel_recursive;
class ChainIkSolverPos; class ChainIkSolverVel; class ChainIkSolverPos_NR; class ChainIkSolverPos_NR_JL;
class ChainIkSolverVel_pinv; class ChainIkSolverVel_wdls; class ChainIkSolverPos_LMA;
class ChainIkSolverVel_pinv_nso; class ChainIkSolverVel_pinv_givens; class ChainJntToJacSolver;
class ChainJntToJacDotSolver; class ChainIdSolver; class ChainIdSolver_RNE;
class JntSpaceInertiaMatrix; class ChainDynParam;
}  // namespace KDL

// frames.cpp
PYO3CPP_CLASS(KDL::Vector);
PYO3CPP_CLASS(KDL::Wrench);
PYO3CPP_CLASS(KDL::Twist);
PYO3CPP_CLASS(KDL::Rotation);
PYO3CPP_CLASS(KDL::Frame);
// framevel.cpp
PYO3CPP_CLASS(KDL::doubleVel);
PYO3CPP_CLASS(KDL::VectorVel);
PYO3CPP_CLASS(KDL::TwistVel);
PYO3CPP_CLASS(KDL::RotationVel);
PYO3CPP_CLASS(KDL::FrameVel);
// kinfam.cpp
PYO3CPP_CLASS(KDL::Joint);
PYO3CPP_CLASS(KDL::RotationalInertia);
PYO3CPP_CLASS(KDL::RigidBodyInertia);
PYO3CPP_CLASS(KDL::Segment);
PYO3CPP_CLASS(KDL::Chain);
PYO3CPP_CLASS(KDL::Tree);
PYO3CPP_CLASS(KDL::Jacobian);
PYO3CPP_CLASS(KDL::JntArray);
PYO3CPP_CLASS(KDL::JntArrayVel);
PYO3CPP_CLASS(KDL::SolverI);
PYO3CPP_CLASS(KDL::ChainFkSolverPos);
PYO3CPP_CLASS(KDL::ChainFkSolverVel);
PYO3CPP_CLASS(KDL::ChainFkSolverPos_recursive);
PYO3CPP_CLASS(KDL::ChainFkSolverVel_recursive);
PYO3CPP_CLASS(KDL::ChainIkSolverPos);
PYO3CPP_CLASS(KDL::ChainIkSolverVel);
PYO3CPP_CLASS(KDL::ChainIkSolverPos_NR);
PYO3CPP_CLASS(KDL::ChainIkSolverPos_NR_JL);
PYO3CPP_CLASS(KDL::ChainIkSolverVel_pinv);
PYO3CPP_CLASS(KDL::ChainIkSolverVel_wdls);
PYO3CPP_CLASS(KDL::ChainIkSolverPos_LMA);
PYO3CPP_CLASS(KDL::ChainIkSolverVel_pinv_nso);
PYO3CPP_CLASS(KDL::ChainIkSolverVel_pinv_givens);
PYO3CPP_CLASS(KDL::ChainJntToJacSolver);
PYO3CPP_CLASS(KDL::ChainJntToJacDotSolver);
PYO3CPP_CLASS(KDL::ChainIdSolver);
PYO3CPP_CLASS(KDL::ChainIdSolver_RNE);
// dynamics.cpp
PYO3CPP_CLASS(KDL::JntSpaceInertiaMatrix);
PYO3CPP_CLASS(KDL::ChainDynParam);

namespace pykdl {

// KDL's own text for a value (its operator<<), what upstream's __repr__ returns.
template <class T> std::string text_of(const T &value)
{
    std::ostringstream out;
    out << value;
    return out.str();
}

// An index outside [0, size) is Python's IndexError, worded as upstream's.
inline void check_index(bool ok, const char *what)
{
    if (!ok) throw std::out_of_range(std::string(what) + " index out of range");
}

void init_frames(pyo3cpp::ModuleDef &m);
void init_framevel(pyo3cpp::ModuleDef &m);
void init_kinfam(pyo3cpp::ModuleDef &m);
void init_dynamics(pyo3cpp::ModuleDef &m);

}  // namespace pykdl
