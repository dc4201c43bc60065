"""Which part of a meta-batch, or of the validation episodes, each rank takes.

Rank ``r`` of ``P`` takes a contiguous slice, the first ranks one more item when ``P`` does
not divide the count; the slices in rank order are the whole, in order. Contiguous slices in
rank order matter twice: gathered results come back in the single-process order, and BatchNorm
running statistics, updated task after task, can be merged exactly (`running_stats`).
"""

from __future__ import annotations


def share(count: int, parts: int, index: int) -> tuple[int, int]:
    """(offset, length) of part ``index`` of ``parts`` contiguous parts of ``count`` items."""
    if parts < 1 or not 0 <= index < parts:
        raise ValueError(f"part {index} of {parts} does not exist")
    base, extra = divmod(count, parts)
    offset = index * base + min(index, extra)
    return offset, base + (1 if index < extra else 0)


def shares(count: int, parts: int) -> list[tuple[int, int]]:
    """Every part's (offset, length), in rank order."""
    return [share(count, parts, i) for i in range(parts)]
