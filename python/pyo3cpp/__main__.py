"""python -m pyo3cpp --cflags --libs --pkgconfigdir --include: what a build system needs to build
an extension against the pyo3cpp runtime installed for *this* interpreter."""
import argparse
import os
import sys
import sysconfig

import pyo3cpp


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pyo3cpp", description=__doc__)
    parser.add_argument("--cflags", action="store_true",
                        help="-I for pyo3cpp's headers and this interpreter's Python.h")
    parser.add_argument("--libs", action="store_true",
                        help="link flags: the runtime by its SONAME, no RUNPATH, no libpython")
    parser.add_argument("--pkgconfigdir", action="store_true",
                        help="the directory of pyo3cpp.pc, for PKG_CONFIG_PATH")
    parser.add_argument("--include", action="store_true", help="pyo3cpp's include directory")
    parser.add_argument("--library", action="store_true", help="the runtime library's path")
    parser.add_argument("--version", action="store_true",
                        help="release, ABI version and Python ABI of this runtime")
    args = parser.parse_args(argv)
    flags = []
    if args.cflags:
        flags += [f"-I{pyo3cpp.include()}", f"-I{sysconfig.get_paths()['include']}"]
    if args.libs:
        flags += [f"-L{os.path.dirname(pyo3cpp.library_path())}", f"-l:{pyo3cpp.LIBRARY}"]
    if flags:
        print(" ".join(flags))
    if args.pkgconfigdir:
        print(pyo3cpp.pkgconfig_dir())
    if args.include:
        print(pyo3cpp.include())
    if args.library:
        print(pyo3cpp.library_path())
    if args.version:
        print(f"pyo3cpp {pyo3cpp.__version__}, ABI {pyo3cpp.ABI_VERSION}, "
              f"{pyo3cpp.describe_tag(pyo3cpp.PYTHON_TAG)} ({pyo3cpp.LIBRARY})")
    if not (flags or args.pkgconfigdir or args.include or args.library or args.version):
        parser.print_help()
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
