"""What a geometry/robotics binding needs besides operators and overloads
(tests/ext/pyo3cpp_test_class_features.cpp): enums nested in a class, class attributes,
def_copy, tuple keys, __hash__/__eq__/__repr__ with overloads and inheritance, container and
string conversions, C++ exceptions mapped to Python ones. The copy race runs for real on a
free-threaded build with the GIL off."""
import copy
import enum
import pickle
import sys
import unittest

import pyo3cpp_test_class_features as m
from thread_race import run_threads

Joint, Vec3, Mat3, Chain = m.Joint, m.Vec3, m.Mat3, m.Chain


class NestedEnums(unittest.TestCase):
    def test_the_enum_is_an_attribute_of_the_class(self):
        T = Joint.JointType
        self.assertTrue(issubclass(T, enum.Enum))
        self.assertEqual(T.__name__, "JointType")
        self.assertEqual(T.__qualname__, "Joint.JointType")
        self.assertEqual(T.__module__, "pyo3cpp_test_class_features")
        self.assertEqual(T.__doc__, "The kinds of joint.")
        self.assertFalse(hasattr(m, "JointType"))  # not a module attribute
        self.assertEqual([t.name for t in T], ["RotAxis", "RotX", "RotY", "TransX", "Fixed"])
        self.assertEqual(T.Fixed.value, 8)
        self.assertEqual(repr(T.RotX), "<JointType.RotX: 1>")

    def test_exported_members_are_class_attributes(self):
        self.assertIs(Joint.RotX, Joint.JointType.RotX)
        self.assertIs(Joint().RotY, Joint.JointType.RotY)  # through an instance too

    def test_members_pickle_by_qualname(self):
        for proto in range(pickle.HIGHEST_PROTOCOL + 1):
            self.assertIs(pickle.loads(pickle.dumps(Joint.TransX, proto)), Joint.TransX)

    def test_conversions_both_ways(self):
        self.assertIs(Joint("j", Joint.RotY).getType(), Joint.RotY)
        self.assertIs(Joint().getType(), Joint.Fixed)
        with self.assertRaises(TypeError) as cm:
            Joint("j", 2)
        self.assertIn("Joint(name: str, type: Joint.JointType = ...)", str(cm.exception))

    def test_error_names_the_nested_enum(self):
        with self.assertRaisesRegex(TypeError, r"^Joint\(\): no overload accepts \(str, str\)"):
            Joint("j", "RotX")


class ClassAttributes(unittest.TestCase):
    def test_constants(self):
        self.assertEqual(Joint.MAX_DOF, 6)
        self.assertEqual(Vec3.DIMENSION, 3)
        self.assertEqual(Joint().MAX_DOF, 6)

    def test_an_instance_of_the_class_itself(self):
        self.assertIsInstance(Vec3.Zero, Vec3)
        self.assertEqual(repr(Vec3.Zero), "Vec3(0, 0, 0)")

    def test_read_only_like_the_type(self):
        with self.assertRaisesRegex(TypeError, "cannot set 'MAX_DOF' attribute of immutable type"):
            Joint.MAX_DOF = 7
        self.assertEqual(Joint.MAX_DOF, 6)


class Copies(unittest.TestCase):
    def test_copy_and_deepcopy_are_independent(self):
        v = Vec3(1, 2, 3)
        for c in (copy.copy(v), copy.deepcopy(v), copy.deepcopy(v, {}), v.__deepcopy__({})):
            self.assertIsNot(c, v)
            self.assertEqual(c, v)
            c.x = 9
            self.assertEqual(v.x, 1)

    def test_deepcopy_inside_a_container_uses_the_memo(self):
        v = Vec3(1, 2, 3)
        pair = copy.deepcopy([v, v])
        self.assertIsNot(pair[0], v)
        self.assertEqual(pair[0], v)

    def test_bad_memo(self):
        with self.assertRaisesRegex(TypeError, r"__deepcopy__\(\) argument 1 must be dict, not int"):
            Vec3().__deepcopy__(5)
        with self.assertRaisesRegex(TypeError, r"__deepcopy__\(\) takes 1 positional argument but 0 were given"):
            Vec3().__deepcopy__()

    def test_matrix_copy(self):
        r = Mat3()
        r[0, 1] = 4.0
        c = copy.deepcopy(r)
        c[0, 1] = 5.0
        self.assertEqual((r[0, 1], c[0, 1]), (4.0, 5.0))

    def test_copies_race_with_writes(self):
        # fill(k) writes x, y, z in turn with pauses between, under the exclusive lock; each
        # copy is taken under the shared lock, so it never sees a fill half done.
        v = Vec3(0, 0, 0)
        torn, writers_done = [], []

        def work(i):
            if i % 2 == 0:
                for k in range(3000):
                    v.fill(float(k))
                writers_done.append(i)
            else:  # copies for as long as the writers run
                k = 0
                while len(writers_done) < 2:
                    c = copy.copy(v) if k % 2 else copy.deepcopy(v)
                    k += 1
                    if not (c.x == c.y == c.z):
                        torn.append((c.x, c.y, c.z))

        run_threads(4, work)
        self.assertEqual(torn, [])


class TupleKeys(unittest.TestCase):
    def test_get_and_set(self):
        r = Mat3()
        self.assertEqual([r[i, j] for i in range(3) for j in range(3)], [1, 0, 0, 0, 1, 0, 0, 0, 1])
        r[0, 1] = 5.0
        self.assertEqual(r[0, 1], 5.0)
        self.assertEqual(r[(0, 1)], 5.0)
        self.assertEqual(r.get((0, 1)), 5.0)  # a std::tuple<int, int> parameter takes the tuple
        r[2, 2] = 7  # an int for a float value converts
        self.assertEqual(r[2, 2], 7.0)

    def test_errors(self):
        r = Mat3()
        with self.assertRaisesRegex(TypeError, r"^pyo3cpp_test_class_features\.Mat3 indices must be a tuple, not int$"):
            r[0]
        with self.assertRaisesRegex(TypeError, r"indices must be a tuple, not str$"):
            r["a"] = 1.0
        with self.assertRaisesRegex(TypeError, r"^__getitem__\(\) takes 2 positional arguments but 3 were given$"):
            r[0, 1, 2]
        with self.assertRaisesRegex(TypeError, r"^__getitem__\(\) argument 1 must be int, not str$"):
            r["a", 1]
        with self.assertRaisesRegex(TypeError, r"^__setitem__\(\) argument 3 must be float, not str$"):
            r[0, 1] = "x"
        with self.assertRaisesRegex(IndexError, r"^index out of range: 5$"):
            r[0, 5]
        with self.assertRaisesRegex(TypeError, r"doesn't support item deletion"):
            del r[0, 1]
        with self.assertRaisesRegex(TypeError, r"^get\(\) argument 'key' must be tuple\[int, int\], not int$"):
            r.get(1)


class HashEqRepr(unittest.TestCase):
    def test_overloaded_eq(self):
        self.assertEqual(Vec3(1, 2, 3), Vec3(1, 2, 3))
        self.assertNotEqual(Vec3(1, 2, 3), Vec3(1, 2, 4))
        self.assertTrue(Vec3(2, 2, 2) == 2.0)
        self.assertFalse(Vec3(2, 2, 3) == 2.0)
        self.assertFalse(Vec3() == "text")  # neither definition takes it: identity
        self.assertTrue(Vec3() != "text")

    def test_hash_and_sets(self):
        self.assertEqual(hash(Vec3(1, 2, 3)), hash(Vec3(1, 2, 3)))
        self.assertEqual(len({Vec3(1, 2, 3), Vec3(1, 2, 3), Vec3(0, 0, 0)}), 2)

    def test_repr(self):
        self.assertEqual(repr(Vec3(1, 2.5, -3)), "Vec3(1, 2.5, -3)")
        self.assertEqual(str(Vec3(1, 2, 3)), "Vec3(1, 2, 3)")

    def test_inherited_by_a_bound_subclass(self):
        a, b = m.Square(), m.Square()
        a.label = b.label = "sq"
        self.assertEqual(a, b)
        self.assertEqual(hash(a), hash(b))
        self.assertEqual(repr(a), "<sq>")
        s = m.Shape()
        s.label = "sq"
        self.assertEqual(s, a)  # the base's __eq__ takes a subclass instance

    def test_inherited_by_a_python_subclass(self):
        class Mine(m.Shape):
            pass
        x, y = Mine(), Mine()
        self.assertEqual(x, y)
        self.assertEqual(hash(x), hash(y))
        self.assertEqual(repr(x), "<>")


class Containers(unittest.TestCase):
    def test_vector_of_float_from_any_iterable(self):
        self.assertEqual(m.sum([1.0, 2.5]), 3.5)
        self.assertEqual(m.sum((1, 2)), 3.0)
        self.assertEqual(m.sum(x / 2 for x in range(4)), 3.0)
        self.assertEqual(m.scaled(range(3), 2), [0.0, 2.0, 4.0])  # the result is a list

    def test_vector_errors(self):
        with self.assertRaisesRegex(TypeError, r"^sum\(\) argument 'values' must be list\[float\], not int$"):
            m.sum(5)
        with self.assertRaisesRegex(TypeError, r"^sum\(\) argument 'values': item 1 must be float, not str$"):
            m.sum([1.0, "x"])
        with self.assertRaisesRegex(TypeError, r"^sum\(\) argument 'values' must be list\[float\], not str$"):
            m.sum("12")

    def test_vector_of_bound_class_and_strings(self):
        c = Chain()
        c.addJoint(Joint("shoulder", Joint.RotX))
        c.addJoint(Joint("elbow", Joint.RotY))
        self.assertEqual(c.getNrOfJoints(), 2)
        self.assertEqual(c.names(), ["shoulder", "elbow"])
        self.assertIs(c.getJoint(1).getType(), Joint.RotY)
        self.assertEqual(c.getJoint(0).name, "shoulder")

    def test_map(self):
        c = Chain()
        c.setLimits({"shoulder": 1.5, "elbow": 2})
        self.assertEqual(c.getLimits(), {"elbow": 2.0, "shoulder": 1.5})
        with self.assertRaisesRegex(TypeError, r"^setLimits\(\) argument 'limits' must be dict\[str, float\], not list$"):
            c.setLimits([])
        with self.assertRaisesRegex(TypeError, r"setLimits\(\) argument 'limits'.*must be float, not str"):
            c.setLimits({"a": "b"})

    def test_strings(self):
        self.assertEqual(m.greet("wörld"), "hello wörld")
        with self.assertRaisesRegex(TypeError, r"^greet\(\) argument 'who' must be str, not bytes$"):
            m.greet(b"x")
        with self.assertRaises(UnicodeEncodeError):
            m.greet("\udcff")


class Exceptions(unittest.TestCase):
    def test_standard_exceptions(self):
        cases = [("out_of_range", IndexError, "index 7 out of range"),
                 ("invalid_argument", ValueError, "bad argument"),
                 ("domain_error", ValueError, "outside the domain"),
                 ("overflow_error", OverflowError, "too large"),
                 ("bad_alloc", MemoryError, ""),
                 ("runtime_error", RuntimeError, "something failed"),
                 ("not_an_exception", SystemError, "unknown C++ exception")]
        for kind, exc, text in cases:
            with self.subTest(kind=kind):
                with self.assertRaises(exc) as cm:
                    m.raise_cpp(kind)
                self.assertIs(type(cm.exception), exc)
                self.assertEqual(str(cm.exception), text)

    def test_an_index_error_ends_iteration_protocols(self):
        c = Chain()
        with self.assertRaisesRegex(IndexError, "^no joint 0$"):
            c.getJoint(0)

    def test_the_library_s_own_exceptions(self):
        self.assertTrue(issubclass(m.KinematicsError, RuntimeError))
        self.assertTrue(issubclass(m.SingularityError, m.KinematicsError))
        self.assertEqual(m.KinematicsError.__doc__, "A kinematics failure.")
        with self.assertRaises(m.KinematicsError) as cm:
            m.raise_cpp("kinematics")
        self.assertIs(type(cm.exception), m.KinematicsError)
        self.assertEqual(str(cm.exception), "no solution")
        with self.assertRaises(m.SingularityError) as cm:  # the most derived C++ type wins
            m.raise_cpp("singularity")
        self.assertIs(type(cm.exception), m.SingularityError)
        self.assertEqual(str(cm.exception), "singular at q=0")
        try:
            m.raise_cpp("singularity")
        except RuntimeError as e:  # caught by its Python base, as any RuntimeError
            self.assertIsInstance(e, m.KinematicsError)

    def test_no_exception(self):
        self.assertEqual(m.raise_cpp("none"), "none")


class IterationThroughGetitem(unittest.TestCase):
    """A class with __getitem__ and no __iter__ iterates as a Python class does: items 0, 1, ...
    until IndexError (the old sequence protocol; upstream PyKDL's tests sum a Vector's items)."""

    def test_items_until_index_error(self):
        c = m.Coords(1.0, 2.0, 3.0)
        self.assertEqual(list(c), [1.0, 2.0, 3.0])
        self.assertEqual(sum(map(lambda i: i * i, c)), 14.0)
        self.assertIn(2.0, c)
        self.assertNotIn(5.0, c)
        self.assertEqual(list(reversed(list(c))), [3.0, 2.0, 1.0])

    def test_same_as_a_python_class(self):
        class Py:
            def __getitem__(self, key):
                return Mat3()[key]
        for obj in (Mat3(), Py()):
            it = iter(obj)  # accepted; the first item asks for [0], which is not a tuple key
            with self.assertRaises(TypeError):
                next(it)

    def test_own_iter_and_no_getitem_unchanged(self):
        with self.assertRaisesRegex(TypeError, "'pyo3cpp_test_class_features.Joint' object is not iterable"):
            iter(Joint())
        self.assertEqual(m.Coords(1, 2, 3)[2], 3.0)
        with self.assertRaisesRegex(IndexError, "^Coords index out of range$"):
            m.Coords(1, 2, 3)[3]


if __name__ == "__main__":
    unittest.main()
