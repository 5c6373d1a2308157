"""Billing units from a dose (assistant/drug_units.py): the dose parser, the descriptor's
billing unit, the arithmetic and rounding, the JW/JZ lines, the refusals, the evidence
citations and what the answer, its JSON and the eval checks make of them. No index: a small
stand-in retriever carries crosswalk rows, Table of Drugs lines and guidance passages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant import drug_units
from assistant.answer import WORDING
from assistant.drug_units import (
    BillingUnit,
    Dose,
    DoseProblem,
    billing_unit,
    compute,
    parse_dose,
    parse_supply,
)
from assistant.errors import UsageError
from assistant.evaluation.runner import CitationValidator, check_item, metrics, units_match
from assistant.evaluation.sets import read_set, units_schema_error
from assistant.records import (
    UNITS_PROBLEMS,
    Answer,
    Citation,
    ClaimLine,
    CodeRecord,
    CrosswalkEntry,
    CrosswalkRow,
    DrugEntry,
    Passage,
    Units,
)
from assistant.render import answer_json, answer_text

# --- the dose parser ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "amount", "unit"),
    [
        ("Opdivo 240 mg IV", "240", "mg"),
        ("ceftriaxone 1 g IM", "1", "g"),
        ("ceftriaxone 2 grams", "2", "g"),
        ("cefoxitin 1 gm", "1", "g"),
        ("lucentis 0.5 mg", "0.5", "mg"),
        ("naloxone .4 mg", "0.4", "mg"),
        ("b12 1,000 mcg", "1000", "mcg"),
        ("filgrastim 480 micrograms", "480", "mcg"),
        ("filgrastim 480 µg", "480", "mcg"),
        ("heparin 5000 units", "5000", "units"),
        ("heparin 5,000 units", "5000", "units"),
        ("Bicillin 2.4 million units", "2400000", "units"),
        ("factor 1500 IU", "1500", "iu"),
        ("factor 1500 i.u.", "1500", "iu"),
        ("factor 250 international units", "250", "iu"),
        ("hcg 10,000 usp units", "10000", "units"),
        ("saline 1000 mL", "1000", "ml"),
        ("saline 1000 cc", "1000", "ml"),
        ("KCl 20 mEq", "20", "meq"),
        ("dexamethasone 10mg", "10", "mg"),
        ("Kenalog-40 80 mg", "80", "mg"),  # the 40 of the brand is not a dose
        ("J9299 nivolumab 480 mg", "480", "mg"),  # nor are the code's digits
        ("Opdivo 240 mg (24 mL)", "240", "mg"),  # the volume beside the amount
        ("Keytruda 200 mg every 3 weeks", "200", "mg"),
        ("ondansetron 4 mg, billed per 1 mg", "4", "mg"),  # "per 1 mg" is a unit, not a dose
        ("Opdivo 240 mg and the same 240 mg next cycle", "240", "mg"),  # one dose, twice
    ],
)
def test_doses_are_read_with_their_unit(question: str, amount: str, unit: str) -> None:
    dose = parse_dose(question)
    assert isinstance(dose, Dose), dose
    assert (dose.amount, dose.unit) == (Decimal(amount), unit)


@pytest.mark.parametrize(
    ("question", "problem"),
    [
        ("Keytruda 200-400 mg", "range"),
        ("Keytruda 200 mg - 400 mg", "range"),
        ("Avastin between 400 and 500 mg", "range"),
        ("Remicade 5 to 10 mg/kg", "range"),
        ("Keytruda 200 mg or 400 mg?", "two-doses"),
        ("Opdivo 240 mg then 480 mg", "two-doses"),
        ("Botox 100 units and 50 mg", "two-doses"),
        ("Remicade 5 mg/kg", "per-weight"),
        ("Remicade 5 mg per kg", "per-weight"),
        ("Remicade 5 mg/kg, patient weighs 180 lbs", "per-weight"),  # kg only
        ("Rituxan 375 mg/m2", "per-area"),
        ("Rituxan 375 mg/m²", "per-area"),
        ("Opdivo 0 mg", "zero-dose"),
        ("a dose of -200 mg of Keytruda", "negative-dose"),
        ("Keytruda minus 200 mg", "negative-dose"),
        ("Remicade 5 mg/kg, 80 kg, 410 mg", "two-doses"),  # 400 mg by weight is not 410 mg
    ],
)
def test_doses_that_cannot_be_used_are_problems(question: str, problem: str) -> None:
    result = parse_dose(question)
    assert isinstance(result, DoseProblem), result
    assert result.problem == problem


@pytest.mark.parametrize(
    "question",
    [
        "Opdivo",
        "HCPCS code for Keytruda",
        "carboplatin AUC 5",
        "0.9% normal saline",
        "J9299 every 2 weeks",
        "D5W infusion",
        "torsemide 10 mg/mL",  # a strength, not a dose
        "from a 100 mg single-dose vial",  # a container, not a dose
    ],
)
def test_questions_without_a_dose(question: str) -> None:
    assert parse_dose(question) is None


def test_dose_per_kg_with_the_weight_is_their_product() -> None:
    dose = parse_dose("Remicade 5 mg/kg for an 83 kg patient")
    assert isinstance(dose, Dose)
    assert (dose.amount, dose.unit, dose.per_kg, dose.weight_kg) == (415, "mg", 5, 83)
    same = parse_dose("Remicade 5 mg/kg, 80 kg, 400 mg")
    assert isinstance(same, Dose) and same.amount == 400


_UNIT_SPELLINGS = {
    "mg": ["mg", "MG", "milligrams", "mg."],
    "g": ["g", "gm", "grams", "gram"],
    "mcg": ["mcg", "micrograms", "microgram", "µg"],
    "units": ["units", "Units", "unit"],
    "iu": ["IU", "i.u.", "international units"],
    "ml": ["mL", "ml", "cc"],
}


def _written(value: Decimal, grouped: bool, trailing_zeros: int, bare_point: bool) -> str:
    """``value`` as people write it: with or without thousands commas, trailing zeros, and
    a leading ".5" for a value below one."""
    whole, _, frac = format(value, "f").partition(".")
    frac = frac.rstrip("0") + "0" * trailing_zeros
    if grouped:
        whole = f"{int(whole):,}"
    if bare_point and whole == "0" and frac:
        whole = ""
    return f"{whole}.{frac}" if frac else whole


@settings(max_examples=300, deadline=None)
@given(
    value=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("9999999"), places=3),
    unit=st.sampled_from(sorted(_UNIT_SPELLINGS)),
    spelling=st.integers(min_value=0, max_value=3),
    grouped=st.booleans(),
    trailing_zeros=st.integers(min_value=0, max_value=2),
    bare_point=st.booleans(),
    space=st.sampled_from(["", " "]),
    prefix=st.sampled_from(["", "Opdivo ", "J9299 dose of ", "give "]),
    suffix=st.sampled_from(["", " IV", ", how many units?", " every 3 weeks"]),
)
def test_number_formats_round_trip(
    value, unit, spelling, grouped, trailing_zeros, bare_point, space, prefix, suffix
) -> None:
    spellings = _UNIT_SPELLINGS[unit]
    word = spellings[spelling % len(spellings)]
    written = _written(value, grouped, trailing_zeros, bare_point)
    dose = parse_dose(f"{prefix}{written}{space}{word}{suffix}")
    assert isinstance(dose, Dose), (written, word)
    assert dose.amount == value
    assert dose.unit == unit


@settings(max_examples=100, deadline=None)
@given(
    count=st.integers(min_value=1, max_value=12),
    size=st.integers(min_value=1, max_value=5000),
    words=st.booleans(),
    style=st.sampled_from(["{n} {s} mg vials", "{n} x {s} mg vials", "{n} vials of {s} mg"]),
)
def test_container_counts_and_sizes_round_trip(count, size, words, style) -> None:
    names = {v: k for k, v in drug_units._WORD_NUMBERS.items() if k not in ("a", "an", "single")}
    n = names[count] if words and count in names else str(count)
    supply = parse_supply("Remicade 350 mg from " + style.format(n=n, s=f"{size:,}"))
    assert [(c.count, c.amount, c.unit) for c in supply.containers] == [(count, size, "mg")]


def test_supply_reads_single_and_multi_dose_containers_and_waste() -> None:
    supply = parse_supply("Opdivo 240 mg from one 100 mg vial and one 240 mg single-dose vial")
    assert [(c.count, c.amount, c.multi_dose) for c in supply.containers] == [
        (1, 100, False),
        (1, 240, False),
    ]
    assert (
        parse_supply("heparin 5000 units from a 10,000 unit multi-dose vial")
        .containers[0]
        .multi_dose
    )
    assert parse_supply("Remicade 350 mg, 50 mg wasted").wasted == (50, "mg")
    assert parse_supply("Opdivo 240 mg, no waste").none_wasted
    assert parse_supply("Neulasta 6 mg, nothing discarded").none_wasted
    assert not parse_supply("Opdivo 240 mg").none_wasted
    assert parse_supply("Remicade 350 mg from 100 mg vials").containers[0].count is None


# --- the descriptor's billing unit ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("descriptor", "amount", "unit", "text", "up_to"),
    [
        ("Injection, nivolumab, 1 mg", "1", "mg", "1 mg", False),
        ("Injection, ceftriaxone sodium, per 250 mg", "250", "mg", "per 250 mg", False),
        ("Injection, diphenhydramine hcl, up to 50 mg", "50", "mg", "up to 50 mg", True),
        ("Injection, heparin sodium, per 1000 units", "1000", "units", "per 1000 units", False),
        ("Injection, abobotulinumtoxina, 5 units", "5", "units", "5 units", False),
        ("Factor viii (antihemophilic factor, human) per i.u.", "1", "iu", "per i.u.", False),
        ("Injection, dalteparin sodium, per 2500 iu", "2500", "iu", "per 2500 iu", False),
        (
            "Injection, filgrastim (g-csf), excludes biosimilars, 1 microgram",
            "1",
            "mcg",
            "1 microgram",
            False,
        ),
        ("Injection, cefotaxime sodium, per gm", "1", "g", "per gm", False),
        ("Injection, aminocaproic acid, 1 gram", "1", "g", "1 gram", False),
        ("Infusion, normal saline solution, 250 cc", "250", "ml", "250 cc", False),
        ("5% dextrose/water (500 ml = 1 unit)", "500", "ml", "500 ml = 1 unit", False),
        ("Injection, potassium chloride, per 2 meq", "2", "meq", "per 2 meq", False),
        (
            "Injection, penicillin g benzathine, 100,000 units",
            "100000",
            "units",
            "100,000 units",
            False,
        ),
        (
            "Injection, interferon, alfa-2b, recombinant, 1 million units",
            "1000000",
            "units",
            "1 million units",
            False,
        ),
        (
            "Injection, chorionic gonadotropin, per 1,000 usp units",
            "1000",
            "units",
            "per 1,000 usp units",
            False,
        ),
        (
            "Injection, alglucosidase alfa, 10 mg, not otherwise specified",
            "10",
            "mg",
            "10 mg",
            False,
        ),
        (
            "Injection, thyrotropin alpha, 0.9 mg, provided in 1.1 mg vial",
            "0.9",
            "mg",
            "0.9 mg",
            False,
        ),
        (
            "Injection, abatacept, 10 mg (code may be used for medicare when drug administered "
            "under the direct supervision of a physician, not for use when drug is self "
            "administered)",
            "10",
            "mg",
            "10 mg",
            False,
        ),
        ("Injection, nivolumab, 2 mg and hyaluronidase-nvhy", "2", "mg", "2 mg", False),
        (
            "Injection, aztreonam/avibactam, 7.5 mg/2.5 mg (10 mg)",
            "10",
            "mg",
            "7.5 mg/2.5 mg (10 mg)",
            False,
        ),
        ("Injection, acetaminophen, not otherwise specified,10 mg", "10", "mg", "10 mg", False),
        (
            "Ipratropium bromide, inhalation solution, unit dose form, per milligram",
            "1",
            "mg",
            "per milligram",
            False,
        ),
        (
            "Injection, von willebrand factor complex (humate-p), per iu vwf:rco",
            "1",
            "iu",
            "per iu",
            False,
        ),
    ],
)
def test_billing_units_are_read_from_descriptors(descriptor, amount, unit, text, up_to) -> None:
    parsed = billing_unit(descriptor)
    assert parsed is not None
    assert (parsed.amount, parsed.unit, parsed.text, parsed.up_to) == (
        Decimal(amount),
        unit,
        text,
        up_to,
    )


def test_an_equivalent_in_parentheses_is_kept() -> None:
    unit = billing_unit(
        "Injection, rho d immune globulin, human, full dose, 300 micrograms (1500 i.u.)"
    )
    assert unit is not None
    assert (unit.amount, unit.unit, unit.equivalent) == (300, "mcg", (1500, "iu"))


@pytest.mark.parametrize(
    "descriptor",
    [
        "Parenteral nutrition solution; per 100 calories",  # not a drug unit
        "Enteral formulae, category i, 100 calories = 1 unit",
        "Capsaicin 8% patch, per square centimeter",
        "Unclassified drugs",
        "Injection, cytomegalovirus immune globulin intravenous (human), per vial",
        "Injection, pegaspargase, per single dose vial",
        "Hyaluronan or derivative, euflexxa, for intra-articular injection, per dose",
        "Injection, buprenorphine extended-release (sublocade), greater than 100 mg",
        "Buprenorphine/naloxone, oral, less than or equal to 3 mg buprenorphine",
        "Injection, ceftolozane 50 mg and tazobactam 25 mg",
        "Albuterol, up to 2.5 mg and ipratropium bromide, up to 0.5 mg, fda-approved final "
        "product, non-compounded, administered through dme",
        "Injection, torsemide, 10 mg/ml",
        "Injection, pegylated interferon alfa-2a, 180 mcg per ml",
        "Injection, ceftazidime and avibactam, 0.5 g/0.125 g",
        "Injection, voretigene neparvovec-rzyl, 1 billion vector genomes",
        "Gallium ga-68, dotatoc, diagnostic, 0.01 mci",
        "Injection, gamma globulin, intramuscular, over 10 cc",
    ],
)
def test_descriptors_without_a_divisible_amount_have_no_billing_unit(descriptor: str) -> None:
    assert billing_unit(descriptor) is None


# --- the arithmetic -----------------------------------------------------------------------------


def _claim(question: str, descriptor: str, package: Decimal | None = None):
    dose = parse_dose(question)
    assert isinstance(dose, Dose)
    unit = billing_unit(descriptor)
    assert unit is not None
    return compute("J0000", dose, unit, parse_supply(question), package)


@pytest.mark.parametrize(
    ("question", "descriptor", "units"),
    [
        ("240 mg", "Injection, nivolumab, 1 mg", 240),
        ("350 mg", "Injection, infliximab, excludes biosimilar, 10 mg", 35),
        ("425 mg", "Injection, carboplatin, 50 mg", 9),  # 8.5 rounds up
        ("7500 units", "Injection, heparin sodium, per 1000 units", 8),  # 7.5 rounds up
        ("1 g", "Injection, ceftriaxone sodium, per 250 mg", 4),
        ("2.4 g", "Injection, fluorouracil, 500 mg", 5),
        ("250 mcg", "Injection, fentanyl citrate, 0.1 mg", 3),  # 2.5 rounds up
        ("0.3 mg", "Injection, filgrastim (g-csf), excludes biosimilars, 1 microgram", 300),
        ("4 mg", "Injection, morphine sulfate, up to 10 mg", 1),  # part of one unit
        ("15 mg", "Injection, morphine sulfate, up to 10 mg", 2),
        ("2000 mcg", "Injection, vitamin b-12 cyanocobalamin, up to 1000 mcg", 2),
        ("5 million units", "Injection, penicillin g potassium, up to 600,000 units", 9),
        ("1000 mL", "Infusion, normal saline solution, sterile (500 ml = 1 unit)", 2),
        ("250 mL", "5% dextrose/water (500 ml = 1 unit)", 1),
        ("3000 units", "Factor viii (antihemophilic factor, recombinant) per i.u.", 3000),
        ("1500 IU", "Injection, rho d immune globulin, full dose, 300 micrograms (1500 i.u.)", 1),
        ("20 mEq", "Injection, potassium chloride, per 2 meq", 10),
        ("3.375 g", "Injection, piperacillin/tazobactam, 1 gram/0.125 grams (1.125 grams)", 3),
    ],
)
def test_units_are_the_dose_over_the_amount_rounded_up(question, descriptor, units) -> None:
    claim = _claim(question, descriptor)
    assert not isinstance(claim, str)
    assert claim.units == units
    assert claim.lines == (ClaimLine("J0000", "", units),)


def test_rounding_is_exact_in_decimals() -> None:
    # 0.3 / 0.1 is 2.9999... in binary floating point: 3 units, not 3 rounded up from 2.99.
    claim = _claim("0.3 mg", "Injection, fentanyl citrate, 0.1 mg")
    assert not isinstance(claim, str) and claim.units == 3 and not claim.rounded


@pytest.mark.parametrize(
    ("question", "descriptor", "problem"),
    [
        ("240 mL", "Injection, nivolumab, 1 mg", "unit-mismatch"),
        ("200 units", "Injection, pembrolizumab, 1 mg", "unit-mismatch"),
        ("100 mg", "Injection, onabotulinumtoxina, 1 unit", "unit-mismatch"),
        ("30 mL", "Injection, bupivicaine, not otherwise specified, 0.5 mg", "unit-mismatch"),
    ],
)
def test_a_unit_the_code_cannot_take_gives_no_number(question, descriptor, problem) -> None:
    assert _claim(question, descriptor) == problem


def test_more_than_100_times_the_largest_package_is_refused() -> None:
    # The largest Opdivo package is 240 billing units: 24,000 mg is the most believed.
    assert not isinstance(_claim("24,000 mg", "Injection, nivolumab, 1 mg", Decimal(240)), str)
    assert _claim("24,001 mg", "Injection, nivolumab, 1 mg", Decimal(240)) == "too-large"
    assert not isinstance(_claim("24,001 mg", "Injection, nivolumab, 1 mg", None), str)


def test_zero_and_negative_doses_are_refused_by_compute_too() -> None:
    unit = BillingUnit(Decimal(1), "mg", "1 mg")
    assert compute("J0000", Dose(Decimal(0), "mg", "0 mg"), unit) == "zero-dose"
    assert compute("J0000", Dose(Decimal(-5), "mg", "-5 mg"), unit) == "negative-dose"


# --- waste: JW and JZ -----------------------------------------------------------------------------

INFLIXIMAB = "Injection, infliximab, excludes biosimilar, 10 mg"


@pytest.mark.parametrize(
    ("question", "descriptor", "lines", "discarded", "modifier"),
    [
        # The JW page's own example: 350 mg from four 100 mg vials at 10 mg a unit.
        ("350 mg from four 100 mg single-dose vials", INFLIXIMAB, [("", 35), ("JW", 5)], 5, "JW"),
        # The JZ page's: 400 mg from four 100 mg vials.
        ("400 mg from 4 (100 mg. single dose vials)", INFLIXIMAB, [("JZ", 40)], 0, "JZ"),
        # The DME page's: 70 mg of a 100 mg vial, 1 unit = 100 mg: one unit, JZ, no JW.
        (
            "70 mg from a 100 mg single use vial",
            "Injection, carmustine, 100 mg",
            [("JZ", 1)],
            0,
            "JZ",
        ),
        (
            "150 mg from a 500 mg vial",
            "Injection, cytarabine, 100 mg",
            [("", 2), ("JW", 3)],
            3,
            "JW",
        ),
        (
            "240 mg from one 100 mg vial and one 240 mg vial",
            "Injection, nivolumab, 1 mg",
            [("", 240), ("JW", 100)],
            100,
            "JW",
        ),
        (
            "155 units from a 200 unit vial",
            "Injection, onabotulinumtoxina, 1 unit",
            [("", 155), ("JW", 45)],
            45,
            "JW",
        ),
        ("350 mg, 50 mg wasted", INFLIXIMAB, [("", 35), ("JW", 5)], 5, "JW"),
        ("240 mg, no waste", "Injection, nivolumab, 1 mg", [("JZ", 240)], 0, "JZ"),
        ("1.5 g from two 1 g vials", INFLIXIMAB, [("", 150), ("JW", 50)], 50, "JW"),
    ],
)
def test_waste_lines(question, descriptor, lines, discarded, modifier) -> None:
    claim = _claim(question, descriptor)
    assert not isinstance(claim, str)
    assert [(line.modifier, line.units) for line in claim.lines] == lines
    assert (claim.discarded_units, claim.modifier) == (discarded, modifier)


@pytest.mark.parametrize(
    ("question", "note"),
    [
        ("5000 units from a 10,000 unit multi-dose vial", "multi-dose"),
        ("350 mg from two 100 mg vials", "containers-short"),
        ("350 mg from 100 mg vials", "containers-count"),
        ("350 mg from a 10 mL single-dose vial", "container-unit"),
    ],
)
def test_no_waste_line_and_why(question: str, note: str) -> None:
    descriptor = "Injection, heparin sodium, per 1000 units" if "units" in question else INFLIXIMAB
    claim = _claim(question, descriptor)
    assert not isinstance(claim, str)
    assert claim.waste_note == note
    assert (claim.discarded_units, claim.modifier) == (None, "")
    assert len(claim.lines) == 1 and claim.lines[0].modifier == ""


def test_arithmetic_reads_as_a_biller_would_check_it() -> None:
    def said(question: str, descriptor: str) -> str:
        claim = _claim(question, descriptor)
        assert not isinstance(claim, str)
        return drug_units.arithmetic(claim, WORDING)

    assert said("240 mg", "Injection, nivolumab, 1 mg") == (
        "240 mg / 1 mg per unit = 240 units of J0000"
    )
    assert said("425 mg", "Injection, carboplatin, 50 mg") == (
        "425 mg / 50 mg per unit = 8.5, rounded up to 9 units of J0000"
    )
    assert said("1 g", "Injection, ceftriaxone sodium, per 250 mg") == (
        "1 g = 1000 mg; 1000 mg / 250 mg per unit = 4 units of J0000"
    )
    assert said("4 mg", "Injection, morphine sulfate, up to 10 mg") == (
        "4 mg at one unit per 10 mg or part of it = 1 unit of J0000"
    )
    assert said("5 million units", "Injection, penicillin g potassium, up to 600,000 units") == (
        "5,000,000 units at one unit per 600,000 units or part of it = 9 units of J0000"
    )
    assert said("5 mg/kg, 82 kg", INFLIXIMAB) == (
        "5 mg/kg x 82 kg = 410 mg; 410 mg / 10 mg per unit = 41 units of J0000"
    )
    assert said("350 mg from four 100 mg vials", INFLIXIMAB) == (
        "350 mg / 10 mg per unit = 35 units of J0000; 4 x 100 mg = 400 mg = 40 units; "
        "40 - 35 administered = 5 units discarded, billed on a second line with JW"
    )
    assert "JZ" in said("240 mg, nothing wasted", "Injection, nivolumab, 1 mg")


# --- evidence and the answer's part ---------------------------------------------------------------

ROW = CrosswalkRow("E.R. Squibb & Sons, L.L.C.", "00003-3734-13", "1 MG", "24", "1", "240", "240")
ROW_SMALL = CrosswalkRow(
    "E.R. Squibb & Sons, L.L.C.", "00003-3772-11", "1 MG", "4", "1", "40", "40"
)
OPDIVO = CrosswalkEntry(
    "Opdivo",
    "J9299",
    "Injection, nivolumab",
    "1 MG",
    ("E.R. Squibb & Sons, L.L.C.",),
    ("00003-3734-13", "00003-3772-11"),
    ("40", "240"),
    "asp-crosswalk-test",
    rows=(ROW, ROW_SMALL),
)
NIVOLUMAB_LINE = DrugEntry("Nivolumab", "1 mg", ("IV",), ("J9299",), "tod-test", 812)
NIVOLUMAB = CodeRecord("J9299", "code", "2099-01", "Injection, nivolumab, 1 mg", "Inj nivolumab")
PEMBRO = CodeRecord("J9271", "code", "2099-01", "Injection, pembrolizumab, 1 mg", "Inj pembro")
MULTI = "Use for claims with unused drugs or biologicals from single use vials"
PASSAGES = {
    "example-jw": Passage("jw-test", "JW", "Claim Coding Example", "| J1745 JW | 5 |", "JW"),
    "example-jz": Passage("jz-test", "JZ", "Claim Coding Example", "| J1745 JZ | 40 |", "JZ"),
    "rounding": Passage("dme-test", "Modifier JZ", "", "rounded to the appropriate UOS", "JZ"),
    "jw": Passage("jw-test", "JW", "Instructions", MULTI, "JW", order=1),
    "jz": Passage("jz-test", "JZ", "Instructions", "Report JZ modifier on all claims", "JZ"),
}


@dataclass
class FakeSettings:
    manifest: Path


@dataclass(eq=False)  # hashed by identity, as a Retriever is
class FakeRetriever:
    """The parts of a loaded Retriever that drug_units reads."""

    manifest: Path
    crosswalk: dict = field(default_factory=lambda: {OPDIVO.id: OPDIVO})
    drugs: dict = field(default_factory=lambda: {NIVOLUMAB_LINE.id: NIVOLUMAB_LINE})

    def __post_init__(self) -> None:
        self.settings = FakeSettings(self.manifest)
        self.passage_by_id = {p.id: p for p in PASSAGES.values()}

    def passage_with(self, phrase: str) -> Passage | None:
        found = [p for p in PASSAGES.values() if phrase.casefold() in p.text.casefold()]
        return found[-1] if found else None


@pytest.fixture
def retriever(tmp_path: Path) -> FakeRetriever:
    manifest = tmp_path / "sources.toml"
    manifest.write_text(
        "\n".join(
            f'[[source]]\nid = "{sid}"\nkind = "{kind}"\ntitle = "{title}"\nfile = "f"\n'
            f'path = "p/{sid}"\nsha256 = "{"0" * 64}"\nurl = "https://example.invalid"\n'
            for sid, kind, title in [
                ("asp-crosswalk-test", "drug-crosswalk", "ASP crosswalk, test quarter"),
                ("tod-test", "table-of-drugs", "Table of Drugs, test year"),
            ]
        ),
        encoding="utf-8",
    )
    return FakeRetriever(manifest)


def test_brand_reaches_its_code_through_the_crosswalk_row(retriever) -> None:
    drug = drug_units.for_answer(retriever, "Opdivo 240 mg IV", [NIVOLUMAB], WORDING)
    (row,) = drug.citations[:1]
    assert row.kind == "crosswalk"
    assert row.source == "ASP crosswalk, test quarter"
    assert row.ref == "asp-crosswalk-test" and row.supports == "J9299"
    assert row.text == (
        "Opdivo -> J9299 (Injection, nivolumab): E.R. Squibb & Sons, L.L.C., NDC "
        "00003-3734-13, HCPCS dosage 1 MG per billing unit, 240 billing units per package "
        "(package size 24, quantity 1)"
    )
    # The row cited is the one whose package the question's vial is.
    small = drug_units.for_answer(
        retriever, "Opdivo 30 mg from a 40 mg vial", [NIVOLUMAB], WORDING
    ).citations[0]
    assert "NDC 00003-3772-11" in small.text


def test_generic_name_reaches_its_code_through_the_table_of_drugs(retriever) -> None:
    drug = drug_units.for_answer(retriever, "nivolumab 480 mg", [NIVOLUMAB], WORDING)
    line = drug.citations[0]
    assert (line.kind, line.source, line.locator) == (
        "drug-table",
        "Table of Drugs, test year",
        "line 812: Nivolumab",
    )
    assert line.text == "Nivolumab, 1 mg, IV, J9299"


def test_no_evidence_for_a_name_the_question_does_not_use(retriever) -> None:
    assert drug_units.for_answer(retriever, "J9299 240 mg", [NIVOLUMAB], WORDING).citations[
        0
    ].kind == ("guidance")
    assert not drug_units.evidence(retriever, "Opdivoxx 240 mg", [NIVOLUMAB])


def test_units_on_the_answer_with_guidance_cited(retriever) -> None:
    drug = drug_units.for_answer(
        retriever, "Opdivo 200 mg from a 240 mg single-dose vial", [NIVOLUMAB], WORDING
    )
    units = drug.units
    assert units is not None
    assert (units.code, units.dose, units.per_unit, units.units) == ("J9299", "200 mg", "1 mg", 200)
    assert (units.discarded_units, units.modifier) == (40, "JW")
    assert units.lines == (ClaimLine("J9299", "", 200), ClaimLine("J9299", "JW", 40))
    assert units.citation is not None and units.citation.ref == "jw-test"
    cited = {(c.kind, c.ref) for c in drug.citations}
    assert ("crosswalk", "asp-crosswalk-test") in cited
    assert ("guidance", "jw-test") in cited
    assert all(c.supports == "units" for c in drug.citations if c.kind == "guidance")


def test_rounding_cites_the_rounding_passage(retriever) -> None:
    drug = drug_units.for_answer(retriever, "J9299 240.5 mg", [NIVOLUMAB], WORDING)
    assert drug.units is not None and drug.units.units == 241
    assert drug.units.citation == PASSAGES["rounding"].cited_for("units")


def test_multi_dose_container_says_why_there_is_no_jw_line(retriever) -> None:
    drug = drug_units.for_answer(
        retriever, "Opdivo 200 mg from a 240 mg multi-dose vial", [NIVOLUMAB], WORDING
    )
    assert drug.units is not None and drug.units.modifier == ""
    assert drug.remarks == (
        WORDING["units-multi-dose"].format(containers="1 x 240 mg", dose="200 mg", measure="mg"),
    )
    assert {c.ref for c in drug.citations if c.kind == "guidance"} >= {"jw-test", "jz-test"}


@pytest.mark.parametrize(
    ("question", "problem"),
    [
        ("Opdivo 0 mg", "zero-dose"),
        ("Opdivo 240 mL", "unit-mismatch"),
        ("Opdivo 2,400,000 mg", "too-large"),
        ("Opdivo 3 mg/kg", "per-weight"),
        ("Opdivo 240 mg or 480 mg", "two-doses"),
        ("Opdivo 240-480 mg", "range"),
    ],
)
def test_refusals_are_a_remark_and_no_number(retriever, question, problem) -> None:
    drug = drug_units.for_answer(retriever, question, [NIVOLUMAB], WORDING)
    assert drug.units is not None
    assert (drug.units.problem, drug.units.units, drug.units.lines) == (problem, None, ())
    (remark,) = drug.remarks
    assert remark == WORDING[f"units-{problem}"].format(
        code="J9299",
        dose=drug.units.dose,
        per_unit="1 mg",
        want="mg",
        unit="mL",
        package="240",
    )
    assert "units of J9299" not in remark  # no arithmetic, no number of units


def test_refusal_wording_names_what_to_give(retriever) -> None:
    def remark(question: str) -> str:
        return drug_units.for_answer(retriever, question, [NIVOLUMAB], WORDING).remarks[0]

    assert "weight in kg" in remark("Opdivo 3 mg/kg")
    assert "Give the dose in mg" in remark("Opdivo 240 mL")
    assert "240 billing units" in remark("Opdivo 2,400,000 mg")
    assert "Which one was administered?" in remark("Opdivo 240 mg or 480 mg")


def test_no_billing_unit_in_the_descriptor(retriever) -> None:
    per_vial = CodeRecord("J0850", "code", "2099-01", "Injection, cmv ig, per vial", "Cmv ig")
    drug = drug_units.for_answer(retriever, "J0850 5 g", [per_vial], WORDING)
    assert drug.units is not None and drug.units.problem == "no-billing-unit"
    assert drug.units.units is None


def test_units_are_for_the_first_code_shown_and_none_without_a_dose(retriever) -> None:
    modifier = CodeRecord("JW", "modifier", "2099-01", "Drug amount discarded", "Discarded")
    drug = drug_units.for_answer(
        retriever, "JW modifier Opdivo 240 mg", [modifier, NIVOLUMAB], WORDING
    )
    assert drug.units is not None and drug.units.code == "J9299"
    assert drug_units.for_answer(retriever, "Opdivo", [NIVOLUMAB], WORDING).units is None
    assert (
        drug_units.for_answer(retriever, "240 mg", [modifier], WORDING) == drug_units.DrugAnswer()
    )


def test_the_dose_is_for_the_code_a_brand_reaches(retriever) -> None:
    # A brand pins its code even when another code ranks first; a generic name does not.
    other = CodeRecord("J9266", "code", "2099-01", "Injection, pegaspargase, per vial", "Peg")
    branded = drug_units.for_answer(retriever, "Opdivo 240 mg", [other, NIVOLUMAB], WORDING)
    assert branded.units is not None and branded.units.code == "J9299"
    generic = drug_units.for_answer(retriever, "nivolumab 240 mg", [other, NIVOLUMAB], WORDING)
    assert generic.units is not None and generic.units.code == "J9266"
    # Of two codes one brand reaches, the one whose descriptor the question's words fit.
    esrd = CodeRecord("J9297", "code", "2099-01", "Injection, nivolumab, 1 mg (for esrd)", "N")
    both = {**retriever.crosswalk, "x": replace(OPDIVO, code="J9297")}
    twice = FakeRetriever(retriever.manifest, crosswalk=both)
    for question, code in [("Opdivo 240 mg", "J9299"), ("Opdivo 240 mg for esrd", "J9297")]:
        drug = drug_units.for_answer(twice, question, [NIVOLUMAB, esrd], WORDING)
        assert drug.units is not None and drug.units.code == code, question


def test_citation_validator_checks_crosswalk_and_table_rows(retriever) -> None:
    validator = CitationValidator(retriever)
    drug = drug_units.for_answer(retriever, "Opdivo 240 mg, nivolumab", [NIVOLUMAB], WORDING)
    rows = [c for c in drug.citations if c.kind in ("crosswalk", "drug-table")]
    assert rows and all(validator(c) for c in rows)
    table = Citation("drug-table", "t", "line 812", "Nivolumab, 1 mg, IV, J9299", ref="tod-test")
    assert validator(table)
    for changed in (
        Citation(
            "crosswalk",
            "x",
            "y",
            rows[0].text.replace("240 billing", "24 billing"),
            ref="asp-crosswalk-test",
        ),
        Citation("crosswalk", "x", "y", rows[0].text, ref="asp-crosswalk-other"),
        Citation("drug-table", "t", "line 812", "Nivolumab, 10 mg, IV, J9299", ref="tod-test"),
    ):
        assert not validator(changed)


# --- the answer's fields: text, JSON, eval checks ------------------------------------------------


def _answer(units: Units | None) -> Answer:
    answer = Answer("Opdivo 200 mg", "2099-01", codes=(NIVOLUMAB, PEMBRO), units=units)
    return replace(answer, text=answer_text(answer))


JW_UNITS = Units(
    "J9299",
    "200 mg",
    "1 mg",
    units=200,
    discarded_units=40,
    modifier="JW",
    arithmetic="200 mg / 1 mg per unit = 200 units of J9299",
    lines=(ClaimLine("J9299", "", 200), ClaimLine("J9299", "JW", 40)),
    citation=Citation("guidance", "JW", "Claim Coding Example", "| J1745 JW | 5 |", "jw-test"),
)


def test_answer_text_shows_arithmetic_and_claim_lines_under_the_best_match() -> None:
    lines = _answer(JW_UNITS).text.splitlines()
    at = lines.index("Billing units: 200 mg / 1 mg per unit = 200 units of J9299")
    assert lines[at - 1].startswith("  Short descriptor") or lines[at - 1].startswith("Best match")
    assert lines[at + 1] == "Claim lines: J9299 x 200 units; J9299-JW x 40 units"
    assert lines.index("Other candidates:") > at
    refused = Units("J9299", "240 mL", "1 mg", problem="unit-mismatch")
    assert "Billing units" not in _answer(refused).text


def test_answer_json_units_field() -> None:
    assert answer_json(_answer(None))["units"] is None
    data = answer_json(_answer(JW_UNITS))["units"]
    assert set(data) >= {
        "code",
        "dose",
        "per_unit",
        "units",
        "discarded_units",
        "modifier",
        "arithmetic",
        "citation",
    }
    assert (data["code"], data["units"], data["discarded_units"], data["modifier"]) == (
        "J9299",
        200,
        40,
        "JW",
    )
    assert data["citation"]["kind"] == "guidance" and data["citation"]["ref"] == "jw-test"
    assert data["lines"] == [
        {"code": "J9299", "modifier": None, "units": 200},
        {"code": "J9299", "modifier": "JW", "units": 40},
    ]
    refused = answer_json(_answer(Units("J9299", "240 mL", "1 mg", problem="unit-mismatch")))
    assert refused["units"]["units"] is None and refused["units"]["problem"] == "unit-mismatch"


def test_units_record_refuses_unknown_problem_or_modifier() -> None:
    with pytest.raises(ValueError):
        Units("J9299", "1 mg", "1 mg", problem="bad-problem")
    with pytest.raises(ValueError):
        ClaimLine("J9299", "JX", 1)


@pytest.mark.parametrize(
    ("expected", "units", "ok"),
    [
        (None, None, True),
        (None, JW_UNITS, False),
        ({"code": "J9299", "units": 200, "discarded_units": 40, "modifier": "JW"}, JW_UNITS, True),
        ({"code": "J9299", "units": 200}, JW_UNITS, False),  # the JW line is not expected
        ({"code": "J9299", "units": 201, "discarded_units": 40, "modifier": "JW"}, JW_UNITS, False),
        ({"code": "J9271", "units": 200, "discarded_units": 40, "modifier": "JW"}, JW_UNITS, False),
        (
            {"code": "J9299", "problem": "range"},
            Units("J9299", "1-2 mg", "1 mg", problem="range"),
            True,
        ),
        (
            {"code": "J9299", "problem": "range"},
            Units("J9299", "1-2 mg", "1 mg", problem="two-doses"),
            False,
        ),
        ({"code": "J9299", "units": 200}, None, False),
    ],
)
def test_units_check(expected, units, ok) -> None:
    assert units_match(expected, units) is ok


def test_units_accuracy_metric() -> None:
    def item(n: int, expected) -> dict:
        return {"id": f"u{n}", "question": "Opdivo 200 mg", "expected_codes": ["J9299"],
                "expected_units": expected}  # fmt: skip

    answer = _answer(JW_UNITS)
    results = [
        check_item(
            item(1, {"code": "J9299", "units": 200, "discarded_units": 40, "modifier": "JW"}),
            answer,
            lambda c: True,
        ),
        check_item(item(2, {"code": "J9299", "units": 7}), answer, lambda c: True),
        check_item(
            {"id": "x", "question": "q", "expected_codes": ["J9299"]}, answer, lambda c: True
        ),
    ]
    assert [r["checks"].get("units") for r in results] == [True, False, None]
    assert metrics(results)["units_accuracy"] == 0.5
    assert "units_accuracy" not in metrics(results[2:])


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (None, ""),
        ({"code": "J9299", "units": 240}, ""),
        ({"code": "J9299", "units": 35, "discarded_units": 5, "modifier": "JW"}, ""),
        ({"code": "J9299", "problem": "per-weight"}, ""),
        ([], "must be null or an object"),
        ({"units": 240}, "needs a 'code'"),
        ({"code": "J9299"}, "needs 'units'"),
        ({"code": "J9299", "units": -1}, "needs 'units'"),
        ({"code": "J9299", "units": 1.5}, "needs 'units'"),
        ({"code": "J9299", "problem": "bad"}, "problem must be one of"),
        ({"code": "J9299", "problem": "range", "units": 1}, "takes only 'code'"),
        ({"code": "J9299", "units": 1, "modifier": "KX"}, "'modifier' must be"),
        ({"code": "J9299", "units": 1, "price": 3}, "unknown keys"),
    ],
)
def test_expected_units_schema(value, error: str, tmp_path: Path) -> None:
    message = units_schema_error(value)
    assert (error in message) if error else message == ""
    path = tmp_path / "set.jsonl"
    path.write_text(
        json.dumps({"id": "a", "question": "q", "expected_codes": [], "expected_units": value})
        + "\n",
        encoding="utf-8",
    )
    if error:
        with pytest.raises(UsageError, match="set.jsonl:1: expected_units"):
            read_set(path)
    else:
        assert read_set(path)[0]["expected_units"] == value


def test_the_units_set_is_valid_and_its_answers_are_hand_checked() -> None:
    """evals/drug_units.jsonl reads, and its arithmetic agrees with the descriptors it names
    where the test can know them (a sample written out here, not derived from the set)."""
    items = read_set(Path(__file__).resolve().parent.parent / "evals" / "drug_units.jsonl")
    assert len(items) >= 120
    expected = {i["question"]: i["expected_units"] for i in items}
    assert expected["Remicade 350 mg from four 100 mg single-dose vials"] == {
        "code": "J1745",
        "units": 35,
        "discarded_units": 5,
        "modifier": "JW",
    }
    # Every kind of refusal is asked about at least once.
    problems = {e["problem"] for e in expected.values() if e and "problem" in e}
    assert problems == set(UNITS_PROBLEMS)
