"""The interpreter the suite runs on is the one the build targets, in the mode it promises."""
import os
import sys
import sysconfig
import unittest

import pyo3cpp_demo


class InterpreterTest(unittest.TestCase):
    def test_free_threaded_build_runs_without_gil(self):
        if not sysconfig.get_config_var("Py_GIL_DISABLED"):
            self.skipTest("GIL build")
        self.assertEqual(os.environ.get("PYTHON_GIL"), "0")
        self.assertFalse(sys._is_gil_enabled())

    def test_extension_matches_interpreter(self):
        major, minor, free_threaded = pyo3cpp_demo.runtime_python()
        self.assertEqual((major, minor), sys.version_info[:2])
        self.assertEqual(free_threaded, bool(sysconfig.get_config_var("Py_GIL_DISABLED")))

    def test_importing_extension_keeps_gil_off(self):
        if not sysconfig.get_config_var("Py_GIL_DISABLED"):
            self.skipTest("GIL build")
        import pyo3cpp_demo  # noqa: F401  (already imported above; import again for clarity)
        self.assertFalse(sys._is_gil_enabled())


if __name__ == "__main__":
    unittest.main()
