"""Every mismatch between an extension wheel and the runtime is an ImportError naming both sides,
never a dynamic-loader message. Run by tests/ship/ship.sh with the interpreter of a venv holding
the runtime and example wheels; SHIP_TMP is a scratch directory, SHIP_OTHER (optional) holds the
other interpreter's unpacked wheels (runtime/, example/) (the 3.11 ones for a 3.13t run and vice versa)."""
import os
import re
import shutil
import subprocess
import sys
import unittest

import pyo3cpp
import pyo3cpp_example

TAG = pyo3cpp.PYTHON_TAG
HERE = pyo3cpp.describe_tag(TAG)
TMP = os.environ["SHIP_TMP"]
OTHER = os.environ.get("SHIP_OTHER", "")


def import_error(path_entry, module):
    """The last line a fresh interpreter prints when `import module` fails with path_entry first
    on sys.path (the venv's own site-packages stay behind it)."""
    code = f"import sys; sys.path.insert(0, {path_entry!r}); import {module}"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if result.returncode == 0:
        return None
    return result.stderr.strip().splitlines()[-1]


def copy_package(package, name):
    """A copy of an installed package under TMP/name, returning the directory to put on sys.path."""
    root = os.path.join(TMP, name)
    shutil.rmtree(root, ignore_errors=True)
    source = os.path.dirname(sys.modules[package].__file__)
    shutil.copytree(source, os.path.join(root, package),
                    ignore=shutil.ignore_patterns("__pycache__"))
    return root


def rewrite_needed(root, old, new):
    """Rewrites the DT_NEEDED name old -> new (same length) in every extension of the copy, as if
    it had been linked against another runtime."""
    assert len(old) == len(new)
    changed = 0
    for directory, _, files in os.walk(root):
        for name in files:
            if name.endswith(".so"):
                path = os.path.join(directory, name)
                with open(path, "rb") as f:
                    data = f.read()
                if old.encode() in data:
                    with open(path, "wb") as f:
                        f.write(data.replace(old.encode() + b"\0", new.encode() + b"\0"))
                    changed += 1
    return changed


class MismatchTest(unittest.TestCase):
    def test_extension_for_another_abi_version(self):
        root = copy_package("pyo3cpp_example", "abi2")
        future = pyo3cpp.LIBRARY[:-1] + "2"                       # libpyo3cpp-<tag>.so.2
        self.assertEqual(rewrite_needed(root, pyo3cpp.LIBRARY, future), 2)
        message = import_error(root, "pyo3cpp_example")
        self.assertIsNotNone(message)
        self.assertRegex(message, r"^ImportError: ")
        self.assertIn(f"was built for {HERE} with pyo3cpp ABI 2 ({future})", message)
        self.assertIn(f"this process runs {HERE} with the pyo3cpp runtime {pyo3cpp.LIBRARY} "
                      f"(ABI {pyo3cpp.ABI_VERSION}", message)

    def test_extension_for_another_python(self):
        root = copy_package("pyo3cpp_example", "py399")
        other_tag = "cp399" + ("t" if TAG.endswith("t") else "")
        other = pyo3cpp.LIBRARY.replace(TAG, other_tag)
        self.assertEqual(rewrite_needed(root, pyo3cpp.LIBRARY, other), 2)
        message = import_error(root, "pyo3cpp_example._example_cpp")
        self.assertIsNotNone(message)
        self.assertIn(f"was built for {pyo3cpp.describe_tag(other_tag)} with pyo3cpp ABI 1 "
                      f"({other})", message)
        self.assertIn(f"this process runs {HERE}", message)
        self.assertNotIn("cannot open shared object file", message)

    def test_extension_wheel_of_the_other_interpreter(self):
        other_tag = self.other_tag()
        message = import_error(os.path.join(OTHER, "example"), "pyo3cpp_example")
        self.assertIsNotNone(message)
        self.assertIn(f"was built for {pyo3cpp.describe_tag(other_tag)} with pyo3cpp ABI 1 "
                      f"(libpyo3cpp-{other_tag}.so.1), but this process runs {HERE}", message)
        self.assertNotRegex(message, "undefined symbol|cannot open shared object")

    def test_runtime_package_of_another_python(self):
        root = copy_package("pyo3cpp", "runtime399")
        build = os.path.join(root, "pyo3cpp", "_build.py")
        with open(build) as f:
            text = f.read()
        with open(build, "w") as f:
            f.write(text.replace(f'"{TAG}"', '"cp399"'))
        message = import_error(root, "pyo3cpp")
        self.assertEqual(message, f"ImportError: this pyo3cpp package holds the runtime for "
                                  f"CPython 3.99 (GIL) ({pyo3cpp.LIBRARY}), but this is {HERE}: "
                                  "install the pyo3cpp package built for this interpreter "
                                  "(pip install pyo3cpp)")

    def test_runtime_wheel_of_the_other_interpreter(self):
        other_tag = self.other_tag()
        message = import_error(os.path.join(OTHER, "runtime"), "pyo3cpp")
        self.assertIsNotNone(message)
        self.assertIn(f"holds the runtime for {pyo3cpp.describe_tag(other_tag)} "
                      f"(libpyo3cpp-{other_tag}.so.1), but this is {HERE}", message)

    def test_matching_package_imports(self):
        self.assertIsNone(import_error(copy_package("pyo3cpp_example", "same"), "pyo3cpp_example"))

    def other_tag(self):
        if not OTHER or not os.path.isdir(os.path.join(OTHER, "runtime", "pyo3cpp")):
            self.skipTest("the other interpreter's wheels are not built yet")
        names = os.listdir(os.path.join(OTHER, "runtime", "pyo3cpp"))
        return next(re.match(r"libpyo3cpp-(cp\d+t?)\.so", n).group(1) for n in names
                    if n.startswith("libpyo3cpp-"))


if __name__ == "__main__":
    unittest.main()
