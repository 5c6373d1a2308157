"""Text normalisation shared by the lexical index and the question side of retrieval.

The same normaliser runs over CMS descriptors and over coders' questions, so shorthand on
either side meets the spelled-out word on the other: "w/" and "with", "O2" and "oxygen",
"ea" and "each", plurals and singulars.
"""

from __future__ import annotations

import functools
import re

TOKENIZER_VERSION = "tok-10"  # bump when the tokens or the lexical file change

# Numbers one to ten as words, and their digits.
NUMBER_WORDS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
}

# Coders' shorthand and CMS's own abbreviations (short descriptors use many), spelled out.
# General vocabulary of the field, never tied to one code.
ABBREVIATIONS: dict[str, str] = {
    "w/o": "without",
    "w/": "with",
    "wo": "without",
    "w": "with",
    "ea": "each",
    "pr": "pair",
    "bilat": "bilateral",
    "o2": "oxygen",
    "iv": "intravenous",
    "im": "intramuscular",
    "subq": "subcutaneous",
    "subcut": "subcutaneous",
    "sq": "subcutaneous",
    "sc": "subcutaneous",
    "inj": "injection",
    "neb": "nebulizer",
    "nebs": "nebulizer",
    "cath": "catheter",
    "caths": "catheter",
    "dme": "durable medical equipment",
    "cpap": "cpap continuous positive airway pressure",
    "bipap": "bipap bi-level respiratory assist device",
    "pap": "pap positive airway pressure",
    "tens": "tens transcutaneous electrical nerve stimulator",
    "afo": "afo ankle foot orthosis",
    "kafo": "kafo knee ankle foot orthosis",
    "tlso": "tlso thoracic lumbar sacral orthosis",
    "lso": "lso lumbar sacral orthosis",
    "ko": "knee orthosis",
    "whfo": "wrist hand finger orthosis",
    "w/c": "wheelchair",
    "wc": "wheelchair",
    "wheelchr": "wheelchair",
    "whlchr": "wheelchair",
    "amb": "ambulance",
    "als": "advanced life support",
    "bls": "basic life support",
    "er": "emergency",
    "ed": "emergency",
    "emerg": "emergency",
    "non-emerg": "non-emergency",
    "supp": "supply",
    "sup": "supply",
    "eq": "equipment",
    "equip": "equipment",
    "acc": "accessory",
    "addl": "additional",
    "add'l": "additional",
    "adj": "adjustable",
    "disp": "disposable",
    "lt": "left",
    "rt": "right",
    "ft": "foot",
    "hr": "hour",
    "hrs": "hour",
    "min": "minute",
    "mins": "minute",
    "wk": "week",
    "mo": "month",
    "mos": "month",
    "yr": "year",
    "cc": "ml",
    "oz": "ounce",
    "lb": "pound",
    "lbs": "pound",
    "tx": "treatment",
    "dx": "diagnostic",
    "rx": "prescription",
    "pt": "patient",
    "pts": "patient",
    "ped": "pediatric",
    "peds": "pediatric",
    "pedi": "pediatric",
    "vacc": "vaccine",
    "vax": "vaccine",
    "immun": "immunization",
    "admin": "administration",
    "adm": "administration",
    "flu": "influenza",
    "hep": "hepatitis",
    "bp": "blood pressure",
    "bg": "blood glucose",
    "glucometer": "blood glucose monitor",
    "ostomy": "ostomy",
    "trach": "tracheostomy",
    "cgm": "continuous glucose monitor",
    "sgd": "speech generating device",
    "std": "standard",
    "stnd": "standard",
    "mod": "modifier",
    "prosth": "prosthesis",
    "ortho": "orthosis",
    "mri": "magnetic resonance",
    "ct": "computed tomography",
    "pet": "positron emission tomography",
    "ekg": "electrocardiogram",
    "ecg": "electrocardiogram",
    "xray": "x-ray",
    "hh": "home health",
    "snf": "skilled nursing facility",
    "asc": "ambulatory surgical center",
    "abn": "abn advance beneficiary notice waiver of liability statement",
    "pos": "place of service",
    # Ordinals and roman numerals as CMS writes them ("second month", "type iii").
    "1st": "first",
    "2nd": "second",
    "3rd": "third",
    "4th": "fourth",
    "5th": "fifth",
    "iii": "3",
    # Numbers written as words ("dressing for two wounds") meet the digits coders type.
    **NUMBER_WORDS,
}

# Words that say nothing about which item is meant.
STOPWORDS = frozenset(
    """a an the and or of for to in on at by is are was be it its this that these those with
    what which who whom whose how do does did can could should would will i we you my our your
    me us code codes hcpcs level ii bill billing billed use used using need needs get find
    correct right proper please tell about there any some per other than from as into t s""".split()
)

_SPLIT = re.compile(r"w/o|w/c|w/|add'l|[a-z0-9]+(?:[./-][a-z0-9]+)*")
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)?$")


@functools.lru_cache(maxsize=1 << 16)  # the same few thousand words, stemmed millions of times
def _stem(token: str) -> str:
    """A light plural-stripper: dressings -> dressing, batteries -> battery, glasses -> glass."""
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 4 and token.endswith(("sses", "ches", "shes", "xes", "zes")):
        return token[:-2]
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


NEGATIONS = frozenset(
    {"without", "w/o", "wo", "no", "not", "non", "excluding", "except", "never", "cannot"}
    # contractions split at the apostrophe: "doesn't want side rails"
    | {"doesn", "don", "didn", "isn", "wasn", "aren", "weren", "won", "shouldn"}
)
NEGATION_SCOPE = 4  # content words a negation reaches, within its clause
_CLAUSE = re.compile(r"[,;:()\[\]]|\bbut\b|\bor\b")


# "sq" is subcutaneous, except before a unit of length: "per sq cm", "4 sq. in" are square.
_SQUARE = re.compile(r"\bsq\.?\s*(?=(?:cm|mm|in|inch|inches|ft|feet)\b)", re.IGNORECASE)


def _squares(text: str) -> str:
    return _SQUARE.sub("square ", text)


def tokenize(text: str, drop_stopwords: bool = True) -> list[str]:
    """Normalised tokens: lower-cased, shorthand spelled out, light-stemmed, stopwords dropped.

    Hyphenated and slashed compounds are kept whole *and* split (``x-ray`` -> ``x-ray``, ``x``,
    ``ray``), so both spellings meet. Words under a negation ("without wheels", "no mattress",
    "non-heated", "not the heated kind") become ``no_wheel``, ``no_mattress``, ``no_heated``:
    they match the same negation on the other side, never the plain word.
    """
    return [token for token, _share in _tokens(text, drop_stopwords)]


def _tokens(text: str, drop_stopwords: bool = True) -> list[tuple[str, float]]:
    """Tokens with the share of their written word each stands for: shorthand spelled out
    into n words gives each 1/n ("dme" is one word a coder wrote, not three)."""
    out: list[tuple[str, float]] = []
    for clause in _CLAUSE.split(_squares(text.casefold())):
        negated = 0
        previous = ""
        for raw in _SPLIT.findall(clause):
            if raw in NEGATIONS or (raw == "than" and previous == "other"):
                if previous == "other" and out and out[-1][0] == "other":
                    out.pop()
                previous = raw
                out.append(("without", 1.0))
                negated = NEGATION_SCOPE
                continue
            previous = raw
            expanded = ABBREVIATIONS.get(raw) or ABBREVIATIONS.get(_stem(raw))
            words = expanded.split() if expanded else [raw]
            share = 1.0 / len(words)
            for word in words:
                if word.startswith("non-") and len(word) > 4:
                    out.append(("without", 1.0))
                    negated = NEGATION_SCOPE
                    word = word[4:]
                for p in _parts(word):
                    if drop_stopwords and p in STOPWORDS:
                        continue
                    if negated:
                        out.append(("no_" + _stem(p), share))
                        negated -= 1
                    else:
                        out.append((_stem(p), share))
    return out


def plain_words(text: str) -> list[str]:
    """The words as written, lower-cased and light-stemmed: no shorthand spelled out, no
    stopwords dropped, no negation marks (for matching a phrase's own words)."""
    return [_stem(w) for w in re.findall(r"[a-z0-9]+", text.casefold())]


# Where the item named ends and what it is for or used around begins.
_FOR = re.compile(r"\b(?:for|before|after|during|prior to|following)\b", re.IGNORECASE)


def weighted_tokens(question: str, context: str = "") -> list[tuple[str, float]]:
    """Question tokens with weights: what names the item counts fully; what follows its first
    "for" ("heated humidifier for CPAP", "filters for a CPAP machine") and any conversation
    context count half, so the item outranks what it is used with."""
    parts = _FOR.split(question, maxsplit=1)
    head = parts[0]
    tail = parts[1] if len(parts) > 1 else ""
    if not tokenize(head):  # "for a CPAP, what mask..." : nothing before "for" names the item
        head, tail = question, ""
    out: dict[str, float] = {}
    for weight, text in ((1.0, head), (0.5, tail), (0.5, context)):
        for token, share in _tokens(text):
            out[token] = max(out.get(token, 0.0), weight * share)
    return list(out.items())


def _parts(word: str) -> list[str]:
    """A word, plus the pieces of a hyphenated or slashed compound, shorthand spelled out."""
    parts = [word]
    if ("-" in word or "/" in word) and not _NUMBER.match(word):
        parts += [p for p in re.split(r"[-/]", word) if p]
    out = []
    for part in parts:
        expanded = ABBREVIATIONS.get(part) if part != word else None
        out.extend(expanded.split() if expanded else [part])
    return out


def expand(text: str) -> str:
    """The question with shorthand spelled out, for the embedding model (which reads words)."""
    words = []
    for raw in re.findall(r"w/o|w/c|w/|\S+", _squares(text)):
        key = raw.casefold().strip(",.;:?!()")
        words.append(ABBREVIATIONS.get(key, raw))
    return " ".join(words)
