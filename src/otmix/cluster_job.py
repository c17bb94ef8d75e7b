"""Temporary: the one name :mod:`otmix.report.document` still imports from here; the job is :mod:`otmix.jobs.cluster`.

Remove once ``otmix/report/document.py`` imports ``from ..jobs.cluster import METRICS``.
"""

from .jobs.cluster import METRICS

__all__ = ["METRICS"]
