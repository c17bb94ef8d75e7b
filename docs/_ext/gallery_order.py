"""The order of the gallery's examples (sphinx-gallery ``within_subsection_order``).

A class in an importable module, because Sphinx pickles its configuration with the environment.
"""

from __future__ import annotations

# the order a reader meets them: the solver, the barycenter, the estimator, the federated protocol
EXAMPLE_ORDER = ("plot_fgw_two_clouds.py", "plot_barycenter.py", "plot_digits2_links.py", "plot_federated.py")


class ExampleOrder:
    """Sort key: the examples of :data:`EXAMPLE_ORDER` first, in that order, then any other by name."""

    def __init__(self, src_dir: str) -> None:
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        rank = EXAMPLE_ORDER.index(filename) if filename in EXAMPLE_ORDER else len(EXAMPLE_ORDER)
        return rank, filename

    def __repr__(self) -> str:
        return "ExampleOrder"
