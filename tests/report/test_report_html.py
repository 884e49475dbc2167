"""What the HTML report shows: header facts, banners, the headline table, charts, samples and prompts."""

from __future__ import annotations

import re

from report_fixtures import make_large_run, make_run

from evalkit.report import render_html


def _headline(html: str) -> str:
    return re.search(r'<table class="headline">(.*?)</table>', html, re.DOTALL).group(1)


def test_every_model_in_the_headline_in_order(run3, ) -> None:
    head = _headline(render_html(run3))
    header = re.search(r"<thead>(.*?)</thead>", head, re.DOTALL).group(1)
    positions = [header.index(f"<th>{m}") for m in ("base", "ft", "ft-lr1e-5")]
    assert positions == sorted(positions)
    assert "reference" in header[positions[0]:positions[1]]


def test_deltas_only_for_non_reference_models(run3) -> None:
    head = _headline(render_html(run3))
    accuracy = re.search(r"<code>accuracy</code>.*?</tr>", head, re.DOTALL).group(0)
    cells = re.findall(r"<td>(.*?)</td>", accuracy, re.DOTALL)
    assert len(cells) == 3
    assert "Δ" not in cells[0]
    assert "+10.0 pp" in cells[1] and "+20.0 pp" in cells[2]
    assert "p = 0.012" in cells[1] and "significant" in cells[1] and "delta better" in cells[1]
    assert "50.0%" in cells[0] and "[30.0%, 70.0%]" in cells[0]


def test_too_few_items_and_operational_rows(run3) -> None:
    head = _headline(render_html(run3))
    f1 = re.search(r"<code>macro_f1</code>.*?</tr>", head, re.DOTALL).group(0)
    assert f1.count('<span class="badge too-few-items">too few items</span>') == 2
    names = re.findall(r'<td class="metric"><code>([^<]+)</code>', head)
    assert names[:3] == ["accuracy", "macro_f1", "invalid_rate"]
    assert {"latency_p50_s", "latency_p95_s", "prompt_tokens_mean", "cost_usd"} <= set(names[3:])
    cost = re.search(r"<code>cost_usd</code>.*?</tr>", head, re.DOTALL).group(0)
    assert "unknown" in cost and "$0.0030" in cost  # unpriced reference, priced fine-tunes


def test_header_banners(run3) -> None:
    html = render_html(run3)
    assert "not complete" not in html and "pipeline demonstration" not in html
    offline = render_html(make_run(offline_judge=True, status="interrupted"))
    assert "judge is the embedded local model: a pipeline demonstration, not a meaningful verdict" in offline
    assert 'class="banner warn"' in offline and "interrupted" in offline


def test_run_facts_models_and_prompts(run3) -> None:
    html = render_html(run3)
    for text in ("run-20250101-abc", "support-intents", "Intent classification of support tickets",
                 "<dt>learning_rate</dt><dd>1e-05</dd>", "ft-lr1e-5-model", "Ticket: {{ input }}\nLabel:"):
        assert text in html
    # bars, confusion matrices, latency, accuracy against mean latency
    assert html.count("<img src=\"data:image/svg+xml;base64,") == 4


def test_samples_failed_call_judgment_and_disagreement(run3) -> None:
    html = render_html(run3)
    articles = re.findall(r'<article class="sample" (.*?)</article>', html, re.DOTALL)
    assert len(articles) == 3
    s3 = next(a for a in articles if "<code>s3</code>" in a)
    assert 'data-failed="1"' in s3 and "HTTP 500" in s3
    s2 = next(a for a in articles if "<code>s2</code>" in a)
    assert "<details><summary>Judge calls (1)</summary>" in s2 and "&#34;winner&#34;: &#34;A&#34;" in s2
    # Labels of base and ft differ on s2 (refund vs other).
    assert 'data-disagree="1"' in s2


def test_one_model_run_renders() -> None:
    html = render_html(make_run(("base",)))
    head = _headline(html)
    assert "<th>base" in head and "Δ" not in head
    assert "<article" in html


def test_eight_models_render() -> None:
    models = [f"model-{i}" for i in range(9)]
    html = render_html(make_run(models))
    header = re.search(r"<thead>(.*?)</thead>", _headline(html), re.DOTALL).group(1)
    assert all(f"<th>{m}" in header for m in models)


def test_large_run_renders_every_sample() -> None:
    html = render_html(make_large_run(300))
    assert html.count('<article class="sample"') == 300


def test_runner_operational_metrics_attach_to_their_rows(run3) -> None:
    from evalkit.operational import operational_metrics

    models = ["base", "ft", "ft-lr1e-5"]
    ops, comps = operational_metrics(run3.generations, models, "base", n_bootstrap=200)
    task_metrics = {m: tuple(v for v in run3.summary.metrics[m] if not v.name.startswith("latency"))
                    for m in models}
    summary = run3.summary.model_copy(update={
        "metrics": {m: task_metrics[m] + ops[m] for m in models},
        "comparisons": run3.summary.comparisons + comps})
    head = _headline(render_html(run3.model_copy(update={"summary": summary})))
    names = re.findall(r'<td class="metric"><code>([^<]+)</code>', head)
    assert len(names) == len(set(names))
    assert "n_calls" not in names and "failed" not in names  # in the Calls row instead
    assert "latency_p50_delta_s" not in names and "prompt_tokens_rel_change" not in names
    tokens = re.search(r"<code>prompt_tokens_mean</code>.*?</tr>", head, re.DOTALL).group(0)
    assert tokens.count("% (relative)") == 2 and "too few items" in tokens
    latency = re.search(r"<code>latency_p50_s</code>.*?</tr>", head, re.DOTALL).group(0)
    assert latency.count("Δ") == 2
