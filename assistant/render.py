"""Renderings of an answer's fields: plain text, JSON, Markdown. No wording of notices here:
a notice's text is rendered as the composer wrote it, and found by its id.

The chat renders the same fields with Streamlit (assistant/webapp/chat.py).
"""

from __future__ import annotations

from typing import Any

from assistant.records import Answer, Citation, ClaimLine, CodeRecord, Units


def code_line(record: CodeRecord) -> str:
    """``code E0601 "<descriptor>" (CMS HCPCS 2026-01; active)``."""
    return (
        f'{record.kind} {record.code} "{record.long_description}" '
        f"({record.source_label}; {record.status_text})"
    )


def code_details(record: CodeRecord, answer: Answer) -> list[str]:
    """The best match's other fields, one per line."""
    out = []
    if record.short_description:
        out.append(f'Short descriptor: "{record.short_description}"')
    if record.coverage_code:
        out.append(
            f"Coverage code {record.coverage_code}: {record.coverage_meaning or 'not defined'}"
            " (from the CMS record layout)"
        )
    if record.add_date:
        out.append(f"Added {record.add_date.isoformat()}")
    if record.processing_note:
        out.append(f'Processing note {record.processing_note_number}: "{record.processing_note}"')
    day = answer.date_of_service
    if day is not None:
        state = "valid" if record.active_on(day) else "not valid"
        out.append(f"For a date of service of {day.isoformat()}: {state}.")
    return out


def claim_line(line: ClaimLine) -> str:
    """``J1745-JW x 5 units``."""
    code = f"{line.code}-{line.modifier}" if line.modifier else line.code
    return f"{code} x {line.units:,} unit{'' if line.units == 1 else 's'}"


def units_lines(units: Units | None) -> list[str]:
    """The billing units of the answer's dose: its arithmetic and the claim lines (nothing
    when no number could be given: the remark says why)."""
    if units is None or units.units is None:
        return []
    return [
        f"Billing units: {units.arithmetic}",
        "Claim lines: " + "; ".join(claim_line(line) for line in units.lines),
    ]


def answer_text(answer: Answer) -> str:
    """The answer as plain text: remarks, best match, billing units, other candidates, then
    the notices."""
    lines = list(answer.remarks)
    if answer.codes:
        best = answer.codes[0]
        lines.append(f"Best match: {code_line(best)}")
        lines.extend(f"  {line}" for line in code_details(best, answer))
        # Under the best match even when the dose is another candidate's: the arithmetic and
        # the claim lines name their code.
        lines.extend(units_lines(answer.units))
        if len(answer.codes) > 1:
            lines.append("Other candidates:")
            lines.extend(f"  - {code_line(r)}" for r in answer.codes[1:])
        if answer.differences:
            lines.append("How they differ (from their descriptors):")
            lines.extend(
                f"  - {d.code}: {'; '.join(d.phrases)} (not in {d.against})"
                for d in answer.differences
            )
    lines.extend(notice.text for notice in answer.notices)
    if answer.clarify:
        lines.append(answer.clarify)
    return "\n".join(lines)


def citation_json(citation: Citation) -> dict[str, Any]:
    return {
        "kind": citation.kind,
        "source": citation.source,
        "locator": citation.locator,
        "text": citation.text,
        "ref": citation.ref,
        "supports": citation.supports,
    }


def code_json(record: CodeRecord) -> dict[str, Any]:
    return {
        "code": record.code,
        "kind": record.kind,
        "descriptor": record.long_description,
        "short_descriptor": record.short_description,
        "release": record.release,
        "source": record.source_label,
        "status": record.status,
        "termination_date": record.termination_date.isoformat()
        if record.termination_date
        else None,
        "add_date": record.add_date.isoformat() if record.add_date else None,
        "coverage_code": record.coverage_code,
        "coverage_meaning": record.coverage_meaning,
        "noc": record.noc,
    }


def units_json(units: Units | None) -> dict[str, Any] | None:
    """``"units"`` of ``hcpcs ask --json``: null when the question states no dose."""
    if units is None:
        return None
    return {
        "code": units.code,
        "dose": units.dose,
        "per_unit": units.per_unit,
        "units": units.units,
        "discarded_units": units.discarded_units,
        "modifier": units.modifier or None,
        "arithmetic": units.arithmetic or None,
        "citation": citation_json(units.citation) if units.citation else None,
        "lines": [
            {"code": line.code, "modifier": line.modifier or None, "units": line.units}
            for line in units.lines
        ],
        "problem": units.problem or None,
    }


def answer_json(answer: Answer, item_id: str | None = None) -> dict[str, Any]:
    """The JSON shape of ``hcpcs ask --json`` (and of each line of ``--batch``)."""
    out: dict[str, Any] = {} if item_id is None else {"id": item_id}
    out.update(
        {
            "question": answer.question,
            "release": answer.release,
            "date_of_service": answer.date_of_service.isoformat()
            if answer.date_of_service
            else None,
            "answer": answer.text,
            "codes": [code_json(r) for r in answer.codes],
            "citations": [citation_json(c) for c in answer.citations],
            "notices": [
                {"id": n.id, "text": n.text, "codes": list(n.codes)} for n in answer.notices
            ],
            "remarks": list(answer.remarks),
            "follow_up": answer.follow_up,
            "differences": [
                {"code": d.code, "phrases": list(d.phrases), "against": d.against}
                for d in answer.differences
            ],
            "clarify": answer.clarify,
            "units": units_json(answer.units),
        }
    )
    return out


def quote(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def format_answer(answer: Answer) -> str:
    """The CLI's text: the answer, then its numbered sources and the notice ids.

    A quotation of several units (paragraphs, layout entries) keeps one unit a line, indented
    under its source."""
    lines = [answer.text]
    if answer.citations:
        lines += ["", "Sources:"]
        for n, c in enumerate(answer.citations, 1):
            text = quote(c.text).replace("\n", "\n      ")
            lines.append(f'  [{n}] {c.source}, {c.locator} ({c.kind}): "{text}"')
    if answer.notices:
        lines += ["", "Notices: " + ", ".join(answer.notice_ids)]
    return "\n".join(lines)


def conversation_markdown(turns: list[tuple[str, Answer | str]]) -> str:
    """A conversation as Markdown: each question, then its answer (or the error it got)."""
    out = ["# hcpcs-assistant conversation", ""]
    for question, answer in turns:
        out += [f"**Question:** {question}", ""]
        if isinstance(answer, str):
            out += [answer, ""]
            continue
        out += [answer.text, ""]
        if answer.citations:
            out.append("Sources:")
            # One unit of a quotation a line, within its list item.
            out += [
                f"- {c.source}, {c.locator}: “{c.text}”".replace("\n", "  \n  ")
                for c in answer.citations
            ]
            out.append("")
    return "\n".join(out)
