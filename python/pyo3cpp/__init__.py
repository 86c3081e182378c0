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
# Import cost: an extension package imports this first, so this module imports only what is
# already loaded at startup or costs little: its own small C module _loader loads the runtime
# (ctypes pulled in struct, libffi, and on 3.14+ sysconfig and threading), string methods
# instead of re (enum, functools, collections). bench/import_time.sh measures it.
import os
# importlib.machinery.EXTENSION_SUFFIXES is this list; _imp is loaded at startup, the module
# importlib.machinery is not (70 us on 3.11).
from _imp import extension_suffixes

EXTENSION_SUFFIXES = extension_suffixes()

from . import _build

__all__ = ["ABI_VERSION", "LIBRARY", "PYTHON_TAG", "abi_version", "describe_tag", "include",
           "interpreter_tag", "library_path", "pkgconfig_dir", "require", "runtime_python"]

__version__ = _build.VERSION
ABI_VERSION = _build.ABI_VERSION   # the runtime's ABI major (the SONAME's number)
PYTHON_TAG = _build.PYTHON_TAG     # the Python ABI this runtime serves, e.g. "cp313t"
LIBRARY = _build.LIBRARY           # its file name and SONAME, e.g. "libpyo3cpp-cp313t.so.1"

_HERE = os.path.dirname(os.path.abspath(__file__))


def _split_tag(tag):
    """'cp313t' -> ('3', '13', True); None unless it is cp<digit><digits>[t]."""
    digits = tag[2:-1] if tag.endswith("t") else tag[2:]
    if not tag.startswith("cp") or len(digits) < 2 or not digits.isdigit():
        return None
    return digits[0], digits[1:], tag.endswith("t")


def _needed_runtime(name):
    """'libpyo3cpp-cp313t.so.1' -> ('cp313t', 1); None for any other file name."""
    stem, dot_so, abi = name.partition(".so.")
    if not (dot_so and stem.startswith("libpyo3cpp-") and abi.isdigit()
            and _split_tag(stem[len("libpyo3cpp-"):])):
        return None
    return stem[len("libpyo3cpp-"):], int(abi)


def interpreter_tag():
    """The running interpreter's Python ABI tag, from its extension-module suffix."""
    for suffix in EXTENSION_SUFFIXES:
        if suffix.startswith(".cpython-") and suffix.count("-") >= 2:
            tag = "cp" + suffix.split("-")[1]
            if _split_tag(tag):
                return tag
    return "unknown"


def describe_tag(tag):
    """'cp313t' -> 'CPython 3.13 (free-threaded)'; 'cp311' -> 'CPython 3.11 (GIL)'."""
    parts = _split_tag(tag)
    if not parts:
        return tag
    major, minor, free_threaded = parts
    return f"CPython {major}.{minor} ({'free-threaded' if free_threaded else 'GIL'})"


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

# Loaded once and never unloaded, by pyo3cpp._loader (after the check above: a package for
# another Python holds a _loader this interpreter cannot import). If a runtime with this SONAME
# is already in the process (an extension built against a system install, loaded first through
# its RUNPATH), that one is used: never a second copy. An unloadable library is an OSError.
from . import _loader

_loaded_abi, _loaded_major, _loaded_minor, _loaded_free_threaded = _loader.load(
    LIBRARY, library_path())


def abi_version():
    """The ABI version the loaded runtime implements (pyo3cpp_abi_version())."""
    return _loaded_abi


def runtime_python():
    """(major, minor, free_threaded) of the CPython the loaded runtime was compiled for."""
    return _loaded_major, _loaded_minor, _loaded_free_threaded


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
    def word(data, at, size):   # little-endian unsigned; struct would be one more import
        if at + size > len(data):
            raise IndexError(at)
        return int.from_bytes(data[at:at + size], "little")

    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
                return []
            shoff, shentsize, shnum = word(head, 0x28, 8), word(head, 0x3A, 2), word(head, 0x3C, 2)
            f.seek(shoff)
            table = f.read(shentsize * shnum)
            needed = []
            # Only the dynamic section's header is decoded in full (require() runs on every
            # import of an extension package: bench/import_time.md).
            for at in range(0, shentsize * shnum, shentsize):
                if word(table, at + 4, 4) != 6:   # sh_type: SHT_DYNAMIC
                    continue
                offset, size = word(table, at + 24, 8), word(table, at + 32, 8)
                link, entsize = word(table, at + 40, 4), word(table, at + 56, 8) or 16
                strtab_at = link * shentsize    # the section of the dynamic string table
                f.seek(word(table, strtab_at + 24, 8))
                strtab = f.read(word(table, strtab_at + 32, 8))
                f.seek(offset)
                dynamic = f.read(size)
                for pos in range(0, len(dynamic) - 15, entsize):
                    tag = word(dynamic, pos, 8)
                    if tag == 0:
                        break
                    if tag == 1:   # DT_NEEDED
                        value = word(dynamic, pos + 8, 8)
                        needed.append(strtab[value:strtab.index(b"\0", value)].decode())
            return needed
    except (OSError, ValueError, IndexError):
        return []


def require(package):
    """Checks, before any of `package`'s extension modules is loaded, that each one that needs a
    pyo3cpp runtime needs this one (same Python ABI, same ABI version). Raises ImportError naming
    both sides otherwise. Call it from the package's __init__.py after `import pyo3cpp`."""
    import sys
    module = sys.modules[package]
    here = interpreter_tag()
    suffixes = tuple(EXTENSION_SUFFIXES)
    for directory in getattr(module, "__path__", []):
        for root, _, files in os.walk(directory):
            for name in sorted(files):
                if not name.endswith(".so"):
                    continue
                path = os.path.join(root, name)
                for needed in _needed_libraries(path):
                    runtime = _needed_runtime(needed)
                    if not runtime or needed == LIBRARY and name.endswith(suffixes):
                        continue
                    built_for, built_abi = runtime
                    relative = os.path.relpath(path, os.path.dirname(directory))
                    raise ImportError(
                        f"{relative} was built for {describe_tag(built_for)} with pyo3cpp ABI "
                        f"{built_abi} ({needed}), but this process runs {describe_tag(here)} "
                        f"with the pyo3cpp runtime {LIBRARY} (ABI {ABI_VERSION}, "
                        f"{describe_tag(PYTHON_TAG)}): install {package} built for {here} "
                        f"against pyo3cpp ABI {ABI_VERSION}", name=package, path=path)
