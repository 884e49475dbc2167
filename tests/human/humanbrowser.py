"""Driving a blind packet in a real headless browser: Debian's /usr/bin/chromium through Playwright.

Playwright's own browser download (`playwright install`) is never used; tests skip with a reason when either
Playwright or the chromium executable is missing.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def require_browser() -> None:
    """Skip the calling test unless Playwright and a chromium executable are available."""
    pytest.importorskip("playwright.sync_api", reason="needs the playwright package (the dev extra)")
    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (`make install-dev` installs it as root)")


def answer_packet(html: Path, decide: Callable[[str, str, str], str], out_dir: Path, *, reload_after: int | None = None,
                  screenshot: Path | None = None, comment: tuple[int, str] | None = None) -> dict[str, object]:
    """Open `html`, answer every item with the keyboard (`decide(source, text_1, text_2)` -> '1', '2' or 'tie'),
    reload the page after `reload_after` answers to check resume, then download the JSON and CSV verdicts into
    `out_dir`. Returns {'json': path, 'csv': path, 'resumed': progress text after reload, 'errors': [...]}."""
    from playwright.sync_api import sync_playwright

    keys = {"1": "1", "2": "ArrowRight", "tie": "0"}  # mix digit and arrow shortcuts
    out: dict[str, object] = {"errors": []}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            ctx = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 860})
            # Offline: any request leaving the page would fail the test.
            ctx.route("**/*", lambda route: route.abort() if not route.request.url.startswith(("file:", "blob:",
                                                                                                  "data:"))
                      else route.continue_())
            page = ctx.new_page()
            page.on("pageerror", lambda e: out["errors"].append(str(e)))  # type: ignore[union-attr]
            page.on("request", lambda r: None if r.url.startswith(("file:", "blob:", "data:"))
                    else out["errors"].append(f"network request: {r.url}"))  # type: ignore[union-attr]
            page.goto(html.resolve().as_uri())
            page.wait_for_selector("#packet[data-ready='1']")
            total = page.locator("article.item").count()
            answered = 0
            while answered < total:
                item = page.locator("article.item:not([hidden])")
                source = item.locator(".source").inner_text()
                t1, t2 = item.locator(".candidate-1").inner_text(), item.locator(".candidate-2").inner_text()
                if comment is not None and answered == comment[0]:
                    page.keyboard.press("c")
                    page.keyboard.type(comment[1])
                    page.keyboard.press("Escape")
                page.keyboard.press(keys[decide(source, t1, t2)])
                answered += 1
                if reload_after is not None and answered == reload_after:
                    if screenshot is not None:
                        screenshot.parent.mkdir(parents=True, exist_ok=True)
                        page.screenshot(path=str(screenshot), full_page=True)
                    page.reload()
                    page.wait_for_selector("#packet[data-ready='1']")
                    out["resumed"] = page.inner_text("#progress-text")
            out["done_visible"] = page.locator("#done").is_visible()
            for kind in ("json", "csv"):
                with page.expect_download() as dl:
                    page.click(f"#download-{kind}")
                target = out_dir / dl.value.suggested_filename
                dl.value.save_as(str(target))
                out[kind] = target
        finally:
            browser.close()
    return out
