"""pyo3cpp_second: a second, separately built extension wheel on the pyo3cpp runtime (tests)."""
try:
    import pyo3cpp
except ModuleNotFoundError as error:
    if error.name != "pyo3cpp":
        raise
    raise ImportError(f"{__name__} needs the pyo3cpp runtime, which is not installed: "
                      "pip install pyo3cpp (the runtime package for this Python)",
                      name=__name__) from error
pyo3cpp.require(__name__)

from ._second import (attach_from_thread, lock_and_unlock, pool_drain,  # noqa: E402
                      pool_pending, runtime_address)

__all__ = ["attach_from_thread", "lock_and_unlock", "pool_drain", "pool_pending",
           "runtime_address"]
