"""Coder vocabulary -> descriptor wording (corpus/glossary.toml), applied to questions.

Coders write "Hoyer lift", "knee scooter", "signed ABN", "PWC"; CMS writes "patient lift,
hydraulic or mechanical", "crutch substitute, lower leg platform", "waiver of liability
statement", "power wheelchair". The glossary says which wording a term stands for and why
(an abbreviation, an everyday name, a trade term naming a category, a billing term stated by a
CMS modifier descriptor). It is read at index build, stored in the record store with its
sha256, and each question gets the wording of the terms it contains added to it: the
question keeps its own words, so a term the glossary reads wrongly costs little.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from assistant.attributes import root
from assistant.errors import CorpusError
from assistant.text import plain_words

BASES = ("abbreviation", "lay-name", "trade-term", "billing-term")
LOOSE_GAP = 3  # other words a term's words may have between them in a question
NEGATIONS = frozenset({"no", "not", "without", "never", "nothing", "didn", "don", "isn", "wasn"})


@dataclass(frozen=True)
class Entry:
    terms: tuple[str, ...]
    means: str
    basis: str
    source: str
    case: bool = False  # match the terms in capitals only ("AK", "NS": also ordinary words)


@dataclass(frozen=True)
class Use:
    """A glossary term found in a question, and the wording it stands for."""

    term: str
    means: str
    basis: str
    source: str


def load(path: Path) -> tuple[list[Entry], str]:
    """The entries of a glossary file and its sha256; CorpusError for a malformed file."""
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise CorpusError(f"glossary {path} cannot be read: {exc.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CorpusError(f"glossary {path} is not valid TOML: {exc}") from None
    entries = []
    for n, item in enumerate(data.get("entry", []), 1):
        where = f"glossary {path.name}, entry {n}"
        terms = item.get("terms")
        if not (isinstance(terms, list) and terms and all(isinstance(t, str) for t in terms)):
            raise CorpusError(f"{where}: 'terms' must be a non-empty list of strings")
        for key in ("means", "basis", "source"):
            if not isinstance(item.get(key), str) or not item[key].strip():
                raise CorpusError(f"{where}: {key!r} is required")
        if item["basis"] not in BASES:
            raise CorpusError(f"{where}: basis must be one of {', '.join(BASES)}")
        entries.append(
            Entry(
                tuple(t.strip() for t in terms),
                item["means"].strip(),
                item["basis"],
                item["source"].strip(),
                bool(item.get("case", False)),
            )
        )
    if not entries:
        raise CorpusError(f"glossary {path} has no entries")
    return entries, hashlib.sha256(raw).hexdigest()


class Glossary:
    """Finds glossary terms in a question: whole words, the longest term first, no overlaps."""

    def __init__(self, entries: list[Entry]):
        self.entries = entries
        by_length = sorted(
            ((term, entry) for entry in entries for term in entry.terms),
            key=lambda pair: (-len(pair[0]), pair[0]),
        )
        self._folded = {term.casefold(): entry for term, entry in by_length if not entry.case}
        self._exact = {term.upper(): entry for term, entry in by_length if entry.case}
        folded = "|".join(re.escape(t) for t in sorted(self._folded, key=len, reverse=True))
        exact = "|".join(re.escape(t) for t in sorted(self._exact, key=len, reverse=True))
        # Word edges that also hold next to punctuation inside terms ("3-in-1", "i&o cath").
        self._folded_re = re.compile(rf"(?<![\w-])(?:{folded})(?![\w-])", re.IGNORECASE)
        self._exact_re = re.compile(rf"(?<![\w-])(?:{exact})(?![\w-])") if exact else None
        self._multiword = []
        for term, entry in by_length:
            term_words = tuple(dict.fromkeys(root(w) for w in plain_words(term)))
            if not entry.case and len(term_words) > 1:
                self._multiword.append((term_words, term, entry))

    def uses(self, question: str) -> list[Use]:
        """The glossary terms in ``question``: written as the glossary writes them, or, for a
        term of several words, its words close together in any form ("nothing was wasted"
        for "nothing wasted", "never covers by statute" for "never covered")."""
        exact = self._phrases(question)
        loose = [u for u in self._loose(question) if u.means not in {e.means for e in exact}]
        # A term inside a longer one found loosely gives way ("wasted" in "nothing wasted").
        inside = [
            e
            for e in exact
            if any(set(plain_words(e.term)) < set(plain_words(u.term)) for u in loose)
        ]
        return [e for e in exact if e not in inside] + loose

    def _loose(self, question: str) -> list[Use]:
        words = [root(w) for w in plain_words(question)]
        out: dict[str, Use] = {}
        for term_words, term, entry in self._multiword:
            if entry.means in out or not set(term_words) <= set(words):
                continue
            places = [i for i, w in enumerate(words) if w in term_words]
            start, end = min(places), max(places)
            # every word of the term within a span a few words longer than the term, and no
            # negation the term lacks just before or inside it ("no ABN signed" is not signed)
            negated = set(words[max(0, start - 1) : end + 1]) & NEGATIONS - set(term_words)
            if end - start < len(term_words) + LOOSE_GAP and not negated:
                out[entry.means] = Use(term, entry.means, entry.basis, entry.source)
        return list(out.values())

    def _phrases(self, question: str) -> list[Use]:
        spans: list[tuple[int, int, str, Entry]] = []
        for m in self._folded_re.finditer(question):
            spans.append((m.start(), m.end(), m.group(0), self._folded[m.group(0).casefold()]))
        if self._exact_re is not None:
            for m in self._exact_re.finditer(question):
                spans.append((m.start(), m.end(), m.group(0), self._exact[m.group(0)]))
        taken: list[tuple[int, int]] = []
        out: list[Use] = []
        for start, end, term, entry in sorted(spans, key=lambda s: (-(s[1] - s[0]), s[0])):
            if any(start < e and end > s for s, e in taken):
                continue
            taken.append((start, end))
            out.append(Use(term, entry.means, entry.basis, entry.source))
        return list(dict.fromkeys(out))

    def expand(self, question: str) -> tuple[str, list[Use]]:
        """The question with the wording of its glossary terms added, and the terms found."""
        uses = self.uses(question)
        if not uses:
            return question, []
        added = "; ".join(dict.fromkeys(u.means for u in uses))
        return f"{question} ({added})", uses
