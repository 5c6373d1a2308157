"""The extractive answer composer and its notices. Deterministic; no language model.

The wording around the quotes is the project's own; descriptors and guidance are CMS's (and
the MAC's and the CFR's), always inside quotation marks with their source named.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from datetime import date

from assistant import drug_units, logs
from assistant.compare import choose, compare, undecided
from assistant.records import Answer, Citation, CodeRecord, Difference, Notice
from assistant.retrieval import Filters, Result, Retriever

# The project's own wording of every notice and remark: the one place it is written. Shells
# render Notice.text and never match on it.
WORDING = {
    "coverage": (
        "Coverage: the existence of a HCPCS code does not, of itself, determine coverage or "
        "payment. Whether Medicare pays depends on coverage policy, not on the code."
    ),
    "product-agnostic": (
        "Products and brands: HCPCS Level II codes describe categories of like items and are "
        "product-agnostic. Only CMS decides which items a code covers; a manufacturer's or "
        "consultant's claim that CMS assigned a product to a code needs supporting "
        "documentation. Choose the code whose descriptor most accurately reflects the item."
    ),
    "no-evidence": (
        "No code in the loaded CMS releases matches this question well enough to name one. "
        "Rephrase it with the item or service, or give the code if you have it."
    ),
    "terminated": (
        "Terminated: {code} was terminated on {date} (its last valid date of service); it is "
        "not a current code."
    ),
    "not-valid-on": "It is not valid for a date of service of {day}.",
    "not-yet-valid": (
        "Not yet valid: {code} was added on {date}; it is not valid for a date of service of {day}."
    ),
    "noc": (
        "Not otherwise classified (NOC): {codes}. A NOC code is for an item or service that no "
        "more specific code describes; check for a specific code first."
    ),
    "other-code-set": (
        "This asks for a {code_set} code. The assistant answers from the CMS HCPCS Level II "
        "files, which hold no {code_set} codes."
    ),
    "unknown-words": (
        "Not in the loaded CMS files (HCPCS releases, Table of Drugs, ASP crosswalk): {words}. "
        "No code is named for them, and none that merely shares the rest of the question."
    ),
    "policy-only": (
        "This is a question about HCPCS policy rather than about an item, so no code is named; "
        "the guidance cited below is what the answer rests on."
    ),
    "release-behind": (
        "Answered from the {release} release; codes added or changed after {end} are not "
        "known here; `hcpcs corpus add` the current quarter."
    ),
    "follow-up": "(Read as a follow-up to the previous question.)",
    "clarified": "(Read as the answer to the clarifying question: {phrases}.)",
    "clarify": "{options}: which applies?",
    "successor": " Current code that replaced it: {codes}.",
    "too-long": (
        "Your question was {length:,} characters long; it was answered on its first {cap:,}."
    ),
    # Billing units for a dose (assistant.drug_units): the arithmetic, the waste line, and
    # why no number is given. Units only: never a price, never that the units will be paid.
    "units-weight": "{per_kg}/kg x {weight} kg = {dose}",
    "units-convert": "{dose} = {converted}",
    "units-exact": "{dose} / {per} per unit = {units} of {code}",
    "units-rounded": "{dose} / {per} per unit = {ratio}, rounded up to {units} of {code}",
    "units-up-to": "{dose} at one unit per {per} or part of it = {units} of {code}",
    "units-jw": (
        "{source} = {package}; {package_units} - {units} administered = {discarded} "
        "discarded, billed on a second line with JW"
    ),
    "units-jz": (
        "{source} = {package}, all billed as administered: nothing discarded to bill, JZ on "
        "the line"
    ),
    "units-jz-stated": "nothing discarded: JZ on the line",
    "units-multi-dose": (
        "No JW or JZ line: JW and JZ are for drugs from single-dose containers or single-use "
        "packages, and {containers} is a multi-dose container."
    ),
    "units-containers-short": (
        "No JW or JZ line: {containers} hold less than the {dose} administered; check the "
        "containers."
    ),
    "units-containers-count": (
        "No JW or JZ line: say how many containers ({containers}) the dose came from."
    ),
    "units-container-unit": (
        "No JW or JZ line: {containers} cannot be compared with a dose in {measure}."
    ),
    "units-zero-dose": (
        "Billing units: no units for a dose of {dose}; give the dose that was administered."
    ),
    "units-negative-dose": (
        "Billing units: {dose} is not a dose that can be billed; give the dose that was "
        "administered."
    ),
    "units-too-large": (
        "Billing units: {dose} would be more than 100 times the largest package the CMS ASP "
        "crosswalk lists for {code} ({package} billing units); check the dose and its unit. "
        "No units are given."
    ),
    "units-unit-mismatch": (
        "Billing units: {code} is billed per {per_unit} and the dose is given in {unit}; "
        "without the product's strength {unit} cannot be turned into {want}, so no units are "
        "given. Give the dose in {want}."
    ),
    "units-no-billing-unit": (
        "Billing units: the descriptor of {code} does not state an amount per unit that "
        "{dose} can be divided by, so no units are given."
    ),
    "units-per-weight": (
        "Billing units: {dose} is a dose per kilogram of body weight; give the patient's "
        "weight in kg, or the dose in {want}, to get the units."
    ),
    "units-per-area": (
        "Billing units: {dose} is a dose per square metre of body surface area; give the "
        "dose in {want} to get the units."
    ),
    "units-range": "Billing units: {dose} is a range; give the one dose that was administered.",
    "units-two-doses": (
        "Billing units: the question states more than one dose ({dose}), so none is used. "
        "Which one was administered?"
    ),
}
CLARIFY_REPLY_WORDS = 6  # a reply this short to a clarifying question answers it
MAX_QUESTION_CHARS = 2000  # longer questions are answered on their first 2,000 characters

# Guidance statements each notice rests on, found by their words in the loaded corpus.
COVERAGE_PHRASES = (
    "does not, of itself, determine coverage",
    "does not imply any health insurance coverage",
)
PRODUCT_PHRASES = (
    "product-agnostic",
    "sole authority responsible for determining which items",
    "claim CMS and/or MAC authorization",
    "most accurately reflects the item",
    "brand names may appear in HCPCS descriptions",
)

_COVERAGE_Q = re.compile(
    r"\b(cover(ed|s|age)?|pay(s|ment|able)?|reimburs\w*|allowed?|medicare (pays?|covers?))\b", re.I
)
_BRAND_Q = re.compile(
    r"\b(brand(ed|s)?|manufacturer'?s?|vendor'?s?|rep|reps|sales ?rep|representative|"
    r"consultant'?s?|company|companies|supplier'?s?|proprietary|trade ?name|"
    r"our (device|product|item|brand)|their (device|product)|assigned|endorse\w*|"
    r"approved code for|products?)\b|[®™]",
    re.I,
)
_FOLLOW_UP = re.compile(
    r"^(what|how) about\b|\b(it|its|that|this|them|those|the same|one|ones)\b[?.!]*\s*$|"
    r"\bfor (it|that|this|them)\b|\b(instead|also|too)\b|"
    r"\b(which|the|that|this|other) ones?\b",  # "which one without the border?"
    re.I,
)
# C0 and C1 controls, and the invisible bidi overrides that can make a question display other
# than it reads; tabs and newlines are folded with the rest of the whitespace.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True)
class Turn:
    question: str
    codes: tuple[str, ...]
    context: str  # what a follow-up question inherits: the question and the best descriptor
    differences: tuple[Difference, ...] = ()  # what the answer asked the coder to choose from


@dataclass(frozen=True)
class Conversation:
    """Conversation state as a value: the caller keeps it (the app in its session)."""

    turns: tuple[Turn, ...] = ()

    def with_turn(self, turn: Turn) -> Conversation:
        return Conversation(self.turns[-5:] + (turn,))

    @property
    def last(self) -> Turn | None:
        return self.turns[-1] if self.turns else None


@dataclass(frozen=True)
class AskOptions:
    filters: Filters = field(default_factory=Filters)
    top: int = 5


def clean_question(question: str) -> tuple[str, list[str]]:
    """Control characters out, whitespace folded, length capped. Returns (text, remarks)."""
    remarks = []
    # Lone surrogates (undecodable bytes smuggled through the OS or a JSON escape) cannot be
    # encoded or tokenized: each becomes U+FFFD, as a bad byte does when decoding with replace.
    text = _SURROGATE.sub("\ufffd", question)
    text = _CONTROL.sub(" ", text)
    text = " ".join(text.split())
    if len(text) > MAX_QUESTION_CHARS:
        remarks.append(WORDING["too-long"].format(length=len(text), cap=MAX_QUESTION_CHARS))
        text = text[:MAX_QUESTION_CHARS].rstrip()
    return text, remarks


def is_follow_up(question: str, conversation: Conversation) -> bool:
    if conversation.last is None or not conversation.last.codes:
        return False
    return bool(_FOLLOW_UP.search(question))


def ask(
    retriever: Retriever,
    question: str,
    conversation: Conversation = Conversation(),  # noqa: B008 - frozen value
    options: AskOptions = AskOptions(),  # noqa: B008 - frozen value
) -> tuple[Answer, Conversation]:
    """Answer a question; returns the answer and the conversation with this turn added."""
    from assistant.errors import UsageError

    started = time.perf_counter()
    text, remarks = clean_question(question)
    if not text:
        raise UsageError("the question is empty")
    searched, context = text, ""
    chosen = _reply_to_clarify(text, conversation)
    if chosen is not None:
        # The coder answered the clarifying question: ask the previous question again, with
        # the parts that set the chosen code apart stated.
        last = conversation.last
        assert last is not None
        searched = f"{last.question}, {', '.join(chosen.phrases)}"
        remarks.append(WORDING["clarified"].format(phrases=", ".join(chosen.phrases)))
    elif is_follow_up(text, conversation):
        context = conversation.last.context
    result = retriever.search(searched, options.filters, k=max(options.top, 5), context=context)
    answer = compose(retriever, searched, result, options, remarks, follow_up=bool(context))
    logs.answered(
        retriever.settings, text, answer, time.perf_counter() - started, follow_up=bool(context)
    )
    best = answer.codes[0] if answer.codes else None
    turn_context = f"{best.long_description}" if best else ""
    asked = answer.differences if answer.clarify else ()
    return answer, conversation.with_turn(
        Turn(searched, tuple(c.code for c in answer.codes), turn_context, asked)
    )


def _reply_to_clarify(text: str, conversation: Conversation) -> Difference | None:
    """The candidate a short reply picks when the previous answer asked the coder to choose."""
    last = conversation.last
    if last is None or not last.differences or len(text.split()) > CLARIFY_REPLY_WORDS:
        return None
    return choose(text, last.differences)


def compose(
    retriever: Retriever,
    question: str,
    result: Result,
    options: AskOptions,
    remarks: list[str] | None = None,
    follow_up: bool = False,
) -> Answer:
    """The answer as data: codes shown, notices, citations and remarks for a retrieval result.

    Its ``text`` is rendered from those fields (assistant.render); nothing reads it back.
    """
    filters = options.filters
    remarks = list(remarks or [])
    if follow_up:
        remarks.append(WORDING["follow-up"])
    notices: list[Notice] = []
    citations: list[Citation] = []
    coverage_q = bool(_COVERAGE_Q.search(question))
    brand_q = bool(_BRAND_Q.search(question)) or bool(result.brands)

    shown = _shown(result, options)
    remarks.extend(_evidence_remarks(result))
    policy_only = result.evidence.reason == "policy-only"
    if not shown and not (policy_only and (coverage_q or brand_q)):
        notices.append(Notice("no-evidence", WORDING["no-evidence"]))
    else:
        citations.extend(_descriptor_citation(record) for record in shown)
        notices.extend(_validity_notices(shown, filters.date_of_service, retriever.successor_of))
        nocs = tuple(r.code for r in shown if r.noc)
        if nocs:
            notices.append(Notice("noc", WORDING["noc"].format(codes=", ".join(nocs)), nocs))
        citations.extend(_modifier_guidance(retriever, shown))
    drug = drug_units.for_answer(retriever, question, shown, WORDING)
    remarks.extend(drug.remarks)
    citations.extend(drug.citations)

    # A product-assignment question is a coverage question in disguise ("it has a code, so it
    # is covered"): the coverage statement goes with the product-agnostic one.
    if shown or coverage_q or brand_q:
        notices.append(Notice("coverage", WORDING["coverage"], tuple(r.code for r in shown)))
        citations.extend(_guidance(retriever, COVERAGE_PHRASES, "coverage"))
    if brand_q:
        notices.append(Notice("product-agnostic", WORDING["product-agnostic"]))
        citations.extend(_guidance(retriever, PRODUCT_PHRASES, "product-agnostic"))
    if policy_only and not shown:
        # Answered from the guidance: the passage that best matches the question.
        citations.extend(hit.record.cited_for("policy") for hit in result.passages[:1])
    behind = release_behind(result.release, filters.date_of_service)
    notices.extend([behind] if behind is not None else [])

    differences = compare(shown)
    clarify = None
    scores = {h.record.code: h.score for h in result.hits}
    if shown and undecided(differences, result.matches, shown[0], question, scores):
        clarify = WORDING["clarify"].format(
            options="; ".join(f"{d.code} is {', '.join(d.phrases)}" for d in differences)
        )
    answer = Answer(
        question=question,
        release=result.release,
        codes=tuple(shown),
        differences=differences,
        clarify=clarify,
        citations=tuple(dict.fromkeys(citations)),
        notices=tuple(notices),
        remarks=tuple(remarks),
        follow_up=follow_up,
        date_of_service=filters.date_of_service,
        units=drug.units,
    )
    from assistant.render import answer_text

    return replace(answer, text=answer_text(answer))


def release_behind(release: str, day: date | None, today: date | None = None) -> Notice | None:
    """The release-behind notice when the date of service (without one, today) is later than
    the end of the quarter the answer's release opens: codes CMS added or changed since are
    not in it. None when the release still covers that date."""
    from assistant.records import release_month_name, release_quarter_end

    end = release_quarter_end(release)
    if (day or today or date.today()) <= end:
        return None
    text = WORDING["release-behind"].format(
        release=release_month_name(release), end=end.isoformat()
    )
    return Notice("release-behind", text)


def _shown(result: Result, options: AskOptions) -> list[CodeRecord]:
    """The codes the answer names: the ones the question named, else the ranked candidates
    when the loaded files explain the question (assistant.evidence), else none."""
    relevant = result.hits if result.evidence.ok else []
    if result.mentions:
        # The coder named the code(s): answer about those, not about look-alikes.
        named = {(m.kind, m.code) for m in result.mentions}
        relevant = [h for h in result.hits if (h.record.kind, h.record.code) in named]
    return [h.record for h in relevant[: options.top]]


def _evidence_remarks(result: Result) -> list[str]:
    """Why no code is named, when the reason is worth saying."""
    evidence = result.evidence
    if evidence.reason == "other-code-set":
        return [WORDING["other-code-set"].format(code_set=evidence.code_set)]
    if evidence.reason == "policy-only":
        return [WORDING["policy-only"]]
    if not evidence.ok and evidence.unknown:
        return [WORDING["unknown-words"].format(words=", ".join(evidence.unknown))]
    return []


def _descriptor_citation(record: CodeRecord) -> Citation:
    return Citation(
        "descriptor",
        record.source_label,
        record.code,
        record.long_description,
        ref=record.release,
        supports=record.code,
    )


def _validity_notices(records: list[CodeRecord], day: date | None, successor_of) -> list[Notice]:
    """A terminated code (or one not valid on the date of service), naming the current code
    that replaced it when the release tells, and a code not yet added on the date of service,
    each its own notice."""
    out = []
    for r in records:
        if r.termination_date is not None:
            text = WORDING["terminated"].format(code=r.code, date=r.termination_date.isoformat())
            successors = tuple(successor_of(r.code)) if r.kind == "code" else ()
            if successors:
                text += WORDING["successor"].format(codes=", ".join(successors))
            if day is not None and not r.active_on(day):
                text += " " + WORDING["not-valid-on"].format(day=day.isoformat())
            out.append(Notice("terminated", text, (r.code, *successors)))
        elif day is not None and not r.active_on(day):
            added = r.add_date.isoformat() if r.add_date else "a later date"
            text = WORDING["not-yet-valid"].format(code=r.code, date=added, day=day.isoformat())
            out.append(Notice("not-yet-valid", text, (r.code,)))
    return out


def _modifier_guidance(retriever: Retriever, records: list[CodeRecord]) -> list[Citation]:
    """For a modifier the answer names, the guidance passage that states its rule, if any."""
    out = []
    for record in records:
        if record.kind != "modifier":
            continue
        passage = retriever.passage_naming_modifier(record.code)
        if passage is not None:
            out.append(passage.cited_for(record.code))
    return out


def _guidance(retriever: Retriever, phrases: tuple[str, ...], supports: str) -> list[Citation]:
    out = []
    for phrase in phrases:
        passage = retriever.passage_with(phrase)
        if passage is not None:
            out.append(passage.cited_for(supports))
    return out
