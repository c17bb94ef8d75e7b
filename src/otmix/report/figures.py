"""Figures: t-SNE of fused codes (the paper's Fig. 2)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..atomic import atomic_path
from ..ot import push_back

MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*")


def fused_codes_per_sample(plans: Sequence[np.ndarray], fused_codes: np.ndarray) -> list[np.ndarray]:
    """The fused code of every sample of every view: ``diag(1/μ_m) T_mᵀ Z_B``."""
    return [np.asarray(push_back(T, fused_codes)) for T in plans]


def plot_fused_tsne(
    codes: Sequence[np.ndarray], labels: Sequence[np.ndarray] | None, path: str | os.PathLike,
    title: str = "", random_state: int = 0, max_points: int = 3000,
) -> Path:
    """t-SNE of the codes of all views in one picture: colour = label, marker = view; written atomically."""
    from matplotlib.figure import Figure  # no pyplot: the caller's backend and figures stay untouched
    from sklearn.manifold import TSNE

    path = Path(path)
    rng = np.random.default_rng(random_state)
    stacked = np.concatenate(codes)
    view_of = np.concatenate([np.full(len(Z), m) for m, Z in enumerate(codes)])
    colour = np.concatenate(labels) if labels is not None else np.zeros(len(stacked), dtype=int)
    keep = rng.permutation(len(stacked))[:max_points]
    perplexity = float(min(30, max(2, (len(keep) - 1) // 3)))
    emb = TSNE(2, perplexity=perplexity, init="pca", random_state=random_state).fit_transform(stacked[keep])
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    vmin, vmax = float(colour.min()), float(colour.max())  # one colour scale for every view
    for m in range(len(codes)):
        sel = view_of[keep] == m
        ax.scatter(emb[sel, 0], emb[sel, 1], c=colour[keep][sel], cmap="tab20", s=8,
                   marker=MARKERS[m % len(MARKERS)], label=f"view {m}", alpha=0.8, vmin=vmin, vmax=vmax)
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(title or "t-SNE of fused codes (colour: label, marker: view)")
    ax.legend(loc="best", fontsize=8, markerscale=2)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    return path


def plot_noise_curves(payload: dict, path: str | os.PathLike) -> Path:
    """Score against the noise ratio ρ, one panel per noisy modality, with (solid) and without (dashed) OTM."""
    from matplotlib.figure import Figure

    ratios = payload["noise_ratios"]
    names = payload["modalities"]
    fig = Figure(figsize=(4.2 * len(names), 3.6))
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for m, ax in enumerate(axes):
        for arm, style in (("with_otm", "-o"), ("without_otm", "--s")):
            mean = np.asarray(payload[arm]["noise"]["mean"][m])
            std = np.asarray(payload[arm]["noise"]["std"][m])
            ax.errorbar(ratios, mean, yerr=std, fmt=style, capsize=3, label=arm.replace("_", " "))
        ax.set_xlabel("noise energy ratio ρ")
        ax.set_ylabel(payload["metric"].upper())
        ax.set_title(f"noise on {names[m]}")
        ax.legend(fontsize=8)
    fig.suptitle(f"{payload['dataset']}, {payload['fusion']} fusion, {payload['folds']} folds")
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    return path
