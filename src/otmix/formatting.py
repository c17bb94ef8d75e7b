"""How scores are written in tables: mean ± std over several runs, the value alone for one run."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["count", "mean_std_text", "spread_note"]


def mean_std_text(block: Mapping[str, float] | None, n_runs: int, digits: int = 3) -> str:
    """``"0.512 ± 0.010"`` over several runs, ``"0.512"`` for one (its std is 0 by definition), ``"–"`` for none.

    Examples
    --------
    >>> mean_std_text({"mean": 0.5123, "std": 0.01}, 5)
    '0.512 ± 0.010'
    >>> mean_std_text({"mean": 0.5123, "std": 0.0}, 1)
    '0.512'
    """
    if not block:
        return "–"
    if n_runs == 1:
        return f"{block['mean']:.{digits}f}"
    return f"{block['mean']:.{digits}f} ± {block['std']:.{digits}f}"


def count(n: int, word: str, plural: str | None = None) -> str:
    """``"1 seed"``, ``"5 seeds"``.

    Examples
    --------
    >>> count(1, "seed"), count(5, "seed"), count(2, "fold")
    ('1 seed', '5 seeds', '2 folds')
    """
    return f"{n} {word if n == 1 else plural or word + 's'}"


def spread_note(n: int, word: str) -> str:
    """What a table's cells are: ``"5 seeds, mean ± std"``, or ``"1 seed"`` (a single value each).

    Examples
    --------
    >>> spread_note(1, "seed"), spread_note(3, "fold")
    ('1 seed', '3 folds, mean ± std')
    """
    return count(n, word) + ("" if n == 1 else ", mean ± std")
