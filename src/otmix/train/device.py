"""The torch device of a training run: resolve the ``device`` option, fail early and in one line.

The trainers build their models on the CPU (from the CPU random generator, so a seed gives the
same initial weights on every device), move them to the resolved device and create every
tensor of a step there. The optimal-transport solvers run on the CPU in numpy and hand their
results back on the device of the codes (:mod:`otmix.ot._backend`).
"""

from __future__ import annotations

import torch
from torch import nn

DEVICE_CHOICES = "'cpu', 'cuda', 'cuda:1', 'mps', 'auto' or another torch device string"


def _unavailable_reason(device: torch.device) -> str | None:
    """Why ``device`` cannot be used on this machine (``None`` when it can)."""
    if device.type == "cpu":
        return None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return "torch.cuda.is_available() is False"
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            return f"this machine has {count} CUDA device(s)"
        return None
    if device.type == "mps":
        if not torch.backends.mps.is_available():
            return "torch.backends.mps.is_available() is False"
        return None if device.index in (None, 0) else "there is one MPS device, mps:0"
    backend = getattr(torch, device.type, None)
    if backend is None or not callable(getattr(backend, "is_available", None)):
        return f"torch has no {device.type!r} backend to train on"
    if not backend.is_available():
        return f"torch.{device.type}.is_available() is False"
    count_fn = getattr(backend, "device_count", None)
    if device.index is not None and callable(count_fn) and device.index >= count_fn():
        return f"this machine has {count_fn()} {device.type} device(s)"
    return None


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """The :class:`torch.device` named by a ``device`` option, checked to be usable here.

    Parameters
    ----------
    device : str or torch.device
        ``"cpu"`` (the default of every trainer), ``"auto"`` (CUDA when
        ``torch.cuda.is_available()``, else the CPU) or any torch device string
        (``"cuda"``, ``"cuda:1"``, ``"mps"``...).

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        One line naming the device, when the string is not a torch device or the device is
        not available on this machine (e.g. ``"cuda"`` without a CUDA build or GPU).

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    >>> resolve_device("gpu")
    Traceback (most recent call last):
    ...
    ValueError: unknown device 'gpu'; use 'cpu', 'cuda', 'cuda:1', 'mps', 'auto' or another torch device string
    """
    if isinstance(device, torch.device):
        resolved = device
    elif isinstance(device, str):
        if device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            resolved = torch.device(device)
        except (RuntimeError, ValueError):
            raise ValueError(f"unknown device {device!r}; use {DEVICE_CHOICES}") from None
    else:
        raise ValueError(f"device must be a string such as 'cpu', 'cuda' or 'auto', got {type(device).__name__}")
    reason = _unavailable_reason(resolved)
    if reason is not None:
        raise ValueError(f"device {str(device)!r} is not available on this machine ({reason}); "
                         "use device='cpu' or 'auto'")
    return resolved


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (or buffer); the CPU for a module with neither."""
    for tensor in module.parameters():
        return tensor.device
    for tensor in module.buffers():
        return tensor.device
    return torch.device("cpu")
