"""The row streams behind every batch: empty takes, and batches that are all linked rows."""

from __future__ import annotations

import numpy as np

from otmix.train.cluster import BatchSampler
from otmix.train.index_stream import IndexStream, fill_batch


def test_take_zero_is_empty_and_draws_nothing():
    a, b = IndexStream(7, np.random.default_rng(3)), IndexStream(7, np.random.default_rng(3))
    empty = a.take(0)
    assert empty.shape == (0,) and empty.dtype == np.int64
    np.testing.assert_array_equal(a.take(10), b.take(10))  # the empty take left the stream where it was


def test_fill_batch_puts_linked_rows_first_and_tops_up_from_the_stream():
    free = np.array([10, 11, 12, 13])
    batch = fill_batch(np.array([2, 5]), free, IndexStream(free.size, np.random.default_rng(0)), 5)
    assert batch[:2].tolist() == [2, 5] and set(batch[2:]) <= set(free.tolist()) and batch.size == 5
    assert fill_batch(np.array([1, 2, 3]), free, IndexStream(4, np.random.default_rng(0)), 3).tolist() == [1, 2, 3]
    assert fill_batch(np.array([1]), free[:0], IndexStream(0, np.random.default_rng(0)), 4).tolist() == [1]


def test_a_sampler_whose_batches_are_all_linked_rows():
    # link_share=1.0 with enough links: every batch is linked rows only (it used to fail on an empty take)
    links = np.stack([np.arange(8), np.arange(8)[::-1]], axis=1)
    sampler = BatchSampler([20, 20], 4, np.random.default_rng(0), links, 1.0)
    rows, table = sampler.draw()
    assert [r.size for r in rows] == [4, 4]
    np.testing.assert_array_equal(table, np.stack([np.arange(4), np.arange(4)], axis=1))
    for m in range(2):
        assert set(rows[m].tolist()) <= set(links[:, m].tolist())
