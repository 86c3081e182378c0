"""Classes held by std::shared_ptr (class_holder.hpp, docs/ownership.md): one Python object per
C++ object, sharing with C++, std::unique_ptr taking ownership, the last owner in C++ on a thread
that is not attached or after finalisation, and the instance lock beside C++ owners. The races
run for real on a free-threaded build with the GIL off."""
import gc
import os
import subprocess
import sys
import threading
import unittest
import weakref

import pyo3cpp_test_holders as m
from thread_race import run_threads

FREE_THREADED = not getattr(sys, "_is_gil_enabled", lambda: True)()
MOVED = ("{}: the instance holds no value: it was moved into C++ "
         "(a std::unique_ptr<{}> parameter took ownership of it)")


class Payload:
    """Something a weak reference can watch."""


def settle():
    gc.collect()
    m.clear_kept()
    m.drop_global()
    gc.collect()


class Identity(unittest.TestCase):
    def tearDown(self):
        settle()

    def test_same_pointer_same_object_while_alive(self):
        m.reset_global(9)
        a = m.shared_global()
        self.assertIs(m.shared_global(), a)
        self.assertEqual(a.get(), 9)
        address = m.address(a)
        del a
        gc.collect()
        b = m.shared_global()  # the first object is gone: a new one for the same T
        self.assertEqual(m.address(b), address)
        self.assertEqual(b.get(), 9)

    def test_python_made_object_comes_back_from_cpp(self):
        w = m.Widget(3)
        i = m.keep(w)
        self.assertIs(m.kept(i), w)
        w.add(4)
        self.assertEqual(m.kept(i).get(), 7)

    def test_object_dies_while_cpp_keeps_the_value(self):
        w = m.Widget(5)
        i = m.keep(w)
        ref = weakref.ref(w)
        del w
        gc.collect()
        self.assertIsNone(ref())
        again = m.kept(i)
        self.assertEqual(again.get(), 5)
        self.assertIs(m.kept(i), again)

    def test_unique_ptr_result_is_owned_and_registered(self):
        before = m.live()
        u = m.make_unique(4)
        self.assertEqual(m.live(), before + 1)
        i = m.keep(u)
        self.assertIs(m.kept(i), u)
        self.assertEqual(m.use_count(u), 3)  # the object, the kept copy, the argument
        del u
        m.clear_kept()
        gc.collect()
        self.assertEqual(m.live(), before)

    def test_nullptr_is_none(self):
        self.assertIsNone(m.nothing())
        self.assertIsNone(m.nothing_unique())

    def test_none_and_other_types_are_refused(self):
        with self.assertRaises(TypeError) as cm:
            m.keep(None)
        self.assertEqual(str(cm.exception), "keep() argument 'w' must be Widget, not NoneType")
        with self.assertRaises(TypeError) as cm:
            m.consume(m.Token(1))
        self.assertEqual(str(cm.exception), "consume() argument 'w' must be Widget, not Token")

    def test_value_results_and_python_subclasses(self):
        v = m.by_value(6)  # a Widget returned by value: moved to the heap, held too
        self.assertIs(m.kept(m.keep(v)), v)

        class Sub(m.Widget):
            pass

        s = Sub(2)
        self.assertIs(m.kept(m.keep(s)), s)
        self.assertEqual(m.consume(Sub(3)), 3)

    def test_no_leak_of_values(self):
        settle()
        before = m.live()
        for _ in range(100):
            w = m.Widget(1)
            m.keep(w)
            m.make_shared(2)
            m.make_unique(3)
            m.consume(m.Widget(4))
        del w
        settle()
        self.assertEqual(m.live(), before)


class UniqueOwnership(unittest.TestCase):
    def tearDown(self):
        settle()

    def test_move_out_leaves_the_object_empty(self):
        before = m.live()
        w = m.Widget(8)
        self.assertEqual(m.consume(w), 8)
        self.assertEqual(m.live(), before)  # consume deleted it
        for use in (w.get, lambda: w.add(1), lambda: m.keep(w), lambda: m.consume(w), lambda: repr(w)):
            with self.assertRaises(ValueError) as cm:
                use()
            self.assertIn("holds no value: it was moved into C++ (a std::unique_ptr<Widget> parameter "
                          "took ownership of it)", str(cm.exception))
        with self.assertRaises(ValueError) as cm:
            w.get()
        self.assertEqual(str(cm.exception), MOVED.format("Widget.get()", "Widget"))
        with self.assertRaises(ValueError) as cm:
            m.keep(w)
        self.assertEqual(str(cm.exception),
                         "keep() argument 'w': the Widget instance holds no value: it was moved into C++ "
                         "(a std::unique_ptr<Widget> parameter took ownership of it)")
        del w
        gc.collect()

    def test_refused_when_cpp_shares_it(self):
        w = m.Widget(1)
        m.keep(w)
        with self.assertRaises(ValueError) as cm:
            m.consume(w)
        self.assertEqual(str(cm.exception),
                         "consume() argument 'w': a std::unique_ptr<Widget> cannot take this Widget's "
                         "value: C++ shares it (2 std::shared_ptr owners)")
        self.assertEqual(w.get(), 1)  # untouched

    def test_refused_when_it_came_from_a_cpp_shared_ptr(self):
        a = m.make_shared(5)
        with self.assertRaises(ValueError) as cm:
            m.consume(a)
        self.assertEqual(str(cm.exception),
                         "consume() argument 'w': a std::unique_ptr<Widget> cannot take this Widget's "
                         "value: it came from C++ as a std::shared_ptr, whose owner decides how it is "
                         "deleted")
        self.assertEqual(a.get(), 5)

    def test_unique_result_can_be_moved_out_again(self):
        self.assertEqual(m.consume(m.make_unique(4)), 4)
        self.assertEqual(m.consume_token(m.Token(7)), 7)  # unsynchronized: no lock, same rules

    def test_a_failed_call_puts_the_value_back(self):
        w = m.Widget(2)
        with self.assertRaises(ValueError) as cm:  # taken by the first argument: empty for the second
            m.consume_and_touch(w, w)
        self.assertEqual(str(cm.exception),
                         "consume_and_touch() argument 'again': the Widget instance holds no value: it was "
                         "moved into C++ (a std::unique_ptr<Widget> parameter took ownership of it)")
        self.assertEqual(w.get(), 2)  # the call did not start: the value is back
        self.assertIs(m.kept(m.keep(w)), w)  # and registered again
        m.clear_kept()
        with self.assertRaises(TypeError):
            m.consume_and_touch(w, 5)
        self.assertEqual(m.consume_and_touch(w, m.Widget(3)), 5)
        with self.assertRaises(ValueError):
            w.get()

    def test_reference_into_a_moved_out_owner_raises(self):
        b = m.Body()
        b.pos.x = 2.5
        p = b.pos
        self.assertEqual(m.consume_body(b), 2.5)
        with self.assertRaises(ValueError) as cm:
            p.x
        self.assertIn("holds no value: it was moved into C++", str(cm.exception))

    def test_refused_while_exported(self):
        s = m.Samples(3)
        view = memoryview(s)
        with self.assertRaises(BufferError) as cm:
            m.consume_samples(s)
        self.assertEqual(str(cm.exception),
                         "a std::unique_ptr<Samples> cannot take this Samples's value while its memory is exported (1 memoryview or array of it is alive)")
        self.assertEqual(view[2], 1.0)
        view.release()
        self.assertEqual(m.consume_samples(s), 3)

    def test_a_member_reference_cannot_be_taken(self):
        o = m.Outer()
        o.inner.v = 5
        ref = o.inner  # a reference into o's value
        with self.assertRaises(ValueError) as cm:
            m.consume_inner(ref)
        self.assertEqual(str(cm.exception),
                         "consume_inner() argument 'i': a std::unique_ptr<Inner> cannot take this Inner: it "
                         "is a reference into its owner's value (a member), not an object of its own")
        shared = m.share_inner(ref)  # shares through a reference that keeps the owner alive
        del o, ref
        gc.collect()
        self.assertEqual(shared.v, 5)

    def test_moved_out_pointer_is_forgotten(self):
        u = m.make_unique(1)
        m.consume(u)
        # The address may be reused by the next T: it must not find the empty object.
        for _ in range(20):
            fresh = m.make_unique(2)
            self.assertEqual(fresh.get(), 2)


class ReleaseAnywhere(unittest.TestCase):
    def tearDown(self):
        settle()

    def test_last_owner_on_a_native_thread(self):
        settle()
        before = m.live()
        payload = Payload()
        watch = weakref.ref(payload)
        w = m.Widget(1)
        w.set_payload(payload)
        m.keep(w)
        del w, payload
        gc.collect()
        self.assertIsNotNone(watch())  # C++ holds the Widget, which holds the payload
        m.release_kept_on_native_thread()  # ~Widget on a thread never attached: decref deferred
        self.assertEqual(m.live(), before)
        gc.collect()
        self.assertIsNone(watch())  # the pool was drained when the caller re-attached

    def test_last_owner_after_finalisation(self):
        code = ("import pyo3cpp_test_holders as m\n"
                "w = m.Widget(7)\n"
                "w.announce()\n"
                "w.set_payload([1, 2, 3])\n"
                "m.keep_forever(w)\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                             env=dict(os.environ))
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("~Widget(7) ran", out.stderr)  # deleted by C++'s static destructor


class SharesPythonObject(unittest.TestCase):
    def test_cpp_keeps_the_python_object(self):
        n = m.Node(4)
        n.note = "kept"
        watch = weakref.ref(n)
        m.stash_node(n)
        del n
        gc.collect()
        back = m.stashed_node()
        self.assertIs(back, watch())
        self.assertEqual(back.note, "kept")
        del back
        m.drop_node_on_native_thread()  # the reference goes through the deferred pool
        gc.collect()
        self.assertIsNone(watch())


class LockBesideCppOwners(unittest.TestCase):
    """One object per T (while alive) means one instance lock for every Python caller."""

    def tearDown(self):
        settle()

    def test_python_callers_share_one_lock(self):
        w = m.Widget(0)
        i = m.keep(w)
        threads, rounds = 8, 300

        def work(index):
            target = w if index % 2 else m.kept(i)  # the same object either way
            for _ in range(rounds):
                target.add(1)

        run_threads(threads, work)
        self.assertEqual(w.get(), threads * rounds)

    def test_cpp_taking_the_lock_through_the_object(self):
        w = m.Widget(0)
        i = m.keep(w)
        threads, rounds = 6, 300

        def work(index):
            if index % 2:
                m.add_locked_from_cpp(i, rounds)
            else:
                for _ in range(rounds):
                    w.add(1)

        run_threads(threads, work)
        self.assertEqual(w.get(), threads * rounds)


class Races(unittest.TestCase):
    def tearDown(self):
        settle()

    def test_threads_wrapping_one_pointer_get_one_object(self):
        threads, rounds = 8, 100 if FREE_THREADED else 30
        got = [None] * threads
        state = {"round": 0, "bad": []}

        def between_rounds():  # one thread, while the others wait at the barrier
            if any(o is not got[0] for o in got) or got[0].get() != state["round"]:
                state["bad"].append((state["round"], len(set(map(id, got)))))
            got[:] = [None] * threads  # the object dies: the next round wraps a new T afresh
            state["round"] += 1
            m.reset_global(state["round"])

        barrier = threading.Barrier(threads, action=between_rounds, timeout=60)
        m.reset_global(0)

        def work(index):
            for _ in range(rounds):
                got[index] = m.shared_global()
                barrier.wait()

        run_threads(threads, work)
        self.assertEqual(state["bad"], [])
        self.assertEqual(state["round"], rounds)

    def test_wrap_racing_the_last_decref(self):
        m.reset_global(11)
        threads, rounds = 8, 3000 if FREE_THREADED else 1000
        failures = []

        def work(index):
            for _ in range(rounds):
                a = m.shared_global()
                b = m.shared_global()
                if a is not b or a.get() != 11:  # a dead object would crash or read garbage
                    failures.append((id(a), id(b)))
                del a, b

        run_threads(threads, work)
        self.assertEqual(failures, [])

    def test_native_threads_wrapping_while_the_last_reference_drops(self):
        # Each wrap makes a new object or finds the live one; each drop may be the last decref.
        self.assertEqual(m.race_wrap_and_drop(8, 20000 if FREE_THREADED else 2000), 0)

    def test_move_out_racing_methods(self):
        threads, rounds = 4, 50 if FREE_THREADED else 20
        box = [m.Widget(1)]
        outcomes = []
        state = {"bad": []}

        def between_rounds():
            if outcomes.count(1) != 1:  # the move happened once; every other use ran or raised
                state["bad"].append(list(outcomes))
            outcomes.clear()
            box[0] = m.Widget(1)

        barrier = threading.Barrier(threads, action=between_rounds, timeout=60)

        def work(index):
            for _ in range(rounds):
                w = box[0]
                try:
                    if index == 0:
                        outcomes.append(m.consume(w))
                    else:
                        for _ in range(20):
                            w.add(0)
                except ValueError as e:
                    if "moved into C++" not in str(e):
                        outcomes.append(str(e))
                del w
                barrier.wait()

        run_threads(threads, work)
        self.assertEqual(state["bad"], [])

class DocsExample(unittest.TestCase):
    """examples/ownership: docs/ownership.md shows it byte for byte, and it behaves as shown."""

    def test_docs_show_the_source_verbatim(self):
        import pathlib
        import re
        root = pathlib.Path(__file__).resolve().parents[2]
        docs = (root / "docs" / "ownership.md").read_text(encoding="utf-8")
        source = (root / "examples" / "ownership" / "pyo3cpp_ownership.cpp").read_text(encoding="utf-8")
        self.assertIn(source, re.findall(r"^```cpp\n(.*?)^```$", docs, re.S | re.M))

    def test_as_shown(self):
        import pyo3cpp_ownership as o
        grass = o.load("grass")
        self.assertIs(grass, o.load("grass"))
        mine = o.Texture("mine", 2, 2)
        o.adopt(mine)
        self.assertIs(o.load("mine"), mine)
        self.assertEqual(o.upload(o.checkerboard(8)), 64)
        with self.assertRaises(ValueError) as cm:
            o.upload(mine)
        self.assertEqual(str(cm.exception),
                         "upload() argument 'texture': a std::unique_ptr<Texture> cannot take this "
                         "Texture's value: C++ shares it (2 std::shared_ptr owners)")
        o.evict("mine")
        self.assertEqual(o.upload(mine), 4)
        with self.assertRaises(ValueError) as cm:
            mine.pixels()
        self.assertEqual(str(cm.exception),
                         "Texture.pixels(): the instance holds no value: it was moved into C++ (a "
                         "std::unique_ptr<Texture> parameter took ownership of it)")
        grass.resize(2, 3)
        self.assertEqual(o.load("grass").pixels(), 6)


if __name__ == "__main__":
    unittest.main()
