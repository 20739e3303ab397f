"""Does a claim only compare the input and the output of one mechanism?

A verdict that varies a parameter one function reads and measures a state that the same
function writes checks that function's code, not a theory: it can only fail if the rest of the
model undoes what the function does. Such a claim must say ``basis: assumed`` (or ``check``).
This module reads migov.model's source (``ast``, no execution) to find, for a claim:

* the fields its arms vary: the dotted paths set in its arms (and where arms name different
  scenarios, the fields in which those scenarios differ), reduced to the name the code reads
  (``parameters.gain_knowledge`` -> ``gain_knowledge``, ``donors.EU.weights.familiarity`` ->
  ``weights``);
* the functions that read each such name as an attribute (``p.gain_knowledge``), or call a helper
  in the same module that does (``host_consent`` through ``consent_logit``; one level, and not
  the schedule in ``model.py``, which calls everything), leaving out the construction
  of the state (``state.py``, ``config.py``), which only copies inputs;
* the state its measure reads: the attributes in the expression that computes the measure in
  ``measures.compute_measures`` (or, for a per-agent selector, in the agent's reported
  property), and the functions that write any of them (assignment, augmented assignment,
  ``np.add.at(x.attr, ...)``, ``out=x.attr``).

``single_mechanism`` names a function that reads every varied field and writes the measured
state, or returns None. It is deliberately literal: a field is matched by its name read off the
object that holds that section in the code (``p.`` for parameters, ``io.`` for organisations,
``hs.`` for hosts; events' fields only in environment.py), and a mechanism reached through a
renamed array is not found. So it can miss a circular claim (the registry's ``basis`` remains a
judgement, stated per claim); what it flags does read the input and write the output.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import migov.model
import numpy as np
from migov.experiments.claims.measure import parse_selector
from migov.experiments.claims.registry import SCENARIO_COLUMN, Claim, arm_scenario, arms
from migov.model import load_scenario
from migov.model.agents import AGENT_CLASSES
from migov.model.measures import ORGANISATION_MEASURES

MODEL = Path(migov.model.__file__).parent
CONSTRUCTION = {"state", "config", "measures", "__init__"}  # copy inputs or report; not mechanisms
# who holds a scenario section's fields in the model's code: parameters are read as p.<name>,
# organisations' arrays as io.<name>, and so on; events' fields only in environment.py
OWNERS = {"parameters": {"p"}, "organisations": {"io", "spec"}, "donors": {"dn", "spec"}, "hosts": {"hs", "spec"},
          "ngos": {"ng", "spec"}, "venue": {"spec"}, "events": {"ev", "event", "shock"}}
METADATA = {"title", "summary", "narrative", "sources", "parameter_sources", "note", "name", "type", "at", "extends",
            "watch", "source", "passage", "seed"}  # scenario fields that describe rather than set anything


@cache
def _functions(properties: bool = False) -> dict[str, ast.FunctionDef]:
    """Every function and method of migov.model by ``module.function`` / ``module.Class.method``;
    properties (what agents report) only when asked for: they read state, they are no mechanism."""
    out: dict[str, ast.FunctionDef] = {}
    for path in sorted(MODEL.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                out[f"{path.stem}.{node.name}"] = node
            elif isinstance(node, ast.ClassDef):
                for sub in node.body:
                    is_property = any(isinstance(d, ast.Name) and d.id == "property" for d in sub.decorator_list) \
                        if isinstance(sub, ast.FunctionDef) else False
                    if isinstance(sub, ast.FunctionDef) and is_property == properties:
                        out[f"{path.stem}.{node.name}.{sub.name}"] = sub
    return out


def _owner(node: ast.AST) -> str | None:
    """The name an attribute is read off: ``p`` in ``model.p.x``, ``io`` in ``io.x[i]``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _qualified_reads(node: ast.AST) -> set[tuple[str | None, str]]:
    return {(_owner(n.value), n.attr) for n in ast.walk(node)
            if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load)}


def _attribute_reads(node: ast.AST) -> set[str]:
    """Attribute names read in ``node``, leaving out numpy's own (``np.mean``)."""
    return {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Load)
            and not hasattr(np, n.attr)}


def _target_attr(node: ast.AST) -> str | None:
    """The attribute a write lands in: ``x.attr``, ``x.attr[...]``."""
    while isinstance(node, ast.Subscript):
        node = node.value
    return node.attr if isinstance(node, ast.Attribute) else None


def _attribute_writes(fn: ast.FunctionDef) -> set[str]:
    out: set[str] = set()
    for n in ast.walk(fn):
        targets = []
        if isinstance(n, ast.Assign):
            targets = n.targets
        elif isinstance(n, ast.AugAssign | ast.AnnAssign):
            targets = [n.target]
        elif isinstance(n, ast.Call):
            f = n.func
            if isinstance(f, ast.Attribute) and f.attr == "at" and n.args:  # np.add.at(x.attr, ...)
                targets = [n.args[0]]
            targets += [k.value for k in n.keywords if k.arg == "out"]
        for t in targets:
            for leaf in (t.elts if isinstance(t, ast.Tuple) else [t]):
                name = _target_attr(leaf)
                if name:
                    out.add(name)
    return out


def mechanism_exists(name: str) -> bool:
    """``module.function`` or ``module.Class.method`` names a function in migov.model's source."""
    return name in _functions() or name in _functions(properties=True)


def readers(section: str, name: str) -> set[str]:
    """Mechanisms (functions outside state construction) that read field ``name`` of a scenario
    ``section`` (parameters, organisations, ...) off the object that holds it in the code."""
    owners = OWNERS.get(section)
    found = set()
    for k, fn in _functions().items():
        module = k.split(".")[0]
        if module in CONSTRUCTION or (section == "events" and module != "environment"):
            continue
        reads = _qualified_reads(fn)
        if any(attr == name and (owners is None or owner in owners) for owner, attr in reads):
            found.add(k)
    # a helper that reads the field (consent_logit) acts through the mechanism in its module that calls
    # it (host_consent); the model's schedule (model.py), which calls every mechanism, is not followed
    helpers = {(k.split(".")[0], k.split(".")[-1]) for k in found}
    found |= {k for k, fn in _functions().items()
              if k.split(".")[0] not in CONSTRUCTION | {"model"}
              and {(k.split(".")[0], c) for c in _called_names(fn)} & helpers}
    return found


def _called_names(fn: ast.FunctionDef) -> set[str]:
    """Names of the functions ``fn`` calls: ``f(...)``, ``module.f(...)``, ``self.f(...)``."""
    return {_owner(n.func) if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", None)
            for n in ast.walk(fn) if isinstance(n, ast.Call)} - {None}


def writers(attrs: set[str]) -> set[str]:
    """Mechanisms that write any of ``attrs``."""
    return {k for k, fn in _functions().items()
            if k.split(".")[0] not in CONSTRUCTION and _attribute_writes(fn) & attrs}


def _measure_expression(name: str) -> ast.AST | None:
    """The right-hand side computing ``out[name]`` in compute_measures (per-organisation
    measures by their ``organisation_column`` prefix)."""
    fn = _functions()["measures.compute_measures"]
    prefix = next((m for m in ORGANISATION_MEASURES if name.startswith(m + "_")), None)
    for n in ast.walk(fn):
        if isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Subscript):
            key = n.targets[0].slice
            if isinstance(key, ast.Constant) and key.value == name:
                return n.value
            if prefix and isinstance(key, ast.Call) and key.args and isinstance(key.args[0], ast.Constant) \
                    and key.args[0].value == prefix:
                return n.value
    return None


#: Names that hold an owner (agent arrays, the model), not state: reads of them are not measured state.
OWNER_NAMES = frozenset({"io", "ng", "hs", "dn", "model", "idx"})


def measured_state(claim: Claim) -> set[str]:
    """The state attributes the claim's measure is computed from."""
    if claim.measure.per_agent:
        sel = parse_selector(claim.measure.name)
        cls = next(c for c in AGENT_CLASSES if c.kind == sel.kind)
        prop = cls.reported[sel.variable]
        fn = _functions(properties=True).get(f"agents.{cls.__name__}.{prop}")
        return _attribute_reads(fn) - OWNER_NAMES if fn else set()
    expr = _measure_expression(claim.measure.name)
    if expr is None:
        return set()
    return _reads_through_locals(expr, _functions()["measures.compute_measures"]) - OWNER_NAMES


def _reads_through_locals(expr: ast.AST, fn: ast.FunctionDef, depth: int = 3) -> set[str]:
    """Attributes ``expr`` reads, following the local names it uses to their assignments in ``fn``."""
    out = _attribute_reads(expr)
    if depth == 0:
        return out
    names = {n.id for n in ast.walk(expr) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    for n in ast.walk(fn):
        if isinstance(n, ast.Assign):
            targets = {t.id for t in n.targets if isinstance(t, ast.Name)}
            targets |= {e.id for t in n.targets if isinstance(t, ast.Tuple) for e in t.elts if isinstance(e, ast.Name)}
            if targets & names:
                out |= _reads_through_locals(n.value, fn, depth - 1)
    return out


def _flatten(data, prefix: str = "") -> dict[str, object]:
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(data, list):
        out = {}
        for i, v in enumerate(data):
            out.update(_flatten(v, f"{prefix}.{i}"))
        return out
    return {prefix: data}


def _field_name(path: str) -> str:
    """The name the code reads a field by: an agent's or event's field is the name below the agent
    (``donors.*.weights.familiarity`` -> ``weights``, a column of ``dn.weights``), a parameter its own."""
    parts = path.split(".")
    below_agent = parts[0] in {"organisations", "donors", "hosts", "ngos", "events"} and len(parts) > 2
    return parts[2] if below_agent else parts[-1]


def varied_fields(claim: Claim) -> set[tuple[str, str]]:
    """The fields the claim's arms vary, as (scenario section, field name)."""
    arm_list = [a for _, a in arms(claim)]
    paths = {k for a in arm_list for k in a if k != SCENARIO_COLUMN}
    varied = {p for p in paths if len({repr(a.get(p)) for a in arm_list}) > 1}
    scenarios = {arm_scenario(claim, a) for a in arm_list}
    if len(scenarios) > 1:
        flat = [_flatten(load_scenario(s).model_dump()) for s in sorted(scenarios)]
        keys = set().union(*flat)
        varied |= {k for k in keys if len({repr(f.get(k)) for f in flat}) > 1 and k.split(".")[0] not in METADATA}
    fields = {(p.split(".")[0], _field_name(p)) for p in varied}
    return {(section, name) for section, name in fields if name not in METADATA and not name.isdigit()}


def single_mechanism(claim: Claim) -> str | None:
    """A mechanism that reads every field the claim varies and writes the state it measures, or None."""
    fields = varied_fields(claim)
    state = measured_state(claim)
    if not fields or not state:
        return None
    common = set.intersection(*(readers(section, name) for section, name in fields))
    hit = sorted(common & writers(state))
    return hit[0] if hit else None
