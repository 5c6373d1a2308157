"""Billing units from a dose: the dose a question states, the amount per unit a drug code's
descriptor states, the arithmetic, and the claim lines with JW or JZ.

Computed the way the MAC guidance in the corpus shows it (the Noridian JF Part B JW and JZ
pages and the Jurisdiction D DME JZ page):

- units = the dose divided by the descriptor's amount, rounded up to the next whole unit when
  it falls between units ("up to 40 mg": one unit per 40 mg or part of it);
- from single-dose containers, the discarded units are the containers' units less the units
  given, billed on a second line with JW; when nothing was discarded the one line carries JZ.
  When one unit covers the dose and what was left (a 70 mg dose from a 100 mg vial billed per
  100 mg), nothing is billed as discarded: the line is JZ. A multi-dose container gets neither.

Never a price, never a statement that units will be paid: units only. Conversions are exact
(decimal): 1 g = 1,000 mg = 1,000,000 mcg, 1 cc = 1 mL; "units" and "i.u." are counted
alike (coders write "2000 units" of a factor the descriptor bills "per i.u."), "million
units" is 1,000,000 units. Nothing else is converted: mg against mL or units needs the
product's strength, which the question does not give, so no number is given.

Pure functions over text (``parse_dose``, ``parse_supply``, ``billing_unit``, ``compute``) and
``for_answer``, which the answer composer calls with the retriever (for the crosswalk's package
sizes and rows, the Table of Drugs and the guidance passages). ``drug_family`` gives the other
codes of the same drug (for ranking).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from assistant.records import (
    Citation,
    ClaimLine,
    CodeRecord,
    CrosswalkEntry,
    CrosswalkRow,
    DrugEntry,
    Passage,
    Units,
)

# --- units of measure -----------------------------------------------------------------------

# canonical unit -> (dimension, factor to the dimension's base, how it is written)
_MEASURES: dict[str, tuple[str, Decimal, str]] = {
    "mg": ("mass", Decimal(1), "mg"),
    "g": ("mass", Decimal(1000), "g"),
    "mcg": ("mass", Decimal("0.001"), "mcg"),
    "units": ("units", Decimal(1), "units"),
    "iu": ("units", Decimal(1), "i.u."),
    "ml": ("volume", Decimal(1), "mL"),
    "meq": ("meq", Decimal(1), "mEq"),
}
_NUM = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+"
# Longest spellings first; matched case-insensitively and mapped by _unit().
_UNIT = (
    r"milligrams?|mgs?|micrograms?|mcgs?|µg|μg|ug|grams?|gms?|g|"
    r"international\s+units?|i\.\s?u\.?|iu|(?:usp\s+)?units?|"
    r"milliliters?|millilitres?|ml|cc|milliequivalents?|meq"
)
_UNIT_NAMES = [
    (re.compile(r"milligrams?|mgs?", re.I), "mg"),
    (re.compile(r"micrograms?|mcgs?|µg|μg|ug", re.I), "mcg"),
    (re.compile(r"grams?|gms?|g", re.I), "g"),
    (re.compile(r"international\s+units?|i\.\s?u\.?|iu", re.I), "iu"),
    (re.compile(r"(?:usp\s+)?units?", re.I), "units"),
    (re.compile(r"milliliters?|millilitres?|ml|cc", re.I), "ml"),
    (re.compile(r"milliequivalents?|meq", re.I), "meq"),
]
_WORD_NUMBERS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "single": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}


def _unit(text: str) -> str:
    for pattern, name in _UNIT_NAMES:
        if pattern.fullmatch(text.strip()):
            return name
    raise ValueError(f"not a unit: {text!r}")


def _number(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def _amount(num: str, multiplier: str | None) -> Decimal:
    value = _number(num)
    if multiplier and multiplier.strip().lower() == "million":
        value *= 1_000_000
    return value


def fmt(value: Decimal) -> str:
    """A decimal as a coder writes it: no trailing zeros, thousands grouped from 10,000."""
    value = value.normalize()
    if value == value.to_integral_value():
        whole = int(value)
        return f"{whole:,}" if abs(whole) >= 10_000 else str(whole)
    return format(value, "f")


def _in(value: Decimal, unit: str) -> str:
    return f"{fmt(value)} {_MEASURES[unit][2]}"


def _convert(value: Decimal, unit: str, to: str) -> Decimal | None:
    """``value`` of ``unit`` in ``to``; None when the two measure different things."""
    (dim, factor, _), (to_dim, to_factor, _) = _MEASURES[unit], _MEASURES[to]
    if dim != to_dim:
        return None
    return value * factor / to_factor


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


# --- the dose in a question --------------------------------------------------------------------


@dataclass(frozen=True)
class Dose:
    """A dose the question states: an amount and its unit ("mg", "g", "mcg", "units", "iu",
    "ml", "meq"); ``text`` is how the question put it. A dose per kg given with the weight
    keeps both (``per_kg``, ``weight_kg``) and ``amount`` is their product."""

    amount: Decimal
    unit: str
    text: str
    per_kg: Decimal | None = None
    weight_kg: Decimal | None = None

    @property
    def label(self) -> str:
        return _in(self.amount, self.unit)


@dataclass(frozen=True)
class DoseProblem:
    """A dose the question states that cannot be used, and why (records.UNITS_PROBLEMS):
    ``per-weight``, ``per-area``, ``range``, ``two-doses``, ``zero-dose``, ``negative-dose``."""

    problem: str
    text: str
    unit: str = ""  # the unit the dose was stated in, when there is one


@dataclass(frozen=True)
class Container:
    """Containers the drug came from: ``count`` of ``amount`` ``unit`` each (count None when
    the question says "vials" without a number)."""

    count: int | None
    amount: Decimal
    unit: str
    multi_dose: bool
    text: str


@dataclass(frozen=True)
class Supply:
    """What the question says about the containers and the drug left over."""

    containers: tuple[Container, ...] = ()
    wasted: tuple[Decimal, str] | None = None  # an amount stated as discarded
    none_wasted: bool = False


_MENTION = re.compile(
    rf"(?<![0-9.,A-WYZa-wyz])(?P<num>{_NUM})\s*(?P<mult>million\s+)?(?P<unit>{_UNIT})"
    r"(?![a-z0-9])\.?"
    r"(?P<per>\s*(?:/|per\s+)\s*(?:(?P<kg>kg|kilograms?)|(?P<m2>m2|m²|m\^2|sq\.?\s*m|"
    r"square\s+met(?:er|re)s?)|(?P<vol>ml|cc)\b|(?P<volnum>" + _NUM + r")\s*(?:ml|cc)\b))?",
    re.IGNORECASE,
)
_WEIGHT = re.compile(
    rf"(?<![/\w.,])(?P<num>{_NUM})\s*-?\s*(?P<unit>kg|kgs|kilograms?|lbs?|pounds?)\b",
    re.IGNORECASE,
)
_RANGE = re.compile(
    rf"(?<![\w.,])(?:between\s+(?P<a1>{_NUM})\s*(?:{_UNIT})?\s+and\s+(?P<b1>{_NUM})"
    rf"|(?P<a2>{_NUM})\s*(?:{_UNIT})?\s*(?:-|–|—|to)\s*(?P<b2>{_NUM}))"
    rf"\s*(?:million\s+)?(?:{_UNIT})(?![a-z])",
    re.IGNORECASE,
)
_CONTAINER_WORD = (
    r"(?:vials?|syringes?|containers?|packages?|bottles?|bags?|pens?|ampu?les?|ampoules?|"
    r"cartridges?|kits?|(?:auto)?injectors?)"
)
_KIND = r"(?P<kind>single[- ]?(?:dose|use)|multi(?:ple)?[- ]?(?:dose|use)|sdv|mdv)"
_COUNT = r"(?P<count>\d+|" + "|".join(_WORD_NUMBERS) + r")"
_CONTAINER_A = re.compile(
    rf"(?:\b{_COUNT}(?:\s*(?:x|×|\*)\s*|\s*\(\s*|\s+))?(?:\b(?P<kind0>single[- ]?(?:dose|use)|"
    rf"multi(?:ple)?[- ]?(?:dose|use))\s+)?(?P<num>{_NUM})\s*(?P<mult>million\s+)?"
    rf"(?P<unit>{_UNIT})\.?(?:\s*/\s*(?:{_NUM})?\s*(?:ml|cc))?\s*(?:{_KIND}\s*)?"
    rf"(?:prefilled\s+|pre-filled\s+)?(?P<word>{_CONTAINER_WORD})\b",
    re.IGNORECASE,
)
_CONTAINER_B = re.compile(
    rf"\b{_COUNT}\s+(?:{_KIND}\s+)?(?P<word>{_CONTAINER_WORD})\s+(?:of|containing|with)\s+"
    rf"(?P<num>{_NUM})\s*(?P<mult>million\s+)?(?P<unit>{_UNIT})(?![a-z])",
    re.IGNORECASE,
)
_WASTE_AFTER = re.compile(
    r"^\s*(?:was\s+|were\s+)?(?:wasted|discarded|waste|unused|not\s+(?:used|given|administered))",
    re.I,
)
_WASTE_BEFORE = re.compile(r"(?:wasted|discarded|discard|waste)\s*(?:of|:|=)?\s*$", re.I)
_NONE_WASTED = re.compile(
    r"\b(?:no|nothing|zero|none|without)\s+(?:\w+\s+){0,2}?(?:wast\w*|discard\w*)"
    r"|\b(?:wast\w*|discard\w*)\s*(?::|=)?\s*(?:none|nothing|zero)\b"
    r"|\b(?:entire|whole|full)\s+(?:vials?|containers?|syringes?|packages?)\s+"
    r"(?:was\s+|were\s+)?(?:used|given|administered)",
    re.IGNORECASE,
)
_NEGATIVE_BEFORE = re.compile(r"(?:(?<![\w.])-|−|\bminus\s+)\s?$", re.IGNORECASE)
_PER_BEFORE = re.compile(r"\b(?:per|each)\s+$", re.IGNORECASE)


@dataclass(frozen=True)
class _Mention:
    start: int
    end: int
    amount: Decimal
    unit: str
    text: str
    kind: str  # "dose", "per-kg", "per-area", "concentration"
    negative: bool


def _mentions(question: str, taken: list[tuple[int, int]]) -> list[_Mention]:
    out = []
    for m in _MENTION.finditer(question):
        if any(a <= m.start("num") < b for a, b in taken):
            continue
        before = question[: m.start()]
        if _PER_BEFORE.search(before):
            continue  # "per 10 mg": a unit of billing, not a dose
        kind = "dose"
        if m.group("kg"):
            kind = "per-kg"
        elif m.group("m2"):
            kind = "per-area"
        elif m.group("vol"):
            kind = "concentration"  # "10 mg/mL": a strength, not a dose
        end = m.end() if m.group("per") and not m.group("volnum") else m.end("unit")
        out.append(
            _Mention(
                m.start(),
                end,
                _amount(m.group("num"), m.group("mult")),
                _unit(m.group("unit")),
                " ".join(question[m.start() : end].split()),
                kind,
                bool(_NEGATIVE_BEFORE.search(before)),
            )
        )
    return out


def parse_supply(question: str) -> Supply:
    """The containers the question names ("from two 100 mg single-dose vials", "4 x 100 mg
    vials", "5 vials of 100 mg", "a 10,000 unit multi-dose vial"), an amount it says was
    discarded ("50 mg wasted") and whether it says nothing was ("no waste")."""
    containers, _spans = _containers(question)
    wasted = None
    for m in _mentions(question, _spans):
        after, before = question[m.end :], question[: m.start]
        if _WASTE_AFTER.match(after) or _WASTE_BEFORE.search(before):
            wasted = (m.amount, m.unit)
            break
    none_wasted = bool(_NONE_WASTED.search(question)) or (wasted is not None and not wasted[0])
    if wasted is not None and not wasted[0]:
        wasted = None
    return Supply(tuple(containers), wasted, none_wasted)


def _containers(question: str) -> tuple[list[Container], list[tuple[int, int]]]:
    found: list[tuple[int, Container, tuple[int, int]]] = []
    spans: list[tuple[int, int]] = []
    for pattern in (_CONTAINER_A, _CONTAINER_B):
        for m in pattern.finditer(question):
            span = (m.start(), m.end())
            if any(a < span[1] and span[0] < b for a, b in spans):
                continue
            count_text = (m.group("count") or "").lower()
            plural = m.group("word").lower().endswith("s")
            if count_text:
                count: int | None = (
                    int(count_text) if count_text.isdigit() else _WORD_NUMBERS[count_text]
                )
            else:
                count = None if plural else 1
            kinds = " ".join(
                filter(None, (m.groupdict().get("kind0"), m.groupdict().get("kind")))
            ).lower()
            multi = "multi" in kinds or "mdv" in kinds
            container = Container(
                count,
                _amount(m.group("num"), m.group("mult")),
                _unit(m.group("unit")),
                multi,
                " ".join(m.group(0).split()),
            )
            found.append((m.start(), container, span))
            spans.append(span)
    found.sort(key=lambda item: item[0])
    return [c for _start, c, _span in found], spans


def parse_dose(question: str) -> Dose | DoseProblem | None:
    """The one dose a question states, a DoseProblem when it states one that cannot be used,
    or None when it states none.

    Read: "240 mg", "1 g", "0.5 mg", "1,000 mcg", "5000 units", "2.4 million units",
    "1500 IU", "20 mEq", "30 mL"; "15 mg/kg" with the weight in kg ("patient weighs 70 kg").
    Not doses: container sizes ("from a 100 mg vial"), amounts discarded ("50 mg wasted"),
    strengths ("10 mg/mL"), billing units ("per 10 mg"), and a volume beside an amount
    ("240 mg in 24 mL": the mg is the dose). Problems: a range ("200-400 mg", "between 400
    and 500 mg"), two different doses ("200 mg or 400 mg"), a dose per kg without a weight,
    a dose per m2, zero, a negative dose.
    """
    _containers_found, spans = _containers(question)
    mentions = [
        m
        for m in _mentions(question, spans)
        if not _WASTE_AFTER.match(question[m.end :])
        and not _WASTE_BEFORE.search(question[: m.start])
        and m.kind != "concentration"
    ]
    if not mentions:
        return None
    for r in _RANGE.finditer(question):
        if any(r.start() <= m.start < r.end() for m in mentions) and not any(
            a <= r.start() < b for a, b in spans
        ):
            text = " ".join(r.group(0).split())
            last = re.search(rf"({_UNIT})$", text, re.IGNORECASE)
            return DoseProblem("range", text, _unit(last.group(1)) if last else "")
    for m in mentions:
        if m.negative:
            return DoseProblem("negative-dose", "-" + m.text, m.unit)
    plain = [m for m in mentions if m.kind == "dose"]
    per_kg = [m for m in mentions if m.kind == "per-kg"]
    per_area = [m for m in mentions if m.kind == "per-area"]
    # A volume stated beside an amount ("240 mg (24 mL)") is the amount's volume.
    if any(_MEASURES[m.unit][0] != "volume" for m in plain):
        plain = [m for m in plain if _MEASURES[m.unit][0] != "volume"]
    if len(_distinct(plain)) > 1 or len(_distinct(per_kg)) > 1:
        return DoseProblem("two-doses", "; ".join(m.text for m in [*plain, *per_kg]))
    weighted = None
    if per_kg:
        weights = [w for w in _WEIGHT.finditer(question) if w.group("unit").lower()[0] == "k"]
        values = {_number(w.group("num")) for w in weights}
        if len(values) == 1:
            weight = values.pop()
            m = per_kg[0]
            weighted = Dose(
                m.amount * weight,
                m.unit,
                f"{m.text} x {fmt(weight)} kg",
                per_kg=m.amount,
                weight_kg=weight,
            )
    if plain:
        m = plain[0]
        dose = Dose(m.amount, m.unit, m.text)
        if weighted is not None and _base(weighted) != _base(dose):
            return DoseProblem("two-doses", f"{m.text}; {weighted.text}", m.unit)
    elif weighted is not None:
        dose = weighted
    elif per_kg:
        return DoseProblem("per-weight", per_kg[0].text, per_kg[0].unit)
    elif per_area:
        return DoseProblem("per-area", per_area[0].text, per_area[0].unit)
    else:
        return None
    if dose.amount == 0:
        return DoseProblem("zero-dose", dose.text, dose.unit)
    return dose


def _base(dose: Dose | _Mention) -> tuple[str, Decimal]:
    dim, factor, _ = _MEASURES[dose.unit]
    return dim, (dose.amount * factor).normalize()


def _distinct(mentions: Sequence[_Mention]) -> set[tuple[str, Decimal]]:
    return {_base(m) for m in mentions}


# --- the billing unit in a descriptor ----------------------------------------------------------


@dataclass(frozen=True)
class BillingUnit:
    """The amount one billing unit of a code stands for, read from its descriptor.

    ``text`` is the descriptor's own words ("per 250 mg", "up to 40 mg", "500 ml = 1 unit");
    ``up_to`` marks "up to N" (one unit per N or part of it: the same arithmetic);
    ``equivalent`` is an amount in another measure the descriptor gives in parentheses
    ("300 micrograms (1500 i.u.)").
    """

    amount: Decimal
    unit: str
    text: str
    up_to: bool = False
    equivalent: tuple[Decimal, str] | None = None


_PARENS = re.compile(r"\([^()]*\)")
_EQUALS_UNIT = re.compile(rf"\((?P<num>{_NUM})\s*(?P<unit>ml|cc)\s*=\s*1\s+unit\)", re.IGNORECASE)
# Any amount that could be the unit (not a duration such as "48 hour dosage regimen", nor the
# number of a name such as "covid-19" or "ga-68").
_ANY_AMOUNT = re.compile(
    rf"(?<![\w.\-])(?:{_NUM})\s*(?:million\s+)?"
    r"(?!(?:hours?|days?|weeks?|months?|years?|minutes?)\b)[a-zµμ%]",
    re.IGNORECASE,
)
_PER_UNIT = re.compile(rf"\bper\s+(?:factor\s+[ivx]+\s+)?(?:{_UNIT})(?![a-z])", re.IGNORECASE)
# The billing unit at the end of a segment, after any words naming the drug (searched, so the
# leftmost place from which the rest of the segment is the unit wins).
_STRICT = re.compile(
    rf"(?<![a-z0-9.])(?:(?P<q>per|up\s+to)\s+)?(?:factor\s+[ivx]+\s+)?"
    rf"(?:(?P<num>{_NUM})\s*(?P<mult>million\s+)?)?(?P<unit>{_UNIT})(?![a-z0-9])"
    r"(?P<trail>\s+[a-z][a-z\s\-:'.]*)?$",
    re.IGNORECASE,
)
_COMPOUND = re.compile(rf"^(?:{_NUM})\s*(?:{_UNIT})\s*/\s*(?:{_NUM})\s*(?:{_UNIT})$", re.IGNORECASE)
_AMOUNT_ONLY = re.compile(
    rf"^(?P<num>{_NUM})\s*(?P<mult>million\s+)?(?P<unit>{_UNIT})$", re.IGNORECASE
)
# Words that make an amount a bound rather than a unit ("less than or equal to 100 mg").
_COMPARATOR = re.compile(
    r"\b(?:less|greater|more|over|under|minimum|maximum|least|most|but)\b", re.IGNORECASE
)


def _segments(text: str) -> list[str]:
    """The descriptor split at commas and semicolons outside parentheses (not inside numbers
    such as 100,000)."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif ch in ",;" and depth == 0:
            if (
                ch == ","
                and i > 0
                and text[i - 1].isdigit()
                and re.match(r"\d{3}(?!\d)", text[i + 1 :])
            ):
                continue  # a thousands separator
            out.append(text[start:i])
            start = i + 1
    out.append(text[start:])
    return [s.strip() for s in out if s.strip()]


def _has_unit(segment: str) -> bool:
    bare = _PARENS.sub(" ", segment)
    return bool(_ANY_AMOUNT.search(bare) or _PER_UNIT.search(bare))


def billing_unit(descriptor: str) -> BillingUnit | None:
    """The amount per billing unit a drug code's descriptor states, or None when it states
    none that a dose can be divided by.

    Read: "1 mg", "per 5 mg", "up to 40 mg", "10 units", "per i.u.", "per 1,000 usp units",
    "1 million units", "per milligram", "1 microgram", "per gm", "250 cc", "(500 ml = 1
    unit)", "per 2 meq", a compound's total ("7.5 mg/2.5 mg (10 mg)"), an equivalent in
    parentheses ("300 micrograms (1500 i.u.)"). The amount is the last one the descriptor
    states ("Injection, alglucosidase alfa, 10 mg, not otherwise specified" -> 10 mg).
    None for: no amount (NOC codes, "per vial", "per dose", "per treatment"), tiers ("less
    than or equal to 100 mg"), combinations stated ingredient by ingredient ("ceftolozane 50
    mg and tazobactam 25 mg"), strengths ("10 mg/ml", "180 mcg per ml"), and measures that
    are not a drug's dose ("per 100 calories", "per square centimeter", "millicuries",
    "vector genomes").
    """
    text = " ".join(descriptor.split())
    equals = _EQUALS_UNIT.search(text)
    if equals:
        return BillingUnit(_number(equals.group("num")), "ml", equals.group(0)[1:-1].strip())
    segments = [s for s in _segments(text) if not s.lower().startswith("provided in")]
    with_unit = [s for s in segments if _has_unit(s)]
    if not with_unit:
        return None
    segment = with_unit[-1]
    # Another amount joined by "and" ("Albuterol, up to 2.5 mg and ipratropium bromide, up to
    # 0.5 mg"): the unit is the pair, not either amount.
    if any(re.search(r"\band\b", _PARENS.sub(" ", s), re.I) for s in with_unit[:-1]):
        return None
    parens = [p[1:-1].strip() for p in _PARENS.findall(segment)]
    main = " ".join(_PARENS.sub(" ", segment).split())
    if _COMPOUND.match(main):
        totals = [_AMOUNT_ONLY.match(p) for p in parens]
        total = next((t for t in totals if t), None)
        if total is None:
            return None
        return BillingUnit(
            _amount(total.group("num"), total.group("mult")),
            _unit(total.group("unit")),
            segment,
        )
    m = _STRICT.search(main)
    if m is None or (m.group("num") is None and (m.group("q") or "").lower() != "per"):
        return None
    lead = main[: m.start()]
    if re.search(r"\d", lead) or _COMPARATOR.search(lead):
        return None  # another amount before it, or a bound ("less than or equal to 100 mg")
    if (m.group("trail") or "").strip().lower().startswith("per "):
        return None  # "180 mcg per ml": a strength
    amount = _amount(m.group("num"), m.group("mult")) if m.group("num") else Decimal(1)
    equivalent = None
    shown = main[m.start() : m.end("unit")]
    for p in parens:
        alt = _AMOUNT_ONLY.match(p)
        if alt:
            equivalent = (_amount(alt.group("num"), alt.group("mult")), _unit(alt.group("unit")))
            shown += f" ({p})"
            break
    return BillingUnit(
        amount,
        _unit(m.group("unit")),
        shown,
        up_to=(m.group("q") or "").lower().startswith("up"),
        equivalent=equivalent,
    )


# --- the arithmetic ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """The billing units of a dose for one code, and the waste when the question states it.

    ``ratio`` is the dose over the amount per unit (before rounding up); ``package_units`` the
    units the containers (or the dose and the amount discarded) come to; ``waste_note`` why
    there is no JW/JZ line although the question named containers: ``multi-dose``,
    ``containers-short``, ``containers-count`` or ``container-unit``.
    """

    code: str
    dose: Dose
    unit: BillingUnit
    dose_in_unit: Decimal  # the dose in the billing unit's measure
    measure: str  # that measure ("mg", or the equivalent's, e.g. "iu")
    per: Decimal  # the amount per unit in that measure
    ratio: Decimal
    units: int
    discarded_units: int | None = None
    modifier: str = ""
    package_units: int | None = None
    waste_note: str = ""
    supply: Supply = Supply()

    @property
    def rounded(self) -> bool:
        return self.ratio != self.units

    @property
    def lines(self) -> tuple[ClaimLine, ...]:
        if self.modifier == "JW":
            return (
                ClaimLine(self.code, "", self.units),
                ClaimLine(self.code, "JW", self.discarded_units or 0),
            )
        return (ClaimLine(self.code, self.modifier, self.units),)


def compute(
    code: str,
    dose: Dose,
    unit: BillingUnit,
    supply: Supply = Supply(),  # noqa: B008 - frozen value
    largest_package: Decimal | None = None,
) -> Claim | str:
    """The claim for ``dose`` of ``code`` billed per ``unit``, or the problem id that stops it
    (``unit-mismatch``, ``too-large``, ``zero-dose``, ``negative-dose``).

    ``largest_package`` is the largest package the crosswalk lists for the code, in billing
    units: a dose of more than 100 times it is taken for a mistake (a unit or a digit).
    """
    if dose.amount < 0:
        return "negative-dose"
    if dose.amount == 0:
        return "zero-dose"
    measure, per = unit.unit, unit.amount
    converted = _convert(dose.amount, dose.unit, measure)
    if converted is None and unit.equivalent is not None:
        per, measure = unit.equivalent
        converted = _convert(dose.amount, dose.unit, measure)
    if converted is None:
        return "unit-mismatch"
    ratio = converted / per
    units = _ceil(ratio)
    if largest_package is not None and units > 100 * largest_package:
        return "too-large"
    claim = Claim(code, dose, unit, converted, measure, per, ratio, units, supply=supply)
    return _with_waste(claim)


def _with_waste(claim: Claim) -> Claim:
    """The JW or JZ line the question's containers (or stated waste) call for, if any."""
    from dataclasses import replace

    supply = claim.supply
    package: Decimal | None = None
    if supply.containers:
        if any(c.multi_dose for c in supply.containers):
            return replace(claim, waste_note="multi-dose")
        if any(c.count is None for c in supply.containers):
            return replace(claim, waste_note="containers-count")
        total = Decimal(0)
        for c in supply.containers:
            size = _convert(c.amount, c.unit, claim.measure)
            if size is None:
                return replace(claim, waste_note="container-unit")
            total += size * c.count  # type: ignore[operator]
        if total < claim.dose_in_unit:
            return replace(claim, waste_note="containers-short")
        package = total
    elif supply.wasted is not None:
        wasted = _convert(supply.wasted[0], supply.wasted[1], claim.measure)
        if wasted is None:
            return replace(claim, waste_note="container-unit")
        package = claim.dose_in_unit + wasted
    elif supply.none_wasted:
        return replace(claim, discarded_units=0, modifier="JZ")
    else:
        return claim
    # Whole units of the package less the units given: a unit that covers the dose and what
    # was left is billed once, with JZ (the DME MAC's 70 mg of a 100 mg unit).
    package_units = _ceil(package / claim.per)
    discarded = max(0, package_units - claim.units)
    return replace(
        claim,
        discarded_units=discarded,
        modifier="JW" if discarded else "JZ",
        package_units=package_units,
    )


def _units_word(units: int) -> str:
    return f"{units:,} unit" if units == 1 else f"{units:,} units"


def _ratio_text(ratio: Decimal) -> str:
    exact = ratio.normalize()
    if -exact.as_tuple().exponent <= 3:  # type: ignore[operator]
        return fmt(exact)
    return f"about {fmt(ratio.quantize(Decimal('0.01')))}"


def _containers_text(containers: Sequence[Container]) -> str:
    return " + ".join(f"{c.count} x {_in(c.amount, c.unit)}" for c in containers)


def arithmetic(claim: Claim, wording: Mapping[str, str]) -> str:
    """The claim's arithmetic in words: "240 mg / 1 mg per unit = 240 units of J9299", with
    the weight, the conversion and the waste when there are any."""
    dose, parts = claim.dose, []
    if dose.per_kg is not None and dose.weight_kg is not None:
        parts.append(
            wording["units-weight"].format(
                per_kg=_in(dose.per_kg, dose.unit), weight=fmt(dose.weight_kg), dose=dose.label
            )
        )
    shown = _in(claim.dose_in_unit, claim.measure)
    if dose.unit != claim.measure:
        parts.append(wording["units-convert"].format(dose=dose.label, converted=shown))
    key = "units-up-to" if claim.unit.up_to else "units-rounded" if claim.rounded else "units-exact"
    parts.append(
        wording[key].format(
            dose=shown,
            per=_in(claim.per, claim.measure),
            ratio=_ratio_text(claim.ratio),
            units=_units_word(claim.units),
            code=claim.code,
        )
    )
    supply = claim.supply
    if claim.modifier and claim.package_units is not None:
        if supply.containers:
            total = sum(
                (_convert(c.amount, c.unit, claim.measure) or 0) * (c.count or 0)
                for c in supply.containers
            )
            source = f"{_containers_text(supply.containers)} = {_in(total, claim.measure)}"
        else:
            wasted = _convert(*supply.wasted, claim.measure) if supply.wasted else Decimal(0)
            source = f"{shown} administered + {_in(wasted or Decimal(0), claim.measure)} discarded"
        values = {
            "source": source,
            "package": _units_word(claim.package_units),
            "package_units": f"{claim.package_units:,}",
            "units": f"{claim.units:,}",
            "discarded": _units_word(claim.discarded_units or 0),
        }
        parts.append(wording["units-jw" if claim.modifier == "JW" else "units-jz"].format(**values))
    elif claim.modifier == "JZ":
        parts.append(wording["units-jz-stated"])
    return "; ".join(parts)


# --- evidence: the crosswalk row, the Table of Drugs line, the guidance ------------------------

# Guidance statements the arithmetic rests on, found by their words in the loaded corpus.
GUIDANCE_PHRASES = {
    "example-jw": "J1745 JW",  # the JW page's claim coding example: 350 mg at 10 mg = 35 units
    "example-jz": "J1745 JZ",  # the JZ page's: 400 mg at 10 mg = 40 units, JZ
    "rounding": "rounded to the appropriate UOS",  # DME MAC: round up; no JW within one unit
    "jw": "Use for claims with unused drugs",  # JW: single use vials or packages
    "jz": "Report JZ modifier on all claims",  # JZ: no discarded amounts, single-dose
}


def crosswalk_text(entry: CrosswalkEntry, row: CrosswalkRow) -> str:
    """One crosswalk row as cited: the brand or drug name to its code, the labeler, the NDC,
    the HCPCS dosage and the billing units, each as the CMS file prints it."""
    package = ""
    if row.package_size or row.package_quantity:
        package = f" (package size {row.package_size}, quantity {row.package_quantity})"
    per_package = row.billing_units_package or row.billing_units
    return (
        f"{entry.drug_name} -> {entry.code} ({entry.short_description}): {row.labeler}, "
        f"NDC {row.ndc}, HCPCS dosage {row.dosage} per billing unit, {per_package} billing "
        f"units per package{package}"
    )


def drug_table_text(entry: DrugEntry) -> str:
    """One Table of Drugs line as cited: name, unit, routes and codes (a ``see`` line with
    the unit, routes and codes of the entry it points to)."""
    body = f"{entry.unit}, {', '.join(entry.routes)}, {', '.join(entry.codes)}"
    if entry.see:
        return f"{entry.name}, see {entry.see}: {body}"
    return f"{entry.name}, {body}"


def _words(text: str) -> str:
    return " " + " ".join(re.findall(r"[a-z0-9]+", text.casefold())) + " "


@lru_cache(maxsize=8)
def _titles(manifest: Path, _mtime: float) -> dict[str, str]:
    from assistant.corpus.sources import load_sources

    return {s.id: s.title for s in load_sources(manifest)}


def source_title(retriever: Any, source_id: str) -> str:
    """The title corpus/sources.toml gives a source (its id when the manifest is unreadable)."""
    from assistant.errors import HcpcsError

    manifest = Path(retriever.settings.manifest)
    try:
        return _titles(manifest, manifest.stat().st_mtime).get(source_id, source_id)
    except (OSError, HcpcsError):
        return source_id


# A loaded retriever's crosswalk entries by code, made once per retriever (the entries never
# change once loaded); a lost race only builds the same dict twice.
_CROSSWALK_BY_CODE: weakref.WeakKeyDictionary[Any, dict[str, list[CrosswalkEntry]]] = (
    weakref.WeakKeyDictionary()
)


def _by_code(retriever: Any) -> dict[str, list[CrosswalkEntry]]:
    cached = _CROSSWALK_BY_CODE.get(retriever)
    if cached is None:
        cached = {}
        for entry in retriever.crosswalk.values():
            cached.setdefault(entry.code, []).append(entry)
        _CROSSWALK_BY_CODE[retriever] = cached
    return cached


def largest_package(retriever: Any, code: str) -> Decimal | None:
    """The largest package of ``code`` in the crosswalk, in billing units; None when the
    crosswalk does not list the code, or lists no package of more than one billing unit: it
    then does not say what a package holds (clotting factors, billed per i.u. whatever the
    vial holds, are listed at 1 billing unit a package)."""
    sizes = []
    for entry in _by_code(retriever).get(code, []):
        values = [r.billing_units_package or r.billing_units for r in entry.rows]
        for value in values or entry.billing_units:
            try:
                sizes.append(Decimal(value))
            except ArithmeticError:
                continue
    largest = max(sizes) if sizes else None
    return largest if largest is not None and largest > 1 else None


def evidence(
    retriever: Any,
    question: str,
    records: Sequence[CodeRecord],
    supply: Supply = Supply(),  # noqa: B008 - frozen value
    limit: int = 3,
) -> list[Citation]:
    """The crosswalk row (else the Table of Drugs line) through which a drug name the
    question uses reaches each code shown: the name must appear in the question as words.
    The row cited is the one whose package holds the containers' units when the question
    names containers, else the first by NDC."""
    return [citation for citation, _brand in _evidence(retriever, question, records, supply, limit)]


def _evidence(
    retriever: Any,
    question: str,
    records: Sequence[CodeRecord],
    supply: Supply,
    limit: int,
) -> list[tuple[Citation, bool]]:
    """(citation, whether the name is a brand) for the codes shown. A crosswalk name is a
    brand when its first word is in none of the shown codes' descriptors ("Remicade",
    "Haldol Decanoate"; not "Ceftriaxone", which the crosswalk also lists under a cefuroxime
    code); a Table of Drugs "see" line is a brand's."""
    asked = _words(question)
    described = {w for r in records for w in _words(r.long_description).split()}
    out: list[tuple[Citation, bool]] = []
    for record in records:
        if len(out) >= limit:
            break
        entries = [
            e for e in _by_code(retriever).get(record.code, []) if _words(e.drug_name) in asked
        ]
        if entries:
            entry = max(entries, key=lambda e: (len(_words(e.drug_name)), e.drug_name))
            if entry.rows:
                row = _row_for(entry, supply, billing_unit(record.long_description))
                citation = Citation(
                    "crosswalk",
                    source_title(retriever, entry.source),
                    f"{entry.drug_name} -> {entry.code}, NDC {row.ndc}",
                    crosswalk_text(entry, row),
                    ref=entry.source,
                    supports=record.code,
                )
                out.append((citation, _words(entry.drug_name).split()[0] not in described))
            continue
        lines = [
            d
            for d in retriever.drugs.values()
            if record.code in d.codes and _words(d.name).strip() and _words(d.name) in asked
        ]
        if lines:
            line = max(lines, key=lambda d: (len(_words(d.name)), -d.line))
            citation = Citation(
                "drug-table",
                source_title(retriever, line.source),
                f"line {line.line}: {line.name}",
                drug_table_text(line),
                ref=line.source,
                supports=record.code,
            )
            out.append((citation, bool(line.see)))
    return out


def _row_for(entry: CrosswalkEntry, supply: Supply, unit: BillingUnit | None) -> CrosswalkRow:
    if unit is not None and supply.containers:
        wanted = set()
        for c in supply.containers:
            size = _convert(c.amount, c.unit, unit.unit)
            if size is not None:
                wanted.add((size / unit.amount).normalize())
        for row in entry.rows:
            try:
                if Decimal(row.billing_units).normalize() in wanted:
                    return row
            except ArithmeticError:
                continue
    return entry.rows[0]


def _guidance(retriever: Any, key: str) -> Passage | None:
    return retriever.passage_with(GUIDANCE_PHRASES[key])


# --- the answer's part -------------------------------------------------------------------------


@dataclass(frozen=True)
class DrugAnswer:
    """What a drug question adds to an answer: its billing units, remarks, citations."""

    units: Units | None = None
    remarks: tuple[str, ...] = ()
    citations: tuple[Citation, ...] = ()


def for_answer(
    retriever: Any, question: str, records: Sequence[CodeRecord], wording: Mapping[str, str]
) -> DrugAnswer:
    """Billing units for the dose the question states, for the code it is the dose of (the
    code a brand name reaches, else the first code shown: ``_dosed``); the crosswalk or Table
    of Drugs evidence for the drug names it uses; the remarks (wording from ``wording``,
    assistant.answer.WORDING) when no number can be given, and why."""
    codes = [r for r in records if r.kind == "code"]
    if not codes:
        return DrugAnswer()
    supply = parse_supply(question)
    found = _evidence(retriever, question, codes, supply, limit=3)
    cited = [citation for citation, _brand in found]
    parsed = parse_dose(question)
    if parsed is None:
        return DrugAnswer(citations=tuple(cited))
    record = _dosed(question, codes, found)
    unit = billing_unit(record.long_description)
    per_unit = unit.text if unit else ""
    want = _MEASURES[unit.unit][2] if unit else "mg"
    if isinstance(parsed, DoseProblem):
        return _refused(record.code, parsed.text, per_unit, parsed.problem, cited, wording, want)
    if unit is None:
        return _refused(record.code, parsed.text, per_unit, "no-billing-unit", cited, wording, want)
    package = largest_package(retriever, record.code)
    result = compute(record.code, parsed, unit, supply, package)
    if isinstance(result, str):
        extra = {"unit": _MEASURES[parsed.unit][2], "package": fmt(package) if package else ""}
        return _refused(record.code, parsed.text, per_unit, result, cited, wording, want, extra)
    remarks = []
    if result.waste_note:
        remarks.append(
            wording[f"units-{result.waste_note}"].format(
                containers=_containers_text(supply.containers),
                dose=parsed.label,
                measure=_MEASURES[result.measure][2],
            )
        )
    guidance = _guidance_for(retriever, result)
    units = Units(
        code=record.code,
        dose=parsed.text,
        per_unit=per_unit,
        units=result.units,
        discarded_units=result.discarded_units,
        modifier=result.modifier,
        arithmetic=arithmetic(result, wording),
        lines=result.lines,
        citation=guidance[0] if guidance else None,
    )
    return DrugAnswer(units, tuple(remarks), (*cited, *guidance))


def _dosed(
    question: str, codes: Sequence[CodeRecord], found: Sequence[tuple[Citation, bool]]
) -> CodeRecord:
    """The code the dose is for: a brand pins its code, so a current code shown that a brand
    name reaches through the crosswalk, else through a Table of Drugs "see" line, else the
    first code shown (a generic name does not choose among the forms of its drug: that is
    the ranking's work). When a brand reaches several codes (Aranesp: ESRD and non-ESRD),
    the one whose descriptor shares most words with the question, then the first shown."""
    asked = set(_words(question).split())
    for kind in ("crosswalk", "drug-table"):
        branded = {c.supports for c, brand in found if brand and c.kind == kind}
        reached = [r for r in codes if r.code in branded and r.termination_date is None]
        if reached:
            return max(
                reached,
                key=lambda r: (
                    len(asked & set(_words(r.long_description).split())),
                    -codes.index(r),
                ),
            )
    return codes[0]


def _guidance_for(retriever: Any, claim: Claim) -> list[Citation]:
    """The passages the claim follows, the one its arithmetic follows first."""
    keys = []
    if claim.rounded or (claim.modifier == "JZ" and claim.package_units is not None):
        keys.append("rounding")
    keys.append("example-jz" if claim.modifier == "JZ" else "example-jw")
    if claim.modifier == "JW" or claim.waste_note == "multi-dose":
        keys.append("jw")
    if claim.modifier == "JZ" or claim.waste_note == "multi-dose":
        keys.append("jz")
    out = []
    for key in dict.fromkeys(keys):
        passage = _guidance(retriever, key)
        if passage is not None:
            out.append(passage.cited_for("units"))
    return out


def _refused(
    code: str,
    dose: str,
    per_unit: str,
    problem: str,
    cited: list[Citation],
    wording: Mapping[str, str],
    want: str,
    extra: Mapping[str, str] | None = None,
) -> DrugAnswer:
    values = {
        "code": code,
        "dose": dose,
        "per_unit": per_unit,
        "want": want,
        "unit": "",
        "package": "",
    }
    values.update(extra or {})
    remark = wording[f"units-{problem}"].format(**values)
    units = Units(code=code, dose=dose, per_unit=per_unit, problem=problem)
    return DrugAnswer(units, (remark,), tuple(cited))


# --- the same drug's other codes ---------------------------------------------------------------

_DRUG_SECTIONS = frozenset("JQCSA")
_ADMINISTRATION = re.compile(
    r"^(?:injection|infusion|intravesical\s+instillation|instillation|injectable)\b\s*", re.I
)
_ROUTE_WORDS = frozenset(
    "oral intravenous intramuscular subcutaneous injectable inhalation nasal topical "
    "intravitreal ophthalmic rectal vaginal intrathecal intravesical intra-articular "
    "sublingual buccal transdermal otic".split()
)
# Salts and esters: one drug in several codes ("methylprednisolone acetate" and
# "methylprednisolone sodium succinate"); dropped after the first word only.
_SALTS = frozenset(
    "hydrochloride hcl sodium disodium sulfate sulphate acetate phosphate mesylate citrate "
    "tartrate maleate succinate potassium calcium bromide chloride fumarate lactate besylate "
    "bitartrate hyclate dihydrate monohydrate dipropionate palmitate decanoate cypionate "
    "enanthate undecanoate pamoate lauroxil valerate caproate methylsulfate isethionate "
    "tromethamine lactobionate butyrate".split()
)
# First words that name a class, not a drug: the family is named by the first two words.
_CLASS_WORDS = frozenset(
    "immune globulin factor hyaluronan interferon epoetin iron sodium calcium potassium "
    "magnesium vitamin hepatitis rho c1 c-1 alpha human protein coagulation prothrombin von "
    "antithrombin low high".split()
)
_BIOSIMILAR_SUFFIX = re.compile(r"(?<=[a-z]{4})-[a-z]{4}$")
_AMOUNT_IN_NAME = re.compile(rf"(?:{_NUM})\s*(?:million\s+)?(?:{_UNIT})(?![a-z])", re.I)


def drug_name(descriptor: str) -> str:
    """The drug a descriptor names, normalised to compare codes: "Injection, infliximab-dyyb,
    biosimilar, (inflectra), 10 mg" -> "infliximab"; "Methylprednisolone oral, per 4 mg" and
    "Injection, methylprednisolone sodium succinate, 5 mg" -> "methylprednisolone". Biosimilar
    suffixes, salts, routes and amounts are dropped; "" when the descriptor names no drug."""
    text = " ".join(descriptor.lower().split())
    text = _PARENS.sub(" ", re.sub(r"\((\w)\)", r" \1", text))  # "rho(d)" is "rho d"
    segments = [s.strip() for s in re.split(r"[,;]", text) if s.strip()]
    while segments and _ADMINISTRATION.fullmatch(segments[0]):
        segments.pop(0)
    if not segments:
        return ""
    name = _ADMINISTRATION.sub("", segments[0])
    name = _AMOUNT_IN_NAME.sub(" ", re.split(r"\bper\b", name)[0])
    words = [
        _BIOSIMILAR_SUFFIX.sub("", w)
        for w in re.findall(r"[a-z0-9][a-z0-9\-'/]*", name)
        if w not in _ROUTE_WORDS
    ]
    words = words[:1] + [w for w in words[1:] if w not in _SALTS]
    return " ".join(words)


def is_drug(record: CodeRecord) -> bool:
    """Whether a code is a drug's, for families: a code (not a NOC one) of section J, or of
    sections Q, C, S or A whose descriptor states a billing unit or begins "Injection"."""
    if record.kind != "code" or record.noc or record.section not in _DRUG_SECTIONS:
        return False
    if record.section == "J":
        return True
    text = record.long_description
    return billing_unit(text) is not None or text.lower().startswith("injection")


def family_key(descriptor: str) -> str:
    """What codes of one drug share: the drug name's first word (its first two when the first
    names a class, as in "immune globulin" or "factor viii")."""
    words = drug_name(descriptor).split()
    if not words:
        return ""
    return " ".join(words[:2]) if words[0] in _CLASS_WORDS else words[0]


_EPOCH = date(1900, 1, 1)  # sorts a record without a termination date (dropped) last


def drug_families(latest: Iterable[CodeRecord]) -> dict[str, list[str]]:
    """Family key -> the drug codes of that family, from each code's latest record (worked
    out at index build and stored with the records)."""
    out: dict[str, list[str]] = {}
    for record in latest:
        if is_drug(record):
            key = family_key(record.long_description)
            if key:
                out.setdefault(key, []).append(record.code)
    return out


def drug_family(source: Any, record: CodeRecord) -> list[str]:
    """The other codes of the same drug as ``record``: its other routes, formulations and
    biosimilars, then codes CMS terminated (a predecessor, or a terminated record's
    successors come first since they are active). ``source`` is a Retriever or a Codebook.

    Current codes first (by code), terminated ones after them (newest termination first);
    [] for a record that names no drug. A code CMS dropped from the newest release counts as
    terminated.
    """
    book = getattr(source, "book", source)
    key = family_key(record.long_description)
    if not key or not is_drug(record):
        return []
    newest = max(r.id for r in book.releases())
    members = [
        r
        for code in book.family(key)
        if code != record.code and (r := book.latest(code, "code", newest)) is not None
    ]

    def current(r: CodeRecord) -> bool:
        return r.termination_date is None and r.release == newest

    active = sorted((r for r in members if current(r)), key=lambda r: r.code)
    ended = sorted(
        (r for r in members if not current(r)),
        key=lambda r: (-(r.termination_date or _EPOCH).toordinal(), r.code),
    )
    return [r.code for r in (*active, *ended)]
