"""pyo3cpp: the shared runtime of extension modules built with pyo3cpp, as a Python package.

Importing this package loads ``libpyo3cpp-<tag>.so.<abi>`` (``<tag>`` is the Python ABI it was
built for: cp311, cp313t, ...) once per process. Extension modules built against it record only
that file name (DT_NEEDED, no RUNPATH); the dynamic loader matches it to the copy loaded here,
so every extension in the process shares one deferred-decref pool, one attach gate and one
object-lock table. An extension package therefore imports ``pyo3cpp`` before its extension
modules and calls :func:`require`, which turns every mismatch into an ImportError naming both
sides (see docs/shipping.md).

Build systems: ``python -m pyo3cpp --cflags --libs --pkgconfigdir --include``, or
:func:`include`, :func:`pkgconfig_dir`, :func:`library_path`.
"""
import ctypes
import importlib.machinery
import os
import re

from . import _build

__all__ = ["ABI_VERSION", "LIBRARY", "PYTHON_TAG", "abi_version", "describe_tag", "include",
           "interpreter_tag", "library_path", "pkgconfig_dir", "require", "runtime_python"]

__version__ = _build.VERSION
ABI_VERSION = _build.ABI_VERSION   # the runtime's ABI major (the SONAME's number)
PYTHON_TAG = _build.PYTHON_TAG     # the Python ABI this runtime serves, e.g. "cp313t"
LIBRARY = _build.LIBRARY           # its file name and SONAME, e.g. "libpyo3cpp-cp313t.so.1"

_HERE = os.path.dirname(os.path.abspath(__file__))
_NEEDED = re.compile(r"^libpyo3cpp-(cp\d+t?)\.so\.(\d+)$")


def interpreter_tag():
    """The running interpreter's Python ABI tag, from its extension-module suffix."""
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        match = re.match(r"^\.cpython-(\d+t?)-", suffix)
        if match:
            return "cp" + match.group(1)
    return "unknown"


def describe_tag(tag):
    """'cp313t' -> 'CPython 3.13 (free-threaded)'; 'cp311' -> 'CPython 3.11 (GIL)'."""
    match = re.match(r"^cp(\d)(\d+)(t?)$", tag)
    if not match:
        return tag
    build = "free-threaded" if match.group(3) else "GIL"
    return f"CPython {match.group(1)}.{match.group(2)} ({build})"


def include():
    """The directory holding pyo3cpp.h and pyo3cpp/*.hpp."""
    return os.path.join(_HERE, "include")


def pkgconfig_dir():
    """The directory holding pyo3cpp.pc (and pyo3cpp-<tag>.pc): put it on PKG_CONFIG_PATH."""
    return os.path.join(_HERE, "pkgconfig")


def library_path():
    """The runtime library loaded by this package."""
    return os.path.join(_HERE, LIBRARY)


_INSTALL_HINT = "install the pyo3cpp package built for this interpreter (pip install pyo3cpp)"

if PYTHON_TAG != interpreter_tag():
    raise ImportError(
        f"this pyo3cpp package holds the runtime for {describe_tag(PYTHON_TAG)} ({LIBRARY}), "
        f"but this is {describe_tag(interpreter_tag())}: {_INSTALL_HINT}", name=__name__)

# Loaded once and never unloaded. RTLD_LOCAL is enough: extensions reach it through their own
# DT_NEEDED entry, which the loader resolves by SONAME to this already loaded object. If a
# runtime with this SONAME is already in the process (an extension built against a system
# install, loaded first through its RUNPATH), that one is used: never a second copy.
try:
    _runtime = ctypes.CDLL(LIBRARY, mode=os.RTLD_NOLOAD)
except OSError:
    _runtime = ctypes.CDLL(library_path())
_runtime.pyo3cpp_abi_version.restype = ctypes.c_long
_runtime.pyo3cpp_runtime_python.restype = None
_runtime.pyo3cpp_runtime_python.argtypes = [ctypes.POINTER(ctypes.c_int)] * 3


def abi_version():
    """The ABI version the loaded runtime implements (pyo3cpp_abi_version())."""
    return int(_runtime.pyo3cpp_abi_version())


def runtime_python():
    """(major, minor, free_threaded) of the CPython the loaded runtime was compiled for."""
    major, minor, free_threaded = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
    _runtime.pyo3cpp_runtime_python(ctypes.byref(major), ctypes.byref(minor),
                                    ctypes.byref(free_threaded))
    return major.value, minor.value, bool(free_threaded.value)


def _loaded_tag():
    major, minor, free_threaded = runtime_python()
    return f"cp{major}{minor}" + ("t" if free_threaded else "")


if abi_version() != ABI_VERSION or _loaded_tag() != PYTHON_TAG:   # a hand-mixed installation
    raise ImportError(f"the loaded {LIBRARY} implements pyo3cpp ABI {abi_version()} for "
                      f"{describe_tag(_loaded_tag())}, but this package is ABI {ABI_VERSION} for "
                      f"{describe_tag(PYTHON_TAG)}: reinstall pyo3cpp", name=__name__)


def _needed_libraries(path):
    """DT_NEEDED entries of an ELF64 little-endian shared object ([] if it is not one). Reads the
    header, the section table, the dynamic section and its string table: a few KiB."""
    import struct
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                return []
            shoff, = struct.unpack_from("<Q", head, 0x28)
            shentsize, shnum = struct.unpack_from("<HH", head, 0x3A)
            f.seek(shoff)
            table = f.read(shentsize * shnum)
            sections = [struct.unpack_from("<IIQQQQIIQQ", table, i * shentsize)
                        for i in range(shnum)]
            needed = []
            for _, sh_type, _, _, offset, size, link, _, _, entsize in sections:
                if sh_type != 6:   # SHT_DYNAMIC
                    continue
                f.seek(offset)
                dynamic = f.read(size)
                f.seek(sections[link][4])
                strtab = f.read(sections[link][5])
                for pos in range(0, len(dynamic) - 15, entsize or 16):
                    tag, value = struct.unpack_from("<qQ", dynamic, pos)
                    if tag == 0:
                        break
                    if tag == 1:   # DT_NEEDED
                        needed.append(strtab[value:strtab.index(b"\0", value)].decode())
            return needed
    except (OSError, struct.error, ValueError, IndexError):
        return []


def require(package):
    """Checks, before any of `package`'s extension modules is loaded, that each one that needs a
    pyo3cpp runtime needs this one (same Python ABI, same ABI version). Raises ImportError naming
    both sides otherwise. Call it from the package's __init__.py after `import pyo3cpp`."""
    import sys
    module = sys.modules[package]
    here = interpreter_tag()
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for directory in getattr(module, "__path__", []):
        for root, _, files in os.walk(directory):
            for name in sorted(files):
                if not name.endswith(".so"):
                    continue
                path = os.path.join(root, name)
                for needed in _needed_libraries(path):
                    match = _NEEDED.match(needed)
                    if not match or needed == LIBRARY and name.endswith(suffixes):
                        continue
                    built_for, built_abi = match.group(1), int(match.group(2))
                    relative = os.path.relpath(path, os.path.dirname(directory))
                    raise ImportError(
                        f"{relative} was built for {describe_tag(built_for)} with pyo3cpp ABI "
                        f"{built_abi} ({needed}), but this process runs {describe_tag(here)} "
                        f"with the pyo3cpp runtime {LIBRARY} (ABI {ABI_VERSION}, "
                        f"{describe_tag(PYTHON_TAG)}): install {package} built for {here} "
                        f"against pyo3cpp ABI {ABI_VERSION}", name=package, path=path)
