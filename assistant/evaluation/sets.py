"""Question sets (JSONL): reading and checking them, and the generated sets (drugs, validity)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from assistant.errors import UsageError
from assistant.records import CLAIM_MODIFIERS, NOTICE_IDS, UNITS_PROBLEMS

# What a question of a set is about (its "kind", reported per kind).
QUESTION_KINDS = (
    "lookup",
    "description",
    "drug",
    "modifier",
    "policy",
    "brand",
    "validity",
    "out-of-scope",
    "nonsense",
)
REQUIRED = {"id": str, "question": str, "expected_codes": list}
# The sets generated from the codebook (`hcpcs eval make-drug-set`, `make-validity-set`).
GENERATED_SETS = ("drug", "validity")


def read_set(path: Path) -> list[dict[str, Any]]:
    """A JSONL question set, validated; errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path} is not valid UTF-8") from None
    items, seen = [], set()
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise UsageError(f"{where}: not valid JSON ({exc.msg})") from None
        if not isinstance(item, dict):
            raise UsageError(f"{where}: each line must be a JSON object")
        for key, typ in REQUIRED.items():
            if not isinstance(item.get(key), typ):
                raise UsageError(f"{where}: {key!r} is required ({typ.__name__})")
        if not all(isinstance(c, str) for c in item["expected_codes"]):
            raise UsageError(f"{where}: expected_codes must be a list of strings")
        if item.get("kind") is not None and item["kind"] not in QUESTION_KINDS:
            raise UsageError(f"{where}: kind must be one of {', '.join(QUESTION_KINDS)}")
        if item.get("no_codes") is not None and not isinstance(item["no_codes"], bool):
            raise UsageError(f"{where}: 'no_codes' must be true or false")
        if item.get("no_codes") and item["expected_codes"]:
            raise UsageError(f"{where}: an item with 'no_codes' cannot expect codes")
        for key in (
            "expected_all",
            "must_cite",
            "must_include",
            "must_not_include",
            "tags",
            "notices",
        ):
            value = item.get(key)
            if value is not None and not (
                isinstance(value, list) and all(isinstance(v, str) for v in value)
            ):
                raise UsageError(f"{where}: {key!r} must be a list of strings")
        unknown = set(item.get("notices") or ()) - set(NOTICE_IDS)
        if unknown:
            raise UsageError(f"{where}: unknown notice {sorted(unknown)[0]!r}")
        if "expected_units" in item:
            problem = units_schema_error(item["expected_units"])
            if problem:
                raise UsageError(f"{where}: expected_units {problem}")
        if item.get("date") is not None:
            try:
                date.fromisoformat(str(item["date"]))
            except ValueError:
                raise UsageError(f"{where}: date must be YYYY-MM-DD") from None
        if item["id"] in seen:
            raise UsageError(f"{where}: duplicate id {item['id']!r}")
        seen.add(item["id"])
        items.append(item)
    if not items:
        raise UsageError(f"{path}: no questions")
    return items


def units_schema_error(value: Any) -> str:
    """What is wrong with an ``expected_units`` value ("" when nothing is).

    null: the answer gives no billing units. ``{"code", "problem"}``: it refuses with that
    problem (records.UNITS_PROBLEMS). ``{"code", "units"[, "discarded_units"][, "modifier"]}``:
    it gives that many units of the code; the JW units (0 with JZ) and modifier default to
    none.
    """
    if value is None:
        return ""
    if not isinstance(value, dict):
        return "must be null or an object"
    if not isinstance(value.get("code"), str):
        return "needs a 'code' (string)"
    if "problem" in value:
        if value["problem"] not in UNITS_PROBLEMS:
            return f"problem must be one of {', '.join(UNITS_PROBLEMS)}"
        if set(value) - {"code", "problem"}:
            return "with a 'problem' takes only 'code'"
        return ""
    known = {"code", "units", "discarded_units", "modifier"}
    if set(value) - known:
        return f"has unknown keys {sorted(set(value) - known)}"
    units = value.get("units")
    if not isinstance(units, int) or isinstance(units, bool) or units < 0:
        return "needs 'units' (a whole number) or a 'problem'"
    discarded = value.get("discarded_units")
    if discarded is not None and (
        not isinstance(discarded, int) or isinstance(discarded, bool) or discarded < 0
    ):
        return "'discarded_units' must be a whole number or null"
    if value.get("modifier", "") not in CLAIM_MODIFIERS:
        return "'modifier' must be JW, JZ or empty"
    return ""


def drug_questions(drugs, active_codes: set[str]) -> list[dict[str, Any]]:
    """The Table of Drugs as a question set: "drug name, unit" -> the entry's code(s).

    Mechanical: one question per distinct (name, unit) with at least one code still active in
    the newest release (the 2019 table names many codes CMS has since terminated, and the
    right answer today is not a terminated code); entries sharing a name and unit (different
    routes) pool their codes, since the question does not name the route. ``see`` lines
    (brand -> generic) ask by the brand name and expect the generic's codes.
    """
    pooled: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in drugs:
        codes = [c for c in entry.codes if c in active_codes]
        if not codes:
            continue
        key = (entry.name.casefold(), entry.unit.casefold())
        item = pooled.setdefault(
            key, {"name": entry.name, "unit": entry.unit, "codes": [], "see": bool(entry.see)}
        )
        item["codes"] += [c for c in codes if c not in item["codes"]]
    out = []
    for n, item in enumerate(pooled.values(), 1):
        unit = f", {item['unit']}" if item["unit"] else ""
        out.append(
            {
                "id": f"drug-{n:04d}",
                "question": f"HCPCS code for {item['name']}{unit}",
                "expected_codes": item["codes"],
                "kind": "drug",
                "tags": ["table-of-drugs", "brand-see" if item["see"] else "generic"],
            }
        )
    return out


def validity_questions(records, count: int = 20) -> list[dict[str, Any]]:
    """Date-of-service questions from real termination dates: two per terminated code.

    ``records`` are the newest release's records. ``count`` terminated codes are taken at
    even steps through the sorted list (deterministic); each is asked about a date a month
    after its termination (not valid) and, where it had been added by then, a month before
    (valid).
    """
    from datetime import timedelta

    terminated = sorted(
        (r for r in records if r.termination_date is not None and r.kind == "code"),
        key=lambda r: r.code,
    )
    if not terminated:
        return []
    step = max(1, len(terminated) // count)
    out: list[dict[str, Any]] = []
    for record in terminated[::step][:count]:
        after = record.termination_date + timedelta(days=31)
        before = record.termination_date - timedelta(days=31)
        tags = [record.code[0], "validity", "generated"]
        out.append(
            {
                "id": f"validity-{record.code}-after",
                "question": f"Is {record.code} valid for a date of service of {after.isoformat()}?",
                "date": after.isoformat(),
                "expected_codes": [record.code],
                "kind": "validity",
                "tags": tags,
                "notices": ["terminated", "coverage"],
                "must_include": [f"not valid for a date of service of {after.isoformat()}"],
            }
        )
        if record.add_date is None or record.add_date <= before:
            out.append(
                {
                    "id": f"validity-{record.code}-before",
                    "question": f"Can I report {record.code} for a date of service of "
                    f"{before.isoformat()}?",
                    "date": before.isoformat(),
                    "expected_codes": [record.code],
                    "kind": "validity",
                    "tags": tags,
                    "notices": ["coverage"],
                    "must_include": [f"For a date of service of {before.isoformat()}: valid."],
                    "must_not_include": ["not valid for a date of service"],
                }
            )
    return out


def make_set(settings, kind: str, out: Path, count: int = 20) -> int:
    """Generate a question set from the current index's newest release and write it to ``out``
    (JSONL); returns how many questions were written.

    ``drug``: the Table of Drugs (see ``drug_questions``); ``validity``: ``count`` terminated
    codes, two date-of-service questions each (see ``validity_questions``).
    """
    from assistant import store
    from assistant.codebook import Codebook

    if kind not in GENERATED_SETS:
        raise UsageError(f"generated sets are {', '.join(GENERATED_SETS)}, not {kind!r}")
    directory, manifest = store.check_current(settings)
    book = Codebook(directory / "records.sqlite")
    try:
        newest = manifest["newest_release"]
        records = [r for r in book.all_codes() if r.release == newest]
        if kind == "drug":
            active = {r.code for r in records if r.kind == "code" and not r.terminated}
            questions = drug_questions(book.drugs(), active)
        else:
            questions = validity_questions(records, count)
    finally:
        book.close()
    out.write_text(
        "".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8"
    )
    return len(questions)
