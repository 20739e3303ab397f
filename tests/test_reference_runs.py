"""The model's output equals the reference runs kept in tests/data/reference_runs (see
reference_runs.py): speed work must not change a number (to the last bit) or an event. Where a
change of arithmetic order is unavoidable, regenerate the case, and say why in the commit."""

from __future__ import annotations

import pandas as pd
import pytest
from reference_runs import CASES, FOLDER, case_name, run_case


@pytest.mark.parametrize("case", CASES, ids=lambda c: case_name(*c))
def test_a_run_equals_its_reference(case):
    now = run_case(*case)
    for table, frame in now.items():
        kept = pd.read_parquet(FOLDER / f"{case_name(*case)}.{table}.parquet")
        if table == "events":
            pd.testing.assert_frame_equal(frame.reset_index(drop=True), kept.reset_index(drop=True))
        else:
            pd.testing.assert_frame_equal(frame, kept, check_exact=True)  # bit for bit
