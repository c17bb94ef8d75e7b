"""Multi-view clustering baselines, run on the same data, protocol and metrics as otmix.

Each is a scikit-learn style estimator with ``fit_predict(Xs) → list of label arrays``
(one per view); ``requires_aligned`` says whether it needs the rows of all views to
describe the same samples in the same order. The linked-setting baselines also take
``fit(Xs, links=...)``, a table of rows known to be the same entity (``otmix.ot`` format:
int array (n_links, M), ``-1`` = absent), and give cluster ids consistent across views.

=====================  ================  ========  =====================================================
estimator              aligned rows      links     method
=====================  ================  ========  =====================================================
``KMeansConcat``       needed            no        K-means on the balanced concatenation of the views
``MCCA``               needed            no        regularised multi-set CCA (SUMCOR), then K-means
``DCCAE``              needed            no        deep CCA autoencoder (Wang et al. 2015), then K-means
``MultiNMF``           needed            no        joint NMF with a consensus (Liu et al. 2013)
``PerViewKMeans``      not needed        no        K-means on each view alone (ids not matched)
``PerViewSpectral``    not needed        no        spectral clustering on each view alone
``GWMAC``              not needed        no        GW barycenter of the views' kernels, GW to I_C
``LinkedKMeans``       not needed        needed    K-means per view, ids matched through the links
``PVC``                not needed        needed    MCCA on the linked rows, Hungarian re-alignment, K-means
                                                   (PVC-style, Huang et al. 2020)
=====================  ================  ========  =====================================================
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from .base import MultiViewClusterer

_LOCATIONS = MappingProxyType({
    "KMeansConcat": "simple", "PerViewKMeans": "simple", "PerViewSpectral": "simple", "MCCA": "mcca",
    "DCCAE": "dccae", "MultiNMF": "multinmf", "GWMAC": "gwmac", "LinkedKMeans": "linked", "PVC": "linked",
})
__all__ = ["MultiViewClusterer", *_LOCATIONS]


def __getattr__(name: str) -> Any:
    if name in _LOCATIONS:
        from importlib import import_module

        return getattr(import_module(f".{_LOCATIONS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
