"""Writing results: Parquet tables and a JSON manifest, all or nothing.

A run's folder is written under a temporary name beside its destination and renamed into
place only when every file is complete, so an interrupted or failed write never leaves a
half-written results folder. Every Parquet file carries the run's provenance in its schema
metadata (key ``migov.provenance``) as well as in ``manifest.json``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

PROVENANCE_KEY = b"migov.provenance"


def write_parquet(df: pd.DataFrame, path: Path, provenance: dict) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[PROVENANCE_KEY] = json.dumps(provenance, sort_keys=True).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)


def read_provenance(path: str | Path) -> dict:
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta[PROVENANCE_KEY]) if PROVENANCE_KEY in meta else {}


def atomic_folder(dest: Path, fill: Callable[[Path], None]) -> Path:
    """Create ``dest`` by filling a temporary sibling folder and renaming it into place.

    If ``fill`` raises, the temporary folder is removed and ``dest`` is left as it was.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    tmp.chmod(0o755)
    try:
        fill(tmp)
        if dest.exists():
            old = dest.with_name(f".{dest.name}.old-{datetime.now(UTC):%Y%m%d%H%M%S%f}")
            dest.rename(old)
            tmp.rename(dest)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def manifest(provenance: dict, files: list[str], extra: dict | None = None) -> dict:
    return {
        **provenance,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": sorted(files),
        **(extra or {}),
    }


def write_json(obj: dict, path: Path) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
