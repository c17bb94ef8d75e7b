r"""Stochastic mixing of pushed-forward codes (the OTM) and the push-back (paper Eq. 3).

With plans :math:`T_m \in \Pi(\mu_B, \mu_m)`, the pushforward of modality m onto the
barycenter support is :math:`P_m = \operatorname{diag}(1/\mu_B) T_m Z_m`. The
stochastic barycenter is

.. math:: \tilde Z_B = \sum_m M_m \odot P_m, \qquad M_m \in \{0,1\}^{N_B\times d},\ \sum_m M_m = 1,

every element taking its value from exactly one modality, drawn with probabilities
:math:`\lambda_m`. The "weighted" ablation (WB) uses :math:`M_m = \lambda_m`, which gives
the ordinary barycenter update :math:`\sum_m \lambda_m P_m`. The push-back to modality
m is :math:`\tilde Z_m = \operatorname{diag}(1/\mu_m) T_m^\top \tilde Z_B`, one mixed code
per sample of m. Plans act as constants: with torch inputs, gradients flow into
every :math:`Z_m`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ._backend import is_torch, like, matmul_const, to_numpy
from ._validation import check_codes, check_matrix, check_weights

MODES = ("binary", "weighted")


def _check_one_device(Zs: Sequence[Any]) -> None:
    """Torch codes must share one device (the mix is built on the device of ``Zs[0]``)."""
    devices = {str(Z.device) for Z in Zs if is_torch(Z)}
    if len(devices) > 1:
        raise ValueError(f"all codes must be on one device, got {sorted(devices)}")


def _plan_marginal(plan: Any, axis: int) -> np.ndarray:
    marginal = to_numpy(plan).sum(axis=axis)
    if np.any(marginal <= 0):
        side = "row" if axis == 1 else "column"
        raise ValueError(f"plan has a {side} with no mass; its codes cannot be pushed")
    return marginal


def pushforward(plan: Any, Z: Any) -> Any:
    """``diag(1/μ_B) T Z``: the codes ``Z`` (N_m x d) carried onto the N_B barycenter points (on ``Z``'s device)."""
    T = to_numpy(plan)
    mu_b = _plan_marginal(T, axis=1)
    return matmul_const(T / mu_b[:, None], Z)


def binary_masks(
    n_points: int, dim: int, weights: Sequence[float] | np.ndarray | None, n_modalities: int,
    random_state: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Binary masks of shape (M, N_B, d) that sum to one over M, drawn per element from λ."""
    lambdas = check_weights(weights, n_modalities)
    rng = np.random.default_rng(random_state)
    choice = rng.choice(n_modalities, size=(n_points, dim), p=lambdas)
    return (choice[None, :, :] == np.arange(n_modalities)[:, None, None]).astype(np.float64)


def stochastic_mix(
    plans: Sequence[Any],
    Zs: Sequence[Any],
    weights: Sequence[float] | None = None,
    mode: str = "binary",
    random_state: int | np.random.Generator | None = None,
    return_masks: bool = False,
) -> Any:
    r"""Mix the modalities' pushforwards into one stochastic barycenter :math:`\tilde Z_B`.

    Parameters
    ----------
    plans : list of arrays of shape (N_B, N_m)
        Transport plans from the barycenter to each modality (e.g.
        ``fgw_barycenter(...).plans``).
    Zs : list of arrays of shape (N_m, d)
        Codes of each modality (torch tensors keep their autograd graph).
    weights : sequence of M floats, optional
        Modality probabilities ``λ_m`` (uniform by default).
    mode : {"binary", "weighted"}
        ``"binary"``: each element from exactly one modality (the OTM);
        ``"weighted"``: ``sum_m λ_m diag(1/μ_B) T_m Z_m`` (the WB ablation).
    random_state : int, Generator or None
        Seed for the binary masks.
    return_masks : bool
        Also return the masks, an (M, N_B, d) numpy array.

    Returns
    -------
    mixed : array of shape (N_B, d), same type as ``Zs[0]``
        (and ``masks`` when ``return_masks``).

    Examples
    --------
    >>> import numpy as np
    >>> from otmix.ot import stochastic_mix
    >>> plans = [np.eye(3) / 3, np.eye(3)[::-1] / 3]
    >>> Zs = [np.zeros((3, 2)), np.ones((3, 2))]
    >>> stochastic_mix(plans, Zs, mode="weighted")
    array([[0.5, 0.5],
           [0.5, 0.5],
           [0.5, 0.5]])
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if len(plans) != len(Zs):
        raise ValueError(f"got {len(plans)} plans for {len(Zs)} modalities")
    _check_one_device(Zs)
    check_codes([to_numpy(Z) for Z in Zs])
    plans_np = [check_matrix(f"plans[{m}]", to_numpy(T)) for m, T in enumerate(plans)]  # one host copy each
    n_points = None
    for m, (T_np, Z) in enumerate(zip(plans_np, Zs)):
        if T_np.shape[1] != Z.shape[0]:
            raise ValueError(f"plans[{m}] has {T_np.shape[1]} columns but Zs[{m}] has {Z.shape[0]} rows")
        if n_points is not None and T_np.shape[0] != n_points:
            raise ValueError("all plans must share the barycenter size N_B (their number of rows)")
        n_points = T_np.shape[0]
    n_modalities, dim = len(Zs), Zs[0].shape[1]
    lambdas = check_weights(weights, n_modalities)
    pushed = [pushforward(T_np, Z) for T_np, Z in zip(plans_np, Zs)]
    if mode == "weighted":
        masks = np.broadcast_to(lambdas[:, None, None], (n_modalities, n_points, dim)).copy()
    else:
        masks = binary_masks(n_points, dim, lambdas, n_modalities, random_state)
    mixed = sum(like(masks[m], Zs[0]) * pushed[m] for m in range(n_modalities))
    if not is_torch(mixed):
        mixed = like(np.asarray(mixed), Zs[0])
    return (mixed, masks) if return_masks else mixed


def push_back(plan: Any, mixed: Any) -> Any:
    r"""Carry mixed barycenter codes back to one modality.

    :math:`\tilde Z_m = \operatorname{diag}(1/\mu_m) T_m^\top \tilde Z_B`, one mixed code per sample of m.

    Parameters
    ----------
    plan : array of shape (N_B, N_m)
    mixed : array of shape (N_B, d)

    Returns
    -------
    array of shape (N_m, d), same type as ``mixed`` (differentiable in it).
    """
    T = check_matrix("plan", to_numpy(plan))
    if T.shape[0] != mixed.shape[0]:
        raise ValueError(f"plan has {T.shape[0]} rows but mixed has {mixed.shape[0]} rows")
    check_matrix("mixed", to_numpy(mixed))
    mu_m = _plan_marginal(T, axis=0)
    return matmul_const(T.T / mu_m[:, None], mixed)
