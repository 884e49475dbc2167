import numpy as np
import pytest

from evalkit.metrics.classification import (
    INVALID,
    batch_scores,
    classification_metrics,
    encode_labels,
    normalize_label,
    parse_label,
)

P, N = "news_related", "not_news_related"
LABELS = [P, N]


# --- parsing -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    (" News_Related.\n", "news related"),
    ("**not_news_related**", "not news related"),
    ("Label:  NEWS-related!", "label news related"),
    ("", ""),
])
def test_normalize_label(text, expected):
    assert normalize_label(text) == expected


@pytest.mark.parametrize(("output", "expected"), [
    (" News_Related.\n", P),
    ("**not_news_related**", N),
    ("Label: news related", P),
    ("NOT_NEWS_RELATED", N),
    ("not-news-related", N),
    ("`news_related`", P),
    ("news_related\n\nThe user asks about today's election.", P),
    # A leading label wins even when the explanation names the other label.
    ("not_news_related. This is a recipe question, which is not news_related.", N),
    ("news_related - it is clearly not a not_news_related query", P),
    ("The answer is: not_news_related", N),
    ('{"label": "news_related"}', P),
    ("**Category:** Not News Related", N),
    ("Classification: news_related (the query mentions 'today')", P),
    ("I think this query is news_related.", P),
    ("This query is not news related.", N),  # "not news related" is read whole, never as "news related"
    ("1. not_news_related", N),
    ("news_related_query", P),
    ("Answer: NEWS_RELATED", P),
    # Ambiguous or empty: invalid.
    ("news_related or not_news_related", INVALID),
    ("news_related / not_news_related", INVALID),
    ("It could be news_related, or maybe not_news_related", INVALID),
    ("", INVALID),
    ("   \n", INVALID),
    ("I don't know", INVALID),
    ("news", INVALID),
    ("newsrelated", INVALID),
    ("related news", INVALID),
])
def test_parse_label_table(output, expected):
    assert parse_label(output, LABELS) == expected


@pytest.mark.parametrize(("output", "expected"), [
    ("News", P),
    ("not news.", N),
    ("Yes.", P),
    ("no, it's a recipe question", N),
    ("news_related", P),
])
def test_parse_label_with_aliases(output, expected):
    aliases = {"news": P, "not news": N, "yes": P, "no": N}
    assert parse_label(output, LABELS, aliases) == expected


def test_longer_label_containing_a_shorter_one_wins_at_its_position():
    labels = ["positive", "very positive", "negative"]
    assert parse_label("Very positive!", labels) == "very positive"
    assert parse_label("sentiment: positive", labels) == "positive"
    assert parse_label("The review reads very positive", labels) == "very positive"


@pytest.mark.parametrize(("labels", "aliases", "message"), [
    (["News_Related", "news related"], None, "same once normalised"),
    (["a", "invalid"], None, "reserved"),
    (["a", "b"], {"x": "c"}, r"maps to 'c', which must be among \['a', 'b'\]"),
    (["a", "b"], {"A": "b"}, "already means 'a'"),
    ([], None, "non-empty"),
])
def test_parse_label_validates_labels_and_aliases(labels, aliases, message):
    with pytest.raises(ValueError, match=message):
        parse_label("a", labels, aliases)


def test_parse_label_rejects_non_text_output():
    with pytest.raises(ValueError, match="output must be a str. Got NoneType"):
        parse_label(None, LABELS)


# --- metrics -----------------------------------------------------------------------------------------------

# Ten items worked by hand:
#   true: P P P P N N N N N N
#   pred: P P N I N N N P I N        (I = invalid)
#   correct: items 1, 2, 5, 6, 7, 10 -> accuracy 6/10
#   P: TP 2, FP 1 (item 8), FN 2 (items 3, 4)  -> precision 2/3, recall 2/4, F1 = 2*2/(2*2+1+2) = 4/7
#   N: TP 4, FP 1 (item 3), FN 2 (items 8, 9)  -> precision 4/5, recall 4/6, F1 = 8/11
#   macro F1 = (4/7 + 8/11) / 2 = 50/77; invalid rate 2/10
Y_TRUE = [P, P, P, P, N, N, N, N, N, N]
Y_PRED = [P, P, N, INVALID, N, N, N, P, INVALID, N]


def test_classification_metrics_hand_computed():
    m = classification_metrics(Y_TRUE, Y_PRED, LABELS, positive_label=P)
    assert m.n == 10
    assert m.accuracy == pytest.approx(0.6)
    assert m.precision == pytest.approx(2 / 3)
    assert m.recall == pytest.approx(0.5)
    assert m.f1 == pytest.approx(4 / 7)
    assert m.f1_macro == pytest.approx(50 / 77)
    assert m.invalid_rate == pytest.approx(0.2) and m.n_invalid == 2
    assert m.confusion_columns == (P, N, INVALID)
    assert m.confusion == ((2, 1, 1), (1, 4, 1))
    by_label = {c.label: c for c in m.per_class}
    assert by_label[N].precision == pytest.approx(0.8)
    assert by_label[N].recall == pytest.approx(4 / 6)
    assert by_label[N].f1 == pytest.approx(8 / 11)
    assert (by_label[P].support, by_label[N].support) == (4, 6)
    assert m.undefined == ()


def test_without_positive_label_binary_metrics_are_none():
    m = classification_metrics(Y_TRUE, Y_PRED, LABELS)
    assert (m.precision, m.recall, m.f1) == (None, None, None)
    assert m.f1_macro == pytest.approx(50 / 77)


def test_invalid_column_is_always_present():
    m = classification_metrics([P, N], [P, N], LABELS)
    assert m.confusion_columns == (P, N, INVALID)
    assert m.confusion == ((1, 0, 0), (0, 1, 0))


def test_all_invalid_is_all_wrong():
    m = classification_metrics([P, N, N], [INVALID] * 3, LABELS, positive_label=P)
    assert (m.accuracy, m.invalid_rate, m.recall) == (0.0, 1.0, 0.0)


def test_zero_division_is_explicit_and_reported():
    m = classification_metrics([N, N, N], [N, N, N], LABELS, positive_label=P)
    assert (m.precision, m.recall, m.f1) == (0.0, 0.0, 0.0)
    assert m.undefined == (f"precision[{P}]", f"recall[{P}]", f"f1[{P}]")
    m1 = classification_metrics([N, N, N], [N, N, N], LABELS, positive_label=P, zero_division=1.0)
    assert (m1.precision, m1.recall, m1.f1) == (1.0, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"zero_division must be a float among \{0.0, 1.0\}. Got 0.5"):
        classification_metrics([N], [N], LABELS, zero_division=0.5)


@pytest.mark.parametrize(("y_true", "y_pred", "kwargs", "message"), [
    ([P, "sports"], [P, N], {}, r"y_true values must be among .*Got \['sports'\]"),
    ([P, N], [P, "maybe"], {}, r"y_pred values must be among .*'invalid'.*Got \['maybe'\]"),
    ([P, N], [P], {}, "equal lengths. Got 2 and 1"),
    ([], [], {}, "must not be empty"),
    ([P], [P], {"positive_label": "yes"}, r"positive_label must be a str among .*Got 'yes'"),
])
def test_classification_metrics_validates(y_true, y_pred, kwargs, message):
    with pytest.raises(ValueError, match=message):
        classification_metrics(y_true, y_pred, LABELS, **kwargs)


def test_batch_scores_agree_with_classification_metrics():
    labels = ["a", "b", "c"]
    rng = np.random.default_rng(0)
    for _ in range(20):
        t = rng.choice(labels, size=15).tolist()
        p = rng.choice([*labels, INVALID], size=15).tolist()
        m = classification_metrics(t, p, labels, positive_label="b")
        s = batch_scores(encode_labels(t, labels)[None], encode_labels(p, labels)[None], 3, positive=1)
        for name in ("accuracy", "precision", "recall", "f1", "f1_macro", "invalid_rate"):
            assert s[name][0] == pytest.approx(getattr(m, name)), name


def test_encode_labels_rejects_unknown_values():
    assert encode_labels([P, INVALID, N], LABELS).tolist() == [0, 2, 1]
    with pytest.raises(ValueError, match="Got 'x'"):
        encode_labels(["x"], LABELS)


def test_docstring_examples_run():
    import doctest

    import evalkit.metrics.classification

    result = doctest.testmod(evalkit.metrics.classification)
    assert result.attempted > 0 and result.failed == 0
