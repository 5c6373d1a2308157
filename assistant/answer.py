"""The extractive answer composer and its notices. Deterministic; no language model.

The wording around the quotes is the project's own; descriptors and guidance are CMS's (and
the MAC's and the CFR's), always inside quotation marks with their source named.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import date

from assistant import logs
from assistant.records import Answer, Citation, CodeRecord, Passage
from assistant.retrieval import Filters, Result, Retriever

NOTICES = ("coverage", "product-agnostic", "terminated", "noc", "no-evidence")
MAX_QUESTION_CHARS = 2000  # longer questions are answered on their first 2,000 characters
EVIDENCE_THRESHOLD = 0.30  # below this, with no code named, nothing is relevant enough to name

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
    r"approved code for|product)\b|[®™]",
    re.I,
)
_FOLLOW_UP = re.compile(
    r"^(what|how) about\b|\b(it|its|that|this|them|those|the same|one|ones)\b[?.!]*\s*$|"
    r"\bfor (it|that|this|them)\b|\b(instead|also|too)\b",
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
        remarks.append(
            f"Your question was {len(text):,} characters long; it was answered on its first "
            f"{MAX_QUESTION_CHARS:,}."
        )
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
    context = conversation.last.context if is_follow_up(text, conversation) else ""
    result = retriever.search(text, options.filters, k=max(options.top, 5), context=context)
    answer = compose(retriever, text, result, options, remarks, follow_up=bool(context))
    logs.answered(
        retriever.settings, text, answer, time.perf_counter() - started, follow_up=bool(context)
    )
    best = answer.codes[0] if answer.codes else None
    turn_context = f"{best.long_description}" if best else ""
    return answer, conversation.with_turn(
        Turn(text, tuple(c.code for c in answer.codes), turn_context)
    )


def compose(
    retriever: Retriever,
    question: str,
    result: Result,
    options: AskOptions,
    remarks: list[str] | None = None,
    follow_up: bool = False,
) -> Answer:
    """Build the answer text, cited codes and guidance, and notices from a retrieval result."""
    filters = options.filters
    lines: list[str] = list(remarks or [])
    notices: list[str] = []
    citations: list[Citation] = []
    coverage_q = bool(_COVERAGE_Q.search(question))
    brand_q = bool(_BRAND_Q.search(question)) or bool(result.brands)

    relevant = result.hits if result.evidence >= EVIDENCE_THRESHOLD else []
    if result.mentions:
        # The coder named the code(s): answer about those, not about look-alikes.
        named = {(m.kind, m.code) for m in result.mentions}
        relevant = [h for h in result.hits if (h.record.kind, h.record.code) in named]
    shown = [h.record for h in relevant[: options.top]]

    if not shown:
        notices.append("no-evidence")
        lines.append(
            "No code in the loaded CMS releases matches this question well enough to name one. "
            "Rephrase it with the item or service, or give the code if you have it."
        )
    else:
        best = shown[0]
        if follow_up:
            lines.append("(Read as a follow-up to the previous question.)")
        lines.append(f"Best match: {_code_line(best)}")
        lines.extend(_details(best, filters.date_of_service))
        for record in shown:
            citations.append(
                Citation(
                    f"CMS HCPCS {record.release}",
                    record.code,
                    record.long_description,
                    ref=f"CMS HCPCS {record.release}",
                )
            )
        if len(shown) > 1:
            lines.append("Other candidates:")
            lines.extend(f"  - {_code_line(r)}" for r in shown[1:])
        if any(r.termination_date for r in shown) or _invalid_on_date(shown, filters):
            notices.append("terminated")
            lines.extend(_termination_lines(shown, filters.date_of_service))
        if any(r.noc for r in shown):
            notices.append("noc")
            nocs = ", ".join(r.code for r in shown if r.noc)
            lines.append(
                f"Not otherwise classified (NOC): {nocs}. A NOC code is for an item or service "
                "that no more specific code describes; check for a specific code first."
            )

    # A product-assignment question is a coverage question in disguise ("it has a code, so it
    # is covered"): the coverage statement goes with the product-agnostic one.
    if shown or coverage_q or brand_q:
        notices.append("coverage")
        lines.append(
            "Coverage: the existence of a HCPCS code does not, of itself, determine coverage or "
            "payment. Whether Medicare pays depends on coverage policy, not on the code."
        )
        citations.extend(_guidance(retriever, COVERAGE_PHRASES))
    if brand_q:
        notices.append("product-agnostic")
        lines.append(
            "Products and brands: HCPCS Level II codes describe categories of like items and are "
            "product-agnostic. Only CMS decides which items a code covers; a manufacturer's or "
            "consultant's claim that CMS assigned a product to a code needs supporting "
            "documentation. Choose the code whose descriptor most accurately reflects the item."
        )
        citations.extend(_guidance(retriever, PRODUCT_PHRASES))
    if shown and result.passages and (coverage_q or brand_q):
        for hit in result.passages[:1]:
            citations.append(_passage_citation(hit.record))

    text = "\n".join(lines)
    return Answer(
        text=text,
        codes=tuple(shown),
        citations=tuple(dict.fromkeys(citations)),
        notices=tuple(dict.fromkeys(notices)),
    )


def _code_line(record: CodeRecord) -> str:
    label = "modifier" if record.kind == "modifier" else "code"
    status = "active"
    if record.termination_date is not None:
        status = f"terminated {record.termination_date.isoformat()}"
    return (
        f'{label} {record.code} "{record.long_description}" (CMS HCPCS {record.release}; {status})'
    )


def _details(record: CodeRecord, day: date | None) -> list[str]:
    out = []
    if record.short_description:
        out.append(f'  Short descriptor: "{record.short_description}"')
    if record.coverage_code:
        out.append(
            f"  Coverage code {record.coverage_code}: {record.coverage_meaning or 'not defined'}"
            " (from the CMS record layout)"
        )
    if record.add_date:
        out.append(f"  Added {record.add_date.isoformat()}")
    if record.processing_note:
        out.append(f'  Processing note {record.processing_note_number}: "{record.processing_note}"')
    if day is not None:
        state = "valid" if record.active_on(day) else "not valid"
        out.append(f"  For a date of service of {day.isoformat()}: {state}.")
    return out


def _invalid_on_date(records: list[CodeRecord], filters: Filters) -> bool:
    day = filters.date_of_service
    return day is not None and any(not r.active_on(day) for r in records)


def _termination_lines(records: list[CodeRecord], day: date | None) -> list[str]:
    out = []
    for r in records:
        if r.termination_date is None and (day is None or r.active_on(day)):
            continue
        if r.termination_date is not None:
            line = (
                f"Terminated: {r.code} was terminated on {r.termination_date.isoformat()} "
                "(its last valid date of service); it is not a current code."
            )
        else:
            line = f"Not yet valid: {r.code} was added on {r.add_date}."
        if day is not None and not r.active_on(day):
            line += f" It is not valid for a date of service of {day.isoformat()}."
        out.append(line)
    return out


def _guidance(retriever: Retriever, phrases: tuple[str, ...]) -> list[Citation]:
    out = []
    for phrase in phrases:
        passage = retriever.passage_with(phrase)
        if passage is not None:
            out.append(_passage_citation(passage))
    return out


def _passage_citation(passage: Passage) -> Citation:
    return Citation(
        passage.title, passage.section or "(whole document)", passage.text, ref=passage.source
    )
