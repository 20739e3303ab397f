"""The classroom's game: people's choices in agents' seats, rounds, timeouts, saving and resuming,
and the debrief against the rules (the pages are tested in test_classroom_browser.py)."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
from migov.experiments.classroom import debrief, views
from migov.experiments.classroom.game import Game, GameError
from migov.model import MigovModel, ScenarioError
from migov.model.config import ACTIONS
from migov.model.seats import DonorChoice, OrganisationChoice


def test_a_seated_organisation_does_what_its_seat_chose(tmp_path):
    g = Game.new(tmp_path / "g", "baseline", ["IOM"], seed=2, rounds=2)
    g.submit(g.seats[0].token, {"actions": ["contest_rival"], "rival": "ILO"})
    g.advance()
    iom = [e for e in g.model.event_log if e["agent"] == "IOM"]
    contests = [e["text"] for e in iom if e["kind"] == "contestation"]
    assert contests == ["IOM contests ILO's jurisdiction"] * g.round_steps  # every step of the round, at ILO
    chosen_by_rule = ("form a partnership", "working group", "implementing partner", "stretches its mandate")
    assert not [e for e in iom if any(words in e["text"] for words in chosen_by_rule)]  # nothing it did not choose
    assert g.model.io.chosen[0].tolist() == [a == "contest_rival" for a in ACTIONS]


def test_a_game_where_nobody_chooses_is_the_model_itself(tmp_path):
    g = Game.new(tmp_path / "g", "baseline", ["IOM", "EU"], seed=4, rounds=3)
    for _ in range(3):
        g.advance()
    m = MigovModel("baseline", seed=4, steps=12)
    while m.running:
        m.step()
    pd.testing.assert_frame_equal(g.model.model_frame(), m.model_frame())
    assert g.state == "finished" and all(r.ruled == ["IOM", "EU"] for r in g.rounds)


def test_a_seated_donor_funds_only_whom_it_chose(tmp_path):
    m = MigovModel("baseline", seed=1, steps=8)
    m.seat({"EU": DonorChoice(earmarked=1.0, fund=("UNHCR",))})
    d, unhcr = m.dn.names.index("EU"), m.io.names.index("UNHCR")
    granted = []
    original = m.run_projects
    m.run_projects = lambda grants: (granted.append(grants), original(grants))[1]
    for _ in range(4):
        m.step()
    own = np.concatenate([g.bidder[(g.donor == d) & np.isin(g.call, [c for c, call in enumerate(m.calls)
                                                                     if call.label != "fund"])] for g in granted])
    assert len(own) > 0 and set(own.tolist()) == {unhcr}
    assert m.dn.earmarking[d] == 1.0
    before = m.core_split[d, unhcr]
    m.seat({"EU": DonorChoice(earmarked=0.2, fund=("UNHCR",))})
    m.step()
    assert m.core_split[d, unhcr] > before  # core money moves toward its choice at the pledges' pace


def test_choices_outside_the_agents_means_are_refused_in_one_line(tmp_path):
    g = Game.new(tmp_path / "g", "baseline", ["IOM", "EU"], seed=1, rounds=2)
    iom, eu = g.seats[0].token, g.seats[1].token
    too_many = ["contest_rival", "stretch_mandate", "bid_for_projects"]  # the baseline's organisations take 2 a step
    bad = [(iom, {"actions": ["fly"]}, "actions"), (iom, {"actions": too_many}, "actions"),
           (iom, {"rival": "IOM"}, "rival"), (iom, {"partner": "Nobody"}, "partner"),
           (iom, {"engage": "Peru"}, "engage"),
           (eu, {"earmarked": 1.5}, "earmarked"), (eu, {"fund": []}, "fund"), (iom, {"colour": "red"}, "unexpected")]
    for token, data, field in bad:
        with pytest.raises(ScenarioError) as err:
            g.submit(token, data)
        assert field in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(GameError, match="not a seat"):
        g.submit("guess", {"actions": []})
    assert g.pending == {}
    with pytest.raises(ScenarioError):
        MigovModel("baseline", seed=1).seat({"IOM": OrganisationChoice(actions=("produce_knowledge",), rival="X")})


def test_a_seat_that_does_not_choose_in_time_is_played_by_its_rule_and_marked(tmp_path):
    g = Game.new(tmp_path / "g", "baseline", ["IOM", "UNHCR"], seed=1, rounds=3, seconds=60)
    g.start()
    g.submit(g.seats[0].token, {"actions": ["produce_knowledge"]})
    g.tick()
    assert len(g.rounds) == 0  # time is not up
    g.deadline = time.monotonic() - 1  # the round's time runs out
    g.tick()
    assert [r.ruled for r in g.rounds] == [["UNHCR"]] and list(g.rounds[0].choices) == ["IOM"]
    assert views.instructor_view(g)["seats"][1]["ruled_last_round"]
    g.submit(g.seats[0].token, {"actions": []})
    g.submit(g.seats[1].token, {"actions": ["bid_for_projects"]})  # everyone chose: the round resolves
    assert len(g.rounds) == 2 and g.rounds[1].ruled == []


def test_a_crashed_game_resumes_where_it_stood_and_goes_on_the_same(tmp_path):
    def play(g: Game, rounds: range) -> None:
        for k in rounds:
            g.submit(g.seats[0].token, {"actions": ["contest_rival", "bid_for_projects"], "rival": "UNHCR",
                                        "bid_in": ["Libya", "Niger"]})
            if k == 1:
                g.inject({"crisis": {"issue": "displacement", "region": "Sahel", "magnitude": 4.0}})
                g.inject({"scenario_event": 0})
            g.advance()

    whole = Game.new(tmp_path / "a", "baseline", ["IOM", "EU"], seed=9, rounds=5)
    play(whole, range(4))
    crashed = Game.new(tmp_path / "b", "baseline", ["IOM", "EU"], seed=9, rounds=5)
    crashed.seats = whole.seats  # the same tokens, so the same choices apply
    play(crashed, range(2))
    crashed.submit(crashed.seats[1].token, {"fund": ["IOM", "NGOs"]})  # chosen, not yet resolved
    resumed = Game.load(tmp_path / "b")
    assert resumed.pending == {"EU": {"earmarked": None, "fund": ["IOM", "NGOs"]}} and resumed.state == "lobby"
    resumed.pending = {}
    play(resumed, range(2, 4))
    pd.testing.assert_frame_equal(resumed.model.model_frame(), whole.model.model_frame())
    assert resumed.model.event_log == whole.model.event_log
    assert any("Sahel" in e["text"] for e in whole.model.event_log)


def test_a_game_file_from_other_code_is_not_resumed(tmp_path):
    g = Game.new(tmp_path / "g", "baseline", ["IOM"], seed=1, rounds=2)
    spec = json.loads((g.folder / "game.json").read_text())
    spec["provenance"]["code_hash"] = "0123456789abcdef"
    (g.folder / "game.json").write_text(json.dumps(spec))
    with pytest.raises(GameError, match="code_hash"):
        Game.load(g.folder)


def test_the_command_sets_up_a_game_resumes_it_and_writes_its_debrief(tmp_path, capsys):
    from migov.experiments.cli import main

    folder = tmp_path / "game"
    assert main(["classroom", "baseline", "--play", "IOM,EU", "--rounds", "2", "--out", str(folder), "--no-serve",
                 "--host", "localhost", "--port", "9999"]) == 0
    spec = json.loads((folder / "game.json").read_text())
    printed = capsys.readouterr().out
    assert f"http://localhost:9999/?instructor={spec['instructor_token']}" in printed
    assert all(f"?seat={s['token']}" in (folder / "links.md").read_text() for s in spec["seats"])
    g = Game.load(folder)
    g.advance()
    assert main(["classroom", "--resume", str(folder), "--debrief", "--debrief-runs", "2"]) == 0
    assert (folder / "debrief" / "debrief.pdf").stat().st_size > 0
    listed = json.loads((folder / "manifest.json").read_text())["files"]
    assert {"game.json", "links.md", "debrief/debrief.pdf"} <= set(listed)


@pytest.mark.parametrize("argv, says", [
    (["classroom", "baseline", "--play", "IOM,Nobody"], "--play"),
    (["classroom", "baseline", "--rounds", "999"], "--rounds"),
    (["classroom", "baseline", "--seats", "99"], "--seats"),
    (["classroom", "baseline", "--play", "IOM,IOM"], "two seats"),
    (["classroom"], "scenario"),
    (["classroom", "--resume", "nowhere"], "game.json"),
])
def test_bad_input_is_one_line_and_status_2(tmp_path, capsys, argv, says):
    from migov.experiments.cli import main

    assert main([*argv, "--out", str(tmp_path / "g"), "--no-serve"] if "--resume" not in argv else argv) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and "\n" not in err and "Traceback" not in err
    assert not (tmp_path / "g").exists()


def test_a_folder_migov_did_not_write_is_refused(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.docx").write_text("years of work")
    with pytest.raises(ScenarioError, match="mine"):
        Game.new(tmp_path / "mine", "baseline", ["IOM"], rounds=1)
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["thesis.docx"]


def test_a_game_can_start_where_its_story_does(tmp_path):
    g = Game.new(tmp_path / "g", "gmg_rotating_chair", ["IOM"], seed=3, rounds=2, start="2003")
    assert g.model.date_label(g.model.steps) == "2003Q1" and g.model.horizon == g.model.steps + 8
    g.advance()
    runs = debrief.rule_runs(g, 1)
    pd.testing.assert_frame_equal(runs.models[0].model_frame(), g.model.model_frame())  # nobody chose: the same
    with pytest.raises(GameError, match="--from"):
        Game.new(tmp_path / "h", "baseline", ["IOM"], start="1990")


def test_what_a_room_can_throw_at_the_game_is_refused_in_one_line(tmp_path):
    g = Game.new(tmp_path / "g", "baseline", ["IOM"], seed=1, rounds=2)
    assert not g.has_seat("é") and not g.is_instructor("é")  # any text in a link: no crash
    with pytest.raises(GameError, match="no round"):
        debrief.write_debrief(g, 1)
    g.advance()
    with pytest.raises(GameError, match="round 1 ended"):  # sent for round 1, arrived in round 2
        g.submit(g.seats[0].token, {"actions": []}, round_number=1)
    for bad in ({"crisis": "a"}, {"crisis": {"issue": "labour", "region": "Sahel", "magnitude": 50}}, []):
        with pytest.raises(GameError):
            g.inject(bad)
    g.advance()
    with pytest.raises(GameError, match="over"):
        g.inject({"scenario_event": 0})
    for text, field in (("[]", "top level"), ('{"seats": 1}', "scenario")):
        (g.folder / "game.json").write_text(text)
        with pytest.raises(GameError, match=field):
            Game.load(g.folder)


def test_the_event_log_credits_players_with_their_own_moves_only(tmp_path):
    g = Game.new(tmp_path / "g", "baseline", ["IOM"], seed=2, rounds=2)
    g.submit(g.seats[0].token, {"actions": ["contest_rival"], "rival": "ILO"})
    g.inject({"crisis": {"issue": "labour", "region": "Sahel", "magnitude": 2.0}})
    g.advance()
    marked = debrief.marked_events(g)
    player = marked[marked["by"] == "player"]
    assert len(player) and not player["text"].str.contains("lapses|breaks").any()
    assert set(player["kind"]) <= {"contestation", "partnership", "mandate"}
    assert (marked.loc[marked["kind"] == "crisis", "by"] == "instructor").any()


def test_a_seat_can_end_a_partnership_the_rules_would_keep(tmp_path):
    g = Game.new(tmp_path / "g", "baseline", ["IOM"], seed=2, rounds=2)
    partner = g.options(g.seats[0])["drop"][0]
    g.submit(g.seats[0].token, {"actions": [], "drop": partner})
    g.advance()
    j = g.model.io.names.index(partner)
    assert f"IOM ends its partnership with {partner}" in [e["text"] for e in g.model.event_log]
    assert not g.model.io.partner_io[0, j] or "form a partnership" in " ".join(
        e["text"] for e in g.model.event_log if partner in e["text"] and "IOM" in e["text"])
    with pytest.raises(ScenarioError, match="drop"):
        g.submit(g.seats[0].token, {"drop": "IOM"})


def test_a_game_is_served_by_one_server_at_a_time(tmp_path, capsys):
    from migov.experiments.classroom.game import hold_game
    from migov.experiments.cli import main

    g = Game.new(tmp_path / "g", "baseline", ["IOM"], rounds=1)
    held = hold_game(g.folder)
    assert main(["classroom", "--resume", str(g.folder), "--port", "9999"]) == 2
    assert "another migov classroom is serving this game" in capsys.readouterr().err
    held.close()
    hold_game(g.folder).close()  # free again once the first server has gone
    assert ".serving.lock" in json.loads((g.folder / "manifest.json").read_text())["files"]


def _venue_events(m: MigovModel) -> list[str]:
    return [e["text"] for e in m.event_log if e["kind"] == "venue"]


def _first_term(seed: int, seats: dict) -> list[str]:
    """The venue's events in its first step (2003Q1, a chair term), with ``seats`` seated; every
    case seats the same organisations (the ``CONTROL`` ones, with no venue choice), so that what
    differs is the venue choice alone."""
    m = MigovModel("gmg_rotating_chair", seed=seed)
    while m.steps < m.venue.start:
        m.step()
    m.seat({**CONTROL, **seats})
    m.step()
    return _venue_events(m)


CONTROL = {o: OrganisationChoice() for o in ("UNDP", "UNODC", "World Bank", "UN Women", "UNHCR")}
GMG = "Global Migration Group"


def test_a_seat_applies_to_the_venue_where_its_rule_would_not_and_stays_out_where_it_would():
    # seed 7: UNODC's rule does not apply at the first term; UNDP's does (and is turned down)
    assert not [e for e in _first_term(7, {}) if "UNODC" in e]
    applies = {"UNODC": OrganisationChoice(apply_to_venue=True)}
    assert f"the {GMG} turns down UNODC's application" in _first_term(7, applies)
    assert f"the {GMG} turns down UNDP's application" in _first_term(7, {})
    for seed in (2, 7):  # staying out: no application, and the other applicants meet the same votes
        ruled, out = _first_term(seed, {}), _first_term(seed, {"UNDP": OrganisationChoice(apply_to_venue=False)})
        assert not [e for e in out if "UNDP" in e] and [e for e in ruled if "UNDP" in e]
        assert [e for e in out if "application" in e or "admits" in e] == [e for e in ruled if "UNDP" not in e
                                                                         and ("application" in e or "admits" in e)]


def test_a_seated_member_votes_an_applicant_in_or_out_and_declines_the_chair():
    assert f"the {GMG} admits UNDP" in _first_term(1, {})  # seed 1: the rules admit UNDP
    against = _first_term(1, {"UNHCR": OrganisationChoice(admit=(), decline_chair=True)})
    assert f"the {GMG} turns down UNDP's application" in against  # consensus: one seat's no keeps it out
    assert f"UNHCR declines to chair the {GMG}" in against
    assert f"UNHCR takes the chair of the {GMG}" in _first_term(1, {})
    # seed 2: the rules turn UNDP down; every founder voting for it lets it in
    assert f"the {GMG} turns down UNDP's application" in _first_term(2, {})
    founders = {f: OrganisationChoice(admit=("UNDP",)) for f in ("UNHCR", "IOM", "ILO")}
    assert f"the {GMG} admits UNDP" in _first_term(2, founders)


@pytest.mark.parametrize("scenario, agent, choice, says", [
    ("baseline", "IOM", OrganisationChoice(apply_to_venue=True), "apply_to_venue: expected a scenario with a "
                                                                 "coordination venue"),
    ("gmg_rotating_chair", "ICMPD", OrganisationChoice(apply_to_venue=True), "expected an organisation of the "
                                                                             "UN system"),
    ("gmg_rotating_chair", "IOM", OrganisationChoice(admit=("Nobody",)), "admit: expected one of IOM"),
    ("gmg_rotating_chair", "IOM", OrganisationChoice(admit="UNDP"), "admit: expected a list of organisations"),
    ("gmg_rotating_chair", "IOM", OrganisationChoice(decline_chair="yes"), "decline_chair: expected true or false"),
])
def test_venue_choices_outside_the_scenario_or_the_rules_of_the_venue_are_refused(scenario, agent, choice, says):
    m = MigovModel(scenario, seed=1)
    with pytest.raises(ScenarioError, match=says):
        m.seat({agent: choice})
    assert m.choices == {}


def test_a_seat_plays_the_venue_from_its_page_and_the_debrief_credits_it(tmp_path):
    g = Game.new(tmp_path / "g", "gmg_rotating_chair", ["UNDP", "UNHCR", "IOM", "ICMPD"], seed=3, rounds=1,
                 start="2003Q1")  # a yearly round: two chair terms, 2003Q1 and 2003Q3
    undp, unhcr, iom, icmpd = (views.seat_view(g, s)["venue_seat"] for s in g.seats)
    terms = [{"date": "2003Q1", "in_line": "UNHCR"}, {"date": "2003Q3", "in_line": "IOM"}]
    assert undp["terms"] == terms and undp["may_apply"] and undp["why_not"] is None
    assert undp["could_apply"] == ["UNODC", "World Bank", "UN Women"]  # other UN organisations outside it
    assert unhcr["member"] and unhcr["why_not"] == "you are a member" and iom["could_apply"] == ["UNODC", "UNDP",
                                                                                               "World Bank", "UN Women"]
    assert not icmpd["may_apply"] and icmpd["why_not"] == "the Global Migration Group admits only UN organisations"
    with pytest.raises(ScenarioError, match="apply_to_venue: expected an organisation of the UN system"):
        g.submit(g.seats[3].token, {"apply_to_venue": True})
    g.submit(g.seats[0].token, {"actions": [], "apply_to_venue": True})
    g.submit(g.seats[1].token, {"actions": [], "admit": [], "decline_chair": True})
    g.submit(g.seats[2].token, {"actions": [], "admit": iom["could_apply"]})
    g.advance()  # ICMPD did not choose: its rule played it
    said = _venue_events(g.model)
    assert said.count("the Global Migration Group turns down UNDP's application") == 2  # at both terms
    assert "UNHCR declines to chair the Global Migration Group" in said
    marked = debrief.marked_events(g)
    venue = marked[marked["kind"] == "venue"].groupby("text")["by"].agg(set)
    assert venue["the Global Migration Group turns down UNDP's application"] == {"player"}
    assert venue["UNHCR declines to chair the Global Migration Group"] == {"player"}
    assert venue["IOM takes the chair of the Global Migration Group"] == {"model"}  # the rotation, nobody's choice
    lines = debrief.decisions(g).set_index("agent")["decision"]
    assert lines["UNDP"] == "venue: apply" and lines["UNHCR"] == "admit: nobody; decline the chair"
    assert lines["IOM"] == "admit: UNODC, UNDP, World Bank, UN Women"
    assert lines["ICMPD"] == "did not choose in time; played by its rule"
    quarter = Game.new(tmp_path / "q", "gmg_rotating_chair", ["UNDP"], seed=3, rounds=1, per_round="quarter",
                       start="2003Q2")
    quiet = views.seat_view(quarter, quarter.seats[0])["venue_seat"]
    assert quiet["terms"] == [] and quiet["next_term"] == "2003Q3"  # the page offers nothing this round
