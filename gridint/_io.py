"""Private file helpers shared by the data generators."""

from __future__ import annotations

import gzip
import io
from pathlib import Path


def write_reproducible(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path``, gzip-compressed when it ends in ``.gz``.

    The gzip header carries no file name and ``mtime=0``, so the same data give
    byte-identical files (committed data files are checked by regeneration tests).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gz":
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
            gz.write(data)
        data = buf.getvalue()
    path.write_bytes(data)
    return path
