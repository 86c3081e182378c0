"""pyo3cpp_example: a C++ and a C extension module on the shared pyo3cpp runtime.

The two statements before the extension imports are what every package of pyo3cpp extensions
needs (docs/shipping.md): load the runtime package first, so the dynamic loader finds
libpyo3cpp-<tag>.so.<abi> already in the process, and check that the extensions here were built
for this runtime, so a mismatch is an ImportError naming both sides instead of a loader error.
"""
try:
    import pyo3cpp
except ModuleNotFoundError as error:
    if error.name != "pyo3cpp":
        raise
    raise ImportError(f"{__name__} needs the pyo3cpp runtime, which is not installed: "
                      "pip install pyo3cpp (the runtime package for this Python)",
                      name=__name__) from error
pyo3cpp.require(__name__)

from ._example_c import greet  # noqa: E402
from ._example_cpp import count_long_words, tally  # noqa: E402

__all__ = ["count_long_words", "greet", "tally"]
