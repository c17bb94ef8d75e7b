"""A numba ``njit`` that imports numba and compiles on the first call, not at import.

Importing numba costs about half a second, so ``import otmix.ot`` would pay it for
every program, also those that never call a kernel. Only for leaf kernels (a compiled
function that calls another compiled function needs the real dispatcher at compile
time). ``cache=True`` keeps working: numba caches by the Python function's file and name.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any


def lazy_njit(**options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: ``numba.njit(**options)`` applied on the first call of the function."""

    def wrap(py_func: Callable[..., Any]) -> Callable[..., Any]:
        state: dict[str, Any] = {}
        lock = threading.Lock()

        @functools.wraps(py_func)
        def call(*args: Any) -> Any:
            compiled = state.get("dispatcher")
            if compiled is None:
                with lock:  # threads of one barycenter may call a kernel at once
                    compiled = state.get("dispatcher")
                    if compiled is None:
                        from numba import njit

                        compiled = state["dispatcher"] = njit(**options)(py_func)
            return compiled(*args)

        call.py_func = py_func  # type: ignore[attr-defined]
        return call

    return wrap
