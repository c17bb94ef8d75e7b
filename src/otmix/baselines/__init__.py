"""Multi-view clustering baselines, run on the same data, protocol and metrics as otmix.

Each is a scikit-learn style estimator with ``fit_predict(Xs) → list of label arrays``
(one per view); ``requires_aligned`` says whether it needs the rows of all views to
describe the same samples in the same order.

=====================  ================  =====================================================
estimator              aligned rows      method
=====================  ================  =====================================================
``KMeansConcat``       needed            K-means on the balanced concatenation of the views
``MCCA``               needed            regularised multi-set CCA (SUMCOR), then K-means
``DCCAE``              needed            deep CCA autoencoder (Wang et al. 2015), then K-means
``MultiNMF``           needed            joint NMF with a consensus (Liu et al. 2013)
``PerViewKMeans``      not needed        K-means on each view alone (ids not matched)
``PerViewSpectral``    not needed        spectral clustering on each view alone
``GWMAC``              not needed        GW barycenter of the views' kernels, GW to I_C
=====================  ================  =====================================================
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

from .base import MultiViewClusterer

_LOCATIONS = MappingProxyType({
    "KMeansConcat": "simple", "PerViewKMeans": "simple", "PerViewSpectral": "simple", "MCCA": "mcca",
    "DCCAE": "dccae", "MultiNMF": "multinmf", "GWMAC": "gwmac",
})
__all__ = ["MultiViewClusterer", *_LOCATIONS]


def __getattr__(name: str) -> Any:
    if name in _LOCATIONS:
        from importlib import import_module

        return getattr(import_module(f".{_LOCATIONS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
