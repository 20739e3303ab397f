"""The statistics behind a verdict: an effect with its interval, a p-value, and the adjustment
for testing the whole registry at once.

Each claim reduces to one statistic per replicate (matched across arms by common random
numbers: a difference, an interaction contrast, a rank correlation), so the question is whether
its mean differs from zero (or, for *unchanged*, lies within the margin):

* effect and 95% interval: the mean and a percentile bootstrap, shown in the report;
* p-value: Student's one-sample t-test of the per-replicate statistics (a paired t-test for a
  contrast). The t-test is about the mean, which is what the effect and its interval describe;
  with ten or more replicates and common random numbers the per-replicate statistics are
  near-normal. Wilcoxon's signed-rank test would ask about the median instead, and gives ties
  (common random numbers often give identical replicates) no p-value below its floor.
  For *unchanged* the test is two one-sided t-tests (TOST, Schuirmann 1987) against the margin
  when the mean lies inside it, and a one-sided test that it exceeds the margin when outside;
* adjustment: Holm's step-down method over every claim in the run (family-wise error at
  alpha = 0.05, valid whatever the dependence between claims; Holm 1979), beside Benjamini and
  Hochberg's q-values (false discovery rate) for readers who prefer them. Verdicts rest on the
  Holm-adjusted values: *holds* when it is below alpha and the effect goes the claimed way,
  *fails* when it is below alpha and the effect goes the other way, *inconclusive* otherwise.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

ALPHA = 0.05
BOOTSTRAP = 4000


def bootstrap_mean(x: np.ndarray, rng: np.random.Generator, n: int = BOOTSTRAP) -> tuple[float, float, float]:
    """Mean and 95% percentile-bootstrap interval of the finite values of ``x``."""
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return np.nan, np.nan, np.nan
    boot = x[rng.integers(0, len(x), size=(n, len(x)))].mean(axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return float(x.mean()), float(lo), float(hi)


def _one_sided(x: np.ndarray, mu: float, greater: bool) -> float:
    """p of a one-sided t-test that the mean of ``x`` exceeds (or falls short of) ``mu``; with no
    spread, 0 or 1 by where the values lie."""
    if np.ptp(x) == 0:
        above = x[0] > mu if greater else x[0] < mu
        return 0.0 if above else 1.0
    return float(stats.ttest_1samp(x, mu, alternative="greater" if greater else "less").pvalue)


def p_value(x: np.ndarray, expected: str, margin: float | None = None) -> float:
    """The claim's p-value (see the module docstring). NaN when fewer than two values."""
    x = x[np.isfinite(x)]
    if len(x) < 2:
        return np.nan
    if expected == "none":
        m = float(x.mean())
        if abs(m) <= margin:  # TOST: inside the margin on both sides
            return max(_one_sided(x, -margin, True), _one_sided(x, margin, False))
        return _one_sided(x, margin, True) if m > 0 else _one_sided(x, -margin, False)
    if np.ptp(x) == 0:
        return 0.0 if x[0] != 0 else 1.0
    return float(stats.ttest_1samp(x, 0.0).pvalue)


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN stays NaN and does not count as a test)."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if len(ok) == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    m = len(order)
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out[order] = np.minimum(adj, 1.0)
    return out


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values (NaN stays NaN and does not count as a test)."""
    p = np.asarray(p, dtype=float)
    out = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = stats.false_discovery_control(p[ok], method="bh")
    return out


def decide(expected: str, effect: float, p_adjusted: float, margin: float | None = None,
           alpha: float = ALPHA) -> str:
    """holds / fails / inconclusive from the adjusted p-value and the direction of the effect."""
    if not np.isfinite(p_adjusted) or p_adjusted >= alpha:
        return "inconclusive"
    if expected == "none":
        return "holds" if abs(effect) <= margin else "fails"
    sign = 1 if expected == "positive" else -1
    return "holds" if sign * effect > 0 else "fails"
