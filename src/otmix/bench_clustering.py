"""Temporary: the names :mod:`otmix.report.document` still imports from here; the job is :mod:`otmix.jobs.benchmark`.

Remove once ``otmix/report/document.py`` imports ``markdown`` and ``summarize`` from ``..jobs.benchmark``.
"""

from .jobs.benchmark import markdown, summarize

__all__ = ["markdown", "summarize"]
