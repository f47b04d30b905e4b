"""The load generator: a small Matrix client-server API client and a bounded-concurrency driver.

``MatrixClient`` speaks the Client-Server API over HTTP (spec "Client-Server API", v3 endpoints)
to any homeserver base URL. ``drive()`` runs one operation ``count`` times with at most
``concurrency`` in flight and records each operation's latency; ``summarise()`` turns that into
throughput and latency percentiles.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import aiohttp

JsonDict = dict[str, Any]


class RequestFailed(Exception):
    """A request answered with a non-2xx status (or not at all)."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {path} -> {status}: {str(body)[:300]}")
        self.status = status
        self.body = body


def q(value: str) -> str:
    """Percent-encode a path segment (room IDs, user IDs, event types)."""
    return quote(value, safe="")


class MatrixClient:
    """Just enough of a Matrix client to load a homeserver. One aiohttp session per run."""

    def __init__(self, base_url: str, concurrency: int, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        connector = aiohttp.TCPConnector(limit=max(concurrency, 1) + 4, ssl=False)
        self.session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
        )

    async def close(self) -> None:
        await self.session.close()

    async def request(
        self,
        method: str,
        path: str,
        body: JsonDict | None = None,
        token: str | None = None,
        params: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200,),
    ) -> tuple[int, JsonDict]:
        """Send one request; return (status, JSON body); raise RequestFailed unless status in ok."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(
            method, self.base_url + path, json=body, headers=headers, params=params
        ) as response:
            try:
                data = await response.json(content_type=None)
            except ValueError:
                data = {"raw": (await response.text())[:300]}
            if response.status not in ok:
                raise RequestFailed(method, path, response.status, data)
            return response.status, data if isinstance(data, dict) else {"value": data}


@dataclass
class DriveResult:
    """Raw outcome of one driven phase."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    elapsed: float = 0.0


async def drive(
    operation: Callable[[int], Awaitable[None]], count: int, concurrency: int
) -> DriveResult:
    """Run ``operation(i)`` for i in range(count), at most ``concurrency`` at once."""
    result = DriveResult()
    next_index = 0

    async def worker() -> None:
        nonlocal next_index
        while next_index < count:
            index = next_index
            next_index += 1
            started = time.perf_counter()
            try:
                await operation(index)
            except Exception as exc:  # any failure is one error; its type goes in the samples
                result.errors += 1
                if len(result.error_samples) < 5:
                    result.error_samples.append(f"{type(exc).__name__}: {exc}"[:400])
            else:
                result.latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, count)))))
    result.elapsed = time.perf_counter() - started
    return result


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


def summarise(result: DriveResult) -> JsonDict:
    """Request count, throughput (successful requests per second) and latency in milliseconds."""
    ordered = sorted(result.latencies)
    ok = len(ordered)

    def ms(value: float) -> float | None:
        return None if math.isnan(value) else round(value * 1000, 2)

    return {
        "requests": ok + result.errors,
        "ok": ok,
        "errors": result.errors,
        "error_samples": result.error_samples,
        "seconds": round(result.elapsed, 3),
        "throughput_rps": round(ok / result.elapsed, 2) if result.elapsed > 0 else None,
        "latency_ms": {
            "p50": ms(percentile(ordered, 0.50)),
            "p95": ms(percentile(ordered, 0.95)),
            "p99": ms(percentile(ordered, 0.99)),
            "mean": ms(sum(ordered) / ok) if ok else None,
            "max": ms(ordered[-1]) if ok else None,
        },
    }
