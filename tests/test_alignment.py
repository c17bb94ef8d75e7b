"""Stability, alignability and the matched read-out: a weak view gains, a strong view loses nothing."""

import numpy as np
import pytest
from sklearn.cluster import KMeans

from otmix.alignment import analyse_views, clustering_stability
from otmix.data import unalign
from otmix.metrics import acc, nmi
from otmix.readout import matched_clusters


def strong_and_weak(n=300, n_clusters=4, noise=(0.3, 4.0), seed=0, fraction=0.2):
    """Two views of the same clusters, view 1 much noisier; unaligned, with a share of linked entities."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, 4)) * 4.0
    y = rng.permutation(np.arange(n) % n_clusters)
    latent = centres[y]
    views = [(latent + s * rng.normal(size=latent.shape)) @ rng.normal(size=(4, 6)) for s in noise]
    Xs, ys, perms = unalign(views, [y, y], random_state=seed)
    entities = rng.choice(n, size=int(fraction * n), replace=False)
    links = np.stack([np.argsort(p)[entities] for p in perms], axis=1)
    return Xs, ys, links, perms


def test_stability_ranks_a_clean_view_above_a_noisy_one():
    Xs, _, _, _ = strong_and_weak()
    clean, noisy = (clustering_stability(X, 4, random_state=0) for X in Xs)
    assert clean > noisy + 0.1
    assert 0.0 <= noisy <= clean <= 1.0


def test_the_weak_view_gains_and_the_strong_view_keeps_its_own_clusters():
    Xs, ys, links, _ = strong_and_weak()
    analysis = analyse_views(Xs, 4, links=links, random_state=0)
    labels, log = matched_clusters(Xs, 4, analysis, random_state=0, own=Xs)
    alone = [KMeans(4, n_init=10, random_state=0).fit_predict(X) for X in Xs]
    assert analysis.stability[0] > analysis.stability[1]
    assert nmi(labels[0], alone[0]) == pytest.approx(1.0)  # nothing flows into the most stable view
    assert log["weights"][0] == [0.0, 0.0] and log["weights"][1][0] > 0.0
    assert nmi(ys[1], labels[1]) > nmi(ys[1], alone[1]) + 0.03  # the weak view gains
    # one id map: pooled accuracy as good as the views' own
    pooled = acc(np.concatenate(ys), np.concatenate(labels))
    assert pooled >= 0.95 * np.mean([acc(y, lab) for y, lab in zip(ys, labels)])


def test_unreliable_transfer_gets_no_weight():
    """Two views with nothing in common: held-out links show the transfer is noise, so it is not used."""
    rng = np.random.default_rng(1)
    Xs = [rng.normal(size=(200, 5)), rng.normal(size=(200, 5))]
    Xs[0][:100] += 6.0  # view 0 clusters well, view 1 is noise
    links = np.stack([np.arange(40), rng.permutation(200)[:40]], axis=1)
    analysis = analyse_views(Xs, 2, links=links, random_state=0)
    labels, log = matched_clusters(Xs, 2, analysis, random_state=0, own=Xs)
    assert log["reliability"][1][0] is not None and log["reliability"][1][0] < 0.3
    alone = KMeans(2, n_init=10, random_state=0).fit_predict(Xs[1])
    assert nmi(labels[1], alone) > 0.9 or log["weights"][1][0] == 0.0


def test_identical_views_are_alignable_and_give_pseudo_links():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 3)) * np.array([4.0, 2.0, 1.0])
    perm = rng.permutation(80)
    analysis = analyse_views([X, X[perm]], 3, random_state=0)
    assert analysis.alignability[0].alignable
    table = analysis.pseudo_links
    assert table is not None and table.shape == (80, 2)
    ref = int(np.argmax(analysis.stability))
    other = 1 - ref
    rows_ref, rows_other = table[:, ref], table[:, other]
    original = [np.arange(80), perm]
    np.testing.assert_array_equal(original[ref][rows_ref], original[other][rows_other])  # every twin found


def test_pair_plans_hold_the_links_and_have_the_views_shapes():
    Xs, _, links, _ = strong_and_weak(n=120)
    analysis = analyse_views(Xs, 4, links=links, random_state=0)
    plan = analysis.plan(0, 1)
    assert plan.shape == (120, 120) and plan.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(plan[links[:, 0], links[:, 1]], 1 / 120)
    np.testing.assert_allclose(analysis.plan(1, 0), plan.T)
    assert analysis.effective_links() is not None and analysis.pseudo_links is None
