"""Attributes that separate sibling codes, read from descriptors and from questions alike.

CMS separates like items by a few kinds of wording, and a coder states the same things in
their own words: numbers with units ("patient weight capacity greater than 300 pounds",
"pad size 16 sq. in. or less", "30-40 mmhg", "per 5 mg"; a coder's "380 lb", "4x4 in",
"20-30 mmHg", "1 g"), with/without a feature ("without adhesive border", "non-heated"), and
categories: fabrication (off-the-shelf, custom fitted, custom fabricated), disposable or
reusable, adult or pediatric, rental or purchase, powered or manual, a pair or one.

``parse(text)`` turns either side into the same ``Attributes``; ``compare(question,
candidate)`` says which of the question's stated attributes a candidate satisfies and which
it contradicts; attributes the question does not state are neutral. Descriptors are parsed
once, at index build (stored with the record); questions at ask time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.text import NUMBER_WORDS, tokenize

# Descriptors are parsed at index build and stored: bump when what parse() makes of one changes.
ATTRIBUTES_VERSION = "attr-2"

# --- numbers and units ----------

# Unit words -> (dimension, factor to the dimension's base unit). Base units: pounds, square
# inches, mmHg, milligrams, millilitres, units, inches, minutes, calories, millicuries.
_UNITS: dict[str, tuple[str, float]] = {}
for _words, _dim, _factor in (
    ("pound pounds lb lbs #", "weight", 1.0),
    ("kg kgs kilogram kilograms", "weight", 2.20462),
    ("sq in|sq. in|sq.in|square inch|square inches|sq inch|sq inches|in2", "area", 1.0),
    ("sq cm|sq. cm|sq.cm|square centimeter|square centimeters|cm2", "area", 0.155),
    ("mmhg|mm hg", "pressure", 1.0),
    ("mg milligram milligrams", "mass", 1.0),
    ("g gm gms gram grams", "mass", 1000.0),
    ("mcg microgram micrograms µg ug", "mass", 0.001),
    ("ml mls milliliter milliliters millilitre millilitres cc", "volume", 1.0),
    ("l liter liters litre litres", "volume", 1000.0),
    ("unit units iu i.u. u", "units", 1.0),
    ('inch inches in "', "length", 1.0),
    ("cm centimeter centimeters", "length", 0.3937),
    ("foot feet ft", "length", 12.0),
    ("minute minutes min mins", "time", 1.0),
    ("hour hours hr hrs", "time", 60.0),
    ("calorie calories kcal cal", "energy", 1.0),
    ("millicurie millicuries mci", "activity", 1.0),
):
    for _word in _words.split("|" if "|" in _words else " "):
        _UNITS[_word] = (_dim, _factor)

# Dimensions whose numbers bound a class of item (a weight capacity, a pad size, a pressure
# class, a width); the others are billing amounts ("per 5 mg", "up to 40 mg", "per 10 ml").
BOUND_DIMENSIONS = frozenset({"weight", "area", "pressure", "length"})

_NUM = r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
_UNIT_RE = "|".join(
    re.escape(u) for u in sorted(_UNITS, key=len, reverse=True) if u not in ('"', "#")
)
# A number and its unit; the unit may be attached ("40mg", "6x6in") or after a space.
_QUANTITY = re.compile(rf"{_NUM}\s*(?:({_UNIT_RE})(?![a-z0-9])|(\"|#)(?!\w))", re.IGNORECASE)
_RANGE = re.compile(
    rf"{_NUM}\s*(?:({_UNIT_RE})\s*)?(?:-|–|to|through)\s*{_NUM}\s*({_UNIT_RE})(?![a-z0-9])",
    re.IGNORECASE,
)
# Two or three dimensions: "4x4", "4 x 4 in", "10 x 10 cm", '4"x4"'.
_DIMENSIONS = re.compile(
    rf"{_NUM}\s*(?:(in|inch|inches|cm|\")\s*)?[x×]\s*{_NUM}\s*(in|inch|inches|cm|\")?(?![a-z0-9])",
    re.IGNORECASE,
)
_COMBINED = re.compile(r"\s*/\s*")
# A unit alone after "per" is one of it: "per milligram", "per i.u.", "per square centimeter".
_PER_UNIT = re.compile(rf"\bper\s+({_UNIT_RE})(?![a-z0-9])", re.IGNORECASE)
# Counts: "box of 100", "per 50 strips", "50 per box", "100 count", "package of 10".
_COUNT = re.compile(
    r"(?:(?:box|pack|package|bottle|case|bag|carton)\s+of\s+(\d+))|(?:per\s+(\d+)\b(?!\s*(?:mg|ml|cc|"
    + _UNIT_RE
    + r")))|(?:\b(\d+)\s+(?:per\s+(?:box|pack|package|bottle|case|carton)|count|ct|pack)\b)",
    re.IGNORECASE,
)

_AT_MOST = r"(?:or less|or fewer|or under|or smaller|maximum|max)"
_AT_LEAST = (
    r"(?:or more|or greater|or over|or larger|or higher|and (?:over|above|up)|minimum|min\b)"
)
_BELOW_INCL = (
    r"(?:less than or equal to|equal to or less than|up to and including|"
    r"not (?:more|greater) than|no more than|at most|<=|≤)"
)
_BELOW = r"(?:less than|under|below|fewer than|smaller than|<)"
_ABOVE_INCL = (
    r"(?:greater than or equal to|more than or equal to|equal to or (?:greater|more) than|"
    r"at least|>=|≥)"
)
_ABOVE = r"(?:more than|greater than|over|above|exceeding|in excess of|>)"
_UP_TO = r"(?:up to|upto)"
_PER = r"(?:per|each|/)"


@dataclass(frozen=True)
class Quantity:
    """A number with its dimension: a bound, a billing amount, or a stated value.

    ``low``/``high`` are in the dimension's base unit; None is unbounded. ``kind``:
    "bound" (the item's class lies in [low, high]: weight capacity, pad size, pressure),
    "amount" (a billing unit: "per 5 mg", "up to 40 mg", "1000 cc"; ``low`` 0 for "up to"),
    "value" (a question's stated number or range), "count" (items in a package).
    """

    dim: str
    low: float | None
    high: float | None
    kind: str
    low_open: bool = False
    high_open: bool = False
    text: str = ""

    def contains(self, value: float) -> bool:
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        if self.high is not None and (value > self.high or (self.high_open and value == self.high)):
            return False
        return True


_NUMBER_WORDS = {
    "one-half": "0.5",
    "one half": "0.5",
    "half": "0.5",
    **NUMBER_WORDS,
    "eleven": "11",
    "twelve": "12",
}
_WORD_BEFORE_UNIT = re.compile(
    r"\b("
    + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True))
    + rf")[\s-]+(?=(?:{_UNIT_RE})\b)"
)
_FRACTION = re.compile(rf"\b(\d+)/(\d+)(?=\s*(?:{_UNIT_RE})\b)")
_MILLION = re.compile(r"(\d+(?:\.\d+)?)\s*million\b")


def _written_numbers(text: str) -> str:
    """Numbers written as words, fractions or millions as digits: "three inches" -> "3
    inches", "one-half inch" -> "0.5 inch", "1/2 inch" -> "0.5 inch", "2.4 million units" ->
    "2400000 units"."""
    text = _WORD_BEFORE_UNIT.sub(lambda m: _NUMBER_WORDS[m.group(1)] + " ", text)
    text = _FRACTION.sub(
        lambda m: f"{int(m.group(1)) / int(m.group(2)):g}" if int(m.group(2)) else m.group(0), text
    )
    return _MILLION.sub(lambda m: f"{float(m.group(1)) * 1e6:.0f}", text)


def number(text: str) -> float:
    """A number as written: "1,000" -> 1000.0, "0.5" and ".5" -> 0.5."""
    return float(text.replace(",", ""))


def unit_of(word: str) -> tuple[str, float] | None:
    """(dimension, factor) of a unit word, any case and trailing period ignored."""
    key = " ".join(word.casefold().replace(".", ". ").split()).replace(". ", ".").rstrip(".")
    return _UNITS.get(key) or _UNITS.get(key.replace(".", ""))


def quantities(text: str, descriptor: bool) -> list[Quantity]:
    """Every number with a unit in ``text``, with its comparator when one is written.

    ``descriptor`` says how to read a bare number: in a descriptor a bound dimension without
    a comparator is a value of the class ("width 22 inches"), a billing dimension an amount;
    in a question every number is a stated value.
    """
    lowered = _written_numbers(text.casefold())
    found: list[Quantity] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    if not descriptor:
        for m in _DIMENSIONS.finditer(lowered):
            a, b = number(m.group(1)), number(m.group(3))
            unit = m.group(4) or m.group(2) or "in"
            factor = 0.155 if unit.startswith("cm") else 1.0  # square cm -> square inches
            area = a * b * factor
            found.append(Quantity("area", area, area, "value", text=m.group(0)))
            taken.append(m.span())
    for m in _RANGE.finditer(lowered):
        if not free(*m.span()):
            continue
        unit = unit_of(m.group(4))
        if unit is None:
            continue
        dim, factor = unit
        low, high = number(m.group(1)) * factor, number(m.group(3)) * factor
        if low > high:
            continue
        kind = "value" if not descriptor else "bound"
        found.append(Quantity(dim, low, high, kind, text=m.group(0)))
        taken.append(m.span())
    for m in _PER_UNIT.finditer(lowered):
        unit = unit_of(m.group(1))
        if unit is None or unit[0] in BOUND_DIMENSIONS - {"area", "length"} or not free(*m.span()):
            continue
        dim, factor = unit
        found.append(
            Quantity(dim, factor, factor, "amount" if descriptor else "value", text=m.group(0))
        )
        taken.append(m.span())
    bounds: dict[str, Quantity] = {}
    last_end = 0
    for m in _QUANTITY.finditer(lowered):
        if not free(*m.span()):
            continue
        unit = unit_of(m.group(2) or m.group(3))
        if unit is None:
            continue
        dim, factor = unit
        value = number(m.group(1)) * factor
        if (
            not descriptor
            and found
            and found[-1].dim == dim
            and _COMBINED.fullmatch(lowered[last_end : m.start()])
        ):
            continue  # "8 mg/2 mg": a combination's second drug, the first names the dose
        last_end = m.end()
        before = lowered[max(0, m.start() - 40) : m.start()]
        after = lowered[m.end() : m.end() + 16]
        q = _with_comparator(dim, value, before, after, descriptor, m.group(0))
        taken.append(m.span())
        # "more than 16 sq. in. but less than or equal to 48 sq. in.": one class, two bounds.
        previous = bounds.get(dim)
        if (
            descriptor
            and q.kind == "bound"
            and previous is not None
            and previous.high is None
            and q.low is None
        ):
            merged = Quantity(
                dim,
                previous.low,
                q.high,
                "bound",
                previous.low_open,
                q.high_open,
                f"{previous.text} .. {q.text}",
            )
            found[found.index(previous)] = merged
            bounds[dim] = merged
            continue
        found.append(q)
        if q.kind == "bound":
            bounds[dim] = q
    if not descriptor:
        for m in _COUNT.finditer(lowered):
            value = number(next(g for g in m.groups() if g))
            found.append(Quantity("count", value, value, "value", text=m.group(0)))
    else:
        for m in _COUNT.finditer(lowered):
            value = number(next(g for g in m.groups() if g))
            found.append(Quantity("count", value, value, "count", text=m.group(0)))
    return found


def _with_comparator(
    dim: str, value: float, before: str, after: str, descriptor: bool, text: str
) -> Quantity:
    """The quantity a number makes with the comparator written around it.

    A descriptor's comparator makes a bound ("greater than 300 pounds"); a question's makes
    an open range of the stated value (">10 mg", "over 350 lbs").
    """
    kind = "bound" if descriptor else "value"
    lead = before.rstrip()
    if re.match(rf"\s*\.?\s*{_AT_MOST}", after):
        return Quantity(dim, None, value, kind, text=text)
    if re.match(rf"\s*\.?\s*{_AT_LEAST}", after):
        return Quantity(dim, value, None, kind, text=text)
    if re.search(rf"{_BELOW_INCL}\s*$", lead):
        return Quantity(dim, None, value, kind, text=text)
    if re.search(rf"{_ABOVE_INCL}\s*$", lead):
        return Quantity(dim, value, None, kind, text=text)
    if re.search(rf"{_BELOW}\s*$", lead):
        return Quantity(dim, None, value, kind, high_open=True, text=text)
    if re.search(rf"{_ABOVE}\s*$", lead):
        return Quantity(dim, value, None, kind, low_open=True, text=text)
    if not descriptor:
        return Quantity(dim, value, value, "value", text=text)
    if dim in BOUND_DIMENSIONS:
        if re.search(rf"{_UP_TO}\s*$", lead):  # "up to one-half inch": a class's upper bound
            return Quantity(dim, None, value, "bound", text=text)
        return Quantity(dim, value, value, "bound", text=text)
    if re.search(rf"{_UP_TO}\s*$", lead):
        return Quantity(dim, 0.0, value, "amount", text=text)
    return Quantity(dim, value, value, "amount", text=text)


# --- categories ----------

# Group -> value -> pattern, tried in order (a more specific value first). Words of CMS's
# descriptors and the ways coders write the same thing.
_CATEGORIES: dict[str, list[tuple[str, str]]] = {  # patterns over case-folded text
    "fabrication": [
        ("off-the-shelf", r"off[- ]the[- ]shelf|\bots\b"),
        (
            "custom-fitted",
            r"customized to fit|custom[- ]fit(?:ted)?\b|fitted (?:and adjusted )?by (?:an? |the )?"
            r"(?:orthotist|prosthetist|individual with expertise|certified)|"
            r"trimmed, bent, molded",
        ),
        (
            "custom-fabricated",
            r"custom[- ]fabricat\w*|custom[- ]fab\b|custom[- ]made|custom[- ]molded|"
            r"molded to patient model|made to measure|\bcustom\b(?! preparation)",
        ),
        ("prefabricated", r"pre[- ]?fabricated|\bprefab\b"),
    ],
    "disposable": [
        ("reusable", r"non[- ]?disposable|\breusable|\bre-usable|multiple[- ]use"),
        ("disposable", r"\bdisposable|single[- ]use|single[- ]patient[- ]use|throw[- ]?away"),
    ],
    "age": [
        ("pediatric", r"pediatric|paediatric|\bpeds?\b|\bchild(?:ren)?\b|\binfants?\b|\btoddler"),
        ("adult", r"\badults?\b"),
    ],
    "acquisition": [
        ("rental", r"\brent(?:al|ed|ing|s)?\b"),
        ("purchase", r"\bpurchas(?:e|ed|ing)\b|\bbuy(?:ing)?\b|\bbought\b"),
    ],
    "power": [
        (
            "manual",
            r"non[- ]?powered|\bmanual(?:ly)?\b|non[- ]?electric|hand[- ]operated|"
            r"non[- ]?motori[sz]ed|\bunpowered",
        ),
        ("powered", r"\bpowered\b|\bpower[- ]operated|\belectric\b|\bmotori[sz]ed|\bpower\b"),
    ],
    "bed": [
        ("semi-electric", r"semi[- ]?electric"),
        ("total-electric", r"total[- ]?electric|full[- ]?electric|fully[- ]electric"),
    ],
    "count": [
        ("pair", r"\bpairs?\b|\bboth (?:feet|ears|eyes|legs|arms|sides|hands)\b|\bbinaural\b"),
        (
            "single",
            r"\bmonaural\b|\bone (?:foot|ear|eye|leg|arm|side|hand)\b|\bsingle ear\b|"
            r"\beach\b|\bea\b",
        ),
    ],
    "patients": [
        (
            "more than one",
            r"more than one patient|multiple patients|several (?:patients|pts|residents)|"
            r"two or more patients|(?:2|3|4|5|6|two|three|four|five|six)\+? "
            r"(?:patients|pts|residents|people|beneficiaries)",
        ),
        ("one", r"\bone patient\b|\bsingle (?:patient|pt)\b|\bone pt\b"),
    ],
    "duty": [
        ("extra-heavy-duty", r"extra[- ]heavy[- ]duty"),
        ("heavy-duty", r"heavy[- ]duty|\bbariatric\b"),
    ],
    "use": [
        ("portable", r"\bportable\b"),
        ("stationary", r"\bstationary\b"),
    ],
    "replacement": [("replacement", r"\breplac(?:ement|ed|es|e|ing)\b")],
    # The unit of time a service is billed by (H, S and T codes differ by nothing else).
    "period": [
        ("per-diem", r"\bper diem\b|\bper day\b|\bby the day\b|\bdaily\b|\ba day\b"),
        (
            "per-15-minutes",
            r"\b(?:per|each|every|up to) 15 min(?:ute)?s?\b|\b15[- ]min(?:ute)? units?\b",
        ),
        ("per-hour", r"\bper hour\b|\bhourly\b|\bby the hour\b|\ban hour\b"),
        ("per-month", r"\bper (?:calendar )?month\b|\bmonthly\b|\ba month\b"),
        ("per-visit", r"\bper visit\b|\bper encounter\b|\bper session\b"),
    ],
    "size": [
        (
            "above-extra-large",
            r"above extra large|bigger than (?:xl|extra large)|larger than (?:xl|extra large)|"
            r"\b[2-6]xl\b|\bx{2,}l\b|\bx{2,}-large\b",
        ),
        ("extra-large", r"\bextra[- ]large\b|\bxl\b|\bx-large\b"),
        ("large", r"\blarge\b"),
        ("medium", r"\bmedium\b|\bmed\b"),
        ("small", r"\bsmall\b"),
    ],
}
# Values that make a variant of the plain item: a candidate stating one the question does not
# mention is a little less likely (coders say "heavy duty", "pediatric", "power", "custom",
# "replacement" when it applies).
VARIANT_VALUES = frozenset(
    {
        "powered",
        "heavy-duty",
        "extra-heavy-duty",
        "pediatric",
        "custom-fabricated",
        "replacement",
    }
)
# One pass over the text: alternatives in the order above, so at any position the more
# specific wording wins ("non-powered" is manual, never also "powered").
_CATEGORY_RE = re.compile(
    "|".join(
        f"(?P<g{n}>{pattern})"
        for n, (_group, _value, pattern) in enumerate(
            (group, value, pattern)
            for group, values in _CATEGORIES.items()
            for value, pattern in values
        )
    )
)
_CATEGORY_NAMES = [
    (group, value) for group, values in _CATEGORIES.items() for value, _pattern in values
]
# Values a more specific one implies: an off-the-shelf or custom-fitted item is prefabricated,
# an extra heavy duty one heavy duty.
_IMPLIES = {
    "off-the-shelf": {"prefabricated"},
    "custom-fitted": {"prefabricated"},
    "extra-heavy-duty": {"heavy-duty"},
}


# Every category pattern needs one of these words: most texts have none and skip the regex.
_CATEGORY_TRIGGERS = re.compile(
    r"shelf|ots|custom|fit|trimmed|fab|made|mold|dispos|reusable|re-usable|multiple|single|"
    r"throw|ped|child|infant|toddler|adult|rent|purchas|buy|bought|power|manual|electric|"
    r"hand|motori|pair|both|binaural|monaural|one |heavy|bariatric|portable|stationary|replac|"
    r"each|ea\b|patient|pts|single|resident|diem|day|daily|min|hour|month|visit|encounter|"
    r"session|large|xl|medium|med\b|small"
)


def categories(text: str) -> dict[str, frozenset[str]]:
    """Group -> the values ``text`` states."""
    folded = text.casefold()
    if not _CATEGORY_TRIGGERS.search(folded):
        return {}
    found: dict[str, set[str]] = {}
    for m in _CATEGORY_RE.finditer(folded):
        group, value = _CATEGORY_NAMES[int(m.lastgroup[1:])]
        found.setdefault(group, set()).update({value} | _IMPLIES.get(value, set()))
    fabrication = found.get("fabrication", set())
    if "custom-fabricated" in fabrication and not fabrication & {"off-the-shelf", "custom-fitted"}:
        fabrication.discard("prefabricated")
    return {group: frozenset(values) for group, values in found.items()}


# --- with / without ----------

_EITHER = re.compile(
    r"\b(?:with or without|w/ or w/o|w or wo|with/without|and/or)\s+([^,;()]+)", re.IGNORECASE
)


# In a descriptor only these negate a feature ("without mattress", "non-heated"); "not" and
# "no" there are the wording of reporting codes ("not otherwise specified", "not documented").
# "non" reaches one word ("non needle cannula type" is a cannula), "without" (and "zero":
# "zero drug amount discarded") the first words of its clause.
_DESCRIPTOR_NEGATION = re.compile(
    r"\bnon(?:-|\s)([\w-]+)|\b(?:without|w/o|zero|other than)\s([^,;()]*)", re.IGNORECASE
)
# In a question "zero", "nothing" and "none" negate as "no" does ("nothing was discarded",
# "zero drug amount discarded" from the glossary) - for features only, the search's words
# stay as they are.
_QUESTION_NEGATION = re.compile(r"\b(?:zero|nothing|none)\b", re.IGNORECASE)
# "Not otherwise classified / specified" names a kind of code, it negates nothing.
_NOC_PHRASE = re.compile(r"\bnot otherwise (?:classified|specified)\b", re.IGNORECASE)


def root(stem: str) -> str:
    """A feature's root, so "wheeled", "wheels" and "wheel" or "heated" and "heating" meet."""
    for ending in ("ing", "ed"):
        if stem.endswith(ending) and len(stem) - len(ending) >= 3:
            stem = stem[: -len(ending)]
            if len(stem) > 3 and stem[-1] == stem[-2] and stem[-1] not in "ls":
                stem = stem[:-1]  # "padded" -> "pad"
            return stem
    return stem


def polarity(text: str, descriptor: bool) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(features stated, features negated, features either way) as normalised stems.

    "Hospital bed, ... without mattress" -> mattress negated; "with or without wheels" ->
    wheel either way; every other content word is a feature stated. In a question any
    negation counts ("not the heated kind", "no border").
    """
    either: set[str] = set()
    for m in _EITHER.finditer(text):
        either |= {t for t in tokenize(m.group(1)) if not t.startswith("no_")}
    rest = _EITHER.sub(" ", text)
    if descriptor:
        negative = set()
        for m in _DESCRIPTOR_NEGATION.finditer(rest):
            words = [
                t[3:]
                for t in tokenize("without " + (m.group(1) or m.group(2)))
                if t.startswith("no_") and "/" not in t and "-" not in t[3:]
            ]
            negative |= set(words[:1] if m.group(1) else words[:3])
        # A word the descriptor also states outside every negation is its item, not what it
        # excludes: "Noc drugs, other than inhalation drugs" excludes inhalation, not drugs.
        outside = tokenize(_DESCRIPTOR_NEGATION.sub(" , ", rest))
        negative -= {t for t in outside if not t.startswith("no_")}
        positive = {
            t[3:] if t.startswith("no_") else t for t in tokenize(rest) if t != "without"
        } - negative
    else:
        positive, negative = set(), set()
        for token in tokenize(_QUESTION_NEGATION.sub("no", _NOC_PHRASE.sub(" ", rest))):
            if token.startswith("no_"):
                negative.add(token[3:])
            elif token != "without":
                positive.add(token)
    either = {root(t) for t in either}
    positive = {root(t) for t in positive} - either
    negative = {root(t) for t in negative} - either
    return frozenset(positive), frozenset(negative), frozenset(either)


def denied(question: str) -> frozenset[str]:
    """The word each negation of a question is about: the first after it ("not irradiated",
    "not the procaine combo", "NOT a dialysis pt", "doesn't want side rails" -> want)."""
    out, after = set(), False
    for token in tokenize(_NOC_PHRASE.sub(" ", question)):
        if token == "without":
            after = True
        elif after and token.startswith("no_") and "/" not in token:
            word = root(token[3:])
            if word not in _NOT_FEATURES:  # "doesn't want side rails": the rails
                out.add(word)
                after = False
    return frozenset(out)


# --- the attributes of a text ----------


@dataclass(frozen=True)
class Attributes:
    quantities: tuple[Quantity, ...] = ()
    categories: tuple[tuple[str, frozenset[str]], ...] = ()
    stated: frozenset[str] = frozenset()
    negated: frozenset[str] = frozenset()
    either: frozenset[str] = frozenset()
    denied: frozenset[str] = frozenset()  # a question's explicitly negated words (denied())

    def category(self, group: str) -> frozenset[str]:
        return dict(self.categories).get(group, frozenset())

    def to_data(self) -> dict:
        """A JSON-able form, for the record store."""
        return {
            "q": [
                [q.dim, q.low, q.high, q.kind, q.low_open, q.high_open, q.text]
                for q in self.quantities
            ],
            "c": {group: sorted(values) for group, values in self.categories},
            "s": sorted(self.stated),
            "n": sorted(self.negated),
            "e": sorted(self.either),
            "d": sorted(self.denied),
        }

    @classmethod
    def from_data(cls, data: dict) -> Attributes:
        return cls(
            quantities=tuple(Quantity(*q) for q in data["q"]),
            categories=tuple((g, frozenset(v)) for g, v in sorted(data["c"].items())),
            stated=frozenset(data["s"]),
            negated=frozenset(data["n"]),
            either=frozenset(data["e"]),
            denied=frozenset(data.get("d", ())),
        )


def parse(text: str, descriptor: bool, added: str = "") -> Attributes:
    """The attributes of a descriptor (``descriptor``) or of a question.

    ``added``: wording added to a question (the glossary's): its words count as the
    question's words, never as stated attributes or negations.
    """
    stated, negated, either = polarity(text, descriptor)
    if added:
        extra = polarity(added, descriptor)
        stated = stated | ((extra[0] | extra[1] | extra[2]) - negated - either)
    return Attributes(
        denied=frozenset() if descriptor else denied(text),
        quantities=tuple(quantities(text, descriptor)),
        categories=tuple(sorted(categories(text).items())),
        stated=stated,
        negated=negated,
        either=either,
    )


@dataclass(frozen=True)
class Match:
    """What a candidate makes of the question's stated attributes."""

    satisfied: tuple[str, ...] = ()
    contradicted: tuple[str, ...] = ()
    quantity_satisfied: int = 0
    quantity_contradicted: int = 0
    category_satisfied: int = 0
    category_contradicted: int = 0
    polar_satisfied: int = 0
    polar_contradicted: int = 0
    variants: tuple[str, ...] = ()  # variant values the candidate states and the question not
    coverage: float = 0.0  # share of the candidate's words the question accounts for


@dataclass
class _Tally:
    satisfied: list[str] = field(default_factory=list)
    contradicted: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, ok: bool, what: str) -> None:
        (self.satisfied if ok else self.contradicted).append(what)
        key = f"{kind}_{'satisfied' if ok else 'contradicted'}"
        self.counts[key] = self.counts.get(key, 0) + 1


def compare(question: Attributes, candidate: Attributes, features: frozenset[str]) -> Match:
    """Which of the question's stated attributes the candidate satisfies or contradicts.

    ``features`` are the words CMS separates codes by with with/without (words some
    descriptor negates): only those count as stated features, so an ordinary word of the
    question that a descriptor lacks is not a contradiction.
    """
    tally = _Tally()
    _compare_quantities(question, candidate, tally)
    for group, wanted in question.categories:
        have = candidate.category(group)
        if not have:
            continue
        specific = _most_specific(wanted)
        if specific & have:
            tally.add("category", True, f"{group}={sorted(specific & have)[0]}")
        elif have == {"prefabricated"} and specific <= {"off-the-shelf", "custom-fitted"}:
            continue  # "prefabricated" alone does not say which kind: neither right nor wrong
        else:
            tally.add("category", False, f"{group}={sorted(have)[0]}")
    # A word the coder negates is a feature whether or not a descriptor negates it ("not the
    # procaine combo", "not irradiated"): the first word after each negation.
    for feature in (question.negated & features) | question.denied:
        if feature in candidate.either:
            continue
        if feature in candidate.negated:
            tally.add("polar", True, f"without {feature}")
        elif feature in candidate.stated:
            tally.add("polar", False, f"with {feature}")
    for feature in question.stated & features:
        if feature in candidate.either or feature in question.either:
            continue
        if feature in candidate.negated:
            tally.add("polar", False, f"without {feature}")
    stated_groups = {group: values for group, values in question.categories}
    variants = tuple(
        sorted(
            value
            for group, values in candidate.categories
            for value in values & VARIANT_VALUES
            if value not in stated_groups.get(group, frozenset())
        )
    )
    return Match(
        satisfied=tuple(tally.satisfied),
        contradicted=tuple(tally.contradicted),
        variants=variants,
        coverage=coverage(question, candidate),
        **tally.counts,
    )


# Words of descriptors that say nothing about which item it is.
_FILLER = frozenset(
    "each any type use includes include including all other only item unit size per "
    "used one".split()
)


def coverage(question: Attributes, candidate: Attributes) -> float:
    """The share of the candidate's words (either polarity) that the question's words
    account for: of two siblings, the one with fewer words the question does not mention
    is the plainer match."""
    words = (candidate.stated | candidate.negated | candidate.either) - _FILLER
    if not words:
        return 0.0
    asked = question.stated | question.negated | question.either
    return len(words & asked) / len(words)


_NOT_FEATURES = frozenset(
    "patient pt type kind one use want need thing item service supply device combo sure "
    "code bill other any each same only just really".split()
)


def _most_specific(values: frozenset[str]) -> frozenset[str]:
    implied = set().union(*(_IMPLIES.get(v, set()) for v in values)) if values else set()
    return frozenset(values - implied) or values


def _compare_quantities(question: Attributes, candidate: Attributes, tally: _Tally) -> None:
    for asked in question.quantities:
        same = [c for c in candidate.quantities if c.dim == asked.dim]
        if not same:
            continue
        verdicts = [_quantity_verdict(asked, c) for c in same]
        if True in verdicts:
            tally.add("quantity", True, asked.text)
        elif False in verdicts:
            tally.add("quantity", False, asked.text)


def _quantity_verdict(asked: Quantity, have: Quantity) -> bool | None:
    """True: the candidate's class or amount fits the stated number; False: it cannot;
    None: neither (a billing amount the dose is a multiple of, say)."""
    if asked.low is None or asked.high is None:
        return _open_verdict(asked, have)
    low, high = asked.low, asked.high
    if have.kind == "bound":
        if low == high:
            return have.contains(low)
        inside = [have.contains(v) for v in (low, high, (low + high) / 2)]
        if all(inside):
            return True
        if not any(inside):
            return False
        lo = max(low, have.low if have.low is not None else low)
        hi = min(high, have.high if have.high is not None else high)
        return (hi - lo) / (high - low) >= 0.5 if high > low else None
    if have.kind == "count":
        return abs(have.low - low) < 1e-9 if have.low is not None else None
    if have.kind == "amount":
        if have.low == 0.0 and have.high is not None:  # "up to N": one unit covers the dose
            return True if high <= have.high + 1e-9 else None
        if have.low is not None and abs(have.low - low) < 1e-6 * max(1.0, low):
            return True
        return None
    return None


def _open_verdict(asked: Quantity, have: Quantity) -> bool | None:
    """A stated open range (">10 mg", "under 300 lb") against a candidate's bound or amount:
    right when the candidate's class lies inside it, wrong when it lies outside."""
    if have.kind == "amount" or (have.low is None and have.high is None):
        return None  # any dose is some number of billing units
    lows = have.low if have.low is not None else float("-inf")
    highs = have.high if have.high is not None else float("inf")
    if asked.low is not None:  # "over 10": the class must lie above 10
        if highs < asked.low or (highs == asked.low and (asked.low_open or have.high_open)):
            return False
        if lows > asked.low or (lows == asked.low and (have.low_open or not asked.low_open)):
            return True
        return None
    if asked.high is not None:  # "under 10": the class must lie below 10
        if lows > asked.high or (lows == asked.high and (asked.high_open or have.low_open)):
            return False
        if highs < asked.high or (highs == asked.high and (have.high_open or not asked.high_open)):
            return True
        return None
    return None
