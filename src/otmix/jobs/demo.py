"""The product demo (``make demo``, ``otmix demo``): what joining does for a strong and a weak view.

On the built-in digits2 (two views of scikit-learn's digits: 64 pixels, and a weak
6-number noisy projection of a coarse image), every view permuted on its own, three
arms share one seed:

1. **alone** — K-means (n_init 10) on every view's own features, the reference a view
   must never fall below;
2. **unaligned** — :class:`otmix.OTMClustering` with no side information: the views are
   not alignable, so they do not mix and each keeps its own clusters;
3. **linked** — the same with a tenth of the entities linked (rows known to be the same
   digit image in both views): the weak view also sees the strong view's clusters of its
   matched rows, as far as held-out links show that to be reliable.

Labels are used only to score. Nothing is read from disk.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEMO_LINKS = 0.1


@dataclass
class DemoConfig:
    """What the demo runs: the link fraction, the seed, the trainer's epochs."""

    links: float = DEMO_LINKS
    epochs: int = 10
    random_state: int = 0


@dataclass
class DemoResult:
    """Per arm: per-view scores, pooled scores (one id map), alignability, seconds."""

    config: DemoConfig
    view_names: list[str]
    arms: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0

    def gain(self, view: int, metric: str = "nmi") -> float:
        """Linked minus alone, for one view."""
        return self.arms["linked"]["per_view"][view][metric] - self.arms["alone"]["per_view"][view][metric]


def _scores(ys, labels) -> dict[str, Any]:
    from ..metrics import acc, nmi

    return {"per_view": [{"acc": acc(y, lab), "nmi": nmi(y, lab)} for y, lab in zip(ys, labels)],
            "pooled": {"acc": acc(np.concatenate(ys), np.concatenate(labels)),
                       "nmi": nmi(np.concatenate(ys), np.concatenate(labels))}}


def run_demo(config: DemoConfig, progress: Callable[[str], None] | None = None) -> DemoResult:
    """Run the three arms (module docstring) and score them."""
    from sklearn.cluster import KMeans

    from ..data import load_dataset, simulate_links, unalign
    from ..data.links import link_seed
    from ..estimators import OTMClustering

    start = time.perf_counter()
    say = progress or (lambda message: None)
    ds = load_dataset("digits2")
    n_clusters = len(np.unique(np.concatenate(ds.ys)))
    Xs, ys, perms = unalign(ds.Xs, ds.ys, random_state=config.random_state)
    links = simulate_links(perms, config.links, random_state=link_seed(config.random_state))
    result = DemoResult(config, list(ds.view_names))

    say("K-means on every view alone")
    t0 = time.perf_counter()
    alone = [KMeans(n_clusters, n_init=10, random_state=config.random_state).fit_predict(X) for X in Xs]
    result.arms["alone"] = {**_scores(ys, alone), "seconds": time.perf_counter() - t0}
    for arm, arm_links in (("unaligned", None), ("linked", links)):
        say(f"OTMClustering, {'no links' if arm_links is None else f'{len(arm_links)} linked rows'}")
        t0 = time.perf_counter()
        est = OTMClustering(n_clusters=n_clusters, epochs=config.epochs, random_state=config.random_state)
        est.fit(Xs, links=arm_links)
        result.arms[arm] = {**_scores(ys, est.labels_), "seconds": time.perf_counter() - t0,
                            "alignability": est.alignability_, "readout": est.readout_,
                            "mixing": est.training_["mixing"], "n_links": 0 if arm_links is None else len(arm_links),
                            "transfer_weights": est.transfer_weights_}
    result.seconds = time.perf_counter() - start
    return result


def summary_lines(result: DemoResult) -> list[str]:
    """What the numbers say, in words that follow from them (never a story they contradict)."""
    alone, linked, unaligned = (result.arms[k] for k in ("alone", "linked", "unaligned"))
    weak = int(np.argmin([v["nmi"] for v in alone["per_view"]]))
    strong = 1 - weak if len(alone["per_view"]) == 2 else int(np.argmax([v["nmi"] for v in alone["per_view"]]))
    lines = []
    score = unaligned["alignability"][0]["score"]
    if unaligned["mixing"]:
        lines.append(f"Without links the views were found alignable (score {score:.2f}) and mixed.")
    else:
        lines.append(f"Without links the views are not alignable (score {score:.2f} < 0.5): they did not mix, "
                     "and each view kept its own clusters.")
    for view, role in ((weak, "weak"), (strong, "strong")):
        a, b = alone["per_view"][view], linked["per_view"][view]
        change = b["nmi"] - a["nmi"]
        verdict = "gains" if change > 0.005 else ("loses" if change < -0.005 else "is unchanged")
        lines.append(f"The {role} view ({result.view_names[view]}) {verdict} with {linked['n_links']} links: NMI "
                     f"{a['nmi']:.3f} alone -> {b['nmi']:.3f} ({change:+.3f}), ACC {a['acc']:.3f} -> {b['acc']:.3f}.")
    lines.append(f"With links the cluster ids agree across views: pooled ACC {linked['pooled']['acc']:.3f} "
                 f"(without links {unaligned['pooled']['acc']:.3f}, where the ids of the two views are not tied).")
    return lines
