"""The scenario library: listing scenarios and describing one against its base."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from migov.model import ScenarioError, load_scenario
from migov.model.config import base_path


def scenario_files(dirs: list[Path]) -> dict[str, Path]:
    """Scenario files by name; a name found in an earlier folder hides later ones."""
    found: dict[str, Path] = {}
    for d in dirs:
        if d.is_dir():
            for f in sorted(d.glob("*.yaml")):
                found.setdefault(f.stem, f)
    return dict(sorted(found.items()))


def _problem(err: ScenarioError, path: Path) -> str:
    """What is wrong with a listed file, without its path when the row already names it (the
    summary column is cut short, and a long path would leave no room for the problem)."""
    if err.source != str(path):
        return str(err)
    return f"{err.field}: {err.message}" if err.field else err.message


def list_scenarios(dirs: list[Path]) -> str:
    rows = []
    for name, path in scenario_files(dirs).items():
        try:
            sc = load_scenario(path)
            rows.append((name, sc.title, sc.one_line))
        except ScenarioError as err:
            rows.append((name, "(invalid)", _problem(err, path)))
    if not rows:
        return "no scenarios found"
    w1 = max(len(r[0]) for r in rows)
    w2 = min(48, max(len(r[1]) for r in rows))
    lines = [f"{'name':<{w1}}  {'title':<{w2}}  summary", f"{'-' * w1}  {'-' * w2}  {'-' * 7}"]
    for name, title, summary in rows:
        lines.append(f"{name:<{w1}}  {textwrap.shorten(title, w2):<{w2}}  {textwrap.shorten(summary, 100)}")
    return "\n".join(lines)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths to leaf values (lists are leaves)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}{k}."))
        return out
    return {prefix.rstrip("."): value}


TEXT_FIELDS = {"title", "summary", "narrative", "watch", "sources", "extends"}


def differences_from_base(path: Path) -> tuple[str | None, list[tuple[str, Any, Any]]]:
    """The base's name and the (path, base value, value) triples where the resolved scenario
    differs from its resolved base, leaving out the text fields."""
    sc = load_scenario(path)
    if sc.extends is None:
        return None, []
    base = load_scenario(base_path(sc.extends, Path(path).parent, own=Path(path)))
    mine, theirs = flatten(sc.model_dump(mode="json")), flatten(base.model_dump(mode="json"))
    rows = []
    for key in sorted(set(mine) | set(theirs)):
        if key.split(".")[0] in TEXT_FIELDS:
            continue
        if key == "events":
            added = mine.get(key, [])[len(theirs.get(key, [])):]
            for ev in added:
                rows.append(("events (added)", None, {k: v for k, v in ev.items() if v not in ("", [], None)}))
            continue
        if mine.get(key) != theirs.get(key):
            rows.append((key, theirs.get(key, "(absent)"), mine.get(key, "(absent)")))
    return sc.extends, rows


def describe(path: Path) -> str:
    sc = load_scenario(path)
    wrap = textwrap.TextWrapper(width=96)
    out = [sc.title, "=" * len(sc.title), ""]
    if sc.summary:
        out += [sc.summary, ""]
    out += [*wrap.wrap(" ".join(sc.narrative.split())), ""]
    if sc.watch:
        out += ["What to watch:"] + ["  " + line for line in wrap.wrap(" ".join(sc.watch.split()))] + [""]
    out.append("Sources:")
    for s in sc.sources:
        out.append(f"  - {s.seed}: \"{' '.join(s.passage.split())}\"")
    out.append("")
    base, diffs = differences_from_base(path)
    if base is None:
        out.append(f"No base scenario. {len(sc.organisations)} organisations, {len(sc.donors)} donors, "
                   f"{len(sc.hosts)} hosts, {len(sc.ngos)} NGOs, {len(sc.events)} events, "
                   f"{sc.simulation.steps} steps from {sc.simulation.start_year}.")
    elif not diffs:
        out.append(f"Extends {base}, with no parameter changes.")
    else:
        out.append(f"Extends {base}; what differs:")
        for key, old, new in diffs:
            out.append(f"  {key}: {new}" if key == "events (added)" else f"  {key}: {old} -> {new}")
    return "\n".join(out)
