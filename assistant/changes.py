"""What changed between two releases, computed from their records (not from CMS's change
reports, which older releases lack): codes added, terminated, reinstated, removed from the
file, long or short descriptor revised, coverage code changed.

`hcpcs corpus diff`, the app's "What changed" page and a code's history in `hcpcs lookup` all
read these.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from assistant.records import CodeRecord

# Each kind of change, in the order they are listed, with how it is named to a reader.
CHANGE_KINDS = {
    "added": "added",
    "terminated": "terminated",
    "reinstated": "reinstated",
    "removed": "no longer in the file",
    "long-descriptor": "long descriptor revised",
    "short-descriptor": "short descriptor revised",
    "coverage": "coverage code changed",
}
CSV_FIELDS = (
    "change",
    "kind",
    "code",
    "old_release",
    "new_release",
    "date",
    "before",
    "after",
    "descriptor",
)

Key = tuple[str, str]  # (kind, code)


@dataclass(frozen=True)
class Change:
    """One change to one code or modifier between two releases.

    ``before``/``after`` hold the old and new text of a revised descriptor, or the old and new
    coverage code with its meaning; ``date`` is the add date of an added code, the
    termination date of a terminated (or removed) one, the action date of a reinstated one.
    ``descriptor`` is the code's long descriptor in the newer release that has it.
    """

    change: str
    kind: str  # "code" or "modifier"
    code: str
    old_release: str
    new_release: str
    descriptor: str
    date: date | None = None
    before: str = ""
    after: str = ""

    @property
    def section(self) -> str:
        return self.code[0] if self.kind == "code" else "modifier"

    @property
    def label(self) -> str:
        return CHANGE_KINDS[self.change]

    def as_dict(self) -> dict[str, str]:
        return {
            "change": self.change,
            "kind": self.kind,
            "code": self.code,
            "old_release": self.old_release,
            "new_release": self.new_release,
            "date": self.date.isoformat() if self.date else "",
            "before": self.before,
            "after": self.after,
            "descriptor": self.descriptor,
        }


def _same_text(a: str, b: str) -> bool:
    """Descriptors that differ only in spacing say the same thing."""
    return a.split() == b.split()


def _coverage(record: CodeRecord) -> str:
    if not record.coverage_code:
        return "(none)"
    meaning = f" = {record.coverage_meaning}" if record.coverage_meaning else ""
    return f"{record.coverage_code}{meaning}"


def record_changes(
    old: CodeRecord | None, new: CodeRecord | None, old_release: str, new_release: str
) -> list[Change]:
    """The changes from one release's record of a code to another's (None: not in it)."""
    if old is None and new is None:
        return []
    ref = new if new is not None else old
    assert ref is not None
    base = {
        "kind": ref.kind,
        "code": ref.code,
        "old_release": old_release,
        "new_release": new_release,
        "descriptor": ref.long_description,
    }
    if new is None:
        assert old is not None
        return [Change("removed", date=old.termination_date, **base)]
    out = []
    if old is None:
        out.append(Change("added", date=new.add_date, **base))
    elif old.terminated and not new.terminated:
        out.append(
            Change(
                "reinstated",
                date=new.action_effective_date,
                before=f"terminated {old.termination_date}",
                **base,
            )
        )
    # Newly terminated: a code with a termination date it did not have (or a code added and
    # terminated between the two releases).
    if new.terminated and (old is None or not old.terminated):
        out.append(Change("terminated", date=new.termination_date, **base))
    if old is not None:
        for change, field in (
            ("long-descriptor", "long_description"),
            ("short-descriptor", "short_description"),
        ):
            before, after = getattr(old, field), getattr(new, field)
            if not _same_text(before, after):
                out.append(
                    Change(
                        change, date=new.action_effective_date, before=before, after=after, **base
                    )
                )
        if old.coverage_code != new.coverage_code:
            out.append(
                Change(
                    "coverage",
                    date=new.action_effective_date,
                    before=_coverage(old),
                    after=_coverage(new),
                    **base,
                )
            )
    return out


def diff_records(
    old: Mapping[Key, CodeRecord],
    new: Mapping[Key, CodeRecord],
    old_release: str,
    new_release: str,
    sections: Iterable[str] = (),
) -> list[Change]:
    """Every change from ``old`` to ``new`` (records by (kind, code)), ordered by kind of
    change, then codes before modifiers, then code; only ``sections`` if given."""
    wanted = set(sections)
    out = []
    for key in old.keys() | new.keys():
        kind, code = key
        section = code[0] if kind == "code" else "modifier"
        if wanted and section not in wanted:
            continue
        out.extend(record_changes(old.get(key), new.get(key), old_release, new_release))
    order = {name: n for n, name in enumerate(CHANGE_KINDS)}
    out.sort(key=lambda c: (order[c.change], c.kind, c.code))
    return out


def diff_releases(book, old: str, new: str, sections: Iterable[str] = ()) -> list[Change]:
    """The changes between two releases of a record store (assistant.codebook.Codebook)."""
    from assistant.errors import UsageError

    old = book.check_release(old)
    new = book.check_release(new)
    if old >= new:
        raise UsageError(f"the first release must be the older one: {old} is not before {new}")
    return diff_records(book.records_of(old), book.records_of(new), old, new, sections)


def code_history(book, code: str, kind: str) -> list[Change]:
    """A code's changes from each loaded release to the next, oldest first."""
    records = {r.release: r for r in book.history(code, kind)}
    releases = [r.id for r in book.releases()]
    out = []
    for before, after in zip(releases, releases[1:], strict=False):
        out.extend(record_changes(records.get(before), records.get(after), before, after))
    return out


def counts(changes: Iterable[Change]) -> dict[str, int]:
    """How many changes of each kind (every kind listed, zeros included)."""
    out = dict.fromkeys(CHANGE_KINDS, 0)
    for change in changes:
        out[change.change] += 1
    return out


def changes_csv(changes: Iterable[Change]) -> str:
    """The changes as CSV (one row per change, the fields of ``Change.as_dict``)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for change in changes:
        writer.writerow(change.as_dict())
    return buf.getvalue()


def change_line(change: Change) -> str:
    """One line for a reader: ``E0601 terminated 2026-03-31: "descriptor"``."""
    what = f"{change.kind} {change.code}" if change.kind == "modifier" else change.code
    if change.change in ("long-descriptor", "short-descriptor"):
        return f'{what} {change.label}: was "{change.before}", now "{change.after}"'
    if change.change == "coverage":
        return f"{what} {change.label}: was {change.before}, now {change.after}"
    when = f" {change.date.isoformat()}" if change.date else ""
    return f'{what} {change.label}{when}: "{change.descriptor}"'


def diff_index(settings, old: str, new: str, sections: Iterable[str] = ()) -> list[Change]:
    """`hcpcs corpus diff`: the changes between two releases of the current index.

    ``sections`` are letters (either case) or ``modifier``; anything else is a UsageError.
    """
    from assistant.codebook import Codebook
    from assistant.retrieval import Filters
    from assistant.store import check_current

    wanted = tuple("modifier" if s.lower() == "modifier" else s.upper() for s in sections)
    Filters(sections=wanted)  # the one check of a section, as `hcpcs ask` makes it
    directory, _manifest = check_current(settings)
    book = Codebook(directory / "records.sqlite")
    try:
        return diff_releases(book, old, new, wanted)
    finally:
        book.close()


def diff_json(old: str, new: str, sections: Iterable[str], changes: list[Change]) -> dict:
    """`hcpcs corpus diff --json`: the releases, the counts by kind and every change."""
    return {
        "old": old,
        "new": new,
        "sections": [s if s.lower() == "modifier" else s.upper() for s in sections],
        "counts": counts(changes),
        "changes": [c.as_dict() for c in changes],
    }


def format_diff(old: str, new: str, sections: Iterable[str], changes: list[Change]) -> str:
    """`hcpcs corpus diff`: a line of counts, then the changes of each kind, one a line."""
    wanted = [s if s.lower() == "modifier" else s.upper() for s in sections]
    tally = counts(changes)
    lines = [
        f"CMS HCPCS {old} -> {new}"
        + (f" (sections {', '.join(wanted)})" if wanted else "")
        + ": "
        + ", ".join(f"{n} {CHANGE_KINDS[kind]}" for kind, n in tally.items())
    ]
    for kind, label in CHANGE_KINDS.items():
        of_kind = [c for c in changes if c.change == kind]
        if of_kind:
            lines += ["", f"{label.capitalize()} ({len(of_kind)}):"]
            lines += [f"  {change_line(c)}" for c in of_kind]
    return "\n".join(lines)
