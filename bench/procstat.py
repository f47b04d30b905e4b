"""CPU seconds and resident memory of a server process tree, read from Linux /proc.

CPU is user + system time from ``/proc/PID/stat`` (fields 14-17: utime, stime, cutime, cstime,
in clock ticks) summed over the process and every live descendant; ``cutime``/``cstime`` add the
children already reaped. RSS is ``VmRSS`` from ``/proc/PID/status`` summed over the same tree.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces; split after it.
    return raw[raw.rindex(")") + 2 :].split()


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its live descendants."""
    children = _children_map()
    tree, queue = [], [pid]
    while queue:
        current = queue.pop()
        tree.append(current)
        queue.extend(children.get(current, []))
    return tree


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid``, its live descendants and its reaped children."""
    total = 0
    for member in process_tree(pid):
        fields = _stat_fields(member)
        if fields is None:
            continue
        # After the name: state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17);
        # index = field number - 3.
        total += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return total / _TICKS


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` and its live descendants, in bytes."""
    total = 0
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in (_PROC / str(member) / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
    return total


@dataclass
class RssSampler:
    """Samples the RSS of a process tree every ``interval`` seconds and keeps the peak."""

    pid: int
    interval: float = 0.05
    peak: int = 0
    samples: int = 0
    _task: asyncio.Task[None] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.peak = rss_bytes(self.pid)
        self.samples = 1
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            # /proc reads are quick; a thread keeps them off the event loop under load.
            value = await asyncio.to_thread(rss_bytes, self.pid)
            self.peak = max(self.peak, value)
            self.samples += 1

    async def stop(self) -> int:
        """Stop sampling (taking one last sample) and return the peak RSS in bytes."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.peak = max(self.peak, rss_bytes(self.pid))
        return self.peak
