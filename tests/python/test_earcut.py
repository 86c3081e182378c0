"""examples/earcut (the mapbox_earcut port) through array.array and memoryview inputs: upstream's
test cases (tests/earcut runs upstream's own pytest file where NumPy and pytest exist) in a form
every interpreter runs, 3.13t without NumPy included, and 8 threads triangulating at once."""
import array
import ctypes
import importlib.util
import math
import unittest

from thread_race import run_threads

try:
    import mapbox_earcut as earcut
except ImportError as exc:  # a failure that says what to do, never a skip
    raise ImportError("mapbox_earcut (examples/earcut) is not built: run ./scripts/fetch-mapbox-earcut, "
                      "then reconfigure") from exc

HAVE_NUMPY = importlib.util.find_spec("numpy") is not None
TRIANGLE = [(0, 0), (1, 0), (1, 1)]
# The function, the array.array typecode of its coordinates.
FUNCTIONS = [(earcut.triangulate_float32, "f"), (earcut.triangulate_float64, "d"),
             (earcut.triangulate_int32, "i"), (earcut.triangulate_int64, "q")]


def vertices(points, typecode):
    """An (n, 2) buffer of `points`, as upstream's reshape(-1, 2) makes it."""
    flat = array.array(typecode, [c for p in points for c in p])
    return memoryview(flat).cast("B").cast(typecode, [len(points), 2])


def rings(*ends):
    return array.array("I", ends)


class UpstreamCases(unittest.TestCase):
    def check(self, result, expected):
        if HAVE_NUMPY:
            import numpy
            self.assertIsInstance(result, numpy.ndarray)
            self.assertEqual(result.dtype, numpy.uint32)
        else:
            self.assertIsInstance(result, memoryview)
            self.assertEqual(result.format, "I")
        self.assertEqual(result.shape, (len(expected),))
        self.assertEqual(list(result), expected)

    def test_valid_triangulation_each_type(self):
        for fn, code in FUNCTIONS:
            with self.subTest(fn=fn.__name__):
                self.check(fn(vertices(TRIANGLE, code), rings(3)), [1, 2, 0])

    def test_inverted_vertex_order(self):
        for fn, code in FUNCTIONS:
            self.check(fn(vertices(list(reversed(TRIANGLE)), code), rings(3)), [1, 0, 2])

    def test_no_triangles(self):
        self.check(earcut.triangulate_int32(vertices(TRIANGLE, "i"), rings(2, 3)), [])

    def test_bad_ring_ends(self):
        cases = [(rings(5), "last value"), (rings(2), "last value"), (rings(0xFFFFFFFF), "last value"),
                 (rings(3, 0, 3), "strictly increasing"), (rings(3, 3), "strictly increasing"),
                 (rings(), "ring_end_indices is empty")]
        for fn, code in FUNCTIONS:
            for ends, message in cases:
                with self.subTest(fn=fn.__name__, ends=list(ends)):
                    with self.assertRaisesRegex(ValueError, message):
                        fn(vertices(TRIANGLE, code), ends)

    def test_empty_data(self):
        empty = ((ctypes.c_float * 2) * 0)()   # memoryview.cast refuses a zero extent; ctypes has one
        self.assertEqual(memoryview(empty).shape, (0, 2))
        self.check(earcut.triangulate_float32(empty, rings()), [])

    def test_a_square_with_a_hole(self):
        square = [(0, 0), (10, 0), (10, 10), (0, 10), (2, 2), (2, 8), (8, 8), (8, 2)]
        result = earcut.triangulate_float64(vertices(square, "d"), rings(4, 8))
        self.assertEqual(len(result) % 3, 0)
        area = 0.0
        for i in range(0, len(result), 3):
            (ax, ay), (bx, by), (cx, cy) = (square[result[i + k]] for k in range(3))
            area += abs((bx - ax) * (cy - ay) - (cx - ax) * (by - ay)) / 2
        self.assertTrue(math.isclose(area, 100 - 36))

    def test_strided_vertices_not_copied_and_wrong_shapes(self):
        # Every other row of a (6, 2) buffer: a strided (3, 2) view, read in place.
        doubled = [p for q in TRIANGLE for p in (q, (99, 99))]
        view = vertices(doubled, "d")[::2]
        self.check(earcut.triangulate_float64(view, rings(3)), [1, 2, 0])
        with self.assertRaisesRegex(ValueError, "second dimension of vertices is not 2"):
            earcut.triangulate_float64(memoryview(array.array("d", range(6))).cast("B").cast("d", [2, 3]), rings(2))
        with self.assertRaisesRegex(TypeError, r"argument 'vertices' must be a 2-dimensional buffer of float64"):
            earcut.triangulate_float64(array.array("d", range(6)), rings(3))

    def test_other_element_types(self):
        """Upstream passes float64 and int arrays to triangulate_float32: NumPy converts them;
        without NumPy the refusal is a TypeError that says so."""
        if HAVE_NUMPY:
            self.check(earcut.triangulate_float32(vertices(TRIANGLE, "d"), array.array("q", [3])), [1, 2, 0])
            return
        with self.assertRaises(TypeError) as cm:
            earcut.triangulate_float32(vertices(TRIANGLE, "d"), rings(3))
        self.assertEqual(str(cm.exception),
                         "triangulate_float32() argument 'vertices' must be a 2-dimensional buffer of float32, "
                         "not memoryview (2-dimensional buffer of float64 with shape (3, 2)); converting it "
                         "needs NumPy, which is not importable")
        with self.assertRaisesRegex(TypeError, r"argument 'ring_end_indices' must be a C-contiguous "
                                               r"1-dimensional buffer of uint32, not array .*needs NumPy"):
            earcut.triangulate_float32(vertices(TRIANGLE, "f"), array.array("q", [3]))

    def test_threads(self):
        """8 threads triangulate at once (3.13t: really in parallel), each checking its results."""
        n = 200
        circle = [(math.cos(2 * math.pi * k / n), math.sin(2 * math.pi * k / n)) for k in range(n)]
        points = vertices(circle, "d")

        def work(_):
            for _ in range(20):
                result = earcut.triangulate_float64(points, rings(n))
                self.assertEqual(len(result), 3 * (n - 2))
        run_threads(8, work, timeout=120)


class Docs(unittest.TestCase):
    def test_docs_show_the_source_verbatim(self):
        import pathlib
        import re
        root = pathlib.Path(__file__).resolve().parents[2]
        docs = (root / "docs" / "arrays.md").read_text(encoding="utf-8")
        source = (root / "examples" / "earcut" / "mapbox_earcut.cpp").read_text(encoding="utf-8")
        self.assertIn(source, re.findall(r"^```cpp\n(.*?)^```$", docs, re.S | re.M))


if __name__ == "__main__":
    unittest.main()
