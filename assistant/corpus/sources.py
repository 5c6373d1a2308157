"""The corpus manifest (corpus/sources.toml) and the fetch/verify step.

Fetch copies every file from a mirror folder, or downloads it from its official address,
verifies its sha256 and only then moves it into place: a failed fetch leaves what was there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import tomllib
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from assistant.errors import ChecksumError, CorpusError, UsageError
from assistant.locks import exclusive

SOURCE_KINDS = {
    "cms-hcpcs-release",
    "cms-hcpcs-noc",
    "table-of-drugs",
    "drug-crosswalk",
    "payment-limits",
    "guidance",
}


@dataclass(frozen=True)
class Source:
    """One file of the corpus, as the manifest describes it."""

    id: str
    kind: str
    file: str
    path: str  # relative to the corpus dir and to a mirror
    sha256: str
    url: str
    title: str
    release: str = ""
    effective: date | None = None
    role: str = ""
    citation: str = ""


@dataclass(frozen=True)
class SourceState:
    source: Source
    present: bool
    verified: bool


def load_sources(manifest: Path) -> list[Source]:
    """Read and validate corpus/sources.toml."""
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorpusError(f"corpus manifest not found: {manifest}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"corpus manifest {manifest} is not valid TOML: {exc}") from None
    sources: list[Source] = []
    seen: set[str] = set()
    for n, entry in enumerate(data.get("source", []), 1):
        missing = [
            k for k in ("id", "kind", "file", "path", "sha256", "url", "title") if k not in entry
        ]
        if missing:
            raise CorpusError(f"{manifest}: source #{n} lacks {', '.join(missing)}")
        if entry["kind"] not in SOURCE_KINDS:
            raise CorpusError(
                f"{manifest}: source {entry['id']} has unknown kind {entry['kind']!r}"
            )
        if entry["id"] in seen:
            raise CorpusError(f"{manifest}: duplicate source id {entry['id']}")
        if len(entry["sha256"]) != 64:
            raise CorpusError(f"{manifest}: source {entry['id']} has a malformed sha256")
        seen.add(entry["id"])
        eff = entry.get("effective")
        sources.append(
            Source(
                id=entry["id"],
                kind=entry["kind"],
                file=entry["file"],
                path=entry["path"],
                sha256=entry["sha256"].lower(),
                url=entry["url"],
                title=entry["title"],
                release=entry.get("release", ""),
                effective=date.fromisoformat(eff) if eff else None,
                role=entry.get("role", ""),
                citation=entry.get("citation", ""),
            )
        )
    if not sources:
        raise CorpusError(f"{manifest}: no [[source]] entries")
    return sources


def sha256_file(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def source_states(sources: Iterable[Source], corpus_dir: Path) -> list[SourceState]:
    """Whether each source is present in the corpus dir and matches its sha256."""
    states = []
    for src in sources:
        target = corpus_dir / src.path
        present = target.is_file()
        states.append(SourceState(src, present, present and sha256_file(target) == src.sha256))
    return states


def states_json(states: Iterable[SourceState]) -> list[dict[str, object]]:
    """`hcpcs corpus list --json`: one object per source."""
    return [
        {
            "id": s.source.id,
            "kind": s.source.kind,
            "release": s.source.release,
            "path": s.source.path,
            "present": s.present,
            "verified": s.verified,
        }
        for s in states
    ]


def format_states(states: Iterable[SourceState]) -> str:
    """`hcpcs corpus list`: one line per source, verified, MISMATCH or missing."""
    lines = []
    for s in states:
        mark = "verified" if s.verified else ("MISMATCH" if s.present else "missing")
        lines.append(f"{mark:<9} {s.source.kind:<18} {s.source.release or '-':<8} {s.source.path}")
    return "\n".join(lines)


def fetch(
    sources: list[Source],
    corpus_dir: Path,
    mirror: Path | None = None,
    progress: Callable[[Source, str], None] | None = None,
) -> list[tuple[Source, str]]:
    """Bring every source into ``corpus_dir``, verified. Returns (source, action) pairs.

    All files are first staged and verified in a temporary folder beside the corpus dir; only
    when every one checks out are they moved into place, so a bad mirror changes nothing.
    """
    if mirror is not None and not mirror.is_dir():
        raise UsageError(f"mirror folder not found: {mirror}")
    corpus_dir.mkdir(parents=True, exist_ok=True)
    with exclusive(corpus_dir / ".fetch.lock", "corpus fetch"):
        for leftover in corpus_dir.glob(".fetch-*"):  # staging of a fetch that was killed
            shutil.rmtree(leftover, ignore_errors=True)
        return _fetch(sources, corpus_dir, mirror, progress)


def _fetch(
    sources: list[Source],
    corpus_dir: Path,
    mirror: Path | None,
    progress: Callable[[Source, str], None] | None,
) -> list[tuple[Source, str]]:
    staged: list[tuple[Source, Path | None, str]] = []
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=corpus_dir) as tmp:
        for src in sources:
            target = corpus_dir / src.path
            if target.is_file() and sha256_file(target) == src.sha256:
                staged.append((src, None, "verified"))
                if progress:
                    progress(src, "verified")
                continue
            part = Path(tmp) / src.id
            if mirror is not None:
                origin = mirror / src.path
                if not origin.is_file():
                    raise CorpusError(
                        f"{src.file}: missing from mirror {mirror} (sha256 not checked)"
                    )
                shutil.copyfile(origin, part)
                action = "copied"
            else:
                _download(src, part)
                action = "downloaded"
            got = sha256_file(part)
            if got != src.sha256:
                raise ChecksumError(
                    f"{src.file}: sha256 mismatch (expected {src.sha256[:16]}…, got {got[:16]}…)"
                )
            staged.append((src, part, action))
            if progress:
                progress(src, action)
        for src, part, _action in staged:
            if part is None:
                continue
            target = corpus_dir / src.path
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, target)  # same filesystem: atomic per file
    return [(src, action) for src, _part, action in staged]


def _download(src: Source, part: Path) -> None:
    try:
        with urllib.request.urlopen(src.url, timeout=60) as resp, part.open("wb") as out:  # noqa: S310
            shutil.copyfileobj(resp, out)
    except OSError as exc:
        raise CorpusError(f"{src.file}: download from {src.url} failed: {exc}") from None
