"""The run's HTML report in a real headless browser (Debian's chromium, driven by Playwright): it renders, its bars
are drawn, and it fetches nothing. `.ci/run` installs chromium and sets REQUIRE_BROWSER=1, so CI cannot skip this."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from failoverctl import report
from tests.support.run_reports import drill_report

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"chromium is required here (REQUIRE_BROWSER=1) and is not at {CHROMIUM}")
        pytest.skip("no chromium on this machine (Debian: apt-get install chromium)")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only where a browser runs

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()


def test_the_report_renders_its_bars_and_fetches_nothing(browser: Any, tmp_path: Path) -> None:
    run = drill_report()
    page_file = report.write(run, tmp_path / "run.html")
    page = browser.new_page(viewport={"width": 1150, "height": 900})
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(page_file.as_uri())
    page.wait_for_load_state("load")
    assert requests == [page_file.as_uri()], "the page itself, nothing else"
    assert page.title() == "recsys: ungraceful"
    drawn = page.locator("svg g.bar rect")
    assert drawn.count() == len(report.bars(run))
    widths = [float(drawn.nth(i).get_attribute("width") or 0) for i in range(drawn.count())]
    assert all(w >= 2 for w in widths)
    box = drawn.first.bounding_box()
    assert box is not None, "laid out on the page"
    assert box["width"] > 0
    assert box["height"] > 0
    critical = page.locator("svg g.bar.critical rect")
    assert critical.count() == 4
    assert {critical.nth(i).get_attribute("fill") for i in range(4)} == {"#d1242f"}
    traffic = page.locator('[data-figure="Time to traffic: DNS answers"] b').inner_text()
    assert traffic == "312 s of 900 s (AWS's clock)"
    assert page.locator('[data-figure="Time to full capacity"] b').inner_text() == "499 s of 900 s (AWS's clock)"
    assert page.locator("tr.check").count() == 1
    page.screenshot(path=str(tmp_path / "run.png"), full_page=True)
    assert (tmp_path / "run.png").stat().st_size > 10_000
    page.close()
