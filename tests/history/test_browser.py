"""The run index and a comparison page in headless chromium (Debian's /usr/bin/chromium through Playwright):
links resolve, untrusted text shows as text and runs nothing, no request leaves the page. (The documentation's
screenshots come from the real news comparison in test_news_compare.py.)
"""

from __future__ import annotations

from pathlib import Path

from analysis.runmaker import HOSTILE
from human.humanbrowser import ARGS, CHROMIUM, require_browser

from evalkit.history import compare_runs, write_comparison, write_index


def _open(page, path: Path, problems: list[str]) -> None:
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else problems.append(r.url))
    page.goto(path.resolve().as_uri())


def test_index_and_comparison_pages_in_chromium(two_runs, tmp_path: Path) -> None:
    require_browser()
    from playwright.sync_api import sync_playwright

    paths = write_comparison(compare_runs(two_runs.a, two_runs.b))
    index = write_index(two_runs.reports)
    shots = tmp_path
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            _open(page, index, problems)
            rows = page.locator("#runs > tbody > tr")
            assert rows.count() == 2
            assert rows.nth(0).get_attribute("data-run") == two_runs.b.name  # newest first
            first = rows.nth(0).inner_text()
            assert "ft-model-v2" in first and "complete" in first and "accuracy" in first
            page.screenshot(path=str(shots / "run-index.png"), full_page=True)
            # The comparison is listed, and its link opens it.
            page.locator("#comparisons a").first.click()
            page.wait_for_load_state()
            assert page.url.endswith("/compare.html")
            summary = page.locator("#differs-summary").inner_text()
            assert "3 setting(s) differ" in summary and "ft model_id" in summary
            ft = page.locator("#pair-2")
            assert ft.inner_text().strip() == "ft"
            acc = page.locator("#pair-2 ~ table.metrics").first.locator("tr[data-metric='accuracy']").inner_text()
            assert "-0.100" in acc and "mcnemar-exact" in acc and "not significant" in acc
            changed = page.locator("table.changed tr[data-item]")
            assert [changed.nth(i).get_attribute("data-item") for i in range(changed.count())] == [
                "q004", "q009", "q010"]
            # The dataset's <script> is shown as text: visible, and never run (no dialog was opened).
            assert HOSTILE in changed.nth(0).inner_text()
            page.screenshot(path=str(shots / "run-compare.png"), full_page=True)
            # Back to a run's own report through the comparison page's link.
            page.locator("#run-a a").click()
            page.wait_for_load_state()
            assert page.url.endswith(f"/{two_runs.a.name}/report.html")
        finally:
            browser.close()
    assert problems == []
    assert paths.html.is_file() and (shots / "run-index.png").stat().st_size > 10_000
