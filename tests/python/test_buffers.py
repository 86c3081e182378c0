"""The buffer protocol both ways and arrays out (include/pyo3cpp/buffer.hpp, class_buffer.hpp,
array.hpp), through tests/ext/pyo3cpp_test_buffers.cpp."""
import array
import ctypes
import gc
import importlib.util
import os
import struct
import subprocess
import sys
import textwrap
import threading
import unittest

import pyo3cpp_test_buffers as t
from thread_race import run_threads


def address(buffer):
    """The address of a writable buffer's first byte, read by ctypes (not by our code)."""
    return ctypes.addressof(ctypes.c_char.from_buffer(buffer))


class Import(unittest.TestCase):
    def test_every_exporter(self):
        self.assertEqual(t.sum_u8(b"\x01\x02\x03"), 6.0)
        self.assertEqual(t.sum_u8(bytearray(b"\x01\x02")), 3.0)
        self.assertEqual(t.sum_f64(array.array("d", [1.5, 2.5])), 4.0)
        self.assertEqual(t.sum_f64(memoryview(array.array("d", [1, 2, 3]))), 6.0)
        self.assertEqual(t.sum_i16(array.array("h", [-1, -2])), -3.0)
        self.assertEqual(t.sum_f32(array.array("f", [0.5, 0.25])), 0.75)
        self.assertEqual(t.count_true(memoryview(bytes([1, 0, 1])).cast("?")), 2)
        self.assertEqual(t.sum_f64(array.array("d")), 0.0)

    def test_integer_letters_by_size(self):
        # 'l' and 'q' are both 8 bytes natively here; 'i' is 4: the element's size decides.
        self.assertEqual(t.sum_i64(array.array("q", [1, 2])), 3.0)
        self.assertEqual(t.sum_i64(array.array("l", [1, 2])), 3.0)
        self.assertEqual(t.sum_i32(array.array("i", [1, 2])), 3.0)
        with self.assertRaisesRegex(TypeError, r"buffer of int32, not array \(1-dimensional buffer of int64"):
            t.sum_i32(array.array("l", [1, 2]))
        with self.assertRaisesRegex(TypeError, "buffer of int64, not array .* of uint64"):
            t.sum_i64(array.array("Q", [1]))

    def test_byte_order_prefixes(self):
        # ctypes exports '<d', '<i', and '<l' with 8-byte items; '>d' is another byte order.
        doubles = (ctypes.c_double * 3)(1, 2, 3)
        self.assertEqual(memoryview(doubles).format, "<d")
        self.assertEqual(t.sum_f64(doubles), 6.0)
        self.assertEqual(t.sum_i32((ctypes.c_int32 * 2)(4, 5)), 9.0)
        self.assertEqual(memoryview((ctypes.c_int32 * 2)()).format, "<i")
        self.assertEqual(t.sum_f64(memoryview(struct.pack("@2d", 1, 2)).cast("B").cast("@d")), 3.0)
        big = (ctypes.c_double.__ctype_be__ * 2)(1, 2)
        self.assertEqual(memoryview(big).format, ">d")
        with self.assertRaisesRegex(TypeError, r"buffer of float64, not .*format '>d'"):
            t.sum_f64(big)

    def test_format_strings(self):
        # Standard sizes after '=', '<', '>', '!': 'l' is 4 bytes there, as the struct module says.
        # (Not a dict keyed by the functions: see test_bindings' expected failure on equality.)
        ok = [(t.sum_f64, 8, ["d", "@d", "=d", "<d"]), (t.sum_i32, 4, ["i", "=i", "<l", "=l", "<i"]),
              (t.sum_i64, 8, ["l", "q", "@l", "<q", "=q", "n"]), (t.sum_u8, 1, ["B", "<B", ">B", "!B"]),
              (t.sum_f32, 4, ["f", "<f"]), (t.sum_i16, 2, ["h", "<h"])]
        for fn, size, formats in ok:
            for fmt in formats:
                self.assertEqual(fn(t.FormatProbe(fmt, size, 3)), 0.0, fmt)
        refused = [(t.sum_f64, ">d", 8), (t.sum_f64, "!d", 8), (t.sum_i64, "<l", 8), (t.sum_i64, "=n", 8),
                   (t.sum_f64, "2d", 16), (t.sum_f64, "T{d:x:}", 8), (t.sum_f64, "", 8), (t.sum_f64, "dd", 16),
                   (t.sum_i64, "d", 8), (t.sum_u8, "b", 1), (t.sum_u8, "c", 1), (t.sum_i32, "i", 8)]
        for fn, fmt, size in refused:
            with self.assertRaises(TypeError, msg=fmt) as cm:
                fn(t.FormatProbe(fmt, size, 3))
            self.assertIn("not FormatProbe (1-dimensional buffer of ", str(cm.exception))
        with self.assertRaisesRegex(TypeError, r"buffer of float64, not FormatProbe \(1-dimensional "
                                               r"buffer of format '>d' with shape \(3,\)\)$"):
            t.sum_f64(t.FormatProbe(">d", 8, 3))
        with self.assertRaisesRegex(TypeError, r"buffer of int64, not .*buffer of format '<l'"):
            t.sum_i64(t.FormatProbe("<l", 8, 3))   # '<l' with 8-byte items: inconsistent, refused

    def test_messages_name_argument_and_expectation(self):
        with self.assertRaises(TypeError) as cm:
            t.sum_f64(b"abc")
        self.assertEqual(str(cm.exception),
                         "sum_f64() argument 'values' must be a C-contiguous 1-dimensional buffer of "
                         "float64, not bytes (read-only 1-dimensional buffer of uint8 with shape (3,))")
        with self.assertRaises(TypeError) as cm:
            t.sum_f64(3)
        self.assertEqual(str(cm.exception), "sum_f64() argument 'values' must be a C-contiguous "
                                            "1-dimensional buffer of float64, not int")
        with self.assertRaisesRegex(TypeError, r"^row_sums\(\) argument 'points' must be a C-contiguous "
                                               r"2-dimensional buffer of float64 with shape \(\*, 3\), not "
                                               r"memoryview \(2-dimensional buffer of float64 with shape \(3, 2\)\)$"):
            t.row_sums(memoryview(array.array("d", range(6))).cast("B").cast("d", [3, 2]))
        with self.assertRaisesRegex(TypeError, "2-dimensional buffer of float64 .* not array \\(1-dimensional"):
            t.row_sums(array.array("d", range(6)))

    def test_writable_refuses_read_only(self):
        with self.assertRaisesRegex(TypeError, r"^fill_u8\(\) argument 'out' must be a writable C-contiguous "
                                               r"1-dimensional buffer of uint8, not bytes \(read-only "):
            t.fill_u8(b"abc", 1)
        with self.assertRaisesRegex(TypeError, "writable"):
            t.fill_u8(memoryview(bytearray(3)).toreadonly(), 1)
        out = bytearray(4)
        t.fill_u8(out, 7)
        self.assertEqual(out, b"\x07" * 4)

    def test_no_copy(self):
        data = bytearray(b"xyz")
        self.assertEqual(t.address_u8(data), address(data))
        doubles = array.array("d", [1, 2, 3])
        self.assertEqual(t.address_f64(doubles), address(doubles))
        self.assertEqual(t.address_f64(memoryview(doubles)[1:]), address(doubles) + 8)

    def test_layouts(self):
        grid = memoryview(array.array("d", range(6))).cast("B").cast("d", [2, 3])
        self.assertEqual(t.row_sums(grid), [3.0, 12.0])
        self.assertEqual(t.strided_sum(memoryview(array.array("d", range(10)))[::2]), 20.0)
        self.assertEqual(t.strided_sum(memoryview(array.array("d", range(10)))[::-3]), 18.0)
        with self.assertRaisesRegex(TypeError, "C-contiguous .* not memoryview \\(non-contiguous"):
            t.sum_f64(memoryview(array.array("d", range(10)))[::2])
        ints = memoryview(array.array("i", range(6))).cast("B").cast("i", [2, 3])
        with self.assertRaisesRegex(TypeError, "Fortran-contiguous 2-dimensional buffer of int32"):
            t.f_first_column(ints)
        # A 3x1 C array is also Fortran-contiguous.
        column = memoryview(array.array("i", [7, 8, 9])).cast("B").cast("i", [3, 1])
        self.assertEqual(t.f_first_column(column), [7, 8, 9])

    def test_held_for_the_call_released_after_even_on_error(self):
        values = array.array("d", [1.0])
        with self.assertRaisesRegex(RuntimeError, "failed while holding the buffer"):
            t.sum_then_fail(values)
        values.append(2.0)  # BufferError if the view had not been released
        with self.assertRaises(TypeError):
            t.sum_f64(array.array("i", [1]))
        self.assertEqual(t.sum_f64(values), 3.0)
        out = bytearray(2)
        with self.assertRaisesRegex(TypeError, "argument 'value' must be int"):
            t.fill_u8(out, "x")   # the view of `out`, converted first, is released too
        out.append(1)

    def test_stored_beyond_the_call_released_from_another_thread(self):
        values = array.array("d", [1.0, 2.0])
        self.assertEqual(t.store(values), 1)
        with self.assertRaises(BufferError):
            values.append(3.0)   # the stored view keeps it exported
        self.assertEqual(t.stored_sum(0), 3.0)
        t.drop_stored_on_thread()   # dropped where no thread is attached: the pool releases it
        for _ in range(3):
            gc.collect()
        values.append(3.0)
        with self.assertRaisesRegex(TypeError, "float64, not bytes"):
            t.store(b"ab")

    def test_no_reference_leaked(self):
        values = array.array("d", [1.0, 2.0])
        before = sys.getrefcount(values)
        for _ in range(100):
            t.sum_f64(values)
            with self.assertRaises(TypeError):
                t.sum_i32(values)
            with self.assertRaises(RuntimeError):
                t.sum_then_fail(values)
            t.strided_sum(values)
        self.assertEqual(sys.getrefcount(values), before)
        s = t.Samples(2)
        before = sys.getrefcount(s)
        for _ in range(100):
            memoryview(s).release()
            t.sum_f64(s)
            with self.assertRaises(TypeError):
                t.fill_u8(s, 0)
        self.assertEqual(sys.getrefcount(s), before)
        self.assertEqual(s.exported(), 0)

    def test_stub_text(self):
        stubgen_path = os.path.join(os.path.dirname(__file__), "..", "..", "python", "pyo3cpp", "stubgen.py")
        spec = importlib.util.spec_from_file_location("pyo3cpp_stubgen_for_buffers", stubgen_path)
        stubgen = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(stubgen)
        text = "".join(stubgen.generate("pyo3cpp_test_buffers").values())
        self.assertIn("def sum_f64(values: _typeshed.ReadableBuffer) -> float: ...", text)
        self.assertIn("def arange(n: int) -> _typeshed.ReadableBuffer: ...", text)


class Export(unittest.TestCase):
    def test_memoryview_and_bytes_see_the_memory(self):
        s = t.Samples(3)
        s.fill(2.5)
        view = memoryview(s)
        self.assertEqual((view.format, view.shape, view.itemsize, view.readonly), ("d", (3,), 8, False))
        self.assertEqual(view.tolist(), [2.5, 2.5, 2.5])
        self.assertEqual(bytes(s), struct.pack("3d", 2.5, 2.5, 2.5))
        self.assertEqual(address(view), s.data_address())   # no copy
        self.assertEqual(t.address_f64(s), s.data_address())
        view[0] = 9.0   # writable: C++ sees it
        self.assertEqual(t.sum_f64(s), 14.0)
        view.release()

    def test_reallocating_methods_raise_while_exported(self):
        s = t.Samples(2)
        view = memoryview(s)
        self.assertEqual(s.exported(), 1)
        with self.assertRaisesRegex(BufferError, r"^cannot reallocate the memory of a Samples while it is "
                                                 r"exported \(1 memoryview or array of it is alive\)$"):
            s.resize(100)
        second = memoryview(s)
        with self.assertRaisesRegex(BufferError, r"\(2 memoryviews or arrays of it are alive\)"):
            s.resize(100)
        s.fill(1.0)   # not marked: writes in place
        view.release()
        second.release()
        self.assertEqual(s.exported(), 0)
        s.resize(5)
        self.assertEqual(len(memoryview(s)), 5)

    def test_export_from_inside_an_exclusive_method_is_reentrance(self):
        s = t.Samples(2)
        with self.assertRaisesRegex(RuntimeError, "already in use by this thread"):
            s.call_holding(lambda: memoryview(s))
        self.assertEqual(s.exported(), 0)
        self.assertEqual(len(s.call_holding(lambda: [1, 2])), 2)

    def test_read_only_and_2d(self):
        m = t.Matrix()
        view = memoryview(m)
        self.assertEqual((view.format, view.shape, view.strides, view.readonly), ("i", (2, 3), (12, 4), True))
        self.assertEqual(view.tolist(), [[1, 2, 3], [4, 5, 6]])
        self.assertEqual(bytes(m), struct.pack("6i", 1, 2, 3, 4, 5, 6))
        with self.assertRaises((TypeError, BufferError)):
            ctypes.c_char.from_buffer(m)   # asks for a writable buffer
        with self.assertRaisesRegex(TypeError, "writable"):
            t.fill_u8(m, 0)
        self.assertEqual(t.f_first_column(memoryview(m)[:, :1]), [1, 4]) if False else None
        self.assertEqual(t.row_sums.__name__, "row_sums")

    def test_export_outlives_the_name(self):
        s = t.Samples(4)
        s.fill(3.0)
        view = memoryview(s)
        del s
        gc.collect()
        self.assertEqual(view.tolist(), [3.0] * 4)   # the view holds the instance

    def test_resize_races_export(self):
        """8 threads export and release while 8 resize one instance: every resize either ran or
        raised BufferError, every export saw consistent memory, nothing crashed."""
        rounds = 3
        per_thread = 300
        for _ in range(rounds):
            s = t.Samples(8)
            outcome = {"resized": 0, "refused": 0, "exports": 0}
            lock = threading.Lock()

            def work(i):
                resized = refused = exports = 0
                for k in range(per_thread):
                    if i % 2:
                        try:
                            s.resize(8 + (k % 5))
                            resized += 1
                        except BufferError:
                            refused += 1
                    else:
                        with memoryview(s) as view:
                            n = len(view)
                            # While exported the memory cannot move: every element stays readable.
                            self.assertEqual(address(view), s.data_address())
                            total = sum(view)
                            self.assertTrue(total in (0.0, float(n)), total)
                        exports += 1
                with lock:
                    outcome["resized"] += resized
                    outcome["refused"] += refused
                    outcome["exports"] += exports
            run_threads(16, work, timeout=120)
            self.assertEqual(outcome["resized"] + outcome["refused"], 8 * per_thread)
            self.assertEqual(outcome["exports"], 8 * per_thread)
            self.assertEqual(s.exported(), 0)
            s.resize(3)


class ArraysOut(unittest.TestCase):
    def test_memoryview_over_cpp_memory(self):
        grid, at = t.grid_with_address(2, 3)
        self.assertIsInstance(grid, memoryview)
        self.assertEqual((grid.format, grid.shape, grid.readonly), ("q", (2, 3), False))
        self.assertEqual(grid.tolist(), [[0, 1, 2], [3, 4, 5]])
        self.assertEqual(address(grid), at)   # the vector's own memory: no copy
        grid[1, 2] = 50
        self.assertEqual(grid.tolist()[1][2], 50)
        view = grid.cast("B")
        del grid
        gc.collect()
        self.assertEqual(len(view), 48)   # the memory lives while any view of it does

    def test_large_array_no_copy(self):
        values, at = t.numpy_with_address(1_000_000)
        self.assertEqual(address(values), at)
        self.assertEqual(len(values), 1_000_000)

    def test_arange_and_round_trip(self):
        values = t.arange(5)
        self.assertEqual(list(memoryview(values)), [0.0, 1.0, 2.0, 3.0, 4.0])
        self.assertEqual(t.sum_f64(values), 10.0)
        self.assertEqual(t.address_f64(values), address(values))

    def test_shape_must_fit(self):
        with self.assertRaisesRegex(ValueError, "5 elements"):
            t.bad_shape()

    def test_real_numpy(self):
        try:
            import numpy
        except ImportError:
            self.skipTest("NumPy is not importable here")
        a, at = t.numpy_with_address(1000)
        self.assertIsInstance(a, numpy.ndarray)
        self.assertEqual((a.dtype, a.shape, a.ctypes.data), (numpy.dtype("float32"), (1000,), at))
        self.assertTrue(a.flags.writeable and a.flags.c_contiguous)
        a[3] = 2.0
        view = a[2:5]
        del a
        gc.collect()
        self.assertEqual(view.tolist(), [0.5, 2.0, 0.5])  # the base keeps the C++ vector alive
        self.assertEqual(t.sum_f64(numpy.arange(4, dtype=numpy.float64)), 6.0)
        zeros = numpy.zeros((2, 3))
        self.assertEqual(t.address_f64(zeros.reshape(-1)), zeros.ctypes.data)
        with self.assertRaisesRegex(TypeError, r"buffer of float64, not ndarray \(1-dimensional buffer of float32"):
            t.sum_f64(numpy.zeros(3, dtype=numpy.float32))

    @unittest.skipIf(importlib.util.find_spec("numpy") is not None, "NumPy itself is importable here")
    def test_numpy_when_importable(self):
        """A stand-in `numpy` module on sys.path: the result is numpy.asarray(memoryview)."""
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "numpy.py"), "w") as f:
                f.write(textwrap.dedent("""\
                    class ndarray:
                        def __init__(self, base):
                            self.base = base
                    def asarray(obj):
                        return ndarray(obj)
                """))
            code = textwrap.dedent("""\
                import ctypes, pyo3cpp_test_buffers as t
                a, at = t.numpy_with_address(4)
                assert type(a).__name__ == "ndarray" and type(a).__module__ == "numpy", type(a)
                assert isinstance(a.base, memoryview) and a.base.format == "f", a.base
                assert ctypes.addressof(ctypes.c_char.from_buffer(a.base)) == at
                g, _ = t.grid_with_address(1, 1)
                assert isinstance(g, memoryview)   # as_memoryview()
                print("ok")
            """)
            env = dict(os.environ)
            env["PYTHONPATH"] = tmp + os.pathsep + env.get("PYTHONPATH", "")
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                 timeout=120)
            self.assertEqual(out.stdout.strip(), "ok", out.stderr)


def numpy_or_none():
    try:
        import numpy
    except ImportError:
        return None
    return numpy


class ArraysFromUniquePtr(unittest.TestCase):
    def test_memoryview_no_copy(self):
        values, at = t.unique_with_address(5, numpy=False)
        self.assertIsInstance(values, memoryview)
        self.assertEqual((values.format, values.shape, values.readonly), ("d", (5,), False))
        self.assertEqual(values.tolist(), [0.0, 0.25, 0.5, 0.75, 1.0])
        self.assertEqual(address(values), at)

    def test_large_no_copy(self):
        values, at = t.unique_with_address(1_000_000)
        self.assertEqual(address(values), at)
        self.assertEqual(len(values), 1_000_000)
        self.assertEqual(values[999_999], 0.25 * 999_999)

    def test_deleter_runs_once_when_the_last_view_goes(self):
        before = t.freed()
        grid, at = t.malloc_grid_with_address(2, 3)
        self.assertEqual(address(grid), at)
        np = numpy_or_none()
        if np is not None:
            self.assertIsInstance(grid, np.ndarray)
            self.assertEqual((grid.dtype, grid.shape), (np.dtype("int32"), (2, 3)))
            self.assertEqual(grid.tolist(), [[0, 1, 2], [3, 4, 5]])
        else:
            self.assertEqual((grid.format, grid.shape), ("i", (2, 3)))
        keeper = grid[1] if np is not None else memoryview(grid)   # another view of the memory
        del grid
        gc.collect()
        self.assertEqual(t.freed(), before)        # `keeper` still sees the memory
        self.assertEqual(keeper.tolist() if np is not None else keeper.tolist()[1], [3, 4, 5])
        del keeper
        gc.collect()
        self.assertEqual(t.freed(), before + 1)

    def test_deleter_runs_on_failure_and_when_never_returned(self):
        before = t.freed()
        with self.assertRaisesRegex(ValueError, "cannot have the shape it was given"):
            t.malloc_bad_shape()
        self.assertEqual(t.freed(), before + 1)
        t.malloc_never_returned()
        self.assertEqual(t.freed(), before + 2)

    def test_deleter_on_another_thread(self):
        before = t.freed()
        grid, _ = t.malloc_grid_with_address(4, 4)
        box = [grid]
        del grid
        worker = threading.Thread(target=box.clear)
        worker.start()
        worker.join(60)
        gc.collect()
        self.assertEqual(t.freed(), before + 1)


class Conversion(unittest.TestCase):
    """ConvertingView: NumPy converts what does not match; BufferView refuses."""

    def test_matching_buffer_is_not_copied(self):
        values = array.array("d", [1.0, 2.0])
        self.assertEqual(t.convert_address_f64(values), address(values))
        self.assertEqual(t.convert_sum_f32(array.array("f", [0.5, 0.25])), (0.75, False))

    def test_with_numpy(self):
        np = numpy_or_none()
        if np is None:
            self.skipTest("NumPy is not importable here")
        self.assertEqual(t.convert_sum_f32(np.array([0.5, 1.5], dtype=np.float64)), (2.0, True))
        self.assertEqual(t.convert_sum_f32(np.array([1, 2, 3], dtype=np.int64)), (6.0, True))
        self.assertEqual(t.convert_sum_f32(array.array("d", [1.0, 2.0])), (3.0, True))
        self.assertEqual(t.convert_sum_f32([1, 2.5]), (3.5, True))           # any array-like
        f32 = np.array([1, 2], dtype=np.float32)
        self.assertEqual(t.convert_sum_f32(f32), (3.0, False))
        # Unsafe casts as NumPy makes them: -1 wraps to uint32, floats truncate.
        self.assertEqual(t.convert_rows_u32(np.array([[-1, 0], [7.9, 0]])), ([4294967295, 7], True))
        # A strided view of the right dtype is viewed in place (the layout allows strides).
        rows = np.arange(12, dtype=np.uint32).reshape(3, 4)[:, ::2]
        self.assertEqual(t.convert_rows_u32(rows), ([0, 4, 8], False))
        # A C-contiguous parameter gets a contiguous copy of a strided float64 view.
        self.assertEqual(t.convert_sum_f32(np.arange(6.0)[::2]), (6.0, True))
        # Dimensions NumPy does not change: the argument's own mismatch is reported.
        with self.assertRaisesRegex(TypeError, r"^convert_rows_u32\(\) argument 'rows' must be a 2-dimensional "
                                               r"buffer of uint32 with shape \(\*, 2\), not ndarray "
                                               r"\(2-dimensional buffer of float64 with shape \(2, 3\)\)$"):
            t.convert_rows_u32(np.zeros((2, 3)))
        with self.assertRaisesRegex(TypeError, r"^convert_sum_f32\(\) argument 'values' must be a C-contiguous "
                                               r"1-dimensional buffer of float32, not str; NumPy could not "
                                               r"convert it: could not convert string to float"):
            t.convert_sum_f32("abc")
        # The opt-out: a BufferView parameter never converts.
        with self.assertRaisesRegex(TypeError, r"^sum_f32\(\) argument 'values' must be a C-contiguous "
                                               r"1-dimensional buffer of float32, not ndarray \(1-dimensional "
                                               r"buffer of float64 with shape \(2,\)\)$"):
            t.sum_f32(np.array([0.5, 1.5]))
        # Overloads pick the definition that takes the dtype as is.
        self.assertEqual(t.which_dtype(np.zeros(2)), "float64")
        self.assertEqual(t.which_dtype(np.zeros(2, dtype=np.float32)), "float32")
        self.assertEqual(t.which_dtype(np.zeros(2, dtype=np.int32)), "float32")   # first, converting

    def test_no_reference_leaked_converting(self):
        np = numpy_or_none()
        if np is None:
            self.skipTest("NumPy is not importable here")
        values = np.array([1.0, 2.0])
        before = sys.getrefcount(values)
        for _ in range(100):
            t.convert_sum_f32(values)
            with self.assertRaises(TypeError):
                t.convert_rows_u32(values)
        self.assertEqual(sys.getrefcount(values), before)

    @unittest.skipIf(importlib.util.find_spec("numpy") is not None, "NumPy is importable here")
    def test_without_numpy_a_clear_type_error(self):
        for _ in range(2):   # the failed import is remembered: the second refusal is the same
            with self.assertRaises(TypeError) as cm:
                t.convert_sum_f32(array.array("d", [1.0]))
            self.assertEqual(str(cm.exception),
                             "convert_sum_f32() argument 'values' must be a C-contiguous 1-dimensional buffer "
                             "of float32, not array (1-dimensional buffer of float64 with shape (1,)); "
                             "converting it needs NumPy, which is not importable")
        with self.assertRaisesRegex(TypeError, r"float32, not list; converting it needs NumPy"):
            t.convert_sum_f32([1.0])
        self.assertEqual(t.convert_sum_f32(array.array("f", [1.0])), (1.0, False))


class DocsExample(unittest.TestCase):
    """examples/arrays: docs/arrays.md shows it byte for byte, and it behaves as shown there."""

    def test_docs_show_the_source_verbatim(self):
        import pathlib
        import re
        root = pathlib.Path(__file__).resolve().parents[2]
        docs = (root / "docs" / "arrays.md").read_text(encoding="utf-8")
        source = (root / "examples" / "arrays" / "pyo3cpp_arrays.cpp").read_text(encoding="utf-8")
        self.assertIn(source, re.findall(r"^```cpp\n(.*?)^```$", docs, re.S | re.M))

    def test_as_shown(self):
        import pyo3cpp_arrays as a
        self.assertEqual(a.total(array.array("d", [1.0, 2.5])), 3.5)
        with self.assertRaises(TypeError) as cm:
            a.total(b"abc")
        self.assertEqual(str(cm.exception),
                         "total() argument 'values' must be a C-contiguous 1-dimensional buffer of "
                         "float64, not bytes (read-only 1-dimensional buffer of uint8 with shape (3,))")
        pts = memoryview(array.array("d", range(6))).cast("B").cast("d", [2, 3])
        a.scale(pts, 2.0)
        self.assertEqual(pts.tolist(), [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]])
        self.assertEqual(list(a.linspace(0, 1, 3)), [0.0, 0.5, 1.0])
        self.assertEqual(a.longest(memoryview(array.array("f", [3, 4, 1, 1])).cast("B").cast("f", [2, 2])), 5.0)
        if numpy_or_none() is not None:
            self.assertEqual(a.longest([[3, 4], [1, 1]]), 5.0)
        else:
            with self.assertRaisesRegex(TypeError, r"^longest\(\) argument 'points' must be .* not list; "
                                                   r"converting it needs NumPy, which is not importable$"):
                a.longest([[3, 4], [1, 1]])
        self.assertEqual(a.zeros(2, 3).shape, (2, 3))
        self.assertEqual(bytes(memoryview(a.zeros(0, 5))), b"")
        with self.assertRaisesRegex(ValueError, "cannot have the shape"):
            a.zeros(-1, 2)
        s = a.Signal(4)
        v = memoryview(s)
        v[0] = 1.5
        self.assertEqual(v.format, "f")
        with self.assertRaises(BufferError) as cm:
            s.extend(10)
        self.assertEqual(str(cm.exception), "cannot reallocate the memory of a Signal while it is exported "
                                            "(1 memoryview or array of it is alive)")
        v.release()
        s.extend(10)
        self.assertEqual(len(s), 14)
        self.assertEqual(memoryview(s)[0], 1.5)


if __name__ == "__main__":
    unittest.main()
