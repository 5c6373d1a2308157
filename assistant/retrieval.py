"""Hybrid retrieval: exact code detection, BM25 and dense search, fused by rank.

Plain functions and one ``Retriever`` class that holds what a process loads once (record
store, BM25, Chroma collection, embedding model). ``HcpcsRetriever`` wraps it as a LangChain
retriever. Everything loads lazily: constructing a Retriever reads the record store only.
"""

from __future__ import annotations

import difflib
import gc
import re
import threading
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from assistant import rerank
from assistant.attributes import Attributes, Match, root
from assistant.attributes import parse as parse_attributes
from assistant.codebook import Codebook, ReleaseInfo
from assistant.config import Settings
from assistant.drug_units import drug_family, family_key, is_drug, parse_supply
from assistant.english import common_words
from assistant.errors import UsageError
from assistant.evidence import TYPO_RATIO, Evidence
from assistant.evidence import judge as judge_evidence
from assistant.glossary import Glossary
from assistant.records import CODE_RE, CodeRecord, Hit, Passage
from assistant.text import ABBREVIATIONS, expand, tokenize

MODES = ("hybrid", "bm25", "dense")
LEXICAL_WEIGHT = 0.6  # share of BM25 in the fused score (the rest is the dense similarity)
CANDIDATES = 60  # documents taken from each list before fusion
# Boosts and weights of the first stage, on the fused 0..1 scale.
MENTION_BOOST = 2.0  # a code or modifier named in the question
BRAND_BOOST = 1.0  # the code a brand name in the question points at (crosswalk, Table of Drugs)
TERMINATED_WEIGHT = 0.6  # a code not valid today (or on the date of service)
CODE_WHEN_MODIFIER_ASKED = 0.5  # a code, when the question asks for a modifier
EVIDENCE_DOCUMENTS = 5  # best documents of each list whose words explain a question

_CODE_IN_TEXT = re.compile(rf"(?<![A-Za-z0-9])({CODE_RE})(?![A-Za-z0-9])", re.IGNORECASE)
_MODIFIER_PATTERNS = [
    re.compile(r"\bmodifiers?\s*[-:#]?\s*([A-Za-z0-9]{2})\b", re.IGNORECASE),
    re.compile(r"(?<![A-Za-z0-9])-?([A-Za-z0-9]{2})[\s-]+modifiers?\b", re.IGNORECASE),
    re.compile(r"(?:^|[\s(,])-([A-Za-z0-9]{2})(?![A-Za-z0-9])"),
]
_MODIFIER_WORD = re.compile(r"\bmodifiers?\b", re.IGNORECASE)
# Words long enough to tell a typo of a known word from another word ("comode", "hydrocoloid").
_SPELLABLE = re.compile(r"\b[A-Za-z]{5,}\b")
# Not part of a compound name: the "MS" of "MS-DRG" is no modifier.
_BARE_CAPS = re.compile(r"(?<![A-Za-z0-9-])([A-Z][A-Z0-9]|[0-9][A-Z])(?![A-Za-z0-9]|-[A-Za-z])")
# The words of a question that only asks what a code is ("what does GA mean?").
_LOOKUP_WORDS = frozenset(
    "what whats what's does do is it mean means meaning stand stands for the a an code hcpcs "
    "definition define descriptor description explain s".split()
)
# Two-character words that are also ordinary English: only taken as a modifier when spelled
# in capitals next to a hyphen or the word "modifier".
_COMMON_WORDS = frozenset(
    "an as at be by do go if in is it me my no of on or so to up us we".split()
)


@dataclass(frozen=True)
class Filters:
    """What a caller can restrict retrieval to."""

    release: str | None = None
    date_of_service: date | None = None
    status: str | None = None  # "active" or "terminated"
    sections: tuple[str, ...] = ()  # letters ("E") and/or "modifier"
    kinds: tuple[str, ...] = ()  # code, modifier (which records may be returned)

    def __post_init__(self) -> None:
        if self.status not in (None, "active", "terminated"):
            raise UsageError(f"status must be active or terminated, not {self.status!r}")
        for section in self.sections:
            if section != "modifier" and not re.fullmatch(r"[A-Z]", section):
                raise UsageError(f"section must be a letter A-Z or 'modifier', not {section!r}")
        for kind in self.kinds:
            if kind not in ("code", "modifier"):
                raise UsageError(f"kind must be code or modifier, not {kind!r}")


@dataclass(frozen=True)
class Mention:
    """A code or modifier named in the question itself."""

    code: str
    kind: str


@dataclass
class Result:
    """Ranked code hits and guidance passages for one question."""

    hits: list[Hit]
    passages: list[Hit]
    release: str
    mentions: list[Mention]
    evidence: Evidence  # whether the loaded files explain the question (assistant.evidence)
    brands: list[str] = field(default_factory=list)  # drug brand names the question names
    glossary: list = field(default_factory=list)  # glossary.Use: coder terms read in the question
    # (kind, code) -> what the candidate made of the question's stated attributes
    matches: dict = field(default_factory=dict)


def rank_key(hit: Hit) -> tuple[float, str, str]:
    """Best score first; equal scores in a fixed order (codes before modifiers, then by code),
    so the same index always ranks the same way."""
    return (-hit.score, hit.record.kind, hit.record.code)


def fuse(
    lexical: dict[tuple[str, str], float], dense: dict[tuple[str, str], float]
) -> dict[tuple[str, str], float]:
    """Fuse per-code scores of the two lists into one 0..1 score.

    Each list is scaled so that its best candidate is 1 (BM25 by its top score; similarities
    over the candidates' range), then the two are averaged with weights. Scores, not ranks: a
    name that only one document contains (a brand, a drug) keeps its large BM25 margin instead
    of being flattened to "rank 1".
    """
    parts = []
    for weight, scores, floor in (
        (LEXICAL_WEIGHT, lexical, 0.0),
        (1.0 - LEXICAL_WEIGHT, dense, None),
    ):
        if not scores:
            continue
        top = max(scores.values())
        # BM25 scores start at 0: scale by the best. Similarities crowd together: stretch the
        # candidates' own range. A lone candidate is the best of its list.
        low = min(scores.values()) if floor is None else floor
        span = top - low
        scaled = {key: (value - low) / span if span > 0 else 1.0 for key, value in scores.items()}
        parts.append((weight, scaled))
    if len(parts) == 1:  # one retriever alone: its own scale
        return dict(parts[0][1])
    out: dict[tuple[str, str], float] = {}
    for weight, scaled in parts:
        for key, value in scaled.items():
            out[key] = out.get(key, 0.0) + weight * value
    return out


def _slip_of(word: str, known: str) -> bool:
    """``word`` is ``known`` with one or two letters dropped, or two letters swapped."""
    if len(word) == len(known):
        return (
            sorted(word) == sorted(known)
            and sum(a != b for a, b in zip(word, known, strict=True)) == 2
        )
    if not 0 < len(known) - len(word) <= 2:
        return False
    letters = iter(known)
    return all(c in letters for c in word)  # word is a subsequence of known


class Retriever:
    """Hybrid search over one built index. Thread-safe once loaded."""

    def __init__(self, settings: Settings, embedder=None, check: bool = True):
        from assistant import store

        if check:
            directory, manifest = store.check_current(settings, deep=True)
        else:
            directory = store.build_dir(settings)
            manifest = store.read_manifest(directory)
        self.settings = settings
        self.directory: Path = directory
        self.manifest: dict[str, Any] = manifest
        self.book = Codebook(directory / "records.sqlite")
        self.releases: list[ReleaseInfo] = self.book.releases()
        self.newest = self.releases[-1].id
        self._embedder = embedder
        self._lock = threading.Lock()
        self._loaded = False

    # ------------------------------------------------------------------ loading

    def load(self) -> Retriever:
        """Load the lexical index, documents, records and the dense side (idempotent)."""
        with self._lock:
            if self._loaded:
                return self
            from assistant import store

            if self._embedder is None:
                from assistant.embeddings import make_embedder

                self._embedder = make_embedder(self.manifest["model"]["name"])
            # The model loads (seconds: torch) while the lexical side and Chroma load here.
            loading = threading.Thread(
                target=self._embedder.load_query_encoder, name="load-query-encoder", daemon=True
            )
            loading.start()
            docs = self.book.documents()
            self.doc_ids = [d[0] for d in docs]
            self.doc_kind = [d[1] for d in docs]
            self.doc_ref = [d[2] for d in docs]
            self.doc_pos = {doc_id: n for n, doc_id in enumerate(self.doc_ids)}
            self.lexical = store.load_lexical(self.directory)
            # Lexical index and record store are built from the same documents, in any order.
            self.lex_to_doc = [self.doc_pos[i] for i in self.lexical.ids]
            self.doc_to_lex = {pos: n for n, pos in enumerate(self.lex_to_doc)}
            self.passage_lex = {
                n for n, pos in enumerate(self.lex_to_doc) if self.doc_kind[pos] == "passage"
            }
            # Which codes exist is read now; their records on first use (most never are).
            self.code_keys: frozenset[tuple[str, str]] = self.book.code_keys()
            self._records: dict[tuple[str, str, str], CodeRecord | None] = {}
            self.drugs = {d.id: d for d in self.book.drugs()}
            self.crosswalk = {c.id: c for c in self.book.crosswalk()}
            self.passage_by_id = {p.id: p for p in self.book.passages()}
            self.known_modifiers = {code for kind, code in self.code_keys if kind == "modifier"}
            self.successors = self.book.successors()
            self.features = self.book.negated_features()
            self.glossary = Glossary(self.book.glossary())
            self.common_words = common_words()
            self.known_roots = frozenset(root(t) for t in self.lexical.idf if t.isalpha())
            self.vocabulary: dict[str, list[str]] = {}
            for term in sorted(self.lexical.idf):
                if not term.startswith("no_") and term[:1].isalpha():
                    self.vocabulary.setdefault(term[0], []).append(term)
            self._attributes: dict[str, Attributes] = {}
            self._spelling: dict[tuple[str, int], list[str]] = {}  # (first letter, length)
            for words in self.vocabulary.values():
                for term in words:
                    self._spelling.setdefault((term[0], len(term)), []).append(term)
            self.collection = store.open_collection(self.settings, self.directory, self.manifest)
            self.vectors = self._load_vectors()
            loading.join()
            # The indexes are a few million long-lived objects: keep the garbage collector
            # from walking them on every full collection (pauses of half a second otherwise).
            gc.collect()
            gc.freeze()
            self._loaded = True
        return self

    # ------------------------------------------------------------------ public

    def release_for(self, filters: Filters) -> str:
        """The release a question is answered from: the one asked for, else the newest.

        A date of service does not pick an older release: the newest one carries every code's
        add and termination dates, which is what validity on a date is judged by (the release
        in force on a 2024 date may not be loaded, and an older one does not know later
        terminations).
        """
        if filters.release is not None:
            known = [r.id for r in self.releases]
            if filters.release not in known:
                raise UsageError(
                    f"unknown release {filters.release!r} (loaded: {', '.join(known)})"
                )
            return filters.release
        return self.newest

    def mentions(self, question: str) -> list[Mention]:
        """Codes and modifiers named in the question that exist in some loaded release."""
        self.load()
        found: list[Mention] = []
        for m in _CODE_IN_TEXT.finditer(question):
            code = m.group(1).upper()
            if ("code", code) in self.code_keys:
                found.append(Mention(code, "code"))
        for pattern in _MODIFIER_PATTERNS:
            for m in pattern.finditer(question):
                raw = m.group(1)
                code = raw.upper()
                if code not in self.known_modifiers:
                    continue
                if raw.lower() in _COMMON_WORDS and not raw.isupper():
                    continue
                found.append(Mention(code, "modifier"))
        # A bare modifier in capitals: in a question that speaks of modifiers, or one that is
        # only about it ("what does GA mean?", "GA?"): many modifiers are also everyday
        # capitals (AI, AM, CA, ER, MD, US) a question may use for something else. Never a
        # capitalised shorthand such as IV or PT.
        speaks = bool(re.search(r"\bmodifiers?\b", question, re.I))
        for m in _BARE_CAPS.finditer(question):
            code = m.group(1)
            if code not in self.known_modifiers or code.lower() in ABBREVIATIONS:
                continue
            rest = (question[: m.start()] + " " + question[m.end() :]).casefold()
            if speaks or set(re.findall(r"[a-z0-9]+", rest)) <= _LOOKUP_WORDS:
                found.append(Mention(code, "modifier"))
        return list(dict.fromkeys(found))

    def search(
        self,
        question: str,
        filters: Filters = Filters(),  # noqa: B008 - frozen, never mutated
        k: int = 10,
        mode: str = "hybrid",
        context: str = "",
    ) -> Result:
        """Rank codes (and modifiers) for a question; ``context`` is earlier conversation text.

        First stage: exact codes named, BM25 and dense search fused, brand names through the
        drug tables. Second stage (hybrid only, assistant.rerank): attributes, intent and
        current codes first.
        """
        if mode not in MODES:
            raise UsageError(f"retriever must be one of {', '.join(MODES)}, not {mode!r}")
        self.load()
        hybrid = mode == "hybrid"
        release = self.release_for(filters)
        mentions = self.mentions(question) if hybrid else []
        asks_modifier = hybrid and rerank.wants_modifier(question)
        searched = question
        if hybrid and _MODIFIER_WORD.search(question):
            # The word itself is left out of the search: descriptors such as "Demonstration
            # modifier 3" would otherwise match it best.
            searched = " ".join(_MODIFIER_WORD.sub(" ", question).split()) or question
        uses: list = []
        if hybrid:
            searched = self.spelled(searched)
            # The containers a dose came from ("from two 100 mg single-dose vials") say how the
            # drug was packed, not which drug: left out of the search.
            for container in parse_supply(searched).containers:
                searched = " ".join(searched.replace(container.text, " ").split()) or searched
            searched, uses = self.glossary.expand(searched)
        query = f"{searched} {context}".strip() if context else searched

        lex_ranked: list[tuple[int, float]] = []
        dense_ranked: list[tuple[int, float]] = []
        if mode in ("hybrid", "bm25"):
            lex_ranked = [
                (self.lex_to_doc[n], s)
                for n, s in self.lexical.top(searched, CANDIDATES * 3, context=context)
            ]
        if mode in ("hybrid", "dense"):
            dense_ranked = self._dense(expand(query), CANDIDATES * 2)
        lex_codes = self._by_code(lex_ranked)
        dense_codes = self._by_code(dense_ranked)
        fused = fuse(lex_codes, dense_codes)
        mentioned = {(m.kind, m.code) for m in mentions}
        for key in mentioned:
            fused[key] = fused.get(key, 0.0) + MENTION_BOOST
        brands = self._brand_boosts(fused, lex_ranked, question)

        hits = []
        for (kind, code), score in fused.items():
            record = self._record_in(kind, code, release)
            if record is None or not self._passes(record, filters):
                continue
            score *= self._status_weight(record, filters)
            if asks_modifier and record.kind != "modifier":
                score *= CODE_WHEN_MODIFIER_ASKED
            via = tuple(
                name
                for name, members in (
                    ("exact", mentioned),
                    ("bm25", lex_codes),
                    ("dense", dense_codes),
                )
                if (kind, code) in members
            )
            hits.append(Hit(record=record, score=score, via=via))
        hits.sort(key=rank_key)
        matches: dict[tuple[str, str], Match] = {}
        if hybrid:
            hits, matches = self._second_stage(
                hits, question, uses, filters, mentioned, asks_modifier, release
            )
        evidence = self._judge_evidence(
            question, uses, lex_ranked, dense_ranked, bool(mentions or brands)
        )
        passages = self.passages(query, k=3) if hybrid else []
        return Result(
            hits[:k],
            passages,
            release,
            mentions,
            evidence,
            list(dict.fromkeys(brands)),
            glossary=uses,
            matches=matches,
        )

    def _brand_boosts(
        self, fused: dict[tuple[str, str], float], lex_ranked, question: str
    ) -> list[str]:
        """A drug named by a brand that the CMS crosswalk or Table of Drugs lists points at
        its code as surely as the code itself would: its codes gain BRAND_BOOST."""
        asked = set(tokenize(question))
        brands = []
        for n, _s in lex_ranked[:3]:
            name = self._brand(n)
            if name and set(tokenize(name)) <= asked:
                brands.append(name)
                for target in self._targets(n):
                    fused[target] = fused.get(target, 0.0) + BRAND_BOOST
        return brands

    def _second_stage(
        self,
        hits: list[Hit],
        question: str,
        uses: list,
        filters: Filters,
        mentioned: set[tuple[str, str]],
        asks_modifier: bool,
        release: str,
    ) -> tuple[list[Hit], dict[tuple[str, str], Match]]:
        """The first RERANK_DEPTH hits re-scored by assistant.rerank; the rest follow.

        ``uses``: the glossary terms read in the question; their wording counts as the
        question's words.
        """
        head, tail = hits[: rerank.RERANK_DEPTH], hits[rerank.RERANK_DEPTH :]
        context = rerank.Context(
            attributes=parse_attributes(
                question, descriptor=False, added=" ; ".join(u.means for u in uses)
            ),
            features=self.features,
            asks_modifier=asks_modifier,
            asks_reporting=rerank.wants_reporting(question),
            mentioned=frozenset(mentioned),
            date_of_service=filters.date_of_service,
            heads=rerank.question_heads(question, uses),
            known=self.known_roots,
        )
        self._cache_attributes(h.record.long_description for h in head)
        scored = rerank.rescore(head, context, self._attributes_of)

        def record_of(code: str) -> CodeRecord | None:
            record = self._record_in("code", code, release)
            return record if record is not None and self._passes(record, filters) else None

        scored = rerank.current_first(scored, self.successors, context, record_of)
        matches = {(s.hit.record.kind, s.hit.record.code): s.match for s in scored}
        ranked = sorted((s.hit for s in scored), key=rank_key)
        return self._same_drug_next(ranked + tail, record_of), matches

    def _same_drug_next(self, hits: list[Hit], record_of) -> list[Hit]:
        """When the best match is a drug's code, the same drug's other codes (routes,
        formulations, biosimilars, a replaced predecessor: assistant.drug_units.drug_family)
        come next, before any other drug that merely shares a dose or a word."""
        if not hits or not is_drug(hits[0].record):
            return hits
        family = drug_family(self, hits[0].record)
        key = family_key(hits[0].record.long_description)
        # Candidates naming the same drug count too (a NOC code of it: "triamcinolone
        # acetonide, not otherwise specified").
        family += [
            h.record.code
            for h in hits[1:]
            if h.record.kind == "code"
            and h.record.code not in family
            and family_key(h.record.long_description) == key
        ]
        if not family:
            return hits
        by_code = {h.record.code: h for h in hits if h.record.kind == "code"}
        best = hits[0]
        same = []
        for code in family:
            hit = by_code.get(code)
            if hit is None:
                record = record_of(code)
                if record is None:
                    continue
                hit = Hit(record, 0.0, ("same drug",))
            same.append(hit)
        same.sort(key=lambda h: (-h.score, h.record.terminated, h.record.code))
        # Scores stay below the best's and above the rest's, so the order is the score order.
        floor = max((h.score for h in hits[1:] if h not in same), default=0.0)
        step = (best.score - floor) / (len(same) + 1) if best.score > floor else 0.0
        lifted = [
            replace(h, score=max(h.score, floor + step * (len(same) - n)))
            for n, h in enumerate(same)
        ]
        rest = [h for h in hits[1:] if h not in same]
        return [best, *lifted, *rest]

    def _cache_attributes(self, descriptors) -> None:
        missing = [d for d in descriptors if d not in self._attributes]
        if missing:
            for text, data in self.book.attributes(missing).items():
                self._attributes[text] = Attributes.from_data(data)

    def _attributes_of(self, record: CodeRecord) -> Attributes:
        """A descriptor's attributes as the build parsed them (parsed now if not stored)."""
        found = self._attributes.get(record.long_description)
        if found is None:
            found = parse_attributes(record.long_description, descriptor=True)
            self._attributes[record.long_description] = found
        return found

    def successor_of(self, code: str) -> list[str]:
        """The current codes that replaced a terminated ``code`` (see assistant.successors)."""
        self.load()
        return [successor for successor, _basis in self.successors.get(code, [])]

    def passages(self, query: str, k: int = 3) -> list[Hit]:
        """Guidance passages for a question, by BM25 over passages only."""
        self.load()
        out = []
        for n, score in self.lexical.top(query, k, allowed=self.passage_lex):
            passage = self.passage_by_id[self.doc_ref[self.lex_to_doc[n]]]
            out.append(Hit(record=passage, score=score, via=("bm25",)))
        return out

    def passage_with(self, phrase: str) -> Passage | None:
        """The first guidance passage (in corpus order) whose text contains ``phrase``."""
        self.load()
        needle = phrase.casefold()
        found = [p for p in self.passage_by_id.values() if needle in p.text.casefold()]
        # The corpus lists older documents first (the 2019 README before 2020's): take the last.
        return found[-1] if found else None

    def passage_naming_modifier(self, modifier: str) -> Passage | None:
        """The guidance passage that states a modifier's rule: the first passage (in corpus
        order) of a document titled with the modifier, else the first that names it as one."""
        self.load()
        named = re.compile(
            rf"\bmodifiers?\s+{re.escape(modifier)}\b|\b{re.escape(modifier)}\s+modifier",
            re.IGNORECASE,
        )
        titled = [
            p
            for p in self.passage_by_id.values()
            if named.search(p.title) and re.search(rf"\b{re.escape(modifier)}\b", p.text)
        ]
        if titled:
            return min(titled, key=lambda p: (p.source, p.order))
        found = [p for p in self.passage_by_id.values() if named.search(p.text)]
        return min(found, key=lambda p: (p.source, p.order)) if found else None

    # ------------------------------------------------------------------ internals

    def _by_code(self, ranked: list[tuple[int, float]]) -> dict[tuple[str, str], float]:
        """Best document score per (kind, code), over the first CANDIDATES codes of a list."""
        out: dict[tuple[str, str], float] = {}
        for n, score in ranked:
            for target in self._targets(n):
                if target not in out:
                    out[target] = score
            if len(out) >= CANDIDATES:
                break
        return out

    def _load_vectors(self):
        """Every document's vector from the Chroma collection, in document order.

        The dense search is an exact scan of these (12,000 x 384: a millisecond): exact and
        deterministic, where the approximate HNSW graph differs from build to build and would
        make the regression baseline flaky.
        """
        import numpy as np
        import torch

        from assistant import store
        from assistant.errors import HcpcsError, IndexDamagedError, StoreUnavailableError

        matrix = np.zeros((len(self.doc_ids), self.manifest["model"]["dimension"]), np.float32)
        found = 0
        try:
            for doc_id, vector in store.read_vectors(self.collection, self.doc_ids):
                matrix[self.doc_pos[doc_id]] = vector
                found += 1
        except HcpcsError:
            raise
        except Exception as exc:
            where = self.settings.chroma_url or str(self.directory / "chroma")
            message = f"reading the vectors from Chroma at {where} failed ({type(exc).__name__})"
            if self.settings.chroma_url:
                raise StoreUnavailableError(message) from None
            raise IndexDamagedError(f"{message}; run `hcpcs index build`") from None
        if found != len(self.doc_ids):
            # A vector missing would silently rank its document last: refuse instead.
            raise IndexDamagedError(
                f"Chroma holds {found:,} of the index's {len(self.doc_ids):,} vectors; "
                "run `hcpcs index build`"
            )
        # Scanned with torch, in the thread pool the question encoder already uses: a numpy
        # scan's BLAS threads would spin against torch's and triple the encoder's time.
        return torch.from_numpy(matrix)

    def _dense(self, query: str, n: int) -> list[tuple[int, float]]:
        import torch

        vector = torch.tensor(self._embedder.embed_query(query), dtype=torch.float32)
        similarities = self.vectors @ vector  # unit vectors: cosine similarity
        top = torch.topk(similarities, min(n, similarities.shape[0]))
        pairs = zip(top.indices.tolist(), top.values.tolist(), strict=True)
        return sorted(pairs, key=lambda pair: (-pair[1], pair[0]))

    def _targets(self, n: int) -> list[tuple[str, str]]:
        kind, ref = self.doc_kind[n], self.doc_ref[n]
        if kind in ("code", "modifier"):
            return [(kind, ref)]
        if kind == "drug":
            return [("code", c) for c in self.drugs[ref].codes]
        if kind == "crosswalk":
            return [("code", self.crosswalk[ref].code)]
        return []

    def _brand(self, n: int) -> str:
        """The brand name a drug document stands for, if it is a brand's entry.

        Table of Drugs: a ``see`` line is a brand pointing at its generic. Crosswalk: the drug
        name is the brand when none of its words is in the code's (generic) descriptor.
        """
        kind, ref = self.doc_kind[n], self.doc_ref[n]
        if kind == "drug" and self.drugs[ref].see:
            return self.drugs[ref].name
        if kind == "crosswalk":
            entry = self.crosswalk[ref]
            if not set(tokenize(entry.drug_name)) & set(tokenize(entry.short_description)):
                return entry.drug_name
        return ""

    def _record_in(self, kind: str, code: str, release: str) -> CodeRecord | None:
        """The code's record in ``release``, else its latest record before it (a code CMS
        dropped from later files); None for a code that did not exist yet."""
        key = (kind, code, release)
        if key in self._records:
            return self._records[key]
        if (kind, code) not in self.code_keys:
            return None
        # One record decoded, not the code's whole history: most candidates are never shown.
        record = self._records[key] = self.book.latest(code, kind, release)
        return record

    def _passes(self, record: CodeRecord, filters: Filters) -> bool:
        if filters.kinds and record.kind not in filters.kinds:
            return False
        if filters.sections and record.section not in filters.sections:
            return False
        if filters.status == "active" and record.termination_date is not None:
            return False
        if filters.status == "terminated" and record.termination_date is None:
            return False
        return True

    @staticmethod
    def _status_weight(record: CodeRecord, filters: Filters) -> float:
        """Current codes before terminated ones, unless the caller asked for a date they served."""
        if filters.date_of_service is not None:
            return 1.0 if record.active_on(filters.date_of_service) else TERMINATED_WEIGHT
        return 1.0 if record.termination_date is None else TERMINATED_WEIGHT

    def _judge_evidence(
        self, question: str, uses: list, lex_ranked, dense_ranked, named: bool
    ) -> Evidence:
        """Whether the loaded files explain the question well enough to name codes (see
        assistant.evidence): its words against the best candidates' texts and the glossary.
        ``named``: the question names a code, or a drug name the drug tables list."""
        words = [t[3:] if t.startswith("no_") else t for t in tokenize(question)]
        words = [w for w in words if w != "without"]
        glossary_words: set[str] = set()
        for use in uses:
            glossary_words |= set(tokenize(use.term))
        candidates: list[set[str]] = []
        for ranked in (lex_ranked, dense_ranked):
            taken = 0
            for n, _score in ranked:
                if self.doc_kind[n] == "passage":
                    continue
                candidates.append(self._terms_of(n) | glossary_words)
                taken += 1
                if taken == EVIDENCE_DOCUMENTS:
                    break
        return judge_evidence(
            words,
            candidates,
            self.lexical.idf,
            self.vocabulary,
            named,
            question,
            self.common_words,
            similarity=next(
                (score for n, score in dense_ranked if self.doc_kind[n] != "passage"), 0.0
            ),
            shorthand=ABBREVIATIONS,
        )

    def spelled(self, text: str) -> str:
        """``text`` with each word that no loaded file has, and that everyday English does not
        know either, read as the indexed word it is a slip of ("comode" -> "commode",
        "ondansteron" -> "ondansetron"). Only dropped or swapped letters count: a word one
        letter away from another is as likely another name ("Dermabond", "Dermabind")."""
        idf = self.lexical.idf

        def fix(m: re.Match) -> str:
            word = m.group(0).lower()
            if word in self.common_words or all(t in idf for t in tokenize(word)):
                return m.group(0)
            # A slip drops at most two letters: only known words as long or up to two longer.
            near = [
                known
                for size in range(len(word), len(word) + 3)
                for known in self._spelling.get((word[0], size), ())
            ]
            close = difflib.get_close_matches(word, near, n=3, cutoff=TYPO_RATIO)
            return next((known for known in close if _slip_of(word, known)), m.group(0))

        return _SPELLABLE.sub(fix, text)

    def _terms_of(self, n: int) -> set[str]:
        terms = self.lexical.terms[self.doc_to_lex[n]]
        return {t[3:] if t.startswith("no_") else t for t in terms}
