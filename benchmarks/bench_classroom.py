"""A full room on one machine: N seats in browsers, one classroom server.

    python benchmarks/bench_classroom.py [--seats 30] [--rounds 3] [--scenario baseline]

Starts ``migov classroom`` with N seats (the scenario's organisations and donors, several seats
sharing an agent's link as teams when N is larger than the agents), opens the instructor and N
seat pages in one headless Chromium (a context each, as separate people), and plays rounds:
every seat sends a choice, and the round resolves when the last one is in. It prints, per round,
the time for all N choices to be sent and acknowledged on their pages, and the time from the
last choice until every page shows the next round; then the server's peak memory and CPU time.
The browser and the server share the machine here, so a room of laptops would see the server's
share of this, not more. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("MIGOV_CHROMIUM", "/usr/bin/chromium")


def server_stats(pid: int) -> tuple[float, float]:
    """Peak resident MB and CPU seconds of a process and its children (the Solara server)."""
    peak, cpu = 0.0, 0.0
    pids = [pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                     text=True).stdout.split()]
    for p in pids:
        try:
            status = Path(f"/proc/{p}/status").read_text()
            peak += int(next(x for x in status.splitlines() if x.startswith("VmHWM:")).split()[1]) / 1024
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, StopIteration):
            continue
    return peak, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seats", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scenario", default="baseline")
    ap.add_argument("--port", type=int, default=8797)
    args = ap.parse_args()
    from migov.model import load_scenario
    from playwright.sync_api import expect, sync_playwright

    sc = load_scenario(args.scenario)
    agents = [*sc.organisations, *sc.donors][: min(args.seats, len(sc.organisations) + len(sc.donors))]
    folder = Path(tempfile.mkdtemp()) / "game"
    log = folder.parent / "server.log"
    cmd = [sys.executable, "-m", "migov", "classroom", args.scenario, "--play", ",".join(agents), "--rounds",
           str(args.rounds), "--seconds", "600", "--out", str(folder), "--host", "127.0.0.1", "--port", str(args.port)]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{args.port}"
    try:
        for _ in range(240):
            try:
                with urllib.request.urlopen(url + "/", timeout=5):
                    break
            except OSError:
                time.sleep(0.5)
        spec = json.loads((folder / "game.json").read_text())
        seats = spec["seats"]
        links = [seats[k % len(seats)] for k in range(args.seats)]  # teams share an agent's link
        print(f"{args.seats} seats on {len(seats)} agents of {args.scenario}; server pid {proc.pid}")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox",
                                                                         "--disable-gpu"])
            t = time.perf_counter()
            teacher = browser.new_context().new_page()
            teacher.goto(f"{url}/?instructor={spec['instructor_token']}", timeout=300_000)
            teacher.get_by_text("Instructor").first.wait_for(timeout=300_000)
            pages = []
            for s in links:
                pg = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
                pg.goto(f"{url}/?seat={s['token']}", timeout=300_000)
                pages.append(pg)
            for pg, s in zip(pages, links, strict=True):
                pg.get_by_text(f"You play {s['agent']}").first.wait_for(timeout=300_000)
            print(f"all {len(pages) + 1} pages loaded in {time.perf_counter() - t:.1f} s")
            teacher.locator(".migov-start").click()
            for r in range(1, args.rounds + 1):
                t = time.perf_counter()
                # one choice per agent (the first page of each team); the round resolves on the last
                first = {}
                for pg, s in zip(pages, links, strict=True):
                    first.setdefault(s["agent"], pg)
                for pg in list(first.values())[:-1]:
                    pg.locator(".migov-send").click()
                    pg.locator(".migov-chosen").wait_for(timeout=300_000)
                sent = time.perf_counter() - t
                t = time.perf_counter()
                list(first.values())[-1].locator(".migov-send").click()
                want = f"round {r + 1} of" if r < args.rounds else "game over"
                for pg in pages:
                    expect(pg.get_by_text(want, exact=False).first).to_be_visible(timeout=300_000)
                print(f"round {r}: {len(first)} choices sent and acknowledged in {sent:.1f} s; from the last choice "
                      f"to the next round on all {len(pages)} pages: {time.perf_counter() - t:.2f} s")
            peak, cpu = server_stats(proc.pid)
            print(f"server (migov + Solara): peak memory {peak:.0f} MB, CPU {cpu:.1f} s over the session")
            browser.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()
