"""The normaliser shared by documents and questions."""

from __future__ import annotations

from assistant.text import expand, tokenize, weighted_tokens


def test_shorthand_is_spelled_out():
    assert tokenize("Walker w/o seat") == ["walker", "without", "no_seat"]
    assert tokenize("O2 concentrator, ea") == ["oxygen", "concentrator", "each"]
    assert "ankle" in tokenize("bilat AFOs")


def test_plurals_meet_singulars():
    assert tokenize("dressings batteries") == tokenize("dressing battery")
    assert tokenize("glasses patches") == tokenize("glass patch")


def test_negated_compound_does_not_match_its_root():
    tokens = tokenize("Humidifier, non-heated")
    assert "heated" not in tokens and "no_heated" in tokens
    assert tokenize("walker w/o wheels") == tokenize("Walker, without wheels")
    assert "wheel" not in tokenize("Walker, heavy duty, without wheels, rigid or folding")
    assert "folding" in tokenize("Walker, heavy duty, without wheels, rigid or folding")
    assert "no_mattress" in tokenize("hospital bed with rails, no mattress")
    assert "no_mattress" in tokenize("Hospital bed, with any type side rails, without mattress")
    assert "x-ray" in tokenize("x-ray") and "ray" in tokenize("x-ray")


def test_stopwords_dropped_and_expand_for_the_model():
    assert tokenize("what is the code for a cpap?")[:1] == ["cpap"]
    assert expand("cpap w/ humidifier") == (
        "cpap continuous positive airway pressure with humidifier"
    )


def test_sq_is_square_before_a_unit_and_subcutaneous_otherwise():
    assert tokenize("skin substitute, per sq cm") == ["skin", "substitute", "square", "cm"]
    assert "square" in tokenize("dressing 16 sq. in or less")
    assert tokenize("insulin given sq") == ["insulin", "given", "subcutaneous"]
    assert expand("per sq. cm; 2 sq in") == "per square cm; 2 square in"


def test_spelled_out_shorthand_weighs_as_one_word():
    """ "dme" is one word the coder wrote: its three spelled-out words share its weight, so a
    descriptor that merely spells out DME cannot outweigh one that has the question's other
    word ("DME rental": RR over UE)."""
    weights = dict(weighted_tokens("dme rental"))
    assert weights["rental"] == 1.0
    assert abs(weights["durable"] + weights["medical"] + weights["equipment"] - 1.0) < 1e-9
