"""The transport plans of one training batch: FGW barycenter of the detached codes, plans as constants."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..ot import fgw_barycenter


def batch_plans(
    Zs: Sequence[torch.Tensor], alpha: float, max_outer: int, rng: np.random.Generator, n_jobs: int | None = 1,
    structure: str = "euclidean",
) -> list[torch.Tensor]:
    """Plans from a barycenter of ``max_m N_m`` points to every modality's batch codes.

    The barycenter is solved on detached float64 copies (random start from ``rng``,
    relative tolerance 1e-5), so the plans carry no gradient (envelope theorem); they are
    returned as tensors of the codes' dtype, on the codes' device.
    """
    detached = [Z.detach().cpu().numpy().astype(np.float64) for Z in Zs]
    bary = fgw_barycenter(detached, n_points=max(len(Z) for Z in detached), alpha=alpha, structure=structure,
                          init="random", max_outer=max_outer, tol=1e-5, random_state=rng, n_jobs=n_jobs)
    return [torch.as_tensor(T, dtype=Zs[0].dtype, device=Zs[0].device) for T in bary.plans]
