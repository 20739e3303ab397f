"""What the model measures each step (ODD 2, patterns; ODD 7.9, observation).

All measures are computed once per step from the state arrays into one flat dict, which the
DataCollector's model reporters read, so no measure is computed twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .model import MigovModel

# Measures kept for each organisation: one column ``{measure}_{organisation}`` each in the model
# table (fund_share only where a trust fund or pooled fund exists), one column each in the long
# organisation table (``organisation_series``). The column name is made in one place.
ORGANISATION_MEASURES = ("funding_share", "legitimacy_peers", "mandate_breadth", "members", "fund_share",
                         "spending_follows_pressure", "spending_follows_donors")


def organisation_column(measure: str, organisation: str) -> str:
    """The model table's column holding one organisation's ``measure``."""
    return f"{measure}_{organisation}"


def organisation_series(table: pd.DataFrame, organisations: list[str]) -> pd.DataFrame:
    """The model table's per-organisation measures in long form, so analyses group by
    organisation instead of parsing column names: one row per step and organisation (in the
    given order), columns step, year, quarter, organisation, then each of ORGANISATION_MEASURES
    the table holds. The values are the wide columns' own, copied (one reshape per measure)."""
    k = len(organisations)
    out = {c: np.repeat(table[c].to_numpy(), k) for c in ("step", "year", "quarter") if c in table}
    out["organisation"] = np.tile(np.array(organisations, dtype=object), len(table))
    for measure in ORGANISATION_MEASURES:
        columns = [organisation_column(measure, o) for o in organisations]
        if all(c in table for c in columns):
            out[measure] = table[columns].to_numpy(dtype=float).ravel()  # row-major: step, then organisation
    return pd.DataFrame(out)


def hhi(amounts: np.ndarray) -> float:
    """Herfindahl-Hirschman index of shares (0 = dispersed, 1 = one recipient)."""
    total = amounts.sum()
    if total <= 0:
        return float("nan")
    s = amounts / total
    return float((s * s).sum())


def gini(x: np.ndarray) -> float:
    x = np.sort(np.asarray(x, dtype=float))
    n = x.size
    if n == 0 or x.sum() <= 0:
        return 0.0
    cum = np.cumsum(x)
    return float((n + 1 - 2 * (cum / cum[-1]).sum()) / n)


def pianka_overlap(mandate: np.ndarray) -> np.ndarray:
    """(I, I) niche overlap of mandates: cosine similarity (Pianka's index), in [0, 1]. Clipped
    because rounding can carry it past 1 (a mandate of 1e-159, whose square is subnormal, gave
    1 + 1e-7, and a partner's weight 1 - overlap went negative)."""
    norm = np.linalg.norm(mandate, axis=1)
    denom = np.outer(norm, norm)
    cos = np.divide(mandate @ mandate.T, denom, out=np.zeros_like(denom), where=denom > 0)
    return np.clip(cos, 0.0, 1.0, out=cos)


def degree_centralisation(adjacency: np.ndarray) -> float:
    """Freeman degree centralisation of an undirected graph (0 = even, 1 = star)."""
    n = adjacency.shape[0]
    if n < 3:
        return 0.0
    deg = adjacency.sum(axis=1)
    return float((deg.max() - deg).sum() / ((n - 1) * (n - 2)))


def mandate_breadth(mandate: np.ndarray) -> np.ndarray:
    """Effective number of issue areas in each mandate (inverse Simpson of mandate shares)."""
    s = mandate / mandate.sum(axis=1, keepdims=True).clip(min=1e-12)
    return 1.0 / (s * s).sum(axis=1).clip(min=1e-12)


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties given their average rank: scipy's ``rankdata(x)`` (along the last
    axis, each row of a 2-d array on its own), without its per-call overhead (it was 45% of a
    baseline run's time, called ten times a step)."""
    rows = np.atleast_2d(x)
    n = rows.shape[1]
    order = np.argsort(rows, axis=1, kind="mergesort")
    row = np.arange(rows.shape[0])[:, None]
    xs = rows[row, order]
    first = np.ones(rows.shape, dtype=bool)  # where each group of tied values starts, in sorted order
    np.not_equal(xs[:, 1:], xs[:, :-1], out=first[:, 1:])
    first = first.ravel()
    starts = np.flatnonzero(first)
    ends = np.append(starts[1:], first.size)
    offset = starts - starts % n if n else starts  # where each group's row begins in the flat order
    mean_rank = ((starts - offset) + (ends - offset) + 1) / 2.0
    ranks = np.empty(rows.shape)
    ranks[row, order] = mean_rank[np.cumsum(first) - 1].reshape(rows.shape)
    return ranks.reshape(np.shape(x))


def rank_correlations(series: np.ndarray, *others: np.ndarray) -> np.ndarray:
    """Spearman's rank correlation of each row of ``series`` with each of ``others``, (rows,
    others), ties given their average rank (an organisation spends nothing in most hosts): the
    rows ranked once, then correlated all at once with ``np.corrcoef``'s arithmetic (the same to
    the last few bits); NaN for a row, or an other, that is constant, and with fewer than three
    values."""
    series = np.atleast_2d(series)
    n = series.shape[1]
    out = np.full((series.shape[0], len(others)), np.nan)
    varies = np.ptp(series, axis=1) > 0 if n >= 3 else np.zeros(series.shape[0], dtype=bool)
    if not varies.any():
        return out
    ranks = average_ranks(series[varies])
    x = ranks - ranks.mean(axis=1, keepdims=True)
    scale = 1.0 / (n - 1)
    sd_x = np.sqrt(np.einsum("ij,ij->i", x, x) * scale)
    for j, other in enumerate(others):
        if np.ptp(other) == 0:
            continue
        other_ranks = average_ranks(other)
        y = other_ranks - other_ranks.mean()
        cov = (x @ y) * scale
        out[varies, j] = np.clip(cov / sd_x / np.sqrt((y @ y) * scale), -1.0, 1.0)
    return out


def _rank_corr(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two series (``rank_correlations`` for one)."""
    return float(rank_correlations(a, b)[0, 0])


def spending_alignment(model: MigovModel, spendings: np.ndarray) -> np.ndarray:
    """Where project money is spent, against need and against donors' interest (Patz &
    Thorvaldsdottir 2020): for each per-host spending vector given (rows: all organisations'
    together, or one organisation's), the rank correlation across hosts of this step's spending
    with migration pressure, and with donors' strategic interest (envelope-weighted); (rows, 2).
    NaN where the spending does not vary."""
    pressure = model.hs.pressure.sum(axis=1)
    interest = model.dn.envelope @ model.dn.host_weight
    return rank_correlations(spendings, pressure, interest)


def compute_measures(model: MigovModel) -> dict[str, float]:
    io, ng = model.io, model.ng
    received = np.concatenate([io.income, ng.income_direct])
    total = float(received.sum())
    out: dict[str, float] = {}
    for i, name in enumerate(io.names):
        out[organisation_column("funding_share", name)] = float(io.income[i] / total) if total > 0 else np.nan
    out["funding_share_NGOs"] = float(ng.income_direct.sum() / total) if total > 0 else np.nan
    out["hhi"] = hhi(received)
    out["funding_total"] = total
    out["earmarked_share"] = model.earmarked_received / total if total > 0 else np.nan
    out["legitimacy_donors"] = float(io.legit_donor.mean())
    out["legitimacy_hosts"] = float(io.legit_host.mean())
    out["legitimacy_peers"] = float(io.legit_peer.mean())
    for i, name in enumerate(io.names):  # each organisation's global (peer) standing
        out[organisation_column("legitimacy_peers", name)] = float(io.legit_peer[i])
    out["knowledge_stock"] = float(io.knowledge.sum())
    n = io.n
    pairs = n * (n - 1) / 2
    out["network_density"] = float(np.triu(io.partner_io, 1).sum() / pairs) if pairs else 0.0
    out["network_centralisation"] = degree_centralisation(io.partner_io)
    out["local_partnerships"] = float(io.partner_host.sum() + io.partner_ngo.sum())
    breadth = mandate_breadth(io.mandate)
    out["mandate_breadth"] = float(breadth.mean())
    for i, name in enumerate(io.names):
        out[organisation_column("mandate_breadth", name)] = float(breadth[i])
    iu = np.triu_indices(n, 1)
    out["niche_overlap"] = float(model.overlap[iu].mean()) if pairs else 0.0
    out["contestations"] = float(model.contests)
    out["host_refusals"] = float(model.hs.refusals.sum())
    offered = model.grants_offered
    out["refusal_share"] = 1.0 - model.grants_accepted / offered if offered else np.nan
    out["challenges"] = float(model.challenged.sum())
    out["offices"] = float(io.locations.sum())
    out["countries_present"] = float(io.office.sum())
    members = io.member.sum(axis=1)
    for i, name in enumerate(io.names):  # member states of each organisation (ODD 7.6b)
        out[organisation_column("members", name)] = float(members[i])
    if model.venue is not None:
        out["venue_members"] = float(len(model.venue.members))
        products = model.venue.products
        out["venue_products"] = float(products)
        out["venue_own_agenda_share"] = model.venue.own_agenda / products if products else np.nan
    budgets = io.core + io.earmarked
    out["budget_gini"] = gini(budgets)
    out["ngo_income_direct"] = float(ng.income_direct.sum())
    out["ngo_income_subcontract"] = float(ng.income_subcontract.sum())
    ngo_total = out["ngo_income_direct"] + out["ngo_income_subcontract"]
    out["ngo_subcontract_share"] = out["ngo_income_subcontract"] / ngo_total if ngo_total > 0 else np.nan
    if model.has_funds:  # trust funds and pooled compact funds: who captured them, cumulatively
        fund_total = float(model.fund_received.sum())
        for i, name in enumerate(io.names):
            share = float(model.fund_received[i] / fund_total) if fund_total > 0 else np.nan
            out[organisation_column("fund_share", name)] = share
        out["fund_share_NGOs"] = float(model.fund_received[io.n:].sum() / fund_total) if fund_total > 0 else np.nan
        out["fund_total"] = fund_total
        inc = float(model.fund_received[: io.n][model.fund_incumbent].sum())
        opened = model.trust_fund_opened and fund_total > 0  # incumbents are defined by a trust fund's regions
        out["fund_share_incumbents"] = inc / fund_total if opened else np.nan
    # all organisations' spending, then each organisation's own (Patz & Thorvaldsdottir)
    follows, *own = spending_alignment(model, np.vstack([model.spend_host, model.spend_io_host[: io.n]])).tolist()
    out["spending_follows_pressure"], out["spending_follows_donors"] = follows
    out["spending_donor_tilt"] = follows[1] - follows[0]
    for name, (need, donors) in zip(io.names, own, strict=True):
        out[organisation_column("spending_follows_pressure", name)] = need
        out[organisation_column("spending_follows_donors", name)] = donors
    out["appeals"] = float(model.appealing.sum())
    out["emergency_funding"] = model.emergency_received
    out["uncertainty"] = model.uncertainty
    out["ledger_error"] = model.ledger_error()
    return out
