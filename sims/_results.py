"""Shared helper of the sims/ scripts: write one section of sims/RESULTS.md."""

from __future__ import annotations

import re
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
