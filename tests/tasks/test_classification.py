import asyncio
from pathlib import Path

import pytest

from evalkit.errors import ConfigError, DataError
from evalkit.records import Generation, ModelScore, Prompt, Sample
from evalkit.stats import TOO_FEW_ITEMS
from evalkit.tasks import ScoringContext, SummaryContext, Task, create_task
from evalkit.tasks.classification import ClassificationTask, create

P, N = "news_related", "not_news_related"
SUITE = Path("benchmarks/news/suite.yaml")
ARGS = {"labels": [P, N], "positive_label": P}
MODELS = ("base", "ft", "mid")

# Twelve items: s1-s4 are news_related, s5-s12 not. Outputs per model (None = failed call):
OUTPUTS = {
    "base": ["news_related", "not_news_related", "not_news_related", "not_news_related",
             *["not_news_related"] * 7, "I'm not sure"],
    "ft": ["News_Related.", "news_related", "**news_related**", "Label: news related",
           "news_related", "not_news_related", None, *["not_news_related"] * 5],
    "mid": ["news_related", "news_related", "news_related or not_news_related", "not_news_related",
            "not_news_related", "not_news_related", "not_news_related", "not_news_related",
            "Not news related.", "news_related", "", "not_news_related"],
}
SAMPLES = [Sample(id=f"s{i}", input=f"query {i}", target=P if i <= 4 else N) for i in range(1, 13)]


def generation(model, sample_id, output):
    return Generation(sample_id=sample_id, model=model, model_id=model, prompt=Prompt(text="q"),
                      output=output, error=None if output is not None else "HTTP 503 after 3 retries",
                      latency_s=0.1)


def score_all(task, models=MODELS, samples=SAMPLES, outputs=OUTPUTS):
    async def run():
        return [await task.score(s, {m: generation(m, s.id, outputs[m][i]) for m in models}, ScoringContext())
                for i, s in enumerate(samples)]

    return asyncio.run(run())


@pytest.fixture(scope="module")
def task():
    return create(ARGS, SUITE)


@pytest.fixture(scope="module")
def summary(task):
    results = score_all(task)
    return task.summarize(SAMPLES, results, SummaryContext(models=MODELS, reference="base", n_bootstrap=500))


def metric(summary, model, name):
    return next(m for m in summary.metrics[model] if m.name == name)


def comparison(summary, model, name):
    return next(c for c in summary.comparisons if c.model == model and c.metric == name)


# --- creation ------------------------------------------------------------------------------------------


def test_create_through_registry_gives_a_task():
    t = create_task("classification", ARGS, SUITE)
    assert isinstance(t, ClassificationTask) and isinstance(t, Task)
    assert t.name == "classification"
    assert t.prompt_vars(SAMPLES[0]) == {"labels": [P, N]}


@pytest.mark.parametrize(("args", "fragments"), [
    ({"labels": [P]}, ["task_args.labels", "at least 2", f"received ['{P}']"]),
    ({"labels": [P, "News Related"]}, ["task_args.labels", "distinct"]),
    ({"labels": [P, N], "positive_label": "news"}, ["task_args.positive_label", f"one of ['{P}', '{N}']",
                                                    "received 'news'"]),
    ({"labels": [P, N], "aliases": {"yes": "maybe"}}, ["task_args.aliases", "maybe"]),
    ({"labels": [P, N], "label": P}, ["task_args.label: unknown field", "Did you mean: labels?"]),
    ({"labels": "news_related"}, ["task_args.labels", "valid list"]),
    ({"labels": ["a", "invalid"]}, ["task_args.labels", "reserved"]),
])
def test_invalid_args_name_file_field_received_and_allowed(args, fragments):
    with pytest.raises(ConfigError) as err:
        create(args, SUITE)
    message = str(err.value)
    assert str(SUITE) in message and "allowed: labels" in message
    for fragment in fragments:
        assert fragment in message


# --- scoring -------------------------------------------------------------------------------------------


def test_score_parses_each_model_and_marks_failures(task):
    results = score_all(task)
    s3, s7, s11 = results[2], results[6], results[10]
    assert s3.scores["ft"] == ModelScore(value=1.0, label=P, correct=True)
    assert s3.scores["mid"] == ModelScore(value=0.0, label="invalid", correct=False)
    assert s3.scores["base"] == ModelScore(value=0.0, label=N, correct=False)
    failed = s7.scores["ft"]
    assert (failed.value, failed.label, failed.correct) == (None, None, None)
    assert failed.details == {"failed": True, "error": "HTTP 503 after 3 retries"}
    assert s11.scores["mid"].label == "invalid"  # empty output
    assert s11.sample_id == "s11"


def test_score_rejects_a_target_outside_the_labels(task):
    bad = Sample(id="x1", input="q", target="sports")
    with pytest.raises(DataError, match=r"sample 'x1'.*'sports'.*news_related"):
        asyncio.run(task.score(bad, {"base": generation("base", "x1", P)}, ScoringContext()))


# --- summary: per-model metrics, worked by hand --------------------------------------------------------
#
# base: preds P N N N | N N N N N N N invalid. Correct 8/12.
#       P: TP 1, FP 0, FN 3 -> precision 1, recall 1/4, F1 2/5.  N: TP 7, FP 3, FN 1 -> F1 14/18 = 7/9.
#       macro F1 = (2/5 + 7/9)/2 = 53/90; invalid 1/12.
# ft:   s7 failed, 11 scored. Preds P P P P | P N - N N N N N. Correct 10/11.
#       P: TP 4, FP 1, FN 0 -> precision 4/5, recall 1, F1 8/9.  N: TP 6, FP 0, FN 1 -> F1 12/13.
#       macro = (8/9 + 12/13)/2 = 106/117.
# mid:  preds P P invalid N | N N N N N P invalid N. Correct 8/12.
#       P: TP 2, FP 1, FN 2 -> precision 2/3, recall 1/2, F1 4/7.  N: TP 6, FP 1, FN 2 -> F1 12/15 = 4/5.
#       macro = (4/7 + 4/5)/2 = 24/35; invalid 2/12.

EXPECTED = {
    "base": {"accuracy": 8 / 12, "precision": 1.0, "recall": 0.25, "f1": 0.4, "f1_macro": 53 / 90,
             "invalid_rate": 1 / 12, "n": 12},
    "ft": {"accuracy": 10 / 11, "precision": 0.8, "recall": 1.0, "f1": 8 / 9, "f1_macro": 106 / 117,
           "invalid_rate": 0.0, "n": 11},
    "mid": {"accuracy": 8 / 12, "precision": 2 / 3, "recall": 0.5, "f1": 4 / 7, "f1_macro": 24 / 35,
            "invalid_rate": 2 / 12, "n": 12},
}


@pytest.mark.parametrize("model", MODELS)
def test_metrics_hand_computed(summary, model):
    names = [m.name for m in summary.metrics[model]]
    assert names == ["accuracy", "precision", "recall", "f1", "f1_macro", "invalid_rate", "n"]
    for name, expected in EXPECTED[model].items():
        m = metric(summary, model, name)
        assert m.value == pytest.approx(expected), (model, name)
        if name != "n":
            assert m.ci_low <= m.value + 1e-12 and m.value - 1e-12 <= m.ci_high, (model, name)
            assert m.n == EXPECTED[model]["n"]
    assert metric(summary, model, "invalid_rate").higher_is_better is False
    assert metric(summary, model, "f1").higher_is_better is True


def test_metric_order_follows_models(summary):
    assert list(summary.metrics) == list(MODELS)


def test_confusion_matrices_and_per_class_tables(summary):
    cms = {c.model: c for c in summary.confusion_matrices}
    assert cms["base"].labels == (P, N) and cms["base"].predicted_labels == (P, N, "invalid")
    assert cms["base"].counts == ((1, 3, 0), (0, 7, 1))
    assert cms["ft"].counts == ((4, 0, 0), (1, 6, 0))
    assert cms["mid"].counts == ((2, 1, 1), (1, 6, 1))
    table = next(t for t in summary.tables if t.title.endswith("base"))
    assert table.columns == ("label", "precision", "recall", "f1", "support")
    (p_row, n_row) = table.rows
    assert p_row == (P, pytest.approx(1.0), pytest.approx(0.25), pytest.approx(0.4), 4)
    assert n_row == (N, pytest.approx(0.7), pytest.approx(7 / 8), pytest.approx(7 / 9), 8)


def test_failed_call_is_counted_in_notes(summary):
    assert any(n.startswith("ft: 1 failed call(s) excluded") for n in summary.notes)
    assert not any(n.startswith("base: ") and "failed" in n for n in summary.notes)


# --- summary: comparisons against the reference --------------------------------------------------------
#
# ft vs base on the 11 items both answered (s7 dropped for both): base correct on s1 s5 s6 s8 s9 s10 s11 (7),
#   ft on all but s5 (10). Accuracy delta 3/11. McNemar: b = 4 (s2 s3 s4 s12), c = 1 (s5):
#   p = 2 * P(X <= 1 | 5, 1/2) = 12/32. F1: 8/9 - 2/5 = 22/45. Base's N F1 on those 11 items:
#   TP 6, FP 3, FN 1 -> 12/16, so macro 23/40; delta 106/117 - 23/40 = 1549/4680.
# mid vs base on all 12: b = 2 (s2 s12), c = 2 (s10 s11): delta 0, p = 1. F1: 4/7 - 2/5 = 6/35;
#   macro 24/35 - 53/90 = 61/630.


def test_comparisons_hand_computed(summary):
    assert [(c.model, c.metric) for c in summary.comparisons] == [
        ("ft", "accuracy"), ("ft", "f1"), ("ft", "f1_macro"),
        ("mid", "accuracy"), ("mid", "f1"), ("mid", "f1_macro")]
    acc = comparison(summary, "ft", "accuracy")
    assert (acc.reference, acc.n, acc.test) == ("base", 11, "mcnemar-exact")
    assert acc.delta == pytest.approx(3 / 11)
    assert acc.p_value == pytest.approx(12 / 32)
    assert acc.ci_low <= acc.delta <= acc.ci_high
    assert "4 only ft correct, 1 only base correct" in acc.note
    f1 = comparison(summary, "ft", "f1")
    assert f1.delta == pytest.approx(22 / 45) and f1.test == "paired-bootstrap"
    assert 0 < f1.p_value <= 1 and f1.ci_low <= f1.delta <= f1.ci_high
    assert comparison(summary, "ft", "f1_macro").delta == pytest.approx(1549 / 4680)

    mid_acc = comparison(summary, "mid", "accuracy")
    assert (mid_acc.delta, mid_acc.p_value, mid_acc.n) == (pytest.approx(0.0), 1.0, 12)
    assert comparison(summary, "mid", "f1").delta == pytest.approx(6 / 35)
    assert comparison(summary, "mid", "f1_macro").delta == pytest.approx(61 / 630)


def test_summary_is_reproducible(task, summary):
    again = task.summarize(SAMPLES, score_all(task), SummaryContext(models=MODELS, reference="base",
                                                                    n_bootstrap=500))
    assert again == summary


def test_too_few_items_gives_delta_without_ci_or_p(task):
    samples, outputs = SAMPLES[:5], {m: o[:5] for m, o in OUTPUTS.items()}
    results = score_all(task, samples=samples, outputs=outputs)
    s = task.summarize(samples, results, SummaryContext(models=MODELS, reference="base", n_bootstrap=200))
    acc = comparison(s, "ft", "accuracy")
    # 5 items: base correct on s1 s5, ft on s1-s4 -> delta 4/5 - 2/5.
    assert acc.delta == pytest.approx(0.4) and acc.note == TOO_FEW_ITEMS
    assert (acc.ci_low, acc.ci_high, acc.p_value) == (None, None, None)
    assert any("fewer than 10 paired items" in n for n in s.notes)


def test_single_model_has_no_comparisons(task):
    results = score_all(task, models=("base",))
    s = task.summarize(SAMPLES, results, SummaryContext(models=("base",), reference="base", n_bootstrap=200))
    assert s.comparisons == ()
    assert metric(s, "base", "accuracy").value == pytest.approx(8 / 12)


def test_without_positive_label_only_macro_f1():
    t = create({"labels": [P, N]}, SUITE)
    results = score_all(t)
    s = t.summarize(SAMPLES, results, SummaryContext(models=MODELS, reference="base", n_bootstrap=200))
    assert [m.name for m in s.metrics["ft"]] == ["accuracy", "f1_macro", "invalid_rate", "n"]
    assert {c.metric for c in s.comparisons} == {"accuracy", "f1_macro"}


def test_model_whose_calls_all_failed_is_reported_not_dropped(task):
    outputs = {**OUTPUTS, "ft": [None] * 12}
    results = score_all(task, outputs=outputs)
    s = task.summarize(SAMPLES, results, SummaryContext(models=MODELS, reference="base", n_bootstrap=200))
    assert metric(s, "ft", "accuracy").value is None and metric(s, "ft", "n").value == 0.0
    assert any(n == "ft: 12 failed call(s) excluded from its metrics and comparisons" for n in s.notes)
    acc = comparison(s, "ft", "accuracy")
    assert acc.delta is None and acc.n == 0 and acc.note


def test_reference_must_be_a_model(task):
    with pytest.raises(ValueError, match="reference must be among"):
        task.summarize(SAMPLES, [], SummaryContext(models=("a",), reference="b"))


def test_results_must_be_one_per_known_sample(task):
    results = score_all(task)
    ctx = SummaryContext(models=MODELS, reference="base", n_bootstrap=50)
    with pytest.raises(ValueError, match=r"one result per sample. Got repeats of \['s1'\]"):
        task.summarize(SAMPLES, [*results, results[0]], ctx)
    with pytest.raises(ValueError, match="not in `samples`"):
        task.summarize(SAMPLES[1:], results, ctx)
