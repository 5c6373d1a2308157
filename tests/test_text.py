"""The normaliser shared by documents and questions."""

from __future__ import annotations

from assistant.text import expand, tokenize


def test_shorthand_is_spelled_out():
    assert tokenize("Walker w/o seat") == ["walker", "without", "seat"]
    assert tokenize("O2 concentrator, ea") == ["oxygen", "concentrator", "each"]
    assert "ankle" in tokenize("bilat AFOs")


def test_plurals_meet_singulars():
    assert tokenize("dressings batteries") == tokenize("dressing battery")
    assert tokenize("glasses patches") == tokenize("glass patch")


def test_negated_compound_does_not_match_its_root():
    tokens = tokenize("Humidifier, non-heated")
    assert "heated" not in tokens and "nonheated" in tokens
    assert "x-ray" in tokenize("x-ray") and "ray" in tokenize("x-ray")


def test_stopwords_dropped_and_expand_for_the_model():
    assert tokenize("what is the code for a cpap?")[:1] == ["cpap"]
    assert expand("cpap w/ humidifier") == (
        "cpap continuous positive airway pressure with humidifier"
    )
