"""Larger worlds for measuring how the model scales: the baseline with k copies of every host
government and NGO. Used by bench_scale.py and by the reference runs of the tests."""

from __future__ import annotations

import copy

from migov.model.config import Scenario

HOST_LISTS = ("offices", "working_groups", "members")


def scaled(base: Scenario, k: int) -> Scenario:
    """The scenario with k copies of every host government and NGO (copy c of host H is 'H #c'),
    each keeping its region, pressures and wants; organisations' offices, working groups and
    memberships, and events that name hosts, extend to the copies."""
    if k == 1:
        return base
    data = base.model_dump(mode="json")
    copies = {h: [h] + [f"{h} #{c}" for c in range(2, k + 1)] for h in data["hosts"]}
    data["hosts"] = {name: copy.deepcopy(spec) for h, spec in data["hosts"].items() for name in copies[h]}
    ngos = {}
    for n, spec in data["ngos"].items():
        for c, host in enumerate(copies[spec["host"]], start=1):
            ngos[n if c == 1 else f"{n} #{c}"] = {**copy.deepcopy(spec), "host": host}
    data["ngos"] = ngos
    for org in data["organisations"].values():
        for key in HOST_LISTS:
            org[key] = [name for place in org.get(key, []) for name in copies.get(place, [place])]
    for ev in data.get("events", []):
        if ev.get("hosts"):
            ev["hosts"] = [name for h in ev["hosts"] for name in copies[h]]
    return Scenario.model_validate(data)
