"""`hcpcs lookup`: a code's full record in every loaded release, from the record store only."""

from __future__ import annotations

from typing import Any

from assistant.changes import change_line, code_history
from assistant.codebook import Codebook
from assistant.config import Settings
from assistant.records import release_label
from assistant.serialize import to_jsonable
from assistant.store import check_current


def lookup_code(settings: Settings, code: str, release: str | None = None) -> dict[str, Any]:
    """The records of ``code`` across releases, with its status in the newest and its history:
    what changed from each loaded release to the next (assistant.changes)."""
    directory, manifest = check_current(settings)
    book = Codebook(directory / "records.sqlite")
    try:
        history = book.lookup(code)
        shown = book.lookup(code, release) if release else history
        changes = code_history(book, history[-1].code, history[-1].kind)
    finally:
        book.close()
    newest = manifest["newest_release"]
    latest = history[-1]
    return {
        "code": latest.code,
        "kind": latest.kind,
        "newest_release": newest,
        "status": latest.status_in(newest),
        "records": [to_jsonable(r) | {"status": r.status_text} for r in shown],
        "changes": [c.as_dict() | {"line": change_line(c)} for c in changes],
    }


def _same_record_groups(records: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive releases whose records agree in every field are shown once."""
    groups: list[list[dict[str, Any]]] = []
    for rec in records:
        body = {k: v for k, v in rec.items() if k != "release"}
        if groups and {k: v for k, v in groups[-1][-1].items() if k != "release"} == body:
            groups[-1].append(rec)
        else:
            groups.append([rec])
    return groups


def format_lookup(result: dict[str, Any]) -> str:
    lines = [
        f"{result['kind'].capitalize()} {result['code']}: {result['status']} "
        f"(newest release {result['newest_release']})"
    ]
    for group in _same_record_groups(result["records"]):
        rec = group[-1]
        releases = ", ".join(r["release"] for r in group)
        lines.append("")
        lines.append(f"{release_label(releases)}  [{rec['status']}]")
        lines.append(f'  Long descriptor:  "{rec["long_description"]}"')
        lines.append(f'  Short descriptor: "{rec["short_description"]}"')
        if rec["coverage_code"]:
            lines.append(f"  Coverage code:    {rec['coverage_code']} = {rec['coverage_meaning']}")
        for code, meaning in zip(rec["pricing_indicators"], rec["pricing_meanings"], strict=False):
            lines.append(f"  Pricing:          {code} = {meaning}")
        if rec["noc"]:
            lines.append("  NOC:              not otherwise classified code")
        if rec["processing_note_number"]:
            note = rec["processing_note"] or "(text not in this release's notes)"
            lines.append(f"  Processing note:  {rec['processing_note_number']}: {note}")
        dates = [
            f"added {rec['add_date']}" if rec["add_date"] else "",
            f"action {rec['action_code']} ({rec['action_meaning']}) "
            f"effective {rec['action_effective_date']}"
            if rec["action_code"]
            else "",
            f"terminated {rec['termination_date']}" if rec["termination_date"] else "",
        ]
        lines.append("  Dates:            " + "; ".join(d for d in dates if d))
        extra = [
            ("BETOS", rec["betos"]),
            ("TOS", " ".join(rec["types_of_service"])),
            ("CIM", " ".join(rec["cim_references"])),
            ("MCM", " ".join(rec["mcm_references"])),
            ("Statute", rec["statute"]),
            ("Cross-ref", " ".join(rec["cross_references"])),
            ("ASC", rec["asc_group"]),
            ("OPPS group", rec["opps_payment_group"]),
            ("Lab cert", " ".join(rec["lab_certifications"])),
        ]
        shown = [f"{k} {v}" for k, v in extra if v]
        if shown:
            lines.append("  Other:            " + "; ".join(shown))
    if result["changes"]:
        lines.append("")
        lines.append("History (from each loaded release to the next):")
        for change in result["changes"]:
            lines.append(f"  {change['old_release']} -> {change['new_release']}  {change['line']}")
    lines.append("")
    lines.append("The existence of a code does not, of itself, determine coverage or payment.")
    return "\n".join(lines)
