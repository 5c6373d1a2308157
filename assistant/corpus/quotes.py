"""Quotations checked against the raw files they quote, as an auditor would check them.

A citation names its source by ``ref``: a release id for a descriptor ("2026-01"), a source id
of the manifest for a guidance document, ``hcpcs-<release>-readme`` or ``-layout`` for a
release's README or record layout. ``SourceTexts`` reads that file from the corpus dir (through
the manifest, inside a release zip where it lives there) and keeps it for the next citation.

The rule: after folding every run of whitespace (CRLF and tabs included) to one space on both
sides, each line of the quotation is found verbatim in the source's text, each after the one
before it. A descriptor is the code's long description as its records in the release's
fixed-width file hold it (columns 12-91 of the first record and its continuation records),
and must be quoted whole. The reading here is deliberately its own, not the parsers': a
parser that rebuilds, reorders or cuts what it quotes is caught, not excused.
"""

from __future__ import annotations

import re
from pathlib import Path

from assistant.config import Settings

# Passage sources that are members of a release rather than files of the manifest.
RELEASE_DOCUMENT = re.compile(r"^hcpcs-(?P<release>\d{4}-\d{2})-(?P<role>readme|layout)$")
_DESCRIPTION = slice(11, 91)  # columns 12-91 of a fixed-width record


def fold(text: str) -> str:
    """Every run of whitespace as one space, none at either end."""
    return " ".join(text.split())


def quoted_in(quotation: str, source: str) -> bool:
    """Whether each line of ``quotation`` is found in ``source`` (already folded), in order."""
    lines = [fold(line) for line in quotation.split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        return False
    position = 0
    for line in lines:
        found = source.find(line, position)
        if found < 0:
            return False
        position = found + len(line)
    return True


class SourceTexts:
    """The raw texts of the corpus by citation ref, read on first use and cached."""

    def __init__(self, settings: Settings) -> None:
        from assistant.corpus.sources import load_sources

        self.corpus_dir = settings.corpus_dir
        self.sources = {src.id: src for src in load_sources(settings.manifest)}
        self._documents: dict[str, str | None] = {}
        self._descriptors: dict[str, dict[tuple[str, str], str]] = {}

    def descriptor(self, release: str, code: str) -> str | None:
        """The long description of ``code`` (a code or a modifier) in the release's file."""
        if release not in self._descriptors:
            self._descriptors[release] = self._read_descriptors(release)
        kind = "modifier" if len(code) == 2 else "code"
        return self._descriptors[release].get((kind, code))

    def document(self, ref: str) -> str | None:
        """The folded text of the document a passage's ``ref`` names (None: no such file)."""
        if ref not in self._documents:
            self._documents[ref] = self._read_document(ref)
        return self._documents[ref]

    def check(self, citation) -> bool:
        """Whether a citation quotes its source: a descriptor whole, a passage line by line."""
        if citation.kind == "descriptor":
            raw = self.descriptor(citation.ref, citation.locator)
            return raw is not None and fold(citation.text) == raw
        if citation.kind in ("guidance", "record-layout"):
            raw = self.document(citation.ref)
            return raw is not None and quoted_in(citation.text, raw)
        return False  # a kind no file here can confirm is not confirmed

    # ------------------------------------------------------------------ reading

    def _release_files(self, release: str):
        from assistant.corpus.release import ReleaseFiles, read_release_parts

        paths = [
            self.corpus_dir / src.path
            for src in self.sources.values()
            if src.kind == "cms-hcpcs-release" and src.release == release
        ]
        if not paths or not all(path.exists() for path in paths):
            return None, {}
        files = ReleaseFiles(paths)
        return files, read_release_parts(files)

    def _read_descriptors(self, release: str) -> dict[tuple[str, str], str]:
        from assistant.corpus.release import ENCODING

        files, parts = self._release_files(release)
        if files is None or parts.get("records") is None:
            return {}
        text = files.read(parts["records"]).decode(ENCODING, errors="replace")
        pieces: dict[tuple[str, str], list[str]] = {}
        for line in text.split("\n"):
            if len(line) < 12 or line[10] not in "3478":
                continue
            kind = "code" if line[10] in "34" else "modifier"
            pieces.setdefault((kind, line[:5].strip()), []).append(line[_DESCRIPTION])
        return {key: fold(" ".join(parts)) for key, parts in pieces.items()}

    def _read_document(self, ref: str) -> str | None:
        from assistant.corpus.release import ENCODING

        member = RELEASE_DOCUMENT.match(ref)
        if member:
            files, parts = self._release_files(member.group("release"))
            name = parts.get(member.group("role"))
            if files is None or name is None:
                return None
            return fold(files.read(name).decode(ENCODING, errors="replace"))
        src = self.sources.get(ref)
        if src is None or src.kind != "guidance":
            return None
        path = self.corpus_dir / src.path
        if not path.is_file():
            return None
        from assistant.corpus.guidance import source_text

        return fold(source_text(path.read_bytes(), Path(src.path).name))
