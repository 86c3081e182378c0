"""The PyKDL port (examples/pykdl) where it must do better than upstream's pybind11 build:
8 threads sharing chains, solvers and frames with the GIL off (3.13t under scripts/test), and
solvers that keep their chain alive. Upstream keeps no reference to the Chain a solver stores
as `const Chain &`; here the solver does (arg("chain").keep_alive())."""
import gc
import os
import sys
import unittest
import weakref
from pathlib import Path

from thread_race import run_threads

PORT_DIR = os.environ.get("PYO3CPP_PYKDL_DIR", "")
THREADS = 8


def import_port():
    if not PORT_DIR or not list(Path(PORT_DIR).glob("PyKDL*.so")):
        raise unittest.SkipTest("examples/pykdl is not built (liborocos-kdl-dev absent, or -Dexamples=false)")
    sys.path.insert(0, PORT_DIR)
    try:
        import PyKDL
    finally:
        sys.path.remove(PORT_DIR)
    if not os.path.realpath(PyKDL.__file__).startswith(os.path.realpath(PORT_DIR)):
        raise AssertionError(f"imported {PyKDL.__file__}, not the port")
    return PyKDL


def six_joint_chain(kdl):
    chain = kdl.Chain()
    J, F, V = kdl.Joint, kdl.Frame, kdl.Vector
    for joint, tip in ((J.RotZ, V(0, 0, 0.3)), (J.RotY, V(0.1, 0, 0.5)), (J.RotY, V(0, 0, 0.4)),
                       (J.RotX, V(0.2, 0, 0)), (J.RotY, V(0, 0.1, 0)), (J.RotZ, V(0, 0, 0.05))):
        chain.addSegment(kdl.Segment(J(joint), F(tip)))
    return chain


def joint_values(kdl, seed):
    q = kdl.JntArray(6)
    for i in range(6):
        q[i] = ((seed * 7 + i * 13) % 50) / 10.0 - 2.5
    return q


class SharedAcrossThreads(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            cls.kdl, cls.unavailable = import_port(), None
        except unittest.SkipTest as why:  # each test skips itself: TAP counts every test
            cls.kdl, cls.unavailable = None, str(why)

    def setUp(self):
        if self.unavailable:
            self.skipTest(self.unavailable)

    def test_forward_kinematics_on_shared_chains_and_solvers(self):
        kdl = self.kdl
        chains = [six_joint_chain(kdl), six_joint_chain(kdl)]
        shared_solvers = [kdl.ChainFkSolverPos_recursive(c) for c in chains]
        rounds = 300
        expected = []
        for r in range(rounds):
            f = kdl.Frame()
            self.assertEqual(shared_solvers[0].JntToCart(joint_values(kdl, r), f), 0)
            expected.append(f)
        mismatches = []

        def work(index):
            own = kdl.ChainFkSolverPos_recursive(chains[index % 2])  # a solver of its own, shared chain
            for r in range(rounds):
                q = joint_values(kdl, r)
                for solver in (shared_solvers[(index + r) % 2], own):
                    f = kdl.Frame()
                    if solver.JntToCart(q, f) != 0 or f != expected[r] or \
                            [f[i, j] for i in range(3) for j in range(4)] != \
                            [expected[r][i, j] for i in range(3) for j in range(4)]:
                        mismatches.append((index, r))

        run_threads(THREADS, work)
        self.assertEqual(mismatches, [])

    def test_in_place_operators_on_shared_frames_and_member_references(self):
        kdl = self.kdl
        frame = kdl.Frame()
        twist = kdl.Twist()
        total = kdl.Vector()
        rounds = 2000
        step = kdl.Vector(1, 2, 3)

        def work(index):
            held = frame.p  # a reference into frame, held across the loop
            for _ in range(rounds):
                held += step                 # through a held reference: frame's own p
                p = frame.p
                p += step                    # through a fresh reference
                frame.p += step              # ends with frame.p = <its own reference>
                total.__iadd__(step)         # a shared plain instance
                twist.rot += step            # a member reference of another class
                frame.M[0, 1]                # a read through a reference (shared lock)

        run_threads(THREADS, work)
        n = THREADS * rounds
        self.assertEqual([frame.p.x(), frame.p.y(), frame.p.z()], [3 * n, 6 * n, 9 * n])
        self.assertEqual([total[0], total[1], total[2]], [n, 2 * n, 3 * n])
        self.assertEqual([twist.rot[0], twist.rot[1], twist.rot[2]], [n, 2 * n, 3 * n])


class KeepAlive(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        try:
            cls.kdl, cls.unavailable = import_port(), None
        except unittest.SkipTest as why:  # each test skips itself: TAP counts every test
            cls.kdl, cls.unavailable = None, str(why)

    def setUp(self):
        if self.unavailable:
            self.skipTest(self.unavailable)

    def test_a_solver_keeps_its_chain(self):
        kdl = self.kdl
        chain = six_joint_chain(kdl)
        probe = weakref.ref(chain) if hasattr(chain, "__weakref__") else None
        expected = kdl.Frame()
        kdl.ChainFkSolverPos_recursive(chain).JntToCart(joint_values(kdl, 3), expected)
        solver = kdl.ChainFkSolverPos_recursive(chain)
        refs = sys.getrefcount(chain)
        del chain
        gc.collect()
        if probe is not None:
            self.assertIsNotNone(probe())
        # Upstream reads a freed Chain here (its solver stores `const Chain &` and nothing else).
        for _ in range(50):
            six_joint_chain(kdl)  # reuse the memory a freed chain would have left
            f = kdl.Frame()
            self.assertEqual(solver.JntToCart(joint_values(kdl, 3), f), 0)
            self.assertEqual(f, expected)
        self.assertGreater(refs, 2)

    def test_position_ik_keeps_its_solvers(self):
        kdl = self.kdl
        chain = six_joint_chain(kdl)
        ik = kdl.ChainIkSolverPos_NR(chain, kdl.ChainFkSolverPos_recursive(chain), kdl.ChainIkSolverVel_pinv(chain))
        del chain
        gc.collect()
        target = kdl.Frame()
        q = joint_values(kdl, 5)
        fk = kdl.ChainFkSolverPos_recursive(six_joint_chain(kdl))
        self.assertEqual(fk.JntToCart(q, target), 0)
        out = kdl.JntArray(6)
        init = kdl.JntArray(q)
        init[0] += 0.05
        self.assertGreaterEqual(ik.CartToJnt(init, target, out), 0)
        reached = kdl.Frame()
        fk.JntToCart(out, reached)
        self.assertTrue(kdl.Equal(reached, target, 1e-5))


if __name__ == "__main__":
    unittest.main()
