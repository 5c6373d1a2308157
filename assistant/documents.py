"""The searchable documents made from a corpus: what the dense and lexical indexes hold.

Each distinct code text is one document, whatever the number of releases that carry it, so a
descriptor that has not changed since 2019 is embedded once; its metadata says which releases
carry it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from assistant.corpus.loader import Corpus


@dataclass(frozen=True)
class Document:
    id: str
    kind: str  # code, modifier, drug, crosswalk, passage
    text: str
    ref: str  # code for code/modifier/crosswalk docs, record id for drugs and passages
    releases: tuple[str, ...] = ()

    def metadata(self) -> dict[str, str | bool]:
        meta: dict[str, str | bool] = {"kind": self.kind, "ref": self.ref}
        if self.kind in ("code", "modifier"):
            meta["section"] = self.ref[0] if self.kind == "code" else "modifier"
            meta["latest"] = self.releases[-1]
            for rel in self.releases:
                meta[release_key(rel)] = True
        return meta


def release_key(release: str) -> str:
    """Metadata key flagging a release, e.g. ``in_2025_01``."""
    return "in_" + release.replace("-", "_")


def _doc_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:24]


def build_documents(corpus: Corpus) -> list[Document]:
    """Documents for every code text, drug entry, crosswalk entry and guidance passage."""
    code_docs: dict[tuple[str, str, str], list[str]] = {}
    for rid in sorted(corpus.releases):
        release = corpus.releases[rid]
        for rec in (*release.codes.values(), *release.modifiers.values()):
            text = rec.long_description
            if rec.short_description and rec.short_description.casefold() not in text.casefold():
                text = f"{text} ({rec.short_description})"
            code_docs.setdefault((rec.kind, rec.code, text), []).append(rid)
    docs = [
        Document(_doc_id(kind, code, text), kind, text, code, tuple(rels))
        for (kind, code, text), rels in code_docs.items()
    ]
    for entry in corpus.drugs:
        parts = [entry.name]
        if entry.see:
            parts.append(f"see {entry.see}")
        parts += [entry.unit, " ".join(entry.routes)]
        text = " ".join(p for p in parts if p)
        docs.append(Document(_doc_id("drug", entry.id), "drug", text, entry.id))
    for entry in corpus.crosswalk:
        text = " ".join(p for p in (entry.drug_name, entry.short_description, entry.dosage) if p)
        docs.append(Document(_doc_id("crosswalk", entry.id), "crosswalk", text, entry.id))
    for passage in corpus.passages:
        text = f"{passage.section}: {passage.text}" if passage.section else passage.text
        docs.append(Document(_doc_id("passage", passage.id), "passage", text, passage.id))
    docs.sort(key=lambda d: (d.kind, d.ref, d.id))
    return docs
