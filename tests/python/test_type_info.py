"""Type information a user sees (tests/ext/pyo3cpp_test_class_features.cpp): parameters that
take any iterable typed collections.abc.Iterable[...] (results stay list[...]), help() showing
the typed signature, property docs, and the docstrings the stub generator writes."""
import importlib.util
import inspect
import os
import pydoc
import unittest

import pyo3cpp_test_class_features as m

STUBGEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
                       "python", "pyo3cpp", "stubgen.py")
_spec = importlib.util.spec_from_file_location("pyo3cpp_stubgen_for_type_info", STUBGEN)
stubgen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(stubgen)

ITERABLE = "collections.abc.Iterable"


class IterableParameters(unittest.TestCase):
    def test_parameters_accept_any_iterable_results_are_lists(self):
        self.assertEqual(stubgen.typed_signature(m.sum), f"(values: {ITERABLE}[float]) -> float")
        self.assertEqual(stubgen.typed_signature(m.scaled),
                         f"(values: {ITERABLE}[float], k: float) -> list[float]")

    def test_nested_optional_and_map_values(self):
        self.assertEqual(
            stubgen.typed_signature(m.transpose),
            f"(rows: {ITERABLE}[{ITERABLE}[float]], picks: {ITERABLE}[int] | None = None, "
            f"extra: dict[str, {ITERABLE}[float]] = ...) -> list[list[float]]")

    def test_conversion_errors_still_name_the_list(self):
        with self.assertRaisesRegex(TypeError, r"^sum\(\) argument 'values' must be list\[float\], not int$"):
            m.sum(1)

    def test_overload_listing_uses_the_parameter_hints(self):
        with self.assertRaises(TypeError) as cm:
            m.Vec3(1, 2)
        self.assertEqual(str(cm.exception), "Vec3(): no overload accepts (int, int); the overloads are:\n"
                                            "    Vec3()\n    Vec3(x: float, y: float, z: float)")


class Help(unittest.TestCase):
    def test_function(self):
        self.assertEqual(m.sum.__doc__, f"sum(values: {ITERABLE}[float]) -> float\n\nThe sum of the values.")
        self.assertEqual(m.greet.__doc__, "greet(who: str) -> str")  # no doc: the signature only
        text = pydoc.render_doc(m.sum, renderer=pydoc.plaintext)
        self.assertIn("sum(values)\n", text)  # the text signature, untyped
        self.assertIn(f"sum(values: {ITERABLE}[float]) -> float", text)
        self.assertIn("The sum of the values.", text)
        self.assertEqual(str(inspect.signature(m.sum)), "(values)")  # still parses

    def test_method(self):
        self.assertEqual(m.Vec3.fill.__doc__, "fill(k: float) -> None")
        text = pydoc.render_doc(m.Chain, renderer=pydoc.plaintext)
        self.assertIn("setLimits(limits: dict[str, float]) -> None", text)
        self.assertIn("getJoint(index: int) -> Joint", text)
        self.assertEqual(str(inspect.signature(m.Chain.getJoint)), "(self, /, index)")

    def test_class_doc_has_no_typed_init_line(self):
        self.assertEqual(m.Mat3.__doc__, "A 3x3 matrix.")
        self.assertEqual(str(inspect.signature(m.Mat3)), "()")


class PropertyDocs(unittest.TestCase):
    def test_readonly_readwrite_and_member(self):
        self.assertEqual(m.Vec3.norm1.__doc__, "The 1-norm.")
        self.assertEqual(m.Vec3.first.__doc__, "The first coordinate (x).")
        self.assertEqual(m.Vec3.x.__doc__, "The x coordinate.")
        self.assertIsNone(m.Vec3.y.__doc__)
        text = pydoc.render_doc(m.Vec3, renderer=pydoc.plaintext)
        self.assertIn("The 1-norm.", text)


class StubDocstrings(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.text = stubgen.generate("pyo3cpp_test_class_features")["pyo3cpp_test_class_features.pyi"]

    def test_function_and_exception(self):
        self.assertIn(f'def sum(values: {ITERABLE}[float]) -> float:\n    """The sum of the values."""\n',
                      self.text)
        self.assertIn(f"def scaled(values: {ITERABLE}[float], k: float) -> list[float]: ...\n", self.text)
        self.assertIn('class KinematicsError(RuntimeError):\n    """A kinematics failure."""\n', self.text)
        self.assertIn("class SingularityError(KinematicsError): ...\n", self.text)

    def test_class_and_properties(self):
        self.assertIn('class Vec3:\n    """A vector."""\n    Zero: ClassVar[Vec3]\n', self.text)
        self.assertIn('    @property\n    def norm1(self) -> float:\n        """The 1-norm."""\n', self.text)
        self.assertIn('    @property\n    def x(self) -> float:\n        """The x coordinate."""\n'
                      '    @x.setter\n    def x(self, value: float) -> None: ...\n', self.text)

    def test_nested_enum_attributes_and_tuple_keys(self):
        self.assertIn("class Joint:\n    \"\"\"A joint.\"\"\"\n    class JointType(enum.Enum):\n"
                      "        RotAxis = 0\n", self.text)
        self.assertIn("    RotX: ClassVar[Joint.JointType]\n", self.text)
        self.assertIn("    MAX_DOF: ClassVar[int]\n", self.text)
        self.assertIn("    def getType(self) -> Joint.JointType: ...\n", self.text)
        self.assertIn("    def __getitem__(self, key: tuple[int, int], /) -> float: ...\n", self.text)
        self.assertIn("    def __setitem__(self, key: tuple[int, int], value: float, /) -> None: ...\n",
                      self.text)

    def test_docstrings_escape_and_indent(self):
        lines = stubgen._docstring_lines('Say """hi""".\n\nThen "bye"')
        self.assertEqual(lines, ['    """Say \\"\\"\\"hi\\"\\"\\".', "", '    Then "bye\\"', '    """'])
        namespace = {}
        exec("def f():\n" + "\n".join(lines) + "\n", namespace)
        self.assertEqual(inspect.cleandoc(namespace["f"].__doc__), 'Say """hi""".\n\nThen "bye"')
        one = stubgen._docstring_lines('ends with "quote"')
        exec("def g():\n" + "\n".join(one) + "\n", namespace)
        self.assertEqual(namespace["g"].__doc__, 'ends with "quote"')

    def test_without_docstrings(self):
        text = stubgen.generate("pyo3cpp_test_class_features", docstrings=False)[
            "pyo3cpp_test_class_features.pyi"]
        self.assertNotIn('"""', text)
        self.assertIn(f"def sum(values: {ITERABLE}[float]) -> float: ...\n", text)

    def test_keyword_names_are_left_out_with_a_warning(self):
        import enum
        import types
        fake = types.ModuleType("fake_kw")
        E = enum.Enum("E", [("None", 0), ("ok", 1)], module="fake_kw", qualname="E")
        fake.E = E
        stub = stubgen._ModuleStub(fake, {"fake_kw": fake})
        lines = stub.enum_class("E", E)
        warnings = stub.warnings
        self.assertEqual(lines, ["class E(enum.Enum):", "    ok = 1"])
        self.assertEqual(warnings, ["fake_kw: E.None is not a Python identifier; left out"])


if __name__ == "__main__":
    unittest.main()
