"""align_views: recovery of rotations and permutations, the alignability score, bad input."""

import numpy as np
import pytest

from otmix.ot import ALIGNABLE_THRESHOLD, align_views, plan_agreement


def rotated_copies(n=80, seed=0, n_views=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)) * np.array([4.0, 2.0, 1.0])
    views, invs, rotations = [X], [np.arange(n)], [np.eye(3)]
    for _ in range(n_views - 1):
        Q = np.linalg.qr(rng.normal(size=(3, 3)))[0]
        perm = rng.permutation(n)
        views.append(X[perm] @ Q + rng.normal(size=3))
        invs.append(np.argsort(perm))
        rotations.append(Q)
    return views, invs, rotations


def test_rotation_and_permutation_are_recovered():
    views, invs, rotations = rotated_copies()
    res = align_views(views, restarts=4, random_state=0)
    assert res.reference == 0
    for m in (1, 2):
        np.testing.assert_array_equal(res.plans[m].argmax(axis=1), invs[m])
        # the aligned codes sit on the reference's: rotation recovered (as the inverse of Q)
        np.testing.assert_allclose(res.aligned[m][invs[m]], res.aligned[0], atol=1e-8)
        np.testing.assert_allclose(res.rotations[m] @ rotations[m], np.eye(3), atol=1e-8)
        np.testing.assert_allclose(res.rotations[m].T @ res.rotations[m], np.eye(3), atol=1e-10)
    assert res.objectives.shape == (3, 4) and np.all(np.isnan(res.objectives[0]))
    assert res.objectives[1].min() == pytest.approx(0.0, abs=1e-9)


def test_identical_views_are_alignable_and_independent_clouds_are_not():
    views, _, _ = rotated_copies(n=60, seed=1, n_views=2)
    same = align_views(views, restarts=6, random_state=0)
    assert same.alignability[0].score >= 0.99 and same.alignability[0].alignable
    rng = np.random.default_rng(2)
    independent = [rng.normal(size=(60, 3)), rng.normal(size=(60, 3))]
    other = align_views(independent, restarts=6, random_state=0)
    assert other.alignability[0].score < ALIGNABLE_THRESHOLD and not other.alignability[0].alignable
    assert other.alignability[0].as_dict() == {"views": [0, 1], "score": other.alignability[0].score,
                                               "alignable": False}


def test_links_are_kept_and_make_a_hard_pair_alignable():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 3))  # isotropic: geometry alone leaves the rotation open
    perm = rng.permutation(50)
    inv = np.argsort(perm)
    links = np.stack([np.arange(10), inv[:10]], axis=1)
    res = align_views([X, X[perm]], restarts=4, links=links, random_state=0)
    np.testing.assert_array_equal(res.plans[1][links[:, 0], links[:, 1]], np.full(10, 1 / 50))
    assert np.mean(res.plans[1].argmax(axis=1) == inv) == 1.0


def test_plan_agreement_counts_the_mass_sent_alike():
    a = np.eye(4) / 4
    b = np.eye(4)[[0, 1, 3, 2]] / 4
    assert plan_agreement(a, a) == 1.0
    assert plan_agreement(a, b) == pytest.approx(0.5)
    assert plan_agreement(a, b, rows=np.array([0, 1])) == 1.0


@pytest.mark.parametrize("kwargs, message", [
    ({"restarts": 0}, "restarts must be an integer >= 1"),
    ({"restarts": 2.5}, "restarts must be an integer >= 1"),
    ({"rounds": -1}, "rounds must be an integer >= 0"),
    ({"reference": 2}, "reference must be a view index"),
    ({"alpha": 1.5}, "alpha must lie in"),
    ({"links": [[0, 99]]}, "out of range"),
])
def test_bad_input(kwargs, message):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=message):
        align_views([rng.normal(size=(20, 2)), rng.normal(size=(20, 2))], **kwargs)
