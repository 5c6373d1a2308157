"""Billing units on the real corpus: the descriptor-unit parser over every active drug code of
the newest release, the same drug's other codes, and answers with units and crosswalk rows."""

from __future__ import annotations

import re
from collections import Counter

import pytest

from assistant import drug_units
from assistant.answer import AskOptions, ask
from assistant.evaluation.runner import CitationValidator
from assistant.records import CodeRecord
from assistant.render import answer_json
from assistant.retrieval import Retriever

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Why a drug descriptor states no amount a dose can be divided by, most specific first. Every
# descriptor the parser leaves without a unit must be one of these: a new style of unit fails.
_MEASURE = r"(?:mg|mcg|g|gm|grams?|micrograms?|milligrams?|units?|iu|i\.u\.|ml|cc|meq)\b"
UNPARSED_STYLES = {
    "tiers (less than, greater than, over)": re.compile(
        r"less than|greater than|\bover \d|days? of therapy", re.I
    ),
    "combination stated ingredient by ingredient": re.compile(
        rf"\d\s*{_MEASURE}[^()]*\band\b[^()]*\d\s*{_MEASURE}|"
        r"\d\s*(?:mg|g|mcg)\s*/\s*[a-z]*\s*[\d.]+\s*(?:mg|g|mcg)",
        re.I,
    ),
    "strength (per ml)": re.compile(r"\d\s*(?:mg|mcg)\s*(?:/|per\s+)ml\b", re.I),
    "not a measure of dose (vector genomes, cells, cm2, millicuries, package form)": re.compile(
        r"vector genomes|plaque forming|\bcells\b|square cent|millicuries|\bmci\b|"
        r"dosage form \(|applicator \(",
        re.I,
    ),
    "no amount per unit (per vial, dose, treatment; each; NOC; no amount at all)": re.compile(
        r"\bper\s+(?:single[- ](?:dose|use)\s+)?(?:vial|dose|study dose|therapeutic dose|"
        r"treatment|implant|visit)\b|\beach$|not otherwise classified|unclassified|\bnos\b|"
        rf"^(?!.*\d\s*{_MEASURE}).*$",
        re.I,
    ),
}


@pytest.fixture(scope="module")
def retriever(real_index) -> Retriever:
    settings, _ = real_index
    return Retriever(settings).load()


def drug_codes(retriever: Retriever) -> list[CodeRecord]:
    """Active J, Q, C and S codes of the newest release that are drugs: section J, a code the
    ASP crosswalk or the Table of Drugs names, or an "Injection, ..." descriptor."""
    named = {e.code for e in retriever.crosswalk.values()}
    named |= {c for d in retriever.drugs.values() for c in d.codes}
    return [
        r
        for r in retriever.book.all_codes()
        if r.release == retriever.newest
        and r.kind == "code"
        and r.termination_date is None
        and r.section in "JQCS"
        and (
            r.section == "J"
            or r.code in named
            or r.long_description.lower().startswith("injection")
        )
    ]


def unit_styles(retriever: Retriever) -> tuple[int, list[CodeRecord], Counter]:
    drugs = drug_codes(retriever)
    unparsed = [r for r in drugs if drug_units.billing_unit(r.long_description) is None]
    styles = Counter()
    for r in unparsed:
        style = next(
            (name for name, rx in UNPARSED_STYLES.items() if rx.search(r.long_description)),
            "unexplained",
        )
        styles[style] += 1
    return len(drugs), unparsed, styles


def test_descriptor_units_of_every_active_drug_code_parse_or_have_a_known_reason(retriever):
    total, unparsed, styles = unit_styles(retriever)
    assert total > 1000
    assert (total - len(unparsed)) / total >= 0.9
    unexplained = [
        f"{r.code} {r.long_description}"
        for r in unparsed
        if not any(rx.search(r.long_description) for rx in UNPARSED_STYLES.values())
    ]
    assert not unexplained
    assert styles["unexplained"] == 0


def test_every_parsed_unit_is_a_positive_amount_of_a_known_measure(retriever):
    for record in drug_codes(retriever):
        unit = drug_units.billing_unit(record.long_description)
        if unit is not None:
            assert unit.amount > 0, record.code
            assert unit.unit in ("mg", "g", "mcg", "units", "iu", "ml", "meq"), record.code
            assert unit.text.lower() in " ".join(record.long_description.lower().split()), (
                record.code
            )


@pytest.mark.parametrize(
    ("code", "includes", "excludes"),
    [
        # Biosimilars and the subcutaneous infliximab.
        ("J1745", {"Q5103", "Q5104", "Q5121", "J1748"}, {"J9035", "J1746"}),
        # The subcutaneous form with hyaluronidase and the combination with relatlimab.
        ("J9299", {"J9289", "J9298"}, {"J9271", "J9228"}),
        # Routes and salts: acetate, sodium succinate and oral.
        ("J2919", {"J1010", "J7509"}, {"J1100"}),
        ("Q5107", {"J9035", "Q5118", "C9257"}, {"J9355"}),
        ("J9355", {"J9356", "Q5112", "Q5146"}, {"J9354", "J9358"}),  # not Kadcyla, Enhertu
    ],
)
def test_drug_family_of_real_codes(retriever, code, includes, excludes):
    (record,) = retriever.book.lookup(code, retriever.newest)
    family = drug_units.drug_family(retriever, record)
    assert includes <= set(family), family
    assert not excludes & set(family)
    assert code not in family


def test_drug_family_puts_current_codes_before_terminated_ones(retriever):
    (record,) = retriever.book.lookup("J2919", retriever.newest)
    family = drug_units.drug_family(retriever, record)
    records = {c: retriever.book.history(c, "code")[-1] for c in family}
    current = [c for c in family if records[c].termination_date is None]
    assert family[: len(current)] == current  # all current codes first
    ended = family[len(current) :]
    # The terminated predecessors of the 2026 methylprednisolone codes follow them.
    assert ended and all(
        records[c].termination_date is not None or records[c].release < retriever.newest
        for c in ended
    )
    # And a terminated code's family starts with its active successors.
    (old,) = [retriever.book.history(c, "code")[-1] for c in ended[:1]]
    successors = drug_units.drug_family(retriever, old)
    assert "J2919" in successors[: len(current) + 1]


def test_noc_and_non_drug_codes_have_no_family(retriever):
    for code in ("J3490", "E0601", "C9814"):
        (record,) = retriever.book.lookup(code, retriever.newest)
        assert drug_units.drug_family(retriever, record) == []


@pytest.mark.parametrize(
    ("question", "code", "units", "lines", "cites"),
    [
        ("Opdivo 240 mg IV", "J9299", 240, [("", 240)], {"asp-crosswalk-2026-01"}),
        (
            "Remicade 350 mg from four 100 mg single-dose vials",
            "J1745",
            35,
            [("", 35), ("JW", 5)],
            {"asp-crosswalk-2026-01", "noridian-jf-modifier-jw"},
        ),
        ("J9045 carboplatin 425 mg", "J9045", 9, [("", 9)], {"noridian-jddme-modifier-jz"}),
        ("Keytruda 200 mg, no waste", "J9271", 200, [("JZ", 200)], {"noridian-jf-modifier-jz"}),
    ],
)
def test_real_answers_give_units_and_cite_their_evidence(
    retriever, question, code, units, lines, cites
):
    answer, _ = ask(retriever, question, options=AskOptions())
    assert answer.units is not None and answer.units.code == code
    assert answer.units.units == units
    assert [(line.modifier, line.units) for line in answer.units.lines] == lines
    assert cites <= {c.ref for c in answer.citations}
    validator = CitationValidator(retriever)
    assert all(validator(c) for c in answer.citations)
    data = answer_json(answer)["units"]
    assert data["units"] == units and data["citation"]["kind"] == "guidance"


def test_brand_row_cited_is_the_brands_own(retriever):
    answer, _ = ask(retriever, "Opdivo 240 mg from a 240 mg vial", options=AskOptions())
    (row,) = answer.citations_of("crosswalk")
    assert row.text.startswith("Opdivo -> J9299 (Injection, nivolumab): E.R. Squibb & Sons")
    assert "HCPCS dosage 1 MG per billing unit, 240 billing units per package" in row.text
    assert row.source == "CMS ASP NDC-HCPCS Crosswalk for Medicare Part B Drugs, January 2026"


def test_a_brand_name_with_capitals_is_not_a_modifier(retriever):
    # "CR" of "Bicillin CR" is part of a crosswalk drug name; alone, it is modifier CR.
    assert all(m.kind == "code" for m in retriever.mentions("Bicillin CR 1,200,000 units"))
    answer, _ = ask(retriever, "Bicillin CR 1,200,000 units", options=AskOptions())
    assert answer.codes[0].code == "J0558"
    assert answer.units is not None and answer.units.units == 12
    assert [m.code for m in retriever.mentions("what does CR mean")] == ["CR"]


def test_a_brand_on_two_codes_doses_the_one_the_question_describes(retriever):
    # Aranesp is listed under J0881 (non-ESRD) and J0882 (ESRD on dialysis).
    for question, code in [
        ("Aranesp 100 mcg for non-ESRD use", "J0881"),
        ("Aranesp 100 mcg for ESRD on dialysis", "J0882"),
    ]:
        answer, _ = ask(retriever, question, options=AskOptions())
        assert answer.units is not None and answer.units.code == code, question
        assert answer.units.units == 100
