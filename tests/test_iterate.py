"""piifactory.iterate.batched: the one chunking helper (prediction, generation, split checks, preflight)."""

from itertools import count, islice

import pytest

from piifactory.iterate import batched


def test_batches_keep_order_and_the_last_is_shorter() -> None:
    assert list(batched(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(batched("abcd", 2)) == [["a", "b"], ["c", "d"]]
    assert list(batched([], 4)) == []


def test_a_stream_is_read_one_batch_at_a_time() -> None:
    """An endless generator must not be drained: the split check and the preflight stream large files."""
    assert list(islice(batched(count(), 1000), 2)) == [list(range(1000)), list(range(1000, 2000))]


@pytest.mark.parametrize("size", [0, -1])
def test_a_size_below_one_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(batched(range(3), size))
