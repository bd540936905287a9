import math

import pytest

from backend.classify import MAX_TOKENS, classify, parse_labels
from backend.errors import InputError


def test_sentiment_of_the_two_reference_sentences():
    wonderful, terrible = classify(["This movie was wonderful", "This movie was terrible"])
    assert wonderful.label == "positive"
    assert terrible.label == "negative"
    for result in (wonderful, terrible):
        assert math.isclose(sum(s.probability for s in result.scores), 1.0, rel_tol=1e-5)
        assert result.scores[0].probability > 0.8
        assert result.scores[0].similarity > result.scores[1].similarity


def test_custom_topic_labels():
    sport, money = classify(
        ["Messi scored twice in the final and the crowd went wild.",
         "Shares of the company fell after its quarterly earnings report."],
        "sports, business, politics, science",
    )
    assert sport.label == "sports"
    assert money.label == "business"
    assert [s.label for s in sport.scores].count("science") == 1
    assert sport.run.model.startswith("all-MiniLM-L6-v2")
    assert sport.run.seconds > 0


def test_parse_labels_trims_and_deduplicates():
    assert parse_labels(" sports,  Politics ,,sports, science\n art ") == ["sports", "Politics", "science", "art"]


@pytest.mark.parametrize(
    ("texts", "labels", "message"),
    [
        ("   ", "positive, negative", "empty"),
        ("Fine text", "positive", "at least two"),
        ("Fine text", "positive, positive", "at least two"),
        ([], "positive, negative", "at least one"),
        ("word " * (MAX_TOKENS + 20), "positive, negative", "tokens long"),
    ],
)
def test_user_mistakes_get_clear_messages(texts, labels, message):
    with pytest.raises(InputError, match=message):
        classify(texts, labels)
