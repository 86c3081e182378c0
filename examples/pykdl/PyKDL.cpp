// PyKDL — Orocos KDL's Python module (upstream: python_orocos_kdl/PyKDL, written with pybind11),
// ported to pyo3cpp: the same classes, functions, enums and signatures, defined part by part in
// frames.cpp, framevel.cpp, kinfam.cpp and dynamics.cpp (separate files, so a build compiles
// them in parallel). Upstream's own tests run against it: tests/python/test_pykdl.py.
#include "pykdl.hpp"

#include <kdl/config.h>

PYO3CPP_MODULE(PyKDL, m)
{
    m.doc("Orocos KDL Python wrapper");
    m.add("__version__", std::string(KDL_VERSION_STRING));
    pykdl::init_frames(m);
    pykdl::init_framevel(m);
    pykdl::init_kinfam(m);
    pykdl::init_dynamics(m);
}
