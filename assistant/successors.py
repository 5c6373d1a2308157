"""Which current code took over from a terminated one, as far as the release lets one tell.

CMS replaces codes in two ways the records show: the terminated record names its replacement
in its cross-reference field, or the replacement is added the day after the termination with
the same item or drug in its descriptor (a temporary C code replaced by a J code; "40 mg"
doses restructured to "1 mg"). Both are read from the newest release at index build.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from assistant.records import CodeRecord
from assistant.text import tokenize

# Amounts and packaging that change when a code is restructured, not the item itself.
_AMOUNT = re.compile(
    r"\b\d[\d,.]*\s*(?:mg|mcg|g|gm|ml|cc|units?|micrograms?|milligrams?|grams?|millicuries?)?\b"
    r"|\b(?:per|up to|vial|each|dose)\b",
    re.IGNORECASE,
)
SAME_ITEM = 0.6  # share of descriptor words (amounts aside) a replacement must have in common


@dataclass(frozen=True)
class Successor:
    code: str  # the terminated code
    successor: str  # the active code that replaced it
    basis: str  # "cross-reference" or "added the day after, same item"


def item_words(descriptor: str) -> frozenset[str]:
    """The words that name the item or drug, amounts and packaging left out."""
    return frozenset(tokenize(_AMOUNT.sub(" ", descriptor)))


def find_successors(records: Iterable[CodeRecord]) -> list[Successor]:
    """Successors of the terminated codes among ``records`` (one release's codes)."""
    records = [r for r in records if r.kind == "code"]
    active = {r.code: r for r in records if r.termination_date is None}
    added_on: dict = defaultdict(list)
    for r in active.values():
        if r.add_date is not None:
            added_on[r.add_date].append(r)
    words_of: dict[str, frozenset[str]] = {}  # a day's additions are compared many times

    def words(text: str) -> frozenset[str]:
        if text not in words_of:
            words_of[text] = item_words(text)
        return words_of[text]

    out = []
    for old in sorted((r for r in records if r.termination_date is not None), key=_code):
        named = [c for c in old.cross_references if c in active and c != old.code]
        if named:
            out.extend(Successor(old.code, c, "cross-reference") for c in named)
            continue
        ours = words(old.long_description)
        best, best_share = None, 0.0
        for new in added_on.get(old.termination_date + timedelta(days=1), []):
            theirs = words(new.long_description)
            union = ours | theirs
            share = len(ours & theirs) / len(union) if union else 0.0
            if share > best_share or (share == best_share and best and new.code < best.code):
                best, best_share = new, share
        if best is not None and best_share >= SAME_ITEM:
            out.append(Successor(old.code, best.code, "added the day after, same item"))
    return out


def _code(record: CodeRecord) -> str:
    return record.code
