"""The transport plans of one training batch: FGW barycenter of the detached codes, plans as constants."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..ot import fgw_barycenter, link_features


def batch_plans(
    Zs: Sequence[torch.Tensor], alpha: float, max_outer: int, rng: np.random.Generator, n_jobs: int | None = 1,
    structure: str = "euclidean", links: np.ndarray | None = None, labels: Sequence[Any] | None = None,
) -> list[torch.Tensor]:
    """Plans from a barycenter of ``max_m N_m`` points to every modality's batch codes.

    The barycenter is solved on detached float64 copies (random start from ``rng``,
    relative tolerance 1e-5), so the plans carry no gradient (envelope theorem); they are
    returned as tensors of the codes' dtype, on the codes' device. With ``links`` (the
    batch's link table) it is the linked barycenter, its Wasserstein term on
    :func:`otmix.ot.link_features` of the batch (when an entity is linked in every view;
    else on the codes). With ``labels`` (one int array or tensor per modality, ``-1`` or None:
    unknown) the plans put no mass between a barycenter point and a row of a different known
    label (the least possible when the batch's class counts differ; see
    :func:`otmix.ot.fgw_barycenter`). ``labels=None`` is the call without labels, bit for bit.
    """
    if labels is not None and not isinstance(labels, (np.ndarray, torch.Tensor)):  # one array: refused by otmix.ot
        labels = [None if y is None else np.asarray(y.detach().cpu() if isinstance(y, torch.Tensor) else y)
                  for y in labels]
    detached = [Z.detach().cpu().numpy().astype(np.float64) for Z in Zs]
    features = None
    if links is not None and np.all(links >= 0, axis=1).any():
        features = link_features(detached, links)
    bary = fgw_barycenter(detached, n_points=max(len(Z) for Z in detached), alpha=alpha, structure=structure,
                          init="random", max_outer=max_outer, tol=1e-5, random_state=rng, n_jobs=n_jobs,
                          links=links, labels=labels, features=features)
    return [torch.as_tensor(T, dtype=Zs[0].dtype, device=Zs[0].device) for T in bary.plans]
