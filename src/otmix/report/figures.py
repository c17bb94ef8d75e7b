"""Figures: t-SNE of fused codes (the paper's Fig. 2) and noise curves.

Each figure is built by a ``*_figure`` function that returns a matplotlib ``Figure``
without writing anything (the CLI renders all its outputs first and writes them
together, :func:`otmix.outputs.write_together`); the ``plot_*`` functions build and
write one atomically.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..atomic import atomic_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*")
MAX_CLASS_LEGEND = 20  # more classes get a colour bar instead of a legend entry each


def fused_codes_per_sample(plans: Sequence[np.ndarray], fused_codes: np.ndarray) -> list[np.ndarray]:
    """The fused code of every sample of every view: ``diag(1/μ_m) T_mᵀ Z_B``."""
    from ..ot import push_back

    return [np.asarray(push_back(T, fused_codes)) for T in plans]


def class_colours(n_classes: int) -> np.ndarray:
    """``n_classes`` distinct RGBA colours: tab10 / tab20 when they suffice, else evenly spaced on turbo."""
    from matplotlib import colormaps

    if n_classes <= 10:
        return colormaps["tab10"](np.arange(n_classes))
    if n_classes <= 20:
        return colormaps["tab20"](np.arange(n_classes))
    return colormaps["turbo"](np.linspace(0.0, 1.0, n_classes))


def fused_tsne_figure(
    codes: Sequence[np.ndarray], labels: Sequence[np.ndarray] | None, title: str = "", random_state: int = 0,
    max_points: int = 3000,
) -> Figure:
    """t-SNE of the codes of all views in one picture: colour = class, marker = view, one legend for each.

    Parameters
    ----------
    codes : list of ndarray (n_m, d)
        One array per view.
    labels : list of ndarray (n_m,) or None
        The class of every row (scoring only); without labels every point has one colour.
    title : str
    random_state : int
        Seeds the subsample and t-SNE.
    max_points : int
        At most this many points are embedded (a random subsample over all views).

    Returns
    -------
    matplotlib.figure.Figure
        Its axes carry the view legend (grey markers, one shape per view) and, for up to
        ``MAX_CLASS_LEGEND`` classes, a class legend (one colour per class), else a colour bar.
    """
    from matplotlib.figure import Figure  # no pyplot: the caller's backend and figures stay untouched
    from matplotlib.lines import Line2D
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(random_state)
    stacked = np.concatenate(codes)
    view_of = np.concatenate([np.full(len(Z), m) for m, Z in enumerate(codes)])
    raw = np.concatenate(labels) if labels is not None else np.zeros(len(stacked), dtype=int)
    classes, class_of = np.unique(raw, return_inverse=True)
    palette = class_colours(len(classes)) if labels is not None else np.array([[0.12, 0.47, 0.71, 1.0]])
    keep = rng.permutation(len(stacked))[:max_points]
    perplexity = float(min(30, max(2, (len(keep) - 1) // 3)))
    # one OpenMP thread: at these sizes more threads only wait for each other, and on a busy 2-core machine
    # their spinning turned a 0.4 s embedding into 5-8 s
    with threadpool_limits(1):
        emb = TSNE(2, perplexity=perplexity, init="pca", random_state=random_state).fit_transform(stacked[keep])
    fig = Figure(figsize=(7.5, 5), layout="constrained")
    ax = fig.subplots()
    for m in range(len(codes)):
        sel = view_of[keep] == m
        ax.scatter(emb[sel, 0], emb[sel, 1], c=palette[class_of[keep][sel]], s=24, marker=MARKERS[m % len(MARKERS)],
                   alpha=0.6, linewidths=0)
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(title or "t-SNE of fused codes")
    view_handles = [Line2D([], [], linestyle="", marker=MARKERS[m % len(MARKERS)], color="0.35", label=f"view {m}")
                    for m in range(len(codes))]
    views_legend = ax.legend(handles=view_handles, title="marker: view", loc="upper left", bbox_to_anchor=(1.01, 1.0),
                             fontsize=8, title_fontsize=8)
    if labels is not None and len(classes) <= MAX_CLASS_LEGEND:
        ax.add_artist(views_legend)  # a second legend would replace the first
        class_handles = [Line2D([], [], linestyle="", marker="o", color=palette[i], label=str(c))
                         for i, c in enumerate(classes)]
        ax.legend(handles=class_handles, title="colour: class", loc="lower left", bbox_to_anchor=(1.01, 0.0),
                  fontsize=7, title_fontsize=8, ncol=1 if len(classes) <= 10 else 2)
    elif labels is not None:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import ListedColormap

        mappable = ScalarMappable(cmap=ListedColormap(palette))
        mappable.set_clim(-0.5, len(classes) - 0.5)
        fig.colorbar(mappable, ax=ax, label=f"colour: class ({len(classes)} classes)", location="bottom",
                     shrink=0.6)
    return fig


def plot_fused_tsne(
    codes: Sequence[np.ndarray], labels: Sequence[np.ndarray] | None, path: str | os.PathLike,
    title: str = "", random_state: int = 0, max_points: int = 3000,
) -> Path:
    """Write :func:`fused_tsne_figure` to ``path`` atomically (format from the suffix)."""
    return save_figure(fused_tsne_figure(codes, labels, title, random_state, max_points), path, dpi=120)


def noise_curves_figure(payload: dict) -> Figure:
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
    return fig


def plot_noise_curves(payload: dict, path: str | os.PathLike) -> Path:
    """Write :func:`noise_curves_figure` to ``path`` atomically (format from the suffix)."""
    return save_figure(noise_curves_figure(payload), path, dpi=110)


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Write ``fig`` through a temporary file and a rename (never a half-written image)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)
    return path
