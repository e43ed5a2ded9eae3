"""What a process has used, read from /proc (Linux): CPU seconds and resident memory."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of `pid`, in seconds (10 ms resolution)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def rss_kb(pid: int, field: str = "VmRSS") -> int:
    """Resident memory of `pid` in KB; `VmHWM` is its peak since the process started."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for pid {pid}")


def peak_rss_kb(pids: list[int]) -> int:
    return sum(rss_kb(pid, "VmHWM") for pid in pids)


def workers(pid: int) -> list[int]:
    """The worker processes of a `uvicorn --workers N` supervisor (not its resource tracker)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(int(child))
    return found


def usage(pids: list[int]) -> tuple[float, int]:
    """CPU seconds and RSS in KB, summed over `pids`."""
    return sum(cpu_seconds(pid) for pid in pids), sum(rss_kb(pid) for pid in pids)
