"""``StreamWatermark``: a cache sees every write at a stream position it has not accounted for,
forward (new events) and backward (backfilled history at positions <= 0)."""

from __future__ import annotations

from dataclasses import dataclass

from transom.storage.caches import StreamWatermark


@dataclass
class Streams:
    current: int = 0
    backfill_current: int = 0


async def test_catch_up_drops_written_keys_both_ways_and_bumps_the_epoch() -> None:
    writes: dict[int, str] = {}
    asked: list[tuple[int, int]] = []
    cache = {"a": 1, "b": 2, "c": 3}

    async def changed_between(after: int, upto: int) -> list[str]:
        asked.append((after, upto))
        return [key for pos, key in writes.items() if after < pos <= upto]

    def clear() -> None:
        cache.clear()

    streams = Streams(current=10)
    mark = StreamWatermark(rescan_limit=100)
    assert await mark.catch_up(None, changed_between, cache.pop, clear) is None
    first = await mark.catch_up(streams, changed_between, cache.pop, clear)
    assert first == 0 and (mark.low, mark.high) == (0, 10) and not asked

    assert await mark.catch_up(streams, changed_between, cache.pop, clear) == first  # nothing new
    writes[12] = "a"
    writes[-3] = "b"
    streams.current, streams.backfill_current = 12, -3
    second = await mark.catch_up(streams, changed_between, cache.pop, clear)
    assert asked == [(10, 12), (-4, -1)]
    assert cache == {"c": 3} and second == first + 1
    assert (mark.low, mark.high) == (-3, 12)

    streams.current = 13  # a write of no cached key: nothing dropped, epoch kept
    assert await mark.catch_up(streams, changed_between, cache.pop, clear) == second
    streams.current = 500  # too far behind: everything goes
    third = await mark.catch_up(streams, changed_between, cache.pop, clear)
    assert cache == {} and third == second + 1 and mark.high == 500
