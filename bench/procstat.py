"""CPU time of processes from /proc (utime + stime), for CPU-per-request figures that machine noise moves little.

A process's CPU time is what the kernel charged to it, whoever else ran on the cores meanwhile; dividing the
delta over a run by the requests served gives CPU per request. Wall-clock figures (rate, latency) still depend
on what else runs on the machine, so `load1` is recorded beside them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process in seconds, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state is field 3, utime 14, stime 15
    return (int(fields[11]) + int(fields[12])) / TICK


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except FileNotFoundError:
            continue
    return out


def tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += children(p)
    return seen


def snapshot(pids: list[int]) -> dict[int, float]:
    return {p: c for p in pids if (c := cpu_seconds(p)) is not None}


def delta(before: dict[int, float], after: dict[int, float]) -> dict[str, Any]:
    """CPU seconds spent between two snapshots: processes in both count their difference, processes that
    appeared count whole (they started during the run), processes that vanished are counted as lost."""
    both = sum(after[p] - before[p] for p in after if p in before)
    new = sum(after[p] for p in after if p not in before)
    return {
        "seconds": both + new,
        "processes": len(after),
        "started": sum(1 for p in after if p not in before),
        "gone": sum(1 for p in before if p not in after),
    }


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def machine() -> list[int]:
    """The machine's CPU ticks from /proc/stat: user, nice, system, idle, iowait, irq, softirq, steal."""
    return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def machine_delta(before: list[int], after: list[int]) -> dict[str, float]:
    """Share of the machine's CPU time (all cores) that was busy, and that the hypervisor took (steal)."""
    d = [b - a for a, b in zip(before, after, strict=True)]
    total = sum(d) or 1
    return {"busy": round((total - d[3] - d[4] - d[7]) / total, 3), "steal": round(d[7] / total, 3)}
