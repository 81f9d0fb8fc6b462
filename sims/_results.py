"""Shared helper of the sims/ scripts: write one section of sims/RESULTS.md."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(section: str, text: str, path: Path = RESULTS_MD) -> None:
    """Replace (or append) the section headed ``section`` of ``path``, keeping the others.

    Parameters
    ----------
    section : str
        The section's heading line, e.g. ``"## PV forecasts backtest"``.
    text : str
        The whole section, heading included.
    path : Path
        Markdown file (default ``sims/RESULTS.md``).
    """
    old = path.read_text(encoding="utf-8") if path.exists() else "# Results\n"
    pattern = re.compile(r"^" + re.escape(section) + r"\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(old):
        new = pattern.sub(lambda _: text.rstrip() + "\n\n", old, count=1)
    else:
        new = old.rstrip() + "\n\n" + text
    path.write_text(new.rstrip() + "\n", encoding="utf-8")


def machine_and_commit(watched: str) -> tuple[str, float, str]:
    """CPU model, RAM [GB] and git commit of this run.

    Parameters
    ----------
    watched : str
        Source folder whose uncommitted changes are noted after the commit
        (e.g. ``"gridint/powerflow"``).

    Returns
    -------
    cpu : str
    ram_gb : float
    commit : str
        Short hash, plus ``" + uncommitted changes in <watched>"`` when dirty.
    """
    import platform
    import subprocess

    repo = RESULTS_MD.parent.parent
    cpu, ram_gb = platform.processor() or "?", float("nan")
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gb = int(line.split()[1]) / 1024 ** 2
    except OSError:
        pass
    commit, dirty = "?", ""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=str(repo),
                                capture_output=True, text=True, timeout=10).stdout.strip() or "?"
        dirty = subprocess.run(["git", "status", "--porcelain", "--", watched], cwd=str(repo),
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception:  # noqa: BLE001 - no git is fine
        pass
    return cpu, ram_gb, commit + (f" + uncommitted changes in {watched}" if dirty else "")


def _cpu_counters():
    """(machine total jiffies, machine busy jiffies, own CPU seconds incl. children)."""
    try:
        with open("/proc/stat") as f:
            vals = [int(x) for x in f.readline().split()[1:9]]
    except OSError:
        vals = [0] * 8
    total = sum(vals)
    busy = total - vals[3] - vals[4]
    t = os.times()
    return total, busy, t.user + t.system + t.children_user + t.children_system


def _others_share(c0, c1) -> float:
    """Share of the machine's CPU capacity (all cores) used by other processes
    between two :func:`_cpu_counters` readings."""
    hz = os.sysconf("SC_CLK_TCK")
    total = (c1[0] - c0[0]) / hz
    busy = (c1[1] - c0[1]) / hz
    own = c1[2] - c0[2]
    return float(min(1.0, max(0.0, (busy - own) / total))) if total > 0 else float("nan")


def others_share(seconds: float = 3.0) -> float:
    """Share of the machine's CPU capacity used by other processes over ``seconds``."""
    c0 = _cpu_counters()
    time.sleep(seconds)
    return _others_share(c0, _cpu_counters())


def wait_for_idle(max_wait_s: float, busy_max: float = 0.15, sample_s: float = 5.0) -> float:
    """Wait (up to ``max_wait_s``) until other processes use less than ``busy_max``
    of the machine over a ``sample_s`` window; return the last measured share."""
    t_end = time.monotonic() + max_wait_s
    while True:
        share = others_share(sample_s)
        if share < busy_max or time.monotonic() >= t_end:
            return share
        print(f"machine busy ({share:.0%} of all cores used by other processes); waiting ...",
              flush=True)
