"""Human verdicts in a report: a HumanSummary as a report section (HTML/Markdown) and as console tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evalkit.human._records import HumanSummary, PacketSummary, RaterResult
from evalkit.records import Table

if TYPE_CHECKING:
    from evalkit.report import ReportSection

__all__ = ["human_section", "result_rows"]


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def _ci(ci: tuple[float, float] | None) -> str:
    return "" if ci is None else f"[{ci[0]:.0%}, {ci[1]:.0%}]"


def _p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def result_rows(p: PacketSummary) -> list[tuple[str, ...]]:
    """One row per rater (and the majority): the case study's table, with intervals and the sign test."""
    def row(r: RaterResult) -> tuple[str, ...]:
        return (r.rater, str(r.n), f"{r.wins}/{r.n}", str(r.ties), f"{r.losses}/{r.n}",
                f"{_pct(r.at_least_as_good)} {_ci(r.at_least_as_good_ci)}".strip(),
                f"{_pct(r.win_rate)} {_ci(r.win_rate_ci)}".strip(), _p(r.sign_test_p))
    return [row(r) for r in p.results]


def result_columns(p: PacketSummary) -> tuple[str, ...]:
    """Column names of result_rows, naming the two models."""
    return ("rater", "items", f"{p.model_a} preferred", "ties", f"{p.model_b} preferred",
            f"{p.model_a} at least as good [95% CI]", f"{p.model_a} win rate [95% Wilson]",
            "sign test p (ties excluded)")


def _packet_tables(p: PacketSummary) -> list[Table]:
    tables = [Table(title=f"Blind human preference: {p.model_a} vs {p.model_b} (packet {p.packet_id}, task "
                          f"{p.task}, {p.n_items} items)", columns=result_columns(p),
                    rows=tuple(result_rows(p)))]
    if p.agreement is not None:
        a = p.agreement
        name = "Cohen's kappa" if a.method == "cohen_kappa" else "Krippendorff's alpha (nominal)"
        tables.append(Table(title=f"Inter-rater agreement (packet {p.packet_id})",
                            columns=("raters", "items rated by 2+", "statistic", "value", "raw agreement"),
                            rows=((", ".join(a.raters), str(a.n_items), name,
                                   "—" if a.value is None else f"{a.value:.3f}", _pct(a.percent_agreement)),)))
    if p.judge_agreement is not None:
        j = p.judge_agreement
        tables.append(Table(title=f"LLM judge vs human (packet {p.packet_id}; the judge is a proxy, the human is "
                                  f"the verdict)",
                            columns=("human label", "items", "judge invalid", "agreement (ties included)",
                                     "agreement (no tie on either side)", "Cohen's kappa"),
                            rows=((j.human, str(j.n), str(j.n_invalid), _pct(j.with_ties), _pct(j.without_ties),
                                   "—" if j.kappa is None else f"{j.kappa:.3f}"),)))
    return tables


def human_section(summary: HumanSummary | None) -> ReportSection | None:
    """The report section of a run's human verdicts, or None when none were imported."""
    # Imported here: the report package (matplotlib, Jinja2) is heavy, and the CLI imports this package.
    from evalkit.report import ReportSection

    if summary is None or not summary.packets:
        return None
    tables = [t for p in summary.packets for t in _packet_tables(p)]
    notes = (
        "Raters saw each item's two candidates in a random left/right order (exactly balanced, seeded) with no "
        "model name; the key that unblinds them stayed in the run directory (human/<packet>/key.json), checked "
        "against the run by hash before every import.",
        "'at least as good' = (preferred + ties) / items; win rate = preferred / items, with Wilson 95% intervals; "
        "the sign test is exact and two-sided, over the items with a preference (ties excluded).",
        "With several raters, 'majority' is each item's most frequent label (no single most frequent label counts "
        "as a tie); agreement is Cohen's kappa for two raters, Krippendorff's alpha (nominal) for more.",
    )
    return ReportSection(anchor="human", title="Human preference", tables=tuple(tables),
                         intro=f"Blind verdicts imported with `evalkit human import` (summary of "
                               f"{summary.generated_at}).",
                         notes=notes)
