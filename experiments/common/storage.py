"""Writing results: Parquet tables and a JSON manifest, all or nothing.

A run's folder is written under a temporary name beside its destination and renamed into
place only when every file is complete, so an interrupted or failed write never leaves a
half-written results folder; whether the destination may be written at all is decided by
``outdir`` (new, empty, or migov's own earlier result with ``overwrite``). Every Parquet file
carries the run's provenance in its schema metadata (key ``migov.provenance``) as well as in
``manifest.json``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import outdir

PROVENANCE_KEY = b"migov.provenance"


def write_parquet(df: pd.DataFrame, path: Path, provenance: dict) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    meta = dict(table.schema.metadata or {})
    meta[PROVENANCE_KEY] = json.dumps(provenance, sort_keys=True).encode()
    pq.write_table(table.replace_schema_metadata(meta), path)


def read_provenance(path: str | Path) -> dict:
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta[PROVENANCE_KEY]) if PROVENANCE_KEY in meta else {}


def atomic_folder(dest: Path, fill: Callable[[Path], None], kind: str, inputs: Iterable[Path] = (),
                  overwrite: bool = False, option: str = "--out") -> Path:
    """Create ``dest`` by filling a temporary sibling folder and renaming it into place, under
    ``outdir``'s rules (library code must not destroy what migov did not write either).

    If ``fill`` raises, the temporary folder is removed and ``dest`` is left as it was.
    """
    return outdir.write_folder(dest, fill, kind, inputs=inputs, overwrite=overwrite, option=option)


def manifest(provenance: dict, files: list[str], extra: dict | None = None, kind: str | None = None) -> dict:
    """A result's manifest: provenance, when, the files written and, given ``kind``, migov's marker."""
    return {
        **provenance,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": sorted(files),
        **(extra or {}),
        **(outdir.marker(kind) if kind else {}),
    }


def write_json(obj: dict, path: Path) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
