"""A large run's report in a real headless browser (Debian's chromium through Playwright): the page embeds a
bounded sample and loads every other item from the files beside it, from disk (file://), as data.

`screenshot(report_html, png)` is the same walk, used to take docs/img/report-1m-items.png from the benchmark's
1,000,000-item run.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from evalkit.config import load_config
from evalkit.runner import RunOptions, prepare
from evalkit.suite import load_suite

from .project import write_project

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
N = 2600
HOSTILE = '<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>'


def require_browser() -> None:
    pytest.importorskip("playwright.sync_api", reason="needs the playwright package (the dev extra)")
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")


def open_report(html: Path, work):  # type: ignore[no-untyped-def]
    """Run `work(page, errors)` on `html` opened from disk; any request off the disk is an error."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else
                    errors.append(f"network request: {r.url}"))
            page.goto(html.resolve().as_uri())
            page.wait_for_selector("body[data-explorer='ready']")
            return work(page, errors)
        finally:
            browser.close()


def screenshot(html: Path, png: Path, page_number: int = 2) -> None:
    """The report's explorer with items page `page_number` loaded from the items files, as a PNG."""
    def work(page, errors):  # type: ignore[no-untyped-def]
        page.fill("#explorer-page", str(page_number))
        page.dispatch_event("#explorer-page", "change")
        page.wait_for_selector(f"#samples[data-page='{page_number}']", timeout=60_000)
        page.locator("#samples").scroll_into_view_if_needed()
        page.screenshot(path=str(png), full_page=False)
        return errors

    errors = open_report(html, work)
    if errors:
        raise AssertionError(errors)


@pytest.mark.slow
def test_a_large_report_embeds_a_sample_and_loads_the_rest_from_disk(tmp_path: Path) -> None:
    require_browser()
    suite_file = write_project(tmp_path, N)
    # One item's output is hostile markup: it must arrive as text, in the page and from the items files.
    ft = tmp_path / "ft.jsonl"
    lines = ft.read_text().splitlines()
    lines[2100] = json.dumps({"id": "s02100", "output": f"pos {HOSTILE}"})
    ft.write_text("\n".join(lines) + "\n")
    options = RunOptions(models=("base", "ft"), out_dir=tmp_path / "reports", use_cache=False, show_progress=False)
    outcome = asyncio.run(prepare(load_suite(str(suite_file)), load_config(None), options).run())
    html = outcome.run_dir / "report.html"
    assert sorted(p.name for p in (outcome.run_dir / "report-items").glob("items-*.js")) == \
        ["items-00001.js", "items-00002.js", "items-00003.js"]

    def work(page, errors):  # type: ignore[no-untyped-def]
        out = {"embedded": page.locator("#explorer-items article.sample").count(),
               "intro": page.locator("#explorer-intro").inner_text()}
        # base is wrong on every fifth item: 520 disagreements, but on s02100 ft answers `pos` too (wrongly, like
        # base): 519, more than the 500 embedded.
        out["embedded_disagree"] = page.locator("#explorer-items article[data-disagree='1']").count()
        page.click("#explorer-next")
        page.wait_for_selector("#samples[data-page='1']")
        out["page1"] = page.locator("#explorer-items article.sample").count()
        page.fill("#explorer-page", "3")
        page.dispatch_event("#explorer-page", "change")
        page.wait_for_selector("#samples[data-page='3']")
        out["page3_ids"] = page.locator("#explorer-items article.sample header code").all_text_contents()
        hostile = page.locator("#explorer-items article.sample", has_text="s02100")
        out["hostile_text"] = hostile.locator(".answer pre").all_text_contents()
        out["hostile_imgs"] = hostile.locator("img").count()
        page.fill("#explorer-search", "item 2599 ")
        page.click("#explorer-search-all")
        page.wait_for_selector("#samples[data-page='search']")
        out["found"] = page.locator("#explorer-items article.sample header code").all_text_contents()
        out["status"] = page.locator("#explorer-status").inner_text()
        page.click("#explorer-embedded-btn")
        out["back"] = page.locator("#explorer-items article.sample").count()
        out["title"] = page.title()
        out["errors"] = list(errors)
        return out

    got = open_report(html, work)
    assert got["errors"] == []
    assert got["embedded"] == 500 and got["embedded_disagree"] == 500
    assert got["intro"].startswith(f"Showing 500 of {N:,} items: a seeded sample of 500 of the 519 items where the "
                                   "models disagree")
    assert got["page1"] == 1000
    assert got["page3_ids"] == [f"s{i:05d}" for i in range(2000, N)]
    assert any(HOSTILE in text for text in got["hostile_text"]) and got["hostile_imgs"] == 0
    assert got["found"] == ["s02599"] and got["status"] == "1 match(es) in 3 of 3 file(s)"
    assert got["back"] == 500 and got["title"] != "pwned"
