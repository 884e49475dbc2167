"""report.html: one file (inline CSS, inline script, charts as data URIs) that opens offline, beside the folder
of items files its sample explorer loads on demand (evalkit.report._data).

Everything shown comes from untrusted data (model outputs, inputs, judge text, names, metadata), so the
template is rendered with autoescaping and never marks data safe, and the explorer builds the items it loads
with textContent only. As a second line of defence, a Content-Security-Policy allows only the report's own
script (by hash) and the scripts it adds itself ('strict-dynamic': the items files; never a script in the
markup), and data: images, so even a missed escape could neither run script nor load anything from the
network.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from evalkit.records import MetricValue, RunResult
from evalkit.report._chart_cache import ChartCache
from evalkit.report._data import ITEMS_DIR, ReportData, js_data, report_data
from evalkit.report._format import finite, fmt_cell
from evalkit.report._headline import Headline, build_headline
from evalkit.report._metrics import metrics_by_model
from evalkit.report._sections import ReportSection
from evalkit.report._sequential import sequential_view

_TEMPLATES = Path(__file__).with_name("templates")
_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(_TEMPLATES),
    autoescape=True,  # everywhere, including .js includes: data is never emitted unescaped
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Chart:
    """One embedded chart."""

    title: str
    uri: str


def render_html(run: RunResult, sections: Sequence[ReportSection] = (), data: ReportData | None = None) -> str:
    """The HTML report of `run` as one document; `sections` come after the task's tables. `data` is what
    report_data read from the run (read here when not given, with no items files beside the page)."""
    return "".join(render_html_chunks(run, sections, data))


def render_html_chunks(run: RunResult, sections: Sequence[ReportSection] = (),
                       data: ReportData | None = None, chart_cache: ChartCache | None = None) -> Iterator[str]:
    """The HTML report as consecutive pieces of text, to be written as they come; with `chart_cache`, the
    charts of the previous render are reused when what they show has not changed."""
    data = data if data is not None else report_data(run)
    metrics = metrics_by_model(run, data.models)
    headline = build_headline(run, metrics, data.models)
    explorer = data.explorer
    template = _ENV.get_template("report.html.j2")
    return template.generate(
        info=run.info,
        summary=run.summary,
        n_samples=data.n_items,
        model_specs=[_spec_view(m) for m in run.info.models],
        generation_params=json.dumps(run.info.generation_params, sort_keys=True, default=str)
        if run.info.generation_params else "",
        headline=headline,
        calls=data.calls,
        charts=_all_charts(run, headline, metrics, data, chart_cache),
        tables=[{"title": t.title, "columns": t.columns, "rows": [[fmt_cell(v) for v in r] for r in t.rows]}
                for t in run.summary.tables],
        sequential=sequential_view(run.sequential, data),
        samples=explorer.views,
        explorer=explorer,
        # Base64 of JSON: model names are untrusted text, and this keeps them opaque even to a regex scan.
        explorer_models=base64.b64encode(js_data(list(data.models)).encode("utf-8")).decode("ascii"),
        items_dir=ITEMS_DIR,
        n_disagree=sum(s.disagree for s in explorer.views),
        n_failed=sum(s.failed for s in explorer.views),
        script_hash=script_hash(),
        sections=[{"anchor": sec.anchor, "title": sec.title, "intro": sec.intro, "notes": sec.notes,
                   "tables": [{"title": t.title, "columns": t.columns, "rows": [[fmt_cell(v) for v in r]
                                                                              for r in t.rows]}
                              for t in sec.tables]} for sec in sections],
    )


def script_hash() -> str:
    """The CSP source (`'sha256-…'`) of the report's inline script, exactly as the template emits it."""
    script = _ENV.get_template("explorer.js").render()
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")


def _all_charts(run: RunResult, headline: Headline, metrics: dict[str, dict[str, MetricValue]],
                data: ReportData, cache: ChartCache | None) -> dict[str, Any]:
    """The page's charts: `charts` (the figures section) and `sequential` (the stop rule's, or None)."""
    def draw() -> list[tuple[str, str]]:
        drawn = [(c.title, c.uri) for c in _charts(run, headline, metrics, data)]
        seq = _sequential_chart(run)
        return drawn + ([(_SEQUENTIAL_CAPTION, seq)] if seq else [])

    pairs = cache.charts(run, data.latencies, data.ttfts, draw) if cache is not None else draw()
    return {"figures": [Chart(t, u) for t, u in pairs if t != _SEQUENTIAL_CAPTION],
            "sequential": next((u for t, u in pairs if t == _SEQUENTIAL_CAPTION), None)}


_SEQUENTIAL_CAPTION = "Confidence sequences over items drawn"


def _charts(run: RunResult, headline: Headline, metrics: dict[str, dict[str, MetricValue]],
            data: ReportData) -> list[Chart]:
    # matplotlib is imported here, not with the package: only rendering a report pays for it.
    from evalkit.report import charts
    from evalkit.report.sweep_charts import extra_charts

    out = []
    # A rate that is zero (or unknown) for every model draws no bar at all: the table says it better.
    rates = [r.metric for r in headline.rows if r.kind == "fraction" and not r.operational
             and any(finite(m[r.metric].value) for m in metrics.values() if r.metric in m)]
    bars = charts.metric_bars(metrics, rates)
    if bars:
        out.append(Chart("Metrics per model, with 95% confidence intervals", bars))
    cms = charts.confusion_matrices(run.summary.confusion_matrices)
    if cms:
        out.append(Chart("Confusion matrices (rows: true label, columns: predicted; colour: share of the row)", cms))
    lat = charts.latency_distribution(data.latencies)
    if lat:
        out.append(Chart("Latency of successful calls per model", lat))
    scatter = charts.accuracy_latency(metrics)
    if scatter:
        out.append(Chart("Accuracy against mean latency per call, one point per model (95% CIs)", scatter))
    task_metrics = [r.metric for r in headline.rows if not r.operational and r.kind not in ("count", "relative")]
    out += [Chart(title, uri) for title, uri in extra_charts(run, metrics, task_metrics, data.ttfts, data.models)]
    return out


def _sequential_chart(run: RunResult) -> str | None:
    if run.sequential is None:
        return None
    from evalkit.report.sequential_charts import confidence_sequences

    return confidence_sequences(run.sequential)


def _spec_view(spec: dict[str, Any]) -> dict[str, Any]:
    metadata = spec.get("metadata") or {}
    items = metadata.items() if isinstance(metadata, dict) else [("metadata", metadata)]
    return {
        "name": str(spec.get("name", "")),
        "provider": str(spec.get("provider", "")),
        "model": str(spec.get("model", "")),
        "adapter": spec.get("adapter"),
        "prompt": spec.get("prompt"),
        "metadata": [(str(k), v if isinstance(v, str) else json.dumps(v, default=str)) for k, v in items],
    }
