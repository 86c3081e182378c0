"""Container conversions while Python code runs inside them (issue 26): views in containers
outlive nothing they view, dicts that change size raise RuntimeError as CPython's iteration does,
lists that shrink are read safely, length hints are only hints. Under ASan (PYTHONMALLOC=malloc
on 3.11) a dangling view is a heap-use-after-free report; in plain builds the freed text is
overwritten by the next objects, so the contents are checked too."""
import gc
import operator
import subprocess
import sys
import textwrap
import unittest

import pyo3cpp_test_conversions as m
from thread_race import run_threads


def fresh(i, width=40):
    """A str object of its own (never interned or cached), freed as soon as it is dropped."""
    return ("%d-" % i) * width


def generated(n):
    return (fresh(i) for i in range(n))


def expected_join(n):
    return "".join(fresh(i) + "|" for i in range(n))


class ViewsInContainers(unittest.TestCase):
    def test_vector_of_views_from_a_generator(self):
        for _ in range(20):
            self.assertEqual(m.join_views(generated(30)), expected_join(30))

    def test_vector_of_views_from_a_list_emptied_by_the_call(self):
        items = [fresh(i) for i in range(30)]
        self.assertEqual(m.join_views(items, items.clear), expected_join(30))
        self.assertEqual(items, [])

    def test_optional_pair_tuple_views_from_generators(self):
        self.assertEqual(m.join_optional_views(fresh(i) if i % 3 else None for i in range(12)),
                         "".join((fresh(i) if i % 3 else "-") + "|" for i in range(12)))
        self.assertEqual(m.join_pair_views((fresh(i), i) for i in range(12)),
                         "".join(fresh(i) + str(i) + "|" for i in range(12)))
        self.assertEqual(m.join_tuple_views((i, fresh(i)) for i in range(12)),
                         "".join(str(i) + fresh(i) + "|" for i in range(12)))

    def test_list_that_shrinks_while_it_converts(self):
        # Item 1's value empties the list: item 0's tuple (and its str) would be freed.
        items = []

        class Clearing:
            def __index__(self):
                items.clear()
                gc.collect()
                return 7

        items.extend([(fresh(0), 1), (fresh(1), Clearing()), (fresh(2), 3)])
        self.assertEqual(m.join_pair_views(items), fresh(0) + "1|" + fresh(1) + "7|")

    def test_nested_views_in_dict_values(self):
        groups = {k: [fresh(k * 10 + i) for i in range(5)] for k in range(4)}
        expected = "".join("%d:" % k + "".join(fresh(k * 10 + i) + "|" for i in range(5))
                           for k in range(4))
        self.assertEqual(m.nested_views(groups, groups.clear), expected)
        def group(k):  # a generator per key (a generator expression would read k late)
            return (fresh(k * 10 + i) for i in range(5))

        self.assertEqual(m.nested_views({k: group(k) for k in range(4)}), expected)

    def test_map_keys_survive_a_cleared_dict(self):
        counts = {fresh(i): i for i in range(20)}
        self.assertEqual(m.map_views(counts, counts.clear), sorted((fresh(i), i) for i in range(20)))

    def test_map_key_value_whose_index_clears_the_dict(self):
        # The second value's __index__ clears the dict: with it goes the first key.
        counts = {}

        class Clearing:
            def __index__(self):
                counts.clear()
                gc.collect()
                return 2

        counts[fresh(1)] = 1
        counts[fresh(2)] = Clearing()
        # The dict shrank while it converted: CPython's own iteration raises here too.
        with self.assertRaisesRegex(RuntimeError, "dictionary changed size during iteration"):
            m.map_views(counts)

    def test_unordered_map_of_views(self):
        counts = {fresh(i): fresh(i + 100) for i in range(20)}
        self.assertEqual(m.unordered_map_views(counts), {fresh(i): fresh(i + 100) for i in range(20)})

    def test_borrowed_objects_from_a_generator(self):
        class Thing:
            def __init__(self, i):
                self.i = i

            def __repr__(self):
                return "Thing(%d)" % self.i

        self.assertEqual(m.object_views((Thing(i) for i in range(10)), gc.collect),
                         ["Thing(%d)" % i for i in range(10)])

    def test_extract_outside_a_call_needs_a_view_scope(self):
        with self.assertRaisesRegex(RuntimeError, "ViewScope"):
            m.extract_views_unscoped([fresh(1)])
        self.assertEqual(m.extract_views_scoped(generated(10)), expected_join(10))

    def test_sources_are_released_after_the_instance_lock(self):
        # A source's __del__ (run when the call releases it) calls the same instance: run in a
        # child process, so that a deadlock fails the test instead of hanging the suite.
        code = textwrap.dedent("""
            import pyo3cpp_test_conversions as m
            j = m.Joiner()
            seen = []
            class Noisy(str):
                def __del__(self):
                    seen.append(j.count())
            print(j.join(Noisy(c * 30) for c in "ab"), seen)
        """)
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.strip(), "%s|%s| [1, 1]" % ("a" * 30, "b" * 30))

    def test_a_top_level_view_needs_nothing(self):
        self.assertEqual(m.plain_view(fresh(3)), fresh(3))


class Races(unittest.TestCase):
    # 3.13t with PYTHON_GIL=0: converters read a list and a dict while other threads empty and
    # refill them. Every view must still hold one of the texts ever stored (never freed memory),
    # and a dict conversion either succeeds or raises CPython's RuntimeError.
    def test_views_from_containers_other_threads_mutate(self):
        texts = [fresh(i) for i in range(64)]
        valid = set(texts)
        shared_list = list(texts)
        shared_dict = {text: i for i, text in enumerate(texts)}
        rounds = 300

        def work(index):
            for r in range(rounds):
                if index == 0:
                    shared_list.clear()
                    shared_list.extend(fresh(i) for i in range(r % 64))
                    shared_dict.clear()
                    shared_dict.update((fresh(i), i) for i in range(r % 64))
                    if r % 50 == 0:
                        gc.collect()
                else:
                    joined = m.join_views(shared_list)
                    for piece in joined.split("|")[:-1]:
                        self.assertIn(piece, valid)
                    try:
                        for key, value in m.map_views(shared_dict):
                            self.assertIn(key, valid)
                    except RuntimeError as exc:
                        self.assertIn("changed", str(exc))

        run_threads(4, work, timeout=120)


class DictChangesWhileConverting(unittest.TestCase):
    def check_like_cpython(self, make, message, convert=m.map_size):
        # CPython's iteration of the same dict, then the conversion.
        d = make()
        with self.assertRaisesRegex(RuntimeError, message):
            for key in d:
                operator.index(d[key])
        d = make()
        with self.assertRaisesRegex(RuntimeError, message):
            convert(d)

    def test_value_that_inserts_keys(self):
        # Before the fix: the walk followed every insertion (for ever, with an unbounded
        # __index__; bounded here so that a failure is an assertion, not a hang).
        def make():
            d = {}

            class Growing:
                inserted = 0

                def __index__(self):
                    if Growing.inserted < 10_000:
                        Growing.inserted += 1
                        d[fresh(Growing.inserted + 1000, 1)] = Growing()
                    return 1

            d["a"] = Growing()
            return d

        self.check_like_cpython(make, "dictionary changed size during iteration")

    def test_value_that_deletes_keys(self):
        def make():
            d = {}

            class Deleting:
                def __index__(self):
                    if "z" in d:
                        del d["z"]
                    return 1

            d["a"] = Deleting()
            d["z"] = 5
            return d

        self.check_like_cpython(make, "dictionary changed size during iteration")

    def test_value_that_replaces_keys_keeping_the_size(self):
        def make():
            d = {}

            class Replacing:
                replaced = 0

                def __index__(self):
                    if Replacing.replaced < 10_000:
                        Replacing.replaced += 1
                        d.pop(next(iter(d)))
                        d[fresh(Replacing.replaced, 1)] = Replacing()
                    return 1

            d["a"] = Replacing()
            d["b"] = Replacing()
            return d

        self.check_like_cpython(make, "dictionary keys changed during iteration")

    def test_unordered_map_too(self):
        d = {}

        class Growing:
            def __index__(self):
                if len(d) < 100:
                    d[len(d) + 1000] = 1
                return 1

        d[1] = Growing()
        with self.assertRaisesRegex(RuntimeError, "dictionary changed size during iteration"):
            m.unordered_map_size(d)

    def test_rewritten_values_are_allowed_as_in_cpython(self):
        d = {}

        class Rewriting:
            def __index__(self):
                d["b"] = 10
                return 1

        d["a"] = Rewriting()
        d["b"] = 2
        self.assertEqual(m.map_size(d), 2)


class LengthHints(unittest.TestCase):
    def iterable(self, hint, n=5):
        class Lying:
            def __iter__(self):
                return iter(range(n))

            def __length_hint__(self):
                return hint

        return Lying()

    def test_huge_hints_are_only_hints(self):
        for hint in (2**62, 2**63 - 1, 10**12, 2**40, 0, 1):
            with self.subTest(hint=hint):
                self.assertEqual(m.vector_size(self.iterable(hint)), 5)

    def test_invalid_hints_raise_as_list_does(self):
        for hint, error in ((-1, ValueError), (2**63, OverflowError), ("x", TypeError)):
            with self.subTest(hint=hint):
                with self.assertRaises(error):
                    list(self.iterable(hint))
                with self.assertRaises(error):
                    m.vector_size(self.iterable(hint))

    def test_a_hint_that_raises(self):
        class Raising:
            def __iter__(self):
                return iter(range(3))

            def __length_hint__(self):
                raise KeyError("hint")

        with self.assertRaises(KeyError):
            m.vector_size(Raising())


if __name__ == "__main__":
    unittest.main()
