"""Extensions compiled for another runtime refuse to import with an ImportError naming both
sides (the extension's build and the loaded libpyo3cpp.so's), never with corruption."""
import importlib
import sys
import sysconfig
import unittest

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
HERE = f"CPython {sys.version_info.major}.{sys.version_info.minor}"
BUILD = "free-threaded" if FREE_THREADED else "GIL"
OTHER = "GIL" if FREE_THREADED else "free-threaded"
LIBRARY_SIDE = f"the loaded libpyo3cpp.so implements ABI 1 for {HERE} ({BUILD})"


class MismatchTest(unittest.TestCase):
    def import_error(self, name):
        sys.modules.pop(name, None)
        with self.assertRaises(ImportError) as caught:
            importlib.import_module(name)
        self.assertNotIn(name, sys.modules)
        return str(caught.exception)

    def test_other_abi_version(self):
        message = self.import_error("pyo3cpp_mismatch_abi")
        self.assertIn(f"pyo3cpp_mismatch_abi was built for pyo3cpp ABI 2 on {HERE} ({BUILD})",
                      message)
        self.assertIn(LIBRARY_SIDE, message)

    def test_other_build(self):
        message = self.import_error("pyo3cpp_mismatch_build")
        self.assertIn(f"pyo3cpp_mismatch_build was built for pyo3cpp ABI 1 on {HERE} ({OTHER})",
                      message)
        self.assertIn(LIBRARY_SIDE, message)

    def test_other_python(self):
        message = self.import_error("pyo3cpp_mismatch_python")
        self.assertIn(f"pyo3cpp_mismatch_python was built for pyo3cpp ABI 1 on "
                      f"CPython {sys.version_info.major}.99 ({BUILD})", message)
        self.assertIn(LIBRARY_SIDE, message)

    def test_retry_fails_the_same_way(self):
        # A failed exec leaves no half-initialised module behind: a second import fails again.
        first = self.import_error("pyo3cpp_mismatch_abi")
        self.assertEqual(first, self.import_error("pyo3cpp_mismatch_abi"))


if __name__ == "__main__":
    unittest.main()
