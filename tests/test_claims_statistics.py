"""The statistics rules of a verdict: multiple-testing adjustment, the minimum number of
replicates, missing values, equivalence for 'unchanged', identical arms run once, common random
numbers across arms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from migov.experiments.claims.registry import Claim, adjust, evaluate, run_claim
from migov.experiments.claims.statistics import benjamini_hochberg, holm, p_value

SOURCE = {"seed": "x", "passage": "y"}
BASIS = {"basis": "emergent", "mechanisms": ["funding.choose_grants"]}
RNG = np.random.default_rng(1)


def claim(cid: str = "t", expected: str = "positive", **extra) -> Claim:
    cmp = {"type": "contrast", "a": {}, "b": {"set": {"parameters.uncertainty": 0.5}}}
    if expected == "none":
        cmp = {**cmp, "type": "unchanged", "margin": 0.2}
    return Claim.model_validate({"id": cid, "claim": "c", "source": SOURCE, "measure": {"name": "hhi"}, **BASIS,
                                 "comparison": cmp, "expected": expected, "fails_if": "f", **extra})


def pairs(diff: np.ndarray) -> pd.DataFrame:
    base = RNG.normal(0, 1, len(diff))
    rows = [(0, r, b) for r, b in enumerate(base)]
    rows += [(1, r, b + d) for r, (b, d) in enumerate(zip(base, diff, strict=True))]
    return pd.DataFrame(rows, columns=["point", "replicate", "value"])


def test_holm_and_bh_on_textbook_values():
    p = np.array([0.01, 0.04, 0.03, 0.005, np.nan])
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1, made monotone
    assert holm(p)[[3, 0, 2, 1]] == pytest.approx([0.02, 0.03, 0.06, 0.06])
    assert np.isnan(holm(p)[4])
    # BH: p_(k) m / k, made monotone from the top: 0.02, 0.02, 0.04, 0.04
    assert benjamini_hochberg(p)[[3, 0, 2, 1]] == pytest.approx([0.02, 0.02, 0.04, 0.04])


def test_verdicts_rest_on_adjusted_p_values():
    z = RNG.normal(0, 1, 20)
    diff = 0.25 + 0.478 * (z - z.mean()) / z.std(ddof=1)  # mean 0.25, sd 0.478: t = 2.34, p = 0.03
    alone = evaluate(claim(), pairs(diff))
    assert 0.01 < alone.p < 0.05 and alone.verdict == "holds"  # alone it holds
    family = [evaluate(claim(f"c{k}"), pairs(diff)) for k in range(4)]
    adjust(family)
    assert all(v.p_holm == pytest.approx(min(1.0, 4 * alone.p)) for v in family)
    assert all(v.verdict == "inconclusive" for v in family)  # four such claims together: none survives


def test_p_value_matches_the_t_test_and_handles_no_spread():
    from scipy import stats

    x = RNG.normal(0.3, 1, 30)
    assert p_value(x, "positive") == pytest.approx(stats.ttest_1samp(x, 0).pvalue)
    assert p_value(np.full(12, 0.5), "positive") == 0.0
    assert p_value(np.zeros(12), "positive") == 1.0
    assert np.isnan(p_value(np.array([1.0]), "positive"))


def test_unchanged_uses_two_one_sided_tests():
    inside = evaluate(claim(expected="none"), pairs(RNG.normal(0.0, 0.1, 40)))
    assert inside.verdict == "holds" and inside.p < 0.05
    wide = evaluate(claim(expected="none"), pairs(RNG.normal(0.0, 1.5, 40)))
    assert wide.verdict == "inconclusive"  # mean near 0 but too uncertain to be within the margin
    outside = evaluate(claim(expected="none"), pairs(RNG.normal(0.6, 0.1, 40)))
    assert outside.verdict == "fails"


def test_too_few_replicates_is_never_a_verdict():
    v = evaluate(claim(), pairs(np.full(5, 1.0) + RNG.normal(0, 0.01, 5)))
    assert v.verdict == "inconclusive" and v.reason.startswith("too few replicates: 5 of at least 10")
    assert v.label.startswith("inconclusive (too few replicates")
    ok = evaluate(claim(min_replicates=5), pairs(np.full(5, 1.0) + RNG.normal(0, 0.01, 5)))
    assert ok.verdict == "holds"


def test_missing_values_are_counted_per_arm_and_can_make_a_claim_inconclusive():
    values = pairs(1.0 + RNG.normal(0, 0.1, 20))
    values.loc[(values["point"] == 1) & (values["replicate"] < 3), "value"] = np.nan
    v = evaluate(claim(), values)
    assert v.missing == {"A": 0, "B": 3} and v.replicates == 17 and v.verdict == "holds"  # 15% <= 20%
    values.loc[(values["point"] == 1) & (values["replicate"] < 6), "value"] = np.nan
    v = evaluate(claim(), values)
    assert v.missing == {"A": 0, "B": 6} and v.verdict == "inconclusive" and "too many missing" in v.reason
    strict = evaluate(claim(max_missing=0.0), pairs(1.0 + RNG.normal(0, 0.1, 20)).assign(
        value=lambda d: d["value"].where(~((d["point"] == 0) & (d["replicate"] == 0)))))
    assert strict.verdict == "inconclusive" and strict.missing["A"] == 1


def test_identical_arms_run_once_and_share_seeds(tmp_path: Path):
    common = {"steps": 3, "min_replicates": 2, "measure": {"name": "uncertainty"}}
    one = claim("one", **common).model_copy()
    two = Claim.model_validate({**one.model_dump(by_alias=True), "id": "two",
                                "comparison": {"type": "contrast", "a": {},
                                               "b": {"set": {"parameters.uncertainty": 0.9}}}})
    v1 = run_claim(one, tmp_path, replicates=2, workers=1, executor="serial", quiet=True)
    v2 = run_claim(two, tmp_path, replicates=2, workers=1, executor="serial", quiet=True)
    assert v1.provenance["arms"][0] == v2.provenance["arms"][0]  # the shared arm A ran once
    assert len(list((tmp_path / "arms").iterdir())) == 3
    seeds = [pd.read_parquet(tmp_path / "arms" / k / "runs" / "runs.parquet")["seed"].tolist()
             for k in v2.provenance["arms"]]
    assert seeds[0] == seeds[1]  # common random numbers: replicate r runs the same seed in every arm
