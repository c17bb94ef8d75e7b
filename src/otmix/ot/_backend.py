"""Array plumbing shared by the solvers: numpy or torch in, the same type out.

The exact solvers run on the CPU in numpy, taking float64 inputs and returning
float64 results (assignment and network simplex have no GPU form; the barycenter
runs its dense products in float32 internally). Inputs are detached and copied to numpy; results are
handed back with the caller's array type, dtype and device.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np


def torch_module() -> Any:
    """The torch module when it is already imported, else None.

    The solvers never import torch themselves (it takes seconds): a tensor can only be
    passed in once its caller has imported torch, so ``sys.modules`` tells.
    """
    return sys.modules.get("torch")


def is_torch(x: Any) -> bool:
    """Return True if ``x`` is a torch tensor."""
    torch = torch_module()
    return torch is not None and isinstance(x, torch.Tensor)


def to_numpy(x: Any) -> np.ndarray:
    """Detached float64 numpy copy (or view) of a numpy array or torch tensor.

    A tensor on an accelerator is copied to the host in its own dtype and widened there
    (half the transfer for float32; some devices, e.g. MPS, have no float64).
    """
    if is_torch(x):
        return x.detach().cpu().to(torch_module().float64).numpy()
    return np.asarray(x, dtype=np.float64)


def like(arr: np.ndarray, ref: Any) -> Any:
    """Return ``arr`` as the same kind of array as ``ref`` (type, dtype, device).

    For a tensor ``ref`` the cast to its dtype happens on the host, then the result moves to
    ``ref.device`` (the accelerator never sees the float64 solver output).
    """
    if is_torch(ref):
        torch = torch_module()
        dtype = ref.dtype if ref.dtype.is_floating_point else torch.get_default_dtype()
        return torch.as_tensor(np.ascontiguousarray(arr), dtype=dtype, device="cpu").to(ref.device)
    if isinstance(ref, np.ndarray) and np.issubdtype(ref.dtype, np.floating):
        return arr.astype(ref.dtype, copy=False)
    return arr


def matmul_const(plan: np.ndarray, Z: Any) -> Any:
    """``plan @ Z`` with ``plan`` a constant and gradients flowing into ``Z``."""
    if is_torch(Z):
        return like(plan, Z) @ Z
    return plan @ np.asarray(Z)
