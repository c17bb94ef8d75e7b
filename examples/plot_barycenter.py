"""
An FGW barycenter and its plans
===============================

Three unaligned code sets of different sizes (the rows of one set correspond to no row of
another) share three clusters. :func:`otmix.ot.fgw_barycenter` finds ``n_points`` points
``Z`` and one plan ``T_m`` per set (an ``n_points x N_m`` matrix with uniform marginals),
alternating FGW solves and the update ``Z = sum_m lambda_m diag(1/mu_B) T_m Z_m``.
:func:`otmix.ot.stochastic_mix` then builds the mixed barycenter, every element taken from
one set, and :func:`otmix.ot.push_back` gives every row of every set one mixed code: the
targets the OTM pulls each encoder's codes towards.
"""

import matplotlib.pyplot as plt
import numpy as np

from otmix.ot import fgw_barycenter, push_back, stochastic_mix

rng = np.random.default_rng(0)
centres = np.array([[0.0, 0.0], [3.0, 0.0], [1.5, 2.5]])
sizes = (45, 30, 36)
Zs, ys = [], []
for m, size in enumerate(sizes):
    y = rng.permutation(np.arange(size) % 3)
    Zs.append(centres[y] + 0.45 * rng.normal(size=(size, 2)))
    ys.append(y)

bary = fgw_barycenter(Zs, n_points=24, alpha=0.5, random_state=0)
print(f"barycenter of {len(bary.Z)} points: value {bary.value:.4f} after {bary.n_outer} outer steps "
      f"(converged {bary.converged})")
for m, T in enumerate(bary.plans):
    print(f"plan {m}: shape {T.shape}, row sums {T.sum(axis=1).min():.4f}..{T.sum(axis=1).max():.4f} "
          f"(1/N_B = {1 / len(bary.Z):.4f}), column sums {T.sum(axis=0).mean():.4f} (1/N_m = {1 / sizes[m]:.4f})")

mixed = stochastic_mix(bary.plans, Zs, mode="binary", random_state=0)
targets = [push_back(T, mixed) for T in bary.plans]
print("push-back targets:", [t.shape for t in targets])

# %%
# Which cluster each barycenter point serves: the class mix of the mass a plan sends it.
# A point whose mass comes from one class in every set joins the sets' clusters.

for m, (T, y) in enumerate(zip(bary.plans, ys)):
    mass = np.stack([T[:, y == c].sum(axis=1) for c in range(3)], axis=1)
    purity = float((mass.max(axis=1) / mass.sum(axis=1)).mean())
    print(f"set {m}: mean share of a point's mass from its main class {purity:.2f}")

fig, axes = plt.subplots(1, 4, figsize=(14, 3.6))
markers = "os^"
for m, (Z, y) in enumerate(zip(Zs, ys)):
    axes[0].scatter(*Z.T, s=10, c=[f"C{c}" for c in y], marker=markers[m], alpha=0.5, label=f"set {m}")
axes[0].scatter(*bary.Z.T, s=50, c="k", marker="x", label="barycenter")
axes[0].legend(fontsize=7)
axes[0].set_title("code sets and barycenter")
# barycenter points in the order of the class that sends them the most mass (over all sets)
main_class = sum(np.stack([T[:, y == c].sum(axis=1) for c in range(3)], axis=1) for T, y in zip(bary.plans, ys))
point_order = np.argsort(main_class.argmax(axis=1), kind="stable")
for m, (T, y) in enumerate(zip(bary.plans, ys)):
    order = np.argsort(y, kind="stable")
    axes[m + 1].imshow(T[np.ix_(point_order, order)], aspect="auto", cmap="Blues")
    axes[m + 1].set_title(f"plan {m} ({T.shape[0]} x {T.shape[1]})")
    axes[m + 1].set_xlabel("rows of set (sorted by class)")
axes[1].set_ylabel("barycenter points (by main class)")
fig.tight_layout()
plt.show()
