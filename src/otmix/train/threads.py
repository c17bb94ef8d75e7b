"""torch's intra-op thread count held for the duration of a fit, then restored.

At training sizes (batches of a few hundred rows, widths of tens) every tensor operation is
microseconds long, and torch's thread pool costs more than it saves: on a busy 2-core machine
one digits2 training step took 737 ms median with torch's 2 threads and 73 ms with one
(``benchmarks/train_step.py``, load 6). The trainers therefore run torch on ``n_jobs``
threads (default 1) and give the caller's setting back afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n_jobs: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)``; restore the previous count on exit.

    ``n_jobs`` ≥ 1: that many threads; ``-1``: one per CPU; ``None``: leave torch's setting alone.
    """
    if n_jobs is None:
        yield
        return
    wanted = (os.cpu_count() or 1) if int(n_jobs) == -1 else int(n_jobs)
    before = torch.get_num_threads()
    if wanted == before:
        yield
        return
    torch.set_num_threads(wanted)
    try:
        yield
    finally:
        torch.set_num_threads(before)
