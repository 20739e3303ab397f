"""The debrief: the game placed among the same world played by the rules alone."""

from __future__ import annotations

from migov.experiments.classroom import debrief
from migov.experiments.classroom.game import Game


def test_the_debrief_places_the_game_among_the_rule_runs(tmp_path):
    g = Game.new(tmp_path / "g", "baseline", ["IOM", "EU"], seed=5, rounds=2)
    for _ in range(2):
        g.submit(g.seats[0].token, {"actions": ["contest_rival", "stretch_mandate"], "rival": "UNHCR"})
        g.advance()
    runs = debrief.rule_runs(g, 3)
    table = debrief.compare(g, runs)
    assert set(table["agent"]) == {"IOM", "EU"}
    row = table[(table["agent"] == "IOM") & (table["outcome"] == "legitimacy with peers")].iloc[0]
    ruled = [float(m.io.legit_peer[0]) for m in runs.models]
    assert row["rules_min"] == min(ruled) and row["game"] == float(g.model.io.legit_peer[0])
    assert (row["verdict"] == "within the rule runs") == (min(ruled) <= row["game"] <= max(ruled))
    # the rule run at the game's seed is the game's world: the same until the first human choice
    assert runs.seeds[0] == 5 and runs.models[0].model_frame()["hhi"].iloc[0] == g.model.model_frame()["hhi"].iloc[0]
    marked = debrief.marked_events(g)
    assert "player" in set(marked.loc[marked["agent"] == "IOM", "by"]) <= {"player", "model"}
    assert set(marked.loc[marked["agent"] == "EU", "by"]) <= {"rule (timed out)", "model"}
    assert set(debrief.decisions(g)["by"]) == {"player", "rule (timed out)"}


def test_a_donor_that_funds_only_ngos_pays_out_less_and_the_debrief_says_so(tmp_path):
    g = Game.new(tmp_path / "g", "baseline", ["EU"], seed=2, rounds=2)
    for _ in range(2):
        g.submit(g.seats[0].token, {"earmarked": 1.0, "fund": ["NGOs"]})
        g.advance()
    table = debrief.compare(g, debrief.rule_runs(g, 2))
    paid = table[table["outcome"] == "share of its envelope paid out"].iloc[0]
    assert paid["game"] < paid["rules_min"] and paid["verdict"] == "lower than every rule run"
