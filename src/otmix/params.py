"""One checker for the parameters of every estimator and config of otmix.

Each function returns the value in its plain Python type or raises a one-line
``ValueError`` that names the parameter, what it must be and the value it got, e.g.
``epochs must be an integer >= 1, got 2.5 (float)``. Booleans are not integers here,
integral floats (``3.0``) are not integers either (scikit-learn's convention), and
numbers must be finite unless said otherwise.

Examples
--------
>>> check_int("epochs", 60, low=1)
60
>>> check_int("epochs", 2.5, low=1)
Traceback (most recent call last):
...
ValueError: epochs must be an integer >= 1, got 2.5 (float)
>>> check_bool("detach_targets", "no")
Traceback (most recent call last):
...
ValueError: detach_targets must be True or False, got 'no' (str)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any

__all__ = ["check_bool", "check_choice", "check_int", "check_n_jobs", "check_real", "check_seed"]


def _got(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"got {text} ({type(value).__name__})"


def _fail(name: str, expected: str, value: Any, why: str = "") -> ValueError:
    return ValueError(f"{name} must be {expected}{f' ({why})' if why else ''}, {_got(value)}")


def _range(low: float | None, high: float | None, low_open: bool = False, high_open: bool = False) -> str:
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low:g}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high:g}"
    return ""


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool) or getattr(getattr(value, "dtype", None), "kind", None) == "b"


def check_int(
    name: str, value: Any, low: int | None = None, high: int | None = None, *, none_ok: bool = False,
    why: str = "",
) -> int | None:
    """``value`` as an ``int`` in ``[low, high]`` (either bound optional).

    Parameters
    ----------
    name : str
        The parameter's name, which starts the error message.
    value : any
        Accepted: Python and numpy integers (not ``bool``, not floats such as ``3.0``).
    low, high : int, optional
        Inclusive bounds.
    none_ok : bool
        Accept ``None`` (returned as is).
    why : str
        A reason shown in brackets after the expected range.

    Returns
    -------
    int or None

    Raises
    ------
    ValueError
        One line: ``"<name> must be an integer >= <low>, got <value> (<type>)"``.
    """
    if value is None and none_ok:
        return None
    expected = ("None or " if none_ok else "") + "an integer" + _range(low, high)
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise _fail(name, expected, value, why)
    if (low is not None and value < low) or (high is not None and value > high):
        raise _fail(name, expected, value, why)
    return int(value)


def check_real(
    name: str, value: Any, low: float | None = None, high: float | None = None, *, low_open: bool = False,
    high_open: bool = False, none_ok: bool = False, why: str = "",
) -> float | None:
    """``value`` as a finite ``float`` within the given bounds.

    Parameters
    ----------
    name : str
        The parameter's name, which starts the error message.
    value : any
        Accepted: Python and numpy integers and floats (not ``bool``, not strings), finite.
    low, high : float, optional
        Bounds, inclusive unless ``low_open`` / ``high_open``.
    none_ok : bool
        Accept ``None`` (returned as is).
    why : str
        A reason shown in brackets after the expected range.

    Returns
    -------
    float or None

    Raises
    ------
    ValueError
        One line: ``"<name> must be a finite number > 0, got ..."``.

    Examples
    --------
    >>> check_real("alpha", 1, low=0, high=1)
    1.0
    """
    if value is None and none_ok:
        return None
    expected = ("None or " if none_ok else "") + "a finite number" + _range(low, high, low_open, high_open)
    if _is_bool(value) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise _fail(name, expected, value, why)
    x = float(value)
    if low is not None and (x < low or (low_open and x == low)):
        raise _fail(name, expected, value, why)
    if high is not None and (x > high or (high_open and x == high)):
        raise _fail(name, expected, value, why)
    return x


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a ``bool`` (Python or numpy booleans only: ``"no"``, ``0`` and ``1`` are refused)."""
    if not _is_bool(value):
        raise _fail(name, "True or False", value)
    return bool(value)


def check_choice(name: str, value: Any, choices: Collection[str]) -> str:
    """``value`` if it is one of the strings ``choices``.

    Examples
    --------
    >>> check_choice("mix", "binary", ("binary", "weighted"))
    'binary'
    """
    if not isinstance(value, str) or value not in choices:
        raise _fail(name, "one of " + ", ".join(repr(c) for c in choices), value)
    return value


def check_seed(name: str, value: Any) -> int | None:
    """A seed: ``None`` or an integer >= 0 (a ``numpy.random.Generator`` is refused: seeds are stored in JSON)."""
    return check_int(name, value, low=0, none_ok=True)


def check_n_jobs(name: str, value: Any) -> int | None:
    """Threads or processes: ``None`` (one), ``-1`` (one per task) or an integer >= 1."""
    if value is not None and not _is_bool(value) and isinstance(value, numbers.Integral) and value == -1:
        return -1
    return check_int(name, value, low=1, none_ok=True, why="or -1 for one per task")
