"""
Federated OTM: the protocol in one process, and on Flower
=========================================================

In a deployment every view lives with its own agent (a Flower SuperNode) and the server
sees only latent codes: each round it mixes the codes through the FGW barycenter and sends
every agent its push-back targets; the agents train locally and reply with fresh codes.

A Flower simulation starts Ray and one virtual SuperNode per view, which takes longer
than this page's budget on 2 CPU cores (the simulation below measured 19-32 s, most of it
start-up). So **this page runs** :func:`otmix.federated.task.run_protocol`: the same
agent and server functions, in the same order and with the same seeds, called in one
process without Flower. With the same number of torch threads a simulation in which every
agent answers gives the same labels (tested in otmix's suite); set the environment variable
``OTMIX_EXAMPLE_FLOWER=1`` to run the Flower simulation too and compare the labels here.

Settings are the smallest honest ones: digits2 (built in, unaligned, 10 % of the entities
linked), 2 rounds of 1 local epoch. The benchmarked settings (20 rounds of 3 epochs, 5
seeds) are in ``benchmarks/RESULTS.md``.
"""

import os
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.cluster import KMeans

from otmix.data import link_seed, load_dataset, simulate_links, unalign
from otmix.federated.task import FedConfig, run_protocol
from otmix.metrics import acc, nmi
from otmix.train.threads import torch_threads

seed = 0
ds = load_dataset("digits2")
Xs, ys, perms = unalign(ds.Xs, ds.ys, random_state=seed)
links = simulate_links(perms, 0.1, random_state=link_seed(seed))
config = FedConfig(n_clusters=10, rounds=2, local_epochs=1, encoder="linear", readout="auto", random_state=seed)

start = time.perf_counter()
with torch_threads(1):  # as every agent trains
    result = run_protocol(Xs, config, links=links)
print(f"in-process protocol: {config.rounds} rounds in {time.perf_counter() - start:.1f} s, "
      f"{result['steps_per_round']} local steps per round, read-out {result['readout_used']!r}")
labels = [np.asarray(result["labels"][str(m)]) for m in range(len(Xs))]

# %%
# Every agent's clusters against K-means on its own view (labels only score). What
# travelled: the bytes each round sent to and received from every agent (latent codes,
# targets and gradients; never the raw rows).

alone = [KMeans(10, n_init=10, random_state=seed).fit_predict(X) for X in Xs]
for m, name in enumerate(ds.view_names):
    print(f"agent {m} ({name}): ACC / NMI {acc(ys[m], labels[m]):.3f} / {nmi(ys[m], labels[m]):.3f}, "
          f"K-means alone {acc(ys[m], alone[m]):.3f} / {nmi(ys[m], alone[m]):.3f}")
print(f"pooled ACC (one id map for both agents): {acc(np.concatenate(ys), np.concatenate(labels)):.3f}")
for entry in result["history"]:
    print(f"round {entry['round']}: agents {entry['agents']}, OTM loss {entry['otm']:.4f}, "
          f"bytes sent {entry['bytes_sent']}, received {entry['bytes_received']}")

# %%
# The same run on Flower's simulation runtime (only with ``OTMIX_EXAMPLE_FLOWER=1``; needs
# the ``fl`` extra).

if os.environ.get("OTMIX_EXAMPLE_FLOWER") == "1":
    from otmix.federated.server_app import ServerSettings
    from otmix.federated.simulation import simulate

    start = time.perf_counter()
    simulated = simulate(Xs, ServerSettings(config, n_agents=len(Xs)), num_cpus=2, verbose=False, links=links)
    same = [float(np.mean(np.asarray(simulated["labels"][str(m)]) == labels[m])) for m in range(len(Xs))]
    print(f"Flower simulation: {time.perf_counter() - start:.1f} s; share of labels equal to in-process: {same}")
else:
    print("Flower simulation skipped (set OTMIX_EXAMPLE_FLOWER=1 to run it)")

# %%
# Per-round losses the server saw, averaged over agents.

rounds = [e["round"] for e in result["history"]]
fig, ax = plt.subplots(figsize=(5, 3.2))
for key in ("rec", "otm"):
    ax.plot(rounds, [np.mean([a[key] for a in e["metrics"].values()]) for e in result["history"]], "o-", label=key)
ax.set_xlabel("round")
ax.set_ylabel("mean agent loss")
ax.set_xticks(rounds)
ax.legend()
ax.set_title("federated clustering, digits2, 10 % links")
fig.tight_layout()
plt.show()
