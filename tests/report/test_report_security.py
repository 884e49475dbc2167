"""The HTML report escapes every untrusted text and references nothing outside itself."""

from __future__ import annotations

import base64
import hashlib
import re

from report_fixtures import XSS_ALL, make_run

from evalkit.report import render_html


def test_hostile_markup_only_appears_escaped(hostile_html: str) -> None:
    assert "<script>alert(1)" not in hostile_html
    assert "<img src=x" not in hostile_html
    assert "onerror=alert" not in hostile_html.replace("onerror=alert(1)&gt;", "")  # only as escaped text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile_html
    assert "&lt;img src=x onerror=alert(1)&gt;" in hostile_html
    assert "&lt;b&gt;exploded&lt;/b&gt;" in hostile_html  # a failed call's error text


def test_hostile_text_is_escaped_in_each_place(hostile_run, hostile_html: str) -> None:
    escaped = "ft &lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(1)&gt; javascript:alert(1)"
    # The model name: in the models table, the headline header and every sample's answer column.
    assert hostile_html.count(escaped) >= 3 + len(hostile_run.samples)
    assert "Refund please &lt;script&gt;" in hostile_html                    # an input
    assert "refund &lt;script&gt;alert(1)" in hostile_html                   # an output
    assert "Which is better? &lt;script&gt;" in hostile_html                 # a judge prompt
    assert "A is better &lt;script&gt;" in hostile_html                      # a judge response
    assert "You classify. &lt;script&gt;" in hostile_html                    # a prompt template


def test_javascript_url_never_becomes_a_link(hostile_html: str) -> None:
    assert "javascript:alert(1)" in hostile_html  # shown, as text
    assert not re.search(r"""(?:href|src|action|formaction)\s*=\s*["']?\s*javascript:""", hostile_html, re.IGNORECASE)
    # Every href is an in-page anchor.
    assert all(h.startswith("#") for h in re.findall(r"""href\s*=\s*["']([^"']*)""", hostile_html))


def test_only_the_reports_own_script_and_no_event_handlers(hostile_html: str) -> None:
    assert len(re.findall(r"<script\b", hostile_html, re.IGNORECASE)) == 1
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", hostile_html, re.IGNORECASE)


def test_no_external_references() -> None:
    html = render_html(make_run())
    assert "http://" not in html and "https://" not in html
    assert "//" not in "".join(re.findall(r"""(?:src|href)\s*=\s*["'][^"']*""", html))
    assert "@import" not in html and "url(" not in html
    for src in re.findall(r"""<img[^>]*\ssrc\s*=\s*["']([^"']*)""", html):
        assert src.startswith(("data:image/svg+xml;base64,", "data:image/png;base64,"))


def test_a_url_in_an_output_stays_text() -> None:
    run = make_run()
    g = run.generations[0].model_copy(update={"output": "see https://evil.example/x.png " + XSS_ALL})
    html = render_html(run.model_copy(update={"generations": (g, *run.generations[1:])}))
    assert "see https://evil.example/x.png" in html
    assert not re.search(r"""(?:src|href)\s*=\s*["']?https?:""", html, re.IGNORECASE)


def test_csp_allows_exactly_the_inline_script(hostile_html: str) -> None:
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', hostile_html).group(1)
    assert "default-src 'none'" in csp and "img-src data:" in csp
    script = re.search(r"<script>(.*?)</script>", hostile_html, re.DOTALL).group(1)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in csp
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script and "document.write" not in script
