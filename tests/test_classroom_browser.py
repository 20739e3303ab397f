"""The classroom as a room uses it: an instructor and three seats in browsers of their own.

``migov classroom`` serves a game of three rounds (IOM, UNHCR and the EU seated; 6 seconds a
round, and a pause after each round for the room to talk). The seats choose in the lobby, one
reloads and finds its choice kept; the instructor starts, and the round resolves at once because
everyone has chosen. Round two: two seats choose in the pause, the instructor resumes, and the
clock runs out on UNHCR, which its rule plays and the pages mark. Round three the instructor ends
by hand. Then the debrief is made and shown. Every wait is on the page's state (a text or a class
appearing), never a sleep; the server is stopped with Ctrl-C and nothing it started may remain.
Screenshots go to ``test-artifacts/classroom-*.png``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from procs import kill_all, sigint_as_from_a_terminal, tree, wait_gone
from test_dashboard import ARGS, CHROMIUM, GONE_S, STARTUP_S, free_port, listing, needs_chromium

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
WAIT_MS = 120_000  # generous: a loaded 2-core machine; every wait ends as soon as the page shows the state


def start_classroom(folder: Path) -> tuple[subprocess.Popen, str, dict[str, str], Path]:
    port = free_port()
    log = folder.parent / "classroom.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "migov", "classroom", "baseline", "--play", "IOM,UNHCR,EU",
                                 "--teams", "Team A,Team B,Team C", "--rounds", "3", "--seconds", "6",
                                 "--pause-between-rounds", "--out", str(folder), "--host", "127.0.0.1",
                                 "--port", str(port), "--debrief-runs", "2"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=sigint_as_from_a_terminal)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_S
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/", timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.25)  # polling for the server to answer
    else:
        kill_all(tree(proc.pid))
        proc.kill()
        pytest.fail(f"the classroom did not answer at {url}:\n{log.read_text()}")
    spec = json.loads((folder / "game.json").read_text())
    tokens = {"instructor": spec["instructor_token"], **{s["agent"]: s["token"] for s in spec["seats"]}}
    return proc, url, tokens, log


def tick(page, label_start: str) -> None:
    """Tick an action once the page's form offers it (a new round's form may still be on its
    way), and wait until the page shows it ticked."""
    from playwright.sync_api import expect

    box = page.get_by_role("checkbox", name=label_start)
    expect(box).to_be_enabled(timeout=WAIT_MS)
    expect(box).not_to_be_checked(timeout=WAIT_MS)
    page.get_by_text(label_start, exact=False).first.click()
    expect(box).to_be_checked(timeout=WAIT_MS)


@needs_chromium
def test_a_class_plays_three_rounds_reloads_times_out_and_gets_its_debrief(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    folder = tmp_path / "game"
    proc, url, tokens, log = start_classroom(folder)
    started = tree(proc.pid)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)

            def open_page(query: str, ready: str):
                pg = browser.new_context(viewport={"width": 1400, "height": 1100}).new_page()
                pg.goto(f"{url}/?{query}", timeout=WAIT_MS)
                pg.get_by_text(ready, exact=False).first.wait_for(timeout=WAIT_MS)
                return pg

            teacher = open_page(f"instructor={tokens['instructor']}", "Instructor")
            iom = open_page(f"seat={tokens['IOM']}", "You play IOM")
            unhcr = open_page(f"seat={tokens['UNHCR']}", "You play UNHCR")
            eu = open_page(f"seat={tokens['EU']}", "You play EU")
            stranger = open_page("seat=guessed", "not a seat of this game")
            assert "You play" not in stranger.content()

            # the lobby: every seat chooses; a reload keeps the choice
            tick(iom, "Produce knowledge")
            tick(iom, "Scout for projects")
            iom.locator(".migov-send").click()
            iom.locator(".migov-chosen").wait_for(timeout=WAIT_MS)
            iom.reload()
            iom.locator(".migov-chosen").wait_for(timeout=WAIT_MS)
            tick(unhcr, "Stretch your mandate")
            unhcr.locator(".migov-send").click()
            unhcr.locator(".migov-chosen").wait_for(timeout=WAIT_MS)
            eu.locator(".migov-send").click()
            eu.locator(".migov-chosen").wait_for(timeout=WAIT_MS)
            expect(teacher.locator(".migov-seats")).to_contain_text("3 of 3 have chosen", timeout=WAIT_MS)
            teacher.screenshot(path=str(ARTIFACTS / "classroom-instructor-lobby.png"), full_page=True)
            iom.screenshot(path=str(ARTIFACTS / "classroom-seat.png"), full_page=True)

            # everyone has chosen: Start resolves round one at once, and the game pauses for the room
            teacher.locator(".migov-start").click()
            expect(teacher.get_by_text("round 2 of 3", exact=False).first).to_be_visible(timeout=WAIT_MS)
            expect(teacher.locator(".migov-state")).to_have_text("paused", timeout=WAIT_MS)
            expect(iom.get_by_text("round 2 of 3", exact=False).first).to_be_visible(timeout=WAIT_MS)

            # round two: two seats choose in the pause, then the clock runs out on UNHCR
            tick(iom, "Contest a rival")
            iom.locator(".migov-send").click()
            iom.locator(".migov-chosen").wait_for(timeout=WAIT_MS)
            eu.locator(".migov-send").click()
            eu.locator(".migov-chosen").wait_for(timeout=WAIT_MS)
            teacher.locator(".migov-start").click()  # Resume
            expect(teacher.get_by_text("round 3 of 3", exact=False).first).to_be_visible(timeout=WAIT_MS)
            expect(teacher.locator(".migov-seats")).to_contain_text("timed out", timeout=WAIT_MS)
            expect(unhcr.get_by_text("did not choose in time", exact=False)).to_be_visible(timeout=WAIT_MS)
            unhcr.screenshot(path=str(ARTIFACTS / "classroom-seat-timed-out.png"), full_page=True)

            # round three: the instructor ends it; the game is over; the debrief
            expect(teacher.locator(".migov-state")).to_have_text("paused", timeout=WAIT_MS)
            teacher.locator(".migov-advance").click()
            expect(teacher.locator(".migov-state")).to_have_text("game over", timeout=WAIT_MS)
            expect(eu.get_by_text("The game is over", exact=False)).to_be_visible(timeout=WAIT_MS)
            teacher.locator(".migov-make-debrief").click()
            expect(teacher.locator(".migov-debrief")).to_contain_text("rules, same world", timeout=WAIT_MS)
            teacher.locator(".migov-debrief img").first.wait_for(timeout=WAIT_MS)
            teacher.screenshot(path=str(ARTIFACTS / "classroom-debrief.png"), full_page=True)
            browser.close()

        spec = json.loads((folder / "game.json").read_text())
        rounds = spec["rounds"]
        assert [r["ruled"] for r in rounds] == [[], ["UNHCR"], ["IOM", "UNHCR", "EU"]]
        assert rounds[0]["choices"]["IOM"]["actions"] == ["produce_knowledge", "bid_for_projects"]
        assert rounds[1]["choices"]["IOM"]["actions"] == ["contest_rival"]
        made = {p.name for p in (folder / "debrief").iterdir()}
        assert {"debrief.pdf", "against_rules.png", "decisions.csv", "events.csv"} <= made
        proc.send_signal(2)  # Ctrl-C
        assert proc.wait(timeout=GONE_S) == 0, log.read_text()
        left = wait_gone(set(started), timeout=GONE_S)
        assert not left, f"the classroom left processes running:\n{listing(started, left)}"
    finally:
        kill_all(started)
        if proc.poll() is None:
            proc.kill()
        proc.wait()
