"""References into an owner (class_member_ref.hpp: def_readwrite/def_readonly of a member of a
bound class type, reference_internal methods) and keep-alive (keep_alive.hpp:
arg("x").keep_alive()). The race runs for real on a free-threaded build with the GIL off."""
import copy
import gc
import pickle
import sys
import unittest
import weakref

import pyo3cpp_test_member_refs as m
from thread_race import run_threads

Vector, Frame, Body = m.Vector, m.Frame, m.Body
FREE_THREADED = not getattr(sys, "_is_gil_enabled", lambda: True)()


def xyz(v):
    return (v.x, v.y, v.z)


class MemberReferences(unittest.TestCase):
    def test_writes_through_the_reference_change_the_owner(self):
        f = Frame(Vector(1, 2, 3))
        f.p.x = 5
        self.assertEqual(f.p.x, 5)
        f.p.set_x(6)
        self.assertEqual(xyz(f.p), (6, 2, 3))
        self.assertEqual(f.px(), 6)  # the owner's own method sees it
        self.assertIsInstance(f.p, Vector)

    def test_the_owner_lives_as_long_as_the_reference(self):
        f = Frame(Vector(1, 2, 3))
        p = f.p
        owner = weakref.ref(f)
        del f
        gc.collect()
        self.assertEqual(xyz(p), (1, 2, 3))  # ASan: a use after free if the owner were gone
        p.add(1)
        self.assertEqual(xyz(p), (2, 4, 6))
        del p
        self.assertIsNone(owner())

    def test_a_held_reference_survives_the_owner_methods_and_assignment(self):
        f = Frame(Vector(0, 0, 0))
        p = f.p
        f.shift(2)
        self.assertEqual(xyz(p), (2, 4, 6))
        f.p = Vector(7, 8, 9)  # copy-assigned into the owner: p sees it
        self.assertEqual(xyz(p), (7, 8, 9))
        f.set_p(Vector(1, 1, 1))
        self.assertEqual(xyz(p), (1, 1, 1))
        f.p = f.p  # self-assignment through a reference into the same owner
        f.set_p(f.p)  # aliasing in one call: f exclusive, f.p shared -> one exclusive hold
        self.assertEqual(xyz(f.p), (1, 1, 1))

    def test_assignment_copies_the_value(self):
        f, g = Frame(), Frame(Vector(1, 2, 3))
        f.p = g.p
        g.p.x = 100
        self.assertEqual(f.p.x, 1)

    def test_nested_owners(self):
        b = Body()
        b.frame.p.x = 3
        self.assertEqual(b.frame.p.x, 3)
        p = b.frame.p
        del b
        gc.collect()
        p.y = 4
        self.assertEqual(xyz(p), (3, 4, 0))

    def test_reference_while_owner_held_by_this_thread_raises(self):
        f = Frame()
        p = f.p
        with self.assertRaisesRegex(RuntimeError, r"Vector\.set_x\(\): the instance is already in use by this thread"):
            f.while_held(lambda: p.set_x(1))
        with self.assertRaisesRegex(RuntimeError, "already in use by this thread"):
            f.while_held(lambda: p.x)
        self.assertEqual(f.p.x, 0)

    def test_read_only_references(self):
        f = Frame()
        o = f.origin
        self.assertEqual(xyz(o), (1, 2, 3))
        self.assertEqual(o.norm1(), 6)  # const methods work
        with self.assertRaisesRegex(TypeError, r"Vector\.set_x\(\): the instance is a read-only reference into its owner"):
            o.set_x(5)
        with self.assertRaisesRegex(TypeError, "read-only reference"):
            o.x = 5
        with self.assertRaises(AttributeError):
            f.origin = Vector()
        self.assertEqual(xyz(f.origin), (1, 2, 3))
        fixed = m.Fixed()  # a frozen owner: read-only too
        with self.assertRaisesRegex(TypeError, "read-only reference"):
            fixed.v.add(1)
        self.assertEqual(xyz(fixed.v), (4, 5, 6))

    def test_unsynchronized_owner(self):
        pr = m.Pair()
        v = pr.v
        v.add(1)
        pr.v.x = 5
        self.assertEqual(xyz(pr.v), (5, 2, 3))
        self.assertEqual(xyz(v), (5, 2, 3))

    def test_cycle_through_a_reference_is_collected(self):
        g = m.Grid()
        g.extra = g.cell  # g -> (extra) reference -> (owner) g
        alive = weakref.ref(g)
        del g
        gc.collect()
        self.assertIsNone(alive())

    def test_frozen_member_types_are_copied(self):
        t = m.Tagged()
        self.assertIsNot(t.tag, t.tag)
        self.assertEqual(t.tag.id, 7)
        t.v.x = 2
        self.assertEqual(t.v.x, 2)

    def test_copy_and_pickle_give_standalone_values(self):
        f = Frame(Vector(1, 2, 3))
        for make in (copy.copy, copy.deepcopy, lambda v: pickle.loads(pickle.dumps(v))):
            c = make(f.p)
            c.x = 50
            self.assertEqual(f.p.x, 1)
            self.assertEqual(xyz(c), (50, 2, 3))
        c = copy.copy(f.origin)  # a copy of a read-only reference is writable
        c.set_x(9)
        self.assertEqual(c.x, 9)

    def test_init_on_a_reference_is_refused(self):
        f = Frame()
        with self.assertRaisesRegex(TypeError, "already initialised"):
            f.p.__init__(1, 2, 3)
        with self.assertRaisesRegex(TypeError, "already initialised"):
            f.p.__setstate__((1.0, 2.0, 3.0))

    def test_reference_internal_methods(self):
        f = Frame()
        r = f.p_ref()
        r.x = 11
        self.assertEqual(f.p.x, 11)
        o = f.origin_ref()
        with self.assertRaisesRegex(TypeError, "read-only reference"):
            o.set_x(1)
        with self.assertRaisesRegex(TypeError, "does not point into its own instance"):
            f.outside_ref()

    def test_uninitialised_owner(self):
        class Sub(Frame):
            def __init__(self):
                pass
        s = Sub()
        with self.assertRaisesRegex(TypeError, "not initialised"):
            s.p
        with self.assertRaisesRegex(TypeError, "not initialised"):
            s.p_ref()


class MemberReferenceRace(unittest.TestCase):
    THREADS = 8
    ROUNDS = 6
    OPS = 1500 if FREE_THREADED else 300

    def test_mutating_through_references_while_the_owner_reads(self):
        # Half the threads mutate f.p through references (p.add, an attribute write through a
        # reference) and through the owner's own method; the other half read p through the owner's
        # const methods and through references. Every access takes f's lock: no reader ever sees
        # a half-done add, and the final values are exact.
        for _ in range(self.ROUNDS):
            f = Frame()
            bad = []

            def work(i):
                p = f.p  # a reference held across the whole loop
                for n in range(self.OPS):
                    if i % 2 == 0:
                        if n % 3 == 0:
                            f.shift(1)
                        elif n % 3 == 1:
                            p.add(1)
                        else:
                            f.p.add(1)
                    else:
                        if not f.consistent() or not p.consistent() or not f.p.consistent():
                            bad.append(n)
                        f.moves  # a plain read of the owner, shared
            run_threads(self.THREADS, work, timeout=120)
            writers = self.THREADS // 2
            expected = writers * self.OPS
            self.assertEqual(bad, [])
            self.assertEqual(xyz(f.p), (expected, 2 * expected, 3 * expected))
            shifts = writers * len(range(0, self.OPS, 3))
            self.assertEqual(f.moves, shifts)

    def test_assigning_a_member_its_own_reference_loses_no_update(self):
        # `f.p += v` ends with `f.p = <the reference f.p>`: that assignment must not write back a
        # copy read before another thread's update (it lost updates: 15990 of 16000 in PyKDL).
        for _ in range(self.ROUNDS):
            f = Frame()

            def work(i):
                for _ in range(self.OPS):
                    if i % 2 == 0:
                        f.p.add(1)
                    else:
                        f.p = f.p
            run_threads(self.THREADS, work, timeout=120)
            expected = self.THREADS // 2 * self.OPS
            self.assertEqual(xyz(f.p), (expected, 2 * expected, 3 * expected))


class KeepAlive(unittest.TestCase):
    def setUp(self):
        gc.collect()
        self.before = m.live_chains()

    def test_constructor_keeps_its_argument(self):
        c = m.Chain([1.0, 2.0, 3.0])
        s = m.Solver(c)
        del c
        gc.collect()
        self.assertEqual(m.live_chains(), self.before + 1)
        self.assertEqual(s.total(), 6.0)  # ASan: a use after free without keep-alive
        del s
        self.assertEqual(m.live_chains(), self.before)

    def test_function_result_keeps_its_argument(self):
        s = m.make_solver(m.Chain([2.0, 2.0]))
        gc.collect()
        self.assertEqual(s.total(), 4.0)
        self.assertEqual(m.live_chains(), self.before + 1)
        del s
        self.assertEqual(m.live_chains(), self.before)

    def test_method_keeps_its_argument_for_self(self):
        s = m.Solver(m.Chain([1.0]))
        s.rebind(m.Chain([5.0, 5.0]))
        gc.collect()
        self.assertEqual(s.total(), 10.0)
        self.assertEqual(m.live_chains(), self.before + 2)  # both kept for s (no unkeeping)
        del s
        self.assertEqual(m.live_chains(), self.before)

    def test_failed_call_keeps_nothing(self):
        c = m.Chain([1.0])
        with self.assertRaises(TypeError):
            m.Solver(c, 1)
        with self.assertRaises(TypeError):
            m.Solver("not a chain")
        del c
        gc.collect()
        self.assertEqual(m.live_chains(), self.before)

    def test_cycle_through_a_kept_object_is_collected(self):
        class Patient:
            pass
        p = Patient()
        h = m.Holder(p)
        p.h = h  # patient -> nurse -> (kept) patient
        alive = weakref.ref(p)
        del p, h
        gc.collect()
        self.assertIsNone(alive())

    def test_weak_reference_nurse(self):
        class Result:
            pass
        c = m.Chain([1.0])
        r = m.kept_by_result_of(Result, c)
        del c
        gc.collect()
        self.assertEqual(m.live_chains(), self.before + 1)
        del r
        gc.collect()
        self.assertEqual(m.live_chains(), self.before)

    def test_nurse_without_weak_references_raises(self):
        c = m.Chain([1.0])
        with self.assertRaisesRegex(TypeError, "cannot keep an argument alive for a 'list' object"):
            m.kept_by_result_of(list, c)
        del c
        gc.collect()
        self.assertEqual(m.live_chains(), self.before)


if __name__ == "__main__":
    unittest.main()
