"""The second ranking stage: the fused candidates re-scored by what the question states.

The first stage (exact codes, BM25 and dense search, fused) finds the right family; this
stage picks within it, by rules that follow from the CMS texts:

- attributes (assistant.attributes): a candidate whose descriptor satisfies a stated number,
  category or with/without gains, one that contradicts it loses; unstated attributes are
  neutral;
- intent: a modifier ranks first only when the question asks for one (or names it), a
  quality-reporting code only when the question is about reporting a measure (demoted, never
  hidden);
- current first: without a date of service that makes it valid, a terminated code ranks below
  the current code that replaced it, which joins the candidates if it was not among them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

from assistant.attributes import Attributes, Match, compare, root
from assistant.records import CodeRecord, Hit
from assistant.text import plain_words

RERANK_DEPTH = 30  # first-stage candidates the second stage looks at
# Score changes, on the first stage's 0..1 fused scale. One parameter per kind of evidence.
SATISFIED = {"quantity": 0.20, "category": 0.15, "polar": 0.10}
CONTRADICTED = {"quantity": 0.30, "category": 0.25, "polar": 0.25}
VARIANT = 0.05  # per variant value (heavy duty, pediatric...) the question does not state
COVERAGE = 0.15  # times the share of the candidate's words the question accounts for
HEAD_MISS = 0.1  # a candidate whose item is not what the question names (its head noun)
UNASKED_MODIFIER = 0.5  # a modifier for a question that asks for none
UNASKED_REPORTING = 0.6  # a quality-reporting code for a question about an item or service
SUCCESSOR_MARGIN = 0.01  # a replaced code ranks this far below its current successor

_WANTS_MODIFIER = re.compile(
    r"\bmodifiers?\b|\bmod\b|\bon the (?:claim )?line\b|\bline item\b|\bappend(?:ed|ing)?\b|"
    r"\bwhat goes on\b",
    re.IGNORECASE,
)
_WANTS_REPORTING = re.compile(
    r"\bmeasures?\b|\bquality\b|\bmips\b|\bpqrs\b|\bqpp\b|\bmvp\b|\breport(?:ing|ed)?\b|"
    r"\bperformance (?:met|not met|period)\b|\bnumerator\b|\bdenominator\b|\bexclusion\b|"
    r"\bdocument(?:ed|ation)\b|\bqdc\b",
    re.IGNORECASE,
)
# A quality-reporting code states a patient's status or that something was (not) documented
# or done, and is not separately priced: it reports a measure, it is not an item or service.
_REPORTING_WORDING = re.compile(
    r"\b(?:documentation|documented|measurement (?:period|year)|performance period|mips|"
    r"reason\(s\)|patients?|clinician|performed|achieved|documented|eligible|prescribed|"
    r"received|given|ordered|did not|was not|were not|status|score|assessed|screened|"
    r"results?)\b",
    re.IGNORECASE,
)


def wants_modifier(question: str) -> bool:
    return bool(_WANTS_MODIFIER.search(question))


def wants_reporting(question: str) -> bool:
    return bool(_WANTS_REPORTING.search(question))


def is_reporting_code(record: CodeRecord) -> bool:
    """A quality-reporting code: G or M section, not separately priced, reporting wording."""
    return (
        record.kind == "code"
        and record.code[0] in "GM"
        and record.pricing_indicators[:1] == ("00",)
        and bool(_REPORTING_WORDING.search(record.long_description))
    )


# Where the item a text names ends: "Pump for alternating pressure pad", "Tubing used with a
# PAP device", "alternating pressure pad w/ pump", "hose for a CPAP".
_ITEM_END = re.compile(
    r",|;|\(|\s[-–—]\s|\?|:|\bfor\b|\bused with\b|\bw/|\bwith\b|\bthat\b|\bwhich\b|"
    r"\bto\b|\bin\b|\bon\b|\bof\b|\bper\b",
    re.IGNORECASE,
)
# Words that end a question's item phrase without naming the item.
_NOT_A_HEAD = frozenset(
    "pt patient code codes hcpcs bill billing billed please ea each unit units kit only one "
    "new used type kind thing item charge device".split()
)


def item_words(text: str) -> frozenset[str]:
    """The words of the item a descriptor names first ("Pump for alternating pressure pad,
    for replacement only" -> pump); empty when it starts with what it is for."""
    part = _ITEM_END.split(text, maxsplit=1)[0]
    return frozenset(root(w) for w in plain_words(part) if not w.isdigit())


def question_heads(question: str, uses) -> frozenset[str]:
    """The word that names the item a question asks about (the last word of its first
    phrase, "CPAP hose" -> hose), with the last word of the glossary wording for a term in
    that phrase ("sleep apnea machine" -> device, "CPAP hose" -> tubing)."""
    part = _ITEM_END.split(question, maxsplit=1)[0]
    words = [w for w in plain_words(part) if w.isalpha() and w not in _NOT_A_HEAD]
    if not words:
        return frozenset()
    heads = {root(words[-1])}
    for use in uses:
        if use.term.casefold() in part.casefold():
            means = _ITEM_END.split(use.means, maxsplit=1)[0]
            last = [w for w in plain_words(means) if w.isalpha()]
            if last:
                heads.add(root(last[-1]))
    return frozenset(heads)


@dataclass(frozen=True)
class Context:
    """What the second stage knows about the question."""

    attributes: Attributes
    features: frozenset[str]  # words CMS separates codes by with/without
    asks_modifier: bool
    asks_reporting: bool
    mentioned: frozenset[tuple[str, str]]  # (kind, code) named in the question
    date_of_service: date | None
    heads: frozenset[str] = frozenset()  # the question's item word(s), see question_heads
    known: frozenset[str] | dict = frozenset()  # words the index knows (a head it lacks: none)


@dataclass(frozen=True)
class Scored:
    hit: Hit
    match: Match


def attribute_delta(match: Match) -> float:
    """The score change a candidate's attribute match earns."""
    return (
        SATISFIED["quantity"] * match.quantity_satisfied
        + SATISFIED["category"] * match.category_satisfied
        + SATISFIED["polar"] * match.polar_satisfied
        - CONTRADICTED["quantity"] * match.quantity_contradicted
        - CONTRADICTED["category"] * match.category_contradicted
        - CONTRADICTED["polar"] * match.polar_contradicted
        - VARIANT * len(match.variants)
        + COVERAGE * match.coverage
    )


def intent_weight(record: CodeRecord, context: Context) -> float:
    """Demotion of a kind of record the question did not ask for (1.0: none)."""
    if (record.kind, record.code) in context.mentioned:
        return 1.0
    if record.kind == "modifier" and not context.asks_modifier:
        return UNASKED_MODIFIER
    if not context.asks_reporting and is_reporting_code(record):
        return UNASKED_REPORTING
    return 1.0


def head_missed(record: CodeRecord, context: Context) -> bool:
    """The question names its item (a word the index knows) and the candidate's own item is
    something else: an accessory for it, or another item."""
    heads = {h for h in context.heads if h in context.known}
    if not heads or record.kind != "code":
        return False
    item = item_words(record.long_description)
    return bool(item) and not (heads & item)


def rescore(hits: list[Hit], context: Context, attributes_of) -> list[Scored]:
    """Each hit with its second-stage score and its attribute match (``attributes_of``:
    record -> the descriptor's stored Attributes)."""
    out = []
    for hit in hits:
        record = hit.record
        match = compare(context.attributes, attributes_of(record), context.features)
        score = hit.score * intent_weight(record, context) + attribute_delta(match)
        if head_missed(record, context):
            score -= HEAD_MISS
        if (record.kind, record.code) in context.mentioned:
            score = max(score, hit.score)  # a code named in the question always keeps its place
        out.append(Scored(replace(hit, score=score), match))
    return out


def current_first(
    scored: list[Scored],
    successors: dict[str, list[tuple[str, str]]],
    context: Context,
    record_of,
) -> list[Scored]:
    """Replaced codes below their current successors.

    A terminated code the question names, or that the date of service makes valid, keeps
    its place. ``record_of(code)`` is the successor's record (None if not loadable).
    """
    by_code = {(s.hit.record.kind, s.hit.record.code): s for s in scored}
    out = list(scored)
    for item in scored:
        record = item.hit.record
        if record.kind != "code" or not record.terminated:
            continue
        if ("code", record.code) in context.mentioned:
            continue
        if context.date_of_service is not None and record.active_on(context.date_of_service):
            continue
        for code, _basis in successors.get(record.code, []):
            current = by_code.get(("code", code))
            if current is None:
                successor = record_of(code)
                if successor is None or successor.terminated:
                    continue
                current = Scored(Hit(successor, item.hit.score, ("successor",)), Match())
                by_code[("code", code)] = current
                out.append(current)
            if current.hit.score <= item.hit.score:
                lifted = replace(current, hit=replace(current.hit, score=item.hit.score))
                out[out.index(current)] = lifted
                by_code[("code", code)] = lifted
                current = lifted
            lowered = min(item.hit.score, current.hit.score - SUCCESSOR_MARGIN)
            index = next(i for i, s in enumerate(out) if s.hit.record is record)
            out[index] = replace(out[index], hit=replace(out[index].hit, score=lowered))
    return out
