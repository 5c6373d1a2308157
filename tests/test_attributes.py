"""Attributes of descriptors and questions: numbers with units, comparators, categories,
with/without; and how a question's attributes meet a candidate's."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant.attributes import Attributes, compare, number, parse, quantities, root

# --- numbers and units ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("descriptor", "dim", "low", "high", "kind"),
    [
        ("pad size 16 sq. in. or less, without adhesive border", "area", None, 16.0, "bound"),
        (
            "pad size more than 16 sq. in. but less than or equal to 48 sq. in.",
            "area",
            16.0,
            48.0,
            "bound",
        ),
        ("pad size more than 48 sq. in.", "area", 48.0, None, "bound"),
        ("patient weight capacity greater than 300 pounds", "weight", 300.0, None, "bound"),
        ("patient weight capacity up to and including 300 pounds", "weight", None, 300.0, "bound"),
        ("patient weight capacity 601 pounds or more", "weight", 601.0, None, "bound"),
        (
            "Gradient compression stocking, thigh length, 18-30 mmhg",
            "pressure",
            18.0,
            30.0,
            "bound",
        ),
        ("40 mmhg or greater", "pressure", 40.0, None, "bound"),
        (
            "width greater than or equal to 20 inches and less than 24 inches",
            "length",
            20.0,
            24.0,
            "bound",
        ),
        ("Injection, calcitonin salmon, up to 400 units", "units", 0.0, 400.0, "amount"),
        ("Injection, methylprednisolone acetate, 40 mg", "mass", 40.0, 40.0, "amount"),
        ("Injection, urea, up to 40 gm", "mass", 0.0, 40000.0, "amount"),
        ("Infusion, normal saline solution, 1000 cc", "volume", 1000.0, 1000.0, "amount"),
        ("Terbutaline sulfate, concentrated form, per milligram", "mass", 1.0, 1.0, "amount"),
        ("Injection, cyanocobalamin, up to 1,000 mcg", "mass", 0.0, 1.0, "amount"),
        ("Lancets, per box of 100", "count", 100.0, 100.0, "count"),
    ],
)
def test_descriptor_numbers(descriptor, dim, low, high, kind):
    found = [q for q in quantities(descriptor, descriptor=True) if q.dim == dim]
    assert found, quantities(descriptor, descriptor=True)
    q = found[0]
    assert (q.low, q.high, q.kind) == (low, high, kind)


@pytest.mark.parametrize(
    ("question", "dim", "low", "high"),
    [
        ("pt weighs 380 lbs", "weight", 380.0, 380.0),
        ("pt 450#", "weight", 450.0, 450.0),
        ("patient is 100 kg", "weight", 220.462, 220.462),
        ("hydrocolloid pad is 4 x 4 in", "area", 16.0, 16.0),
        ('4"x4" foam', "area", 16.0, 16.0),
        ("10x10 cm dressing", "area", 15.5, 15.5),
        ("20-30 mmHg stockings", "pressure", 20.0, 30.0),
        ("ceftriaxone 1 g", "mass", 1000.0, 1000.0),
        ("b12 1,000 mcg", "mass", 1.0, 1.0),
        ("0.5 mg", "mass", 0.5, 0.5),
        ("NS 1 liter", "volume", 1000.0, 1000.0),
        ("buprenorphine >10 mg", "mass", 10.0, None),
        ("gamma globulin over 10 cc", "volume", 10.0, None),
        ("lancets, box of 100", "count", 100.0, 100.0),
    ],
)
def test_question_numbers(question, dim, low, high):
    found = [q for q in quantities(question, descriptor=False) if q.dim == dim]
    assert found, quantities(question, descriptor=False)
    assert found[0].low == pytest.approx(low) if low is not None else found[0].low is None
    assert found[0].high == pytest.approx(high) if high is not None else found[0].high is None


@given(
    st.integers(min_value=1, max_value=999_999),
    st.sampled_from(["mg", "mcg", "g", "ml", "cc", "units", "lbs", "pounds", "mmhg", "in"]),
    st.booleans(),
    st.booleans(),
)
def test_any_written_number_reads_back(value, unit, commas, space):
    """Round trip: a number written with or without thousands commas and with or without a
    space before its unit reads back as the number (times the unit's factor)."""
    written = f"{value:,}" if commas else str(value)
    text = f"dose {written}{' ' if space else ''}{unit} today"
    found = quantities(text, descriptor=False)
    assert len(found) == 1
    factor = {"g": 1000.0, "mcg": 0.001}.get(unit, 1.0)
    assert found[0].low == pytest.approx(value * factor)
    assert number(written) == value


@given(st.text(max_size=300))
def test_parsing_any_text_never_raises(text):
    for descriptor in (True, False):
        attrs = parse(text, descriptor)
        assert isinstance(attrs, Attributes)
        assert Attributes.from_data(attrs.to_data()) == attrs


# --- categories and with/without -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "group", "values"),
    [
        (
            "Walking boot, pneumatic, prefabricated, off-the-shelf",
            "fabrication",
            {"off-the-shelf", "prefabricated"},
        ),
        (
            "prefabricated item ... customized to fit a specific patient by an individual "
            "with expertise",
            "fabrication",
            {"custom-fitted", "prefabricated"},
        ),
        ("Ankle foot orthosis, plastic, custom fabricated", "fabrication", {"custom-fabricated"}),
        ("prefab AFO fitted by the orthotist", "fabrication", {"custom-fitted", "prefabricated"}),
        ("OTS knee brace", "fabrication", {"off-the-shelf", "prefabricated"}),
        ("Non-disposable underpads, all sizes", "disposable", {"reusable"}),
        ("Disposable underpads, all sizes", "disposable", {"disposable"}),
        ("gel overlay, non-powered", "power", {"manual"}),
        ("Powered pressure reducing mattress overlay", "power", {"powered"}),
        ("Transport chair, pediatric size", "age", {"pediatric"}),
        ("Portable oxygen concentrator, rental", "acquisition", {"rental"}),
        ("Power wheelchair, group 3 extra heavy duty", "duty", {"extra-heavy-duty", "heavy-duty"}),
        ("hearing aid for both ears", "count", {"pair"}),
        ("full electric hospital bed", "bed", {"total-electric"}),
    ],
)
def test_categories(text, group, values):
    assert parse(text, descriptor=True).category(group) == frozenset(values)


def test_with_without_in_descriptors_and_questions():
    d = parse("Hospital bed, fixed height, without side rails, with mattress", descriptor=True)
    assert {"side", "rail"} <= d.negated and "mattress" in d.stated
    d = parse("Infusion set for external insulin pump, non needle cannula type", descriptor=True)
    assert d.negated == {"needle"} and "cannula" in d.stated  # "non" reaches one word
    d = parse("Crutch substitute, lower leg platform, with or without wheels, each", True)
    assert "wheel" in d.either and "wheel" not in d.negated
    d = parse("Zero drug amount discarded/not administered to any patient", descriptor=True)
    assert "discard" in d.negated
    q = parse("plain CPAP hose, not the heated kind", descriptor=False)
    assert "heat" in q.negated
    # what the descriptor also states outside the negation is its item, not an exclusion
    d = parse("Noc drugs, other than inhalation drugs, administered through dme", True)
    assert d.negated == {"inhalation"} and "drug" in d.stated
    # and "zero", "nothing", "none" negate a question's features as "no" does
    q = parse("modifier when nothing was discarded from the vial", descriptor=False)
    assert "discard" in q.negated
    # "not otherwise specified" in a descriptor negates no feature
    assert not parse("Drug, not otherwise specified", descriptor=True).negated


def test_roots_join_word_forms():
    assert root("wheeled") == root("wheel") == "wheel"
    assert root("heated") == root("heating") == "heat"
    assert root("padded") == "pad"


# --- a question's attributes against a candidate's ---------------------------------------------

FEATURES = frozenset({"mattress", "border", "adhesive", "heat", "wheel", "rail", "side"})


def match(question: str, descriptor: str):
    return compare(parse(question, False), parse(descriptor, True), FEATURES)


@pytest.mark.parametrize(
    ("question", "satisfies", "contradicts"),
    [
        (
            "hydrocolloid w/ adhesive border, 4x4 in",
            "Hydrocolloid dressing, pad size 16 sq. in. or less, with any size adhesive border",
            "Hydrocolloid dressing, pad size 16 sq. in. or less, without adhesive border",
        ),
        (
            "transport chair, pt 380 lb",
            "Transport chair, adult size, heavy duty, patient weight capacity greater than "
            "300 pounds",
            "Transport chair, adult size, patient weight capacity up to and including 300 pounds",
        ),
        (
            "20-30 mmHg thigh stockings",
            "Gradient compression stocking, thigh length, 18-30 mmhg, each",
            "Gradient compression stocking, thigh length, 30-40 mmhg, each",
        ),
        (
            "elbow orthosis, custom fabricated",
            "Elbow orthosis, custom fabricated",
            "Elbow orthosis, prefabricated, off-the-shelf",
        ),
        (
            "gel overlay, non-powered",
            "Gel or gel-like pressure pad for mattress, non-powered",
            "Powered pressure reducing mattress overlay/pad, alternating, with pump",
        ),
        (
            "hospital bed, no mattress",
            "Hospital bed, fixed height, with any type side rails, without mattress",
            "Hospital bed, fixed height, with any type side rails, with mattress",
        ),
        (
            "buprenorphine/naloxone >10 mg",
            "Buprenorphine/naloxone, oral, more than 10 mg buprenorphine",
            "Buprenorphine/naloxone, oral, greater than 6 mg, but less than or equal to 10 mg",
        ),
    ],
)
def test_stated_attributes_satisfied_and_contradicted(question, satisfies, contradicts):
    good, bad = match(question, satisfies), match(question, contradicts)
    assert good.satisfied and not good.contradicted, good
    assert bad.contradicted, bad


def test_unstated_attributes_are_neutral():
    m = match("transport chair", "Transport chair, adult size, heavy duty, greater than 300 pounds")
    assert not m.satisfied and not m.contradicted
    # ... though a variant the question did not ask for is noted (heavy duty)
    assert m.variants == ("heavy-duty",)


def test_a_dose_is_neutral_to_a_per_unit_amount():
    """40 mg of a drug billed per 5 mg is 8 units: neither right nor wrong."""
    m = match("pantoprazole 40 mg", "Injection, drug, per 5 mg")
    assert not m.satisfied and not m.contradicted
    assert match("pantoprazole 40 mg", "Injection, pantoprazole sodium, 40 mg").satisfied
    assert match("drug 30 mg", "Injection, drug, up to 40 mg").satisfied
