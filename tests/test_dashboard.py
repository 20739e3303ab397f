"""The classroom dashboard in a real browser: Playwright driving Debian's Chromium.

Starts ``migov dashboard`` on a free localhost port, picks a scenario, ticks the levers and moves
a slider, runs ten steps, and checks that the charts changed and that no error is on the page;
then loads a broken scenario and checks that its one-line message shows while the dashboard keeps
the previous scenario. Saves a screenshot to ``test-artifacts/dashboard.png`` (and to
``docs/images/dashboard.png`` for the README when ``MIGOV_UPDATE_SCREENSHOT=1``).

Chromium comes from Debian (``/usr/bin/chromium``, installed by ``.ci/run``); Playwright never
downloads a browser. Without it the test is skipped with that reason.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("MIGOV_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"Chromium not found at {CHROMIUM}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    extra = tmp_path_factory.mktemp("scenarios")
    base = (ROOT / "scenarios" / "baseline.yaml").read_text(encoding="utf-8")
    (extra / "zz_broken.yaml").write_text(base.replace("envelope: 90", "envelope: lots", 1), encoding="utf-8")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MIGOV_SCENARIOS": str(extra),
           "MIGOV_DASHBOARD_EXPORT": str(tmp_path_factory.mktemp("export"))}
    proc = subprocess.Popen([sys.executable, "-m", "experiments.cli", "dashboard", "baseline", "--port", str(port),
                             "--host", "127.0.0.1"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("the dashboard did not start:\n" + (proc.stdout.read() if proc.stdout else ""))
    yield url, env
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    url, _ = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1600, "height": 1250})
        pg.goto(url, timeout=90_000)
        pg.get_by_role("button", name="Reset", exact=True).wait_for(timeout=90_000)
        yield pg
        browser.close()


def image_src(page, name: str) -> str:
    return page.locator(f"img.migov-{name}").first.get_attribute("src") or ""


def pick_scenario(page, name: str) -> None:
    page.get_by_role("button", name="Scenario (press Reset to load)").click()
    page.get_by_role("option", name=name, exact=True).click()
    page.get_by_role("button", name="Reset", exact=True).click()


def test_pick_move_run_and_see_the_charts_change(page):
    pick_scenario(page, "donor_consolidation")
    page.get_by_text("Donors consolidate", exact=False).first.wait_for(timeout=30_000)
    page.get_by_text("Apply the levers", exact=False).first.click()
    slider = page.get_by_role("slider", name="Uncertainty")
    before_value = slider.get_attribute("aria-valuenow")
    slider.focus()
    for _ in range(8):
        slider.press("ArrowRight")
    assert float(slider.get_attribute("aria-valuenow")) > float(before_value)
    page.get_by_role("button", name="Reset", exact=True).click()
    page.get_by_text("step 0", exact=False).first.wait_for(timeout=30_000)
    funding0, network0 = image_src(page, "funding"), image_src(page, "network")
    step = page.get_by_role("button", name="Step", exact=True)
    for n in range(1, 11):
        step.click()
        page.get_by_text(f"step {n} ", exact=False).first.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    assert image_src(page, "funding") != funding0, "the funding chart did not change"
    assert image_src(page, "network") != network0, "the network did not change"
    assert page.get_by_text("1997Q2", exact=False).count() >= 1  # ten quarters after 1995Q1
    text = page.inner_text("body")
    assert "Traceback" not in text and "error in step" not in text and "Error:" not in text
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    page.screenshot(path=str(out / "dashboard.png"), full_page=True)
    if os.environ.get("MIGOV_UPDATE_SCREENSHOT"):
        (ROOT / "docs" / "images").mkdir(parents=True, exist_ok=True)
        shutil.copy(out / "dashboard.png", ROOT / "docs" / "images" / "dashboard.png")


def test_a_broken_scenario_shows_its_message_and_keeps_the_previous_one(page):
    pick_scenario(page, "baseline")
    page.get_by_text("Baseline: a fragmented field", exact=False).first.wait_for(timeout=30_000)
    pick_scenario(page, "zz_broken")
    message = page.get_by_text("zz_broken.yaml: donors.EU.envelope:", exact=False).first
    message.wait_for(timeout=30_000)
    assert "keeping the previous scenario" in message.inner_text()
    assert page.get_by_text("Baseline: a fragmented field", exact=False).count() >= 1
    page.get_by_role("button", name="Step", exact=True).click()
    page.get_by_text("step 1 ", exact=False).first.wait_for(timeout=30_000)
    assert "Traceback" not in page.inner_text("body")


def test_export_writes_figures_and_data(page, server):
    _, env = server
    page.get_by_role("button", name="Export figures and data").click()
    page.get_by_text("Wrote figures (PNG) and data (Parquet)", exact=False).first.wait_for(timeout=60_000)
    folders = list(Path(env["MIGOV_DASHBOARD_EXPORT"]).iterdir())
    assert len(folders) == 1
    files = {p.relative_to(folders[0]).as_posix() for p in folders[0].rglob("*") if p.is_file()}
    assert {"model.parquet", "agents.parquet", "events.parquet", "manifest.json", "figures/funding_shares.png",
            "figures/legitimacy.png", "figures/network.png", "figures/offices.png"} <= files
