"""The corpus manifests and the fetch/verify step.

Two manifests name the corpus: the project's ``corpus/sources.toml`` (pinned, in git) and the
user's ``local-sources.toml`` inside the corpus folder, which `hcpcs corpus add` writes (see
assistant.corpus.updates). ``corpus_sources`` is the one list every reader uses.

Fetch copies every file of the project manifest from a mirror folder, or downloads it from
its official address, verifies it and only then moves it into place: a failed fetch leaves
what was there. A download is verified by its sha256, or, when CMS's bytes differ from the
pinned copy, by the fingerprint of what it says (assistant.corpus.fingerprint); a guidance web
page is kept as text when every statement the answers cite from it is found in it. How each
file was accepted is recorded in ``fetched.json`` beside it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import tomllib
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, NamedTuple

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
# The user's own manifest, inside the corpus folder: releases added with `hcpcs corpus add`.
LOCAL_MANIFEST = "local-sources.toml"
# How each file of the project manifest was accepted when fetched (when not by its sha256).
FETCH_RECORD = "fetched.json"
# One writer of the corpus folder at a time: fetch, add and remove take this lock.
CORPUS_LOCK = ".fetch.lock"
CORPUS_LOCK_WHAT = "corpus fetch, add or remove"
USER_AGENT = "hcpcs-assistant (+https://www.cms.gov; corpus fetch)"


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
    # Where to find the file when ``url`` is not the file itself: ``link``, a pattern of the
    # zip's address on the page at ``url``; ``member``, a pattern of the file's name in the zip.
    link: str = ""
    member: str = ""
    # ``records-1:...`` / ``text-1:...``: what the file says, for a download whose bytes
    # differ from the pinned copy (see assistant.corpus.fingerprint).
    fingerprint: str = ""
    # Statements the answers cite from a guidance page: a fetched page is kept only with all.
    cites: tuple[str, ...] = ()
    # Local additions only: where the file came from and when it was added.
    local: bool = False
    origin: str = ""
    added: str = ""
    # How the file in the corpus folder is accepted: the pinned sha256, or what a fetch from
    # the official address verified (then ``sha256`` is that of the accepted file).
    verified_by: str = "sha256"


@dataclass(frozen=True)
class SourceState:
    source: Source
    present: bool
    verified: bool


class Fetched(NamedTuple):
    """One source of a fetch: what was done (copied, downloaded, verified) and how it was
    verified (sha256, a fingerprint, the cited statements found)."""

    source: Source
    action: str
    how: str


def load_sources(manifest: Path, local: bool = False) -> list[Source]:
    """Read and validate a manifest: corpus/sources.toml, or (``local``) local-sources.toml."""
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorpusError(f"corpus manifest not found: {manifest}") from None
    except OSError as exc:
        raise CorpusError(f"corpus manifest {manifest} cannot be read: {exc.strerror}") from None
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
        cites = entry.get("cites", [])
        if not isinstance(cites, list) or not all(isinstance(c, str) and c for c in cites):
            raise CorpusError(f"{manifest}: source {entry['id']} has malformed cites")
        for key in ("link", "member"):
            try:
                re.compile(entry.get(key, ""))
            except re.error:
                raise CorpusError(
                    f"{manifest}: source {entry['id']} has a bad {key} pattern"
                ) from None
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
                link=entry.get("link", ""),
                member=entry.get("member", ""),
                fingerprint=entry.get("fingerprint", ""),
                cites=tuple(cites),
                local=local,
                origin=entry.get("origin", ""),
                added=entry.get("added", ""),
            )
        )
    if not sources and not local:
        raise CorpusError(f"{manifest}: no [[source]] entries")
    return sources


def load_local_sources(corpus_dir: Path) -> list[Source]:
    """The releases the user added (``corpus_dir/local-sources.toml``); none if it is absent."""
    path = corpus_dir / LOCAL_MANIFEST
    if not path.exists():
        return []
    sources = load_sources(path, local=True)
    for src in sources:
        # `corpus remove` deletes the file at `path`: it must be one of the added files.
        parts = Path(src.path).parts
        if Path(src.path).is_absolute() or parts[:1] != ("local",) or ".." in parts:
            raise CorpusError(f"{path}: {src.id} has a path outside local/: {src.path!r}")
        if src.kind != "cms-hcpcs-release" or not src.release:
            raise CorpusError(f"{path}: {src.id} is not a CMS HCPCS release")
    return sources


def corpus_sources(manifest: Path, corpus_dir: Path) -> list[Source]:
    """Every source of the corpus: the project's, as fetched, then the user's local additions.

    A project file accepted by a fetch other than by its pinned sha256 (a fingerprint, the
    cited statements of a web page) carries the sha256 of the accepted file, so that it is
    verified like any other; a change of the pinned entry makes that acceptance void.
    """
    project = load_sources(manifest)
    accepted = read_fetch_record(corpus_dir)
    out = []
    for src in project:
        rec = accepted.get(src.id)
        got = rec.get("sha256") if isinstance(rec, dict) else None
        if isinstance(got, str) and rec.get("manifest_sha256") == src.sha256 and got != src.sha256:
            src = replace(src, sha256=got, verified_by=str(rec.get("verified", "fetch")))
        out.append(src)
    local = load_local_sources(corpus_dir)
    ids = {s.id for s in project}
    paths = {s.path for s in project}
    pinned = {s.release for s in project if s.kind == "cms-hcpcs-release"}
    for src in local:
        if src.id in ids or src.path in paths:
            raise CorpusError(
                f"{corpus_dir / LOCAL_MANIFEST}: {src.id} clashes with {manifest.name}; "
                f"run `hcpcs corpus remove {src.release}`"
            )
        if src.release in pinned:
            raise CorpusError(
                f"release {src.release} is now pinned by {manifest.name} and was also added "
                f"locally; run `hcpcs corpus remove {src.release}`"
            )
    return out + local


def read_fetch_record(corpus_dir: Path) -> dict[str, dict[str, Any]]:
    """Source id -> how a fetch accepted its file (sha256, verified, origin, statements)."""
    path = corpus_dir / FETCH_RECORD
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise CorpusError(f"{path} is unreadable ({exc}); run `hcpcs corpus fetch`") from None
    if not isinstance(data, dict):
        raise CorpusError(f"{path} is not a fetch record; run `hcpcs corpus fetch`")
    return data


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file beside it: all or nothing."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    """`hcpcs corpus list --json`: one object per source, ``manifest`` saying whose it is."""
    return [
        {
            "id": s.source.id,
            "manifest": "local" if s.source.local else "project",
            "kind": s.source.kind,
            "release": s.source.release,
            "effective": s.source.effective.isoformat() if s.source.effective else None,
            "path": s.source.path,
            "sha256": s.source.sha256,
            "present": s.present,
            "verified": s.verified,
            "verified_by": s.source.verified_by,
            "origin": s.source.origin or s.source.url,
        }
        for s in states
    ]


def format_states(states: Iterable[SourceState]) -> str:
    """`hcpcs corpus list`: one line per source, verified, MISMATCH or missing, and whether
    the project's manifest or the local one names it."""
    lines = []
    for s in states:
        mark = "verified" if s.verified else ("MISMATCH" if s.present else "missing")
        owner = "local" if s.source.local else "project"
        lines.append(
            f"{mark:<9} {owner:<8} {s.source.kind:<18} {s.source.release or '-':<8} {s.source.path}"
        )
    return "\n".join(lines)


def states_problem(states: list[SourceState]) -> str | None:
    """What `hcpcs corpus list` says when files are missing or not verified, and the fix."""
    bad = [s for s in states if not s.verified]
    if not bad:
        return None
    fix = (
        "`hcpcs corpus add` or `hcpcs corpus remove` the local ones"
        if all(s.source.local for s in bad)
        else "run `hcpcs corpus fetch`"
    )
    return f"{len(bad)} of {len(states)} files missing or not verified; {fix}"


def fetched_line(item: Fetched) -> str:
    """One line per source of a fetch: what was done, the file, how it was verified."""
    return f"{item.action:>10}  {item.source.path}  ({item.how})"


def fetch_summary(results: list[Fetched], corpus_dir: Path) -> str:
    changed = sum(1 for item in results if item.action != "verified")
    return f"{len(results)} files verified in {corpus_dir} ({changed} new or replaced)"


def fetch(
    sources: list[Source],
    corpus_dir: Path,
    mirror: Path | None = None,
    progress: Callable[[Fetched], None] | None = None,
) -> list[Fetched]:
    """Bring every source into ``corpus_dir``, verified; one Fetched per source.

    All files are first staged and verified in a temporary folder beside the corpus dir; only
    when every one checks out are they moved into place, so a bad mirror or download changes
    nothing. A mirror holds the pinned copies and is checked by sha256 alone.
    """
    if mirror is not None and not mirror.is_dir():
        raise UsageError(f"mirror folder not found: {mirror}")
    corpus_dir.mkdir(parents=True, exist_ok=True)
    with exclusive(corpus_dir / CORPUS_LOCK, CORPUS_LOCK_WHAT):
        for leftover in corpus_dir.glob(".fetch-*"):  # staging of a fetch that was killed
            shutil.rmtree(leftover, ignore_errors=True)
        return _fetch(sources, corpus_dir, mirror, progress)


def _fetch(
    sources: list[Source],
    corpus_dir: Path,
    mirror: Path | None,
    progress: Callable[[Fetched], None] | None,
) -> list[Fetched]:
    record = read_fetch_record(corpus_dir)
    new_record = {k: v for k, v in record.items() if k in {s.id for s in sources}}
    done: list[tuple[Fetched, Path | None]] = []
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=corpus_dir) as tmp:
        downloads = _Downloads(Path(tmp) / "downloads")
        for src in sources:
            target = corpus_dir / src.path
            accepted = record.get(src.id)
            if not isinstance(accepted, dict) or accepted.get("manifest_sha256") != src.sha256:
                accepted = None  # the pinned entry changed since: fetch it again
            if target.is_file():
                got = sha256_file(target)
                if got == src.sha256 or (accepted and got == accepted.get("sha256")):
                    if got == src.sha256:
                        how = "sha256"
                        new_record.pop(src.id, None)
                    else:
                        how = f"{accepted.get('verified', 'fetch')}, earlier"
                    item = Fetched(src, "verified", how)
                    done.append((item, None))
                    if progress:
                        progress(item)
                    continue
            part = Path(tmp) / src.id
            if mirror is not None:
                origin = mirror / src.path
                if not origin.is_file():
                    raise CorpusError(
                        f"{src.file}: missing from mirror {mirror} (sha256 not checked)"
                    )
                shutil.copyfile(origin, part)
                got = sha256_file(part)
                if got != src.sha256:
                    raise ChecksumError(
                        f"{src.file}: sha256 mismatch (expected {src.sha256[:16]}…, "
                        f"got {got[:16]}…)"
                    )
                item = Fetched(src, "copied", "sha256")
                new_record.pop(src.id, None)
            else:
                how, url, statements = _download_verified(src, part, downloads)
                item = Fetched(src, "downloaded", how)
                if how == "sha256":
                    new_record.pop(src.id, None)
                else:
                    new_record[src.id] = {
                        "manifest_sha256": src.sha256,
                        "sha256": sha256_file(part),
                        "verified": how,
                        "origin": url,
                        "statements": statements,
                    }
            done.append((item, part))
            if progress:
                progress(item)
        for item, part in done:
            if part is None:
                continue
            target = corpus_dir / item.source.path
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(part, target)  # same filesystem: atomic per file
        if new_record != record:
            text = json.dumps(new_record, indent=2, sort_keys=True) + "\n"
            write_atomic(corpus_dir / FETCH_RECORD, text)
    return [item for item, _part in done]


class _Downloads:
    """The downloads of one fetch, each address fetched once (three files share one zip)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._got: dict[str, Path] = {}

    def get(self, url: str, what: str) -> Path:
        if url not in self._got:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / f"{len(self._got)}"
            download(url, path, what)
            self._got[url] = path
        return self._got[url]


def download(url: str, path: Path, what: str, timeout: float = 60) -> None:
    """Save ``url`` to ``path``; CorpusError naming ``what`` and the address if it fails."""
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        with urllib.request.urlopen(request, timeout=timeout) as resp, path.open("wb") as out:  # noqa: S310
            shutil.copyfileobj(resp, out)
    except (OSError, ValueError) as exc:
        raise CorpusError(f"{what}: download from {url} failed: {exc}") from None


def find_link(page: str, pattern: str, page_url: str) -> str:
    """The absolute address of the last link on ``page`` whose address matches ``pattern``."""
    from urllib.parse import urljoin

    rx = re.compile(pattern, re.IGNORECASE)
    found = [h for h in re.findall(r"""href\s*=\s*["']([^"']+)["']""", page, re.I) if rx.search(h)]
    if not found:
        raise CorpusError(
            f"no link matching {pattern!r} on {page_url}: the page has changed; download the "
            "file by hand from that page"
        )
    return urljoin(page_url, found[-1])


def zip_member(data_path: Path, pattern: str, where: str) -> tuple[bytes, str]:
    """The bytes and name of the first member of a zip whose base name matches ``pattern``."""
    rx = re.compile(pattern, re.IGNORECASE)
    try:
        with zipfile.ZipFile(data_path) as zf:
            names = sorted(n for n in zf.namelist() if not n.endswith("/"))
            for name in names:
                if rx.search(Path(name).name):
                    return zf.read(name), Path(name).name
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise CorpusError(f"{where}: not a readable zip archive ({exc})") from None
    raise CorpusError(
        f"{where}: no member matching {pattern!r} (members: {', '.join(names)[:200]})"
    )


def _download_verified(
    src: Source, part: Path, downloads: _Downloads
) -> tuple[str, str, list[str]]:
    """Download a source from its official address into ``part`` and verify it.

    Returns (how it was verified, the address, the cited statements found). Refuses with
    ChecksumError anything that is not the pinned file, the same records or text, or a page
    that still says every statement the answers cite.
    """
    from assistant.corpus import fingerprint as fp

    url = src.url
    if src.link:
        page = downloads.get(src.url, src.file).read_bytes().decode("utf-8", "replace")
        url = find_link(page, src.link, src.url)
    data = downloads.get(url, src.file).read_bytes()
    name = src.file
    if src.member:
        data, name = zip_member(downloads.get(url, src.file), src.member, f"{src.file} ({url})")
    got = hashlib.sha256(data).hexdigest()
    if got == src.sha256:
        part.write_bytes(data)
        return "sha256", url, []
    if src.fingerprint:
        kind = src.fingerprint.partition(":")[0]
        payload, payload_name = data, name
        if kind == fp.RECORDS and data[:4] == b"PK\x03\x04":
            payload, payload_name = _records_member(data, f"{src.file} ({url})")
        if fp.matches(src.fingerprint, payload, payload_name):
            part.write_bytes(data)
            return f"{kind} fingerprint (bytes differ from the pinned sha256)", url, []
    if src.kind == "guidance" and src.cites and _looks_like_html(data):
        statements = _keep_page_text(src, data, part, url)
        return f"page text kept, all {len(statements)} cited statements found", url, statements
    what = "its records differ from the pinned fingerprint" if src.fingerprint else "no fingerprint"
    raise ChecksumError(
        f"{src.file}: sha256 mismatch for {url} (expected {src.sha256[:16]}…, got "
        f"{got[:16]}…; {what})"
    )


def _keep_page_text(src: Source, data: bytes, part: Path, url: str) -> list[str]:
    """Write a guidance page's text to ``part`` if its passages still say every statement the
    answers cite; ChecksumError naming the first one missing otherwise."""
    from assistant.corpus.guidance import page_text, parse_guidance, statement_found

    suffix = Path(src.path).suffix
    kept = part.with_name(part.name + suffix)  # the parser reads the format from the suffix
    kept.write_text(page_text(data.decode("utf-8", "replace"), suffix, src.title), "utf-8")
    said = " ".join(p.text for p in parse_guidance(kept, src.id, src.title, src.citation or None))
    missing = [c for c in src.cites if not statement_found(c, said)]
    if missing:
        raise ChecksumError(
            f"{src.file}: the page at {url} no longer says {missing[0]!r}, which the answers "
            "cite; nothing was changed"
        )
    os.replace(kept, part)
    return list(src.cites)


def _records_member(data: bytes, where: str) -> tuple[bytes, str]:
    import io

    from assistant.corpus.release import RECORDS_MEMBER

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for name in sorted(zf.namelist()):
                if re.search(RECORDS_MEMBER, Path(name).name, re.IGNORECASE):
                    return zf.read(name), Path(name).name
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as exc:
        raise CorpusError(f"{where}: not a readable zip archive ({exc})") from None
    raise CorpusError(f"{where}: no alpha-numeric HCPCS file (HCPC*ANWEB*.txt) in the zip")


def _looks_like_html(data: bytes) -> bool:
    head = data[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<body" in head
