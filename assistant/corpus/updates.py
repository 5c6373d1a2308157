"""Quarterly updates: add a CMS release the user downloaded, remove it, find the newest one.

`hcpcs corpus add PATH` takes the quarterly zip as CMS publishes it (or the fixed-width
``HCPC<year>_<MON>_ANWEB*.txt`` inside it), tells the release from the names (checked against
the newest action-effective date of its records), parses every record before anything is
changed, then copies the file into ``<corpus>/local/cms-hcpcs/<release>/<sha256 prefix>/`` and
records it in ``<corpus>/local-sources.toml``, each step atomic, under the lock that `corpus
fetch` takes. The index sees the new release at its next build (its staleness check reads both
manifests).
"""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from assistant.corpus.release import ENCODING, RECORDS_MEMBER
from assistant.corpus.sources import (
    CORPUS_LOCK,
    CORPUS_LOCK_WHAT,
    LOCAL_MANIFEST,
    Source,
    download,
    load_local_sources,
    load_sources,
    sha256_file,
    write_atomic,
)
from assistant.errors import CorpusError, ParseError, UsageError
from assistant.locks import exclusive

# The page where CMS lists the quarterly alpha-numeric files.
QUARTERLY_PAGE = (
    "https://www.cms.gov/medicare/coding-billing/healthcare-common-procedure-system/"
    "quarterly-update"
)
LOCAL_DIR = "local/cms-hcpcs"
MONTHS = {"JAN": 1, "APR": 4, "JUL": 7, "OCT": 10}
_MONTH_WORDS = {
    "january": 1, "jan": 1, "april": 4, "apr": 4, "july": 7, "jul": 7, "october": 10, "oct": 10,
}  # fmt: skip
# HCPC2026_APR_ANWEB_v2.txt, HCPC2026_JAN_ANWEB_01122026.txt; HCPC2020_ANWEB_w_disclaimer.txt
# names a year and no quarter.
_ANWEB_NAME = re.compile(r"^HCPC(?P<year>\d{4})(?:_(?P<mon>[A-Z]{3}))?_", re.IGNORECASE)
# october-2026-alpha-numeric-hcpcs-file.zip, April_2026_Alpha-Numeric..., 2026-jul-...
_ARCHIVE_NAME = re.compile(
    r"(?<![a-z])(?P<mon>january|april|july|october|jan|apr|jul|oct)[-_ ]?(?P<year>(?:19|20)\d{2})"
    r"|(?P<year2>(?:19|20)\d{2})[-_ ]?(?P<mon2>january|april|july|october|jan|apr|jul|oct)"
    r"(?![a-z])",
    re.IGNORECASE,
)
_RELEASE_ID = re.compile(r"^(\d{4})-(01|04|07|10)$")
# The quarterly zips linked from the CMS page (some quarters say "files").
_LATEST_LINK = re.compile(
    r"""href\s*=\s*["'](?P<href>[^"']*?(?P<mon>january|april|july|october)-(?P<year>\d{4})-"""
    r"""alpha-numeric-hcpcs-files?[^"'/]*\.zip)["']""",
    re.IGNORECASE,
)

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Candidate:
    """A release file read, identified and parsed, before anything is copied."""

    path: Path
    file: str  # the name it is stored under
    role: str  # "archive" (a zip) or "records" (the fixed-width file alone)
    release: str
    effective: date
    sha256: str
    fingerprint: str
    records_name: str
    codes: int
    modifiers: int
    newest_action: date | None
    has_layout: bool


@dataclass(frozen=True)
class Added:
    """What `corpus add` did: ``added``, ``replaced`` or ``already present`` (changed nothing)."""

    action: str
    release: str
    source: Source | None
    candidate: Candidate
    note: str = ""


def quarter(release: str) -> tuple[date, date]:
    """First and last day of the quarter a release id (``2026-04``) names."""
    m = _RELEASE_ID.match(release)
    if not m:
        raise UsageError(f"release must be YYYY-01, -04, -07 or -10, not {release[:20]!r}")
    year, month = int(m.group(1)), int(m.group(2))
    last_month = month + 2
    return date(year, month, 1), date(year, last_month, calendar.monthrange(year, last_month)[1])


def release_from_names(names: list[str]) -> tuple[str | None, list[str]]:
    """The release the file names say (``2026-04``), or None; and what each name said."""
    said: dict[str, str] = {}
    year_only: list[str] = []
    for name in names:
        base = Path(name).name
        m = _ANWEB_NAME.match(base)
        if m and m.group("mon") and m.group("mon").upper() in MONTHS:
            said[base] = f"{m.group('year')}-{MONTHS[m.group('mon').upper()]:02d}"
            continue
        a = _ARCHIVE_NAME.search(base)
        if a:
            mon = (a.group("mon") or a.group("mon2")).lower()
            year = a.group("year") or a.group("year2")
            said[base] = f"{year}-{_MONTH_WORDS[mon]:02d}"
        elif m:
            year_only.append(base)
    releases = sorted(set(said.values()))
    if len(releases) > 1:
        detail = ", ".join(f"{k} says {v}" for k, v in said.items())
        raise ParseError(f"the file names disagree on the release ({detail})")
    return (releases[0] if releases else None), year_only


def sniff_code_set(data: bytes) -> str:
    """``ICD-10-CM``, ``ICD-10-PCS`` or ``CPT`` when the lines look like that code set's file."""
    text = data[:200_000].decode(ENCODING, "replace")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()][:200]
    if not lines:
        return ""
    votes = {"ICD-10-CM": 0, "ICD-10-PCS": 0, "CPT": 0}
    for line in lines:
        first = line.split()[0] if line.split() else ""
        parts = line.split()
        # The CMS ICD-10 order files: "00001 A00     0 Cholera"
        if re.fullmatch(r"\d{5}", first) and len(parts) > 1:
            second = parts[1]
            if re.fullmatch(r"[A-Z][0-9][0-9A-Z]{1,5}", second):
                votes["ICD-10-CM"] += 1
                continue
            if re.fullmatch(r"[0-9A-HJ-NP-Z]{3,7}", second) and len(second) in (3, 7):
                votes["ICD-10-PCS"] += 1
                continue
        if re.fullmatch(r"[0-9]{4}[0-9FTU]", first):
            votes["CPT"] += 1
        elif re.fullmatch(r"[0-9][0-9A-HJ-NP-Z]{6}", first):
            votes["ICD-10-PCS"] += 1
        elif re.fullmatch(r"[A-TV-Z][0-9][0-9A-Z]{1,5}", first):
            votes["ICD-10-CM"] += 1
    best = max(votes, key=lambda k: votes[k])
    return best if votes[best] >= max(3, len(lines) // 2) else ""


def _other_code_set(name: str, data: bytes) -> str:
    found = sniff_code_set(data)
    if found:
        article = "an" if found.startswith("I") else "a"
        return (
            f"{name}: looks like {article} {found} code file, not the CMS HCPCS Level II "
            "alpha-numeric file (HCPC<year>_<MON>_ANWEB*.txt)"
        )
    return ""


def inspect(path: Path, release: str | None = None) -> Candidate:
    """Read, identify and fully parse a release file; nothing is written.

    ``release`` (``2026-04``) names the release when the file names cannot; it must agree with
    them when they can. Every error is one line naming the file (and the line, for a record).
    """
    from assistant.corpus import fingerprint as fp
    from assistant.corpus.release import parse_records, parse_release

    if release is not None:
        quarter(release)  # a malformed --release is a usage error before the file is read
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: is a folder; give the CMS zip or the ANWEB .txt file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    name = path.name
    if name.lower().endswith((".xlsx", ".xls")):
        raise ParseError(
            f"{name}: a spreadsheet; give the fixed-width HCPC<year>_<MON>_ANWEB*.txt file or "
            "the CMS zip that holds it"
        )
    if data[:4] == b"PK\x03\x04" or name.lower().endswith(".zip"):
        role = "archive"
        records_data, records_name, members = _zip_records(data, name)
        names = [name, records_name]
    else:
        role = "records"
        members = []
        if not re.match(RECORDS_MEMBER, name, re.IGNORECASE):
            other = _other_code_set(name, data)
            if other:
                raise ParseError(other)
            if release is None:
                raise ParseError(
                    f"{name}: not named like a CMS alpha-numeric file (HCPC<year>_<MON>_ANWEB*"
                    ".txt), so its release cannot be told; give --release YYYY-MM"
                )
        records_data, records_name = data, name
        names = [name]
    said, year_only = release_from_names(names)
    if said is not None and release is not None and said != release:
        raise UsageError(f"{name}: its names say release {said}, not {release}")
    release = release or said
    if release is None:
        hint = f" ({', '.join(year_only)} names a year but no quarter)" if year_only else ""
        raise ParseError(
            f"{name}: the release (year and quarter) cannot be told from its names{hint}; "
            "give --release YYYY-MM"
        )
    start, end = quarter(release)
    has_layout = any(re.search(r"record_?layout.*\.txt$", m, re.IGNORECASE) for m in members)
    try:
        if has_layout:  # the whole release: layout, notes and NOC list parsed too
            parsed, _layout = parse_release([path], release, start)
            codes, modifiers = parsed.codes, parsed.modifiers
        else:
            codes, modifiers, _header = parse_records(records_data, records_name, release)
    except ParseError as exc:
        if "no HCPCS records found" in str(exc):
            other = _other_code_set(records_name, records_data)
            if other:
                raise ParseError(other) from None
        raise
    actions = [r.action_effective_date for r in (*codes.values(), *modifiers.values())]
    newest = max((d for d in actions if d is not None), default=None)
    if newest is None or not start <= newest <= end:
        raise ParseError(
            f"{name}: named release {release} (effective {start} to {end}), but the newest "
            f"action-effective date of its records is {newest or 'missing'}: it is not the "
            "file of that quarter"
        )
    file = name
    if role == "records" and not re.match(RECORDS_MEMBER, name, re.IGNORECASE):
        # The loader finds a release's records by this name pattern.
        mon = next(k for k, v in MONTHS.items() if v == start.month)
        file = f"HCPC{start.year}_{mon}_ANWEB_{Path(name).stem}.txt"
    return Candidate(
        path=path,
        file=file,
        role=role,
        release=release,
        effective=start,
        sha256=hashlib.sha256(data).hexdigest(),
        fingerprint=fp.records_fingerprint(records_data, records_name),
        records_name=records_name,
        codes=len(codes),
        modifiers=len(modifiers),
        newest_action=newest,
        has_layout=has_layout,
    )


def _zip_records(data: bytes, name: str) -> tuple[bytes, str, list[str]]:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            members = [m for m in zf.namelist() if not m.endswith("/")]
            found = sorted(m for m in members if re.match(RECORDS_MEMBER, Path(m).name, re.I))
            if not found:
                others = [m for m in members if m.lower().endswith(".txt")]
                for other in others:
                    message = _other_code_set(f"{name}: {Path(other).name}", zf.read(other))
                    if message:
                        raise ParseError(message)
                listed = ", ".join(Path(m).name for m in members)[:200] or "none"
                raise ParseError(
                    f"{name}: no alpha-numeric HCPCS file (HCPC*ANWEB*.txt) in the zip "
                    f"(members: {listed})"
                )
            if len(found) > 1:
                raise ParseError(
                    f"{name}: more than one ANWEB file in the zip ({', '.join(found)})"
                )
            return zf.read(found[0]), Path(found[0]).name, members
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, zlib.error) as exc:
        raise ParseError(
            f"{name}: not a readable zip archive, truncated or corrupt ({exc})"
        ) from None
    except OSError as exc:
        raise ParseError(f"{name}: cannot read the zip ({exc})") from None


def _local_source(candidate: Candidate, origin: str, url: str) -> Source:
    rel = f"{LOCAL_DIR}/{candidate.release}/{candidate.sha256[:12]}/{candidate.file}"
    month = calendar.month_name[candidate.effective.month]
    return Source(
        id=f"local-hcpcs-{candidate.release}",
        kind="cms-hcpcs-release",
        file=candidate.file,
        path=rel,
        sha256=candidate.sha256,
        url=url,
        title=f"CMS HCPCS Level II alpha-numeric file, {month} {candidate.effective.year}",
        release=candidate.release,
        effective=candidate.effective,
        role=candidate.role,
        fingerprint=candidate.fingerprint,
        local=True,
        origin=origin,
        added=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=True)  # a JSON string is a TOML basic string


def local_manifest_text(sources: list[Source]) -> str:
    """The text of local-sources.toml for these sources."""
    out = [
        "# Releases added with `hcpcs corpus add`: yours, not the project's. Each file lives in",
        "# this folder under `path` and is verified by `sha256`; `hcpcs corpus remove RELEASE`",
        "# takes one out. The project's own manifest is corpus/sources.toml.",
        "",
    ]
    for src in sorted(sources, key=lambda s: s.release):
        out.append("[[source]]")
        fields = [
            ("id", src.id),
            ("kind", src.kind),
            ("role", src.role),
            ("release", src.release),
            ("effective", src.effective.isoformat() if src.effective else ""),
            ("title", src.title),
            ("file", src.file),
            ("path", src.path),
            ("sha256", src.sha256),
            ("fingerprint", src.fingerprint),
            ("url", src.url),
            ("origin", src.origin),
            ("added", src.added),
        ]
        out += [f"{key} = {_toml_string(value)}" for key, value in fields]
        out.append("")
    return "\n".join(out)


def add_release(
    corpus_dir: Path,
    manifest: Path,
    path: Path,
    *,
    replace: bool = False,
    release: str | None = None,
    origin: str | None = None,
    url: str = "",
) -> Added:
    """Add a CMS release file to the corpus (see the module docstring); returns what was done.

    The same file again changes nothing; another file for a release already added is refused
    unless ``replace``; a release the project manifest pins cannot be added over.
    """
    candidate = inspect(path, release)
    project = load_sources(manifest)
    try:
        corpus_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CorpusError(f"cannot create the corpus folder {corpus_dir}: {exc.strerror}") from None
    try:
        (corpus_dir / CORPUS_LOCK).touch(exist_ok=True)
    except OSError as exc:
        raise CorpusError(
            f"cannot write to the corpus folder {corpus_dir}: {exc.strerror}; nothing was changed"
        ) from None
    with exclusive(corpus_dir / CORPUS_LOCK, CORPUS_LOCK_WHAT):
        for leftover in corpus_dir.glob(".add-*"):  # staging of an add that was killed
            shutil.rmtree(leftover, ignore_errors=True)
        return _add(corpus_dir, manifest, project, candidate, replace, origin or str(path), url)


def _add(
    corpus_dir: Path,
    manifest: Path,
    project: list[Source],
    candidate: Candidate,
    replace: bool,
    origin: str,
    url: str,
) -> Added:
    rid = candidate.release
    pinned = [s for s in project if s.kind == "cms-hcpcs-release" and s.release == rid]
    if pinned:
        same = any(
            s.sha256 == candidate.sha256 or s.fingerprint == candidate.fingerprint for s in pinned
        )
        if same:
            return Added("already present", rid, pinned[0], candidate, f"pinned by {manifest.name}")
        raise UsageError(
            f"release {rid} is pinned by {manifest.name} with other records; "
            "a local add cannot replace it"
        )
    local = load_local_sources(corpus_dir)
    existing = next((s for s in local if s.release == rid), None)
    if existing is not None and existing.sha256 == candidate.sha256:
        target = corpus_dir / existing.path
        if target.is_file() and sha256_file(target) == existing.sha256:
            return Added("already present", rid, existing, candidate)
    elif existing is not None and not replace:
        raise UsageError(
            f"release {rid} was already added from {existing.file} (sha256 "
            f"{existing.sha256[:12]}…, {existing.origin}); use --replace to replace it"
        )
    if not candidate.has_layout:
        older = [s.release for s in (*project, *local) if s.kind == "cms-hcpcs-release"]
        if not any(r < rid for r in older):
            raise UsageError(
                f"{candidate.path.name} has no record layout and no earlier release is loaded "
                "to read it with; add the CMS zip, which includes the layout"
            )
    source = _local_source(candidate, origin, url)
    keep = [s for s in local if s.release != rid]
    target = corpus_dir / source.path
    staging = None
    moved = False
    try:
        staging = Path(tempfile.mkdtemp(prefix=".add-", dir=corpus_dir))
        part = staging / candidate.file
        copy_file(candidate.path, part)
        if sha256_file(part) != candidate.sha256:
            raise CorpusError(f"{candidate.path}: the file changed while it was being added")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(part, target)
        moved = True
        write_atomic(corpus_dir / LOCAL_MANIFEST, local_manifest_text([*keep, source]))
    except OSError as exc:
        if moved and (existing is None or existing.path != source.path):
            target.unlink(missing_ok=True)
            _prune_empty(target.parent, corpus_dir)
        raise CorpusError(
            f"cannot add {candidate.path.name} to {corpus_dir}: {exc.strerror or exc}; "
            "nothing was changed"
        ) from None
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
    action = "added"
    if existing is not None and existing.sha256 == candidate.sha256:
        action = "restored"  # the same file, whose copy had gone missing or been damaged
    elif existing is not None:
        action = "replaced"
        if existing.path != source.path:
            old = corpus_dir / existing.path
            old.unlink(missing_ok=True)
            _prune_empty(old.parent, corpus_dir)
    return Added(action, rid, source, candidate)


def copy_file(origin: Path, target: Path) -> None:
    """Copy a file's bytes and flush them to disk (a full disk fails here, not later)."""
    with origin.open("rb") as src, target.open("wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())


def _prune_empty(folder: Path, stop: Path) -> None:
    """Remove empty folders from ``folder`` up to (not including) ``stop``."""
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def remove_release(corpus_dir: Path, manifest: Path, release: str) -> Source:
    """Undo `corpus add`: the release leaves local-sources.toml, then its file is deleted."""
    quarter(release)
    project = load_sources(manifest)
    with exclusive(corpus_dir / CORPUS_LOCK, CORPUS_LOCK_WHAT):
        local = load_local_sources(corpus_dir)
        found = next((s for s in local if s.release == release), None)
        if found is None:
            if any(s.release == release for s in project if s.kind == "cms-hcpcs-release"):
                raise UsageError(
                    f"release {release} is pinned by {manifest.name}; only releases added with "
                    "`hcpcs corpus add` can be removed"
                )
            added = ", ".join(s.release for s in local) or "none"
            raise UsageError(f"release {release} was not added locally (added: {added})")
        rest = [s for s in local if s is not found]
        try:
            if rest:
                write_atomic(corpus_dir / LOCAL_MANIFEST, local_manifest_text(rest))
            else:
                (corpus_dir / LOCAL_MANIFEST).unlink()
        except OSError as exc:
            raise CorpusError(
                f"cannot update {corpus_dir / LOCAL_MANIFEST}: {exc.strerror}; nothing was changed"
            ) from None
        target = corpus_dir / found.path
        try:
            target.unlink(missing_ok=True)
            _prune_empty(target.parent, corpus_dir)
        except OSError:
            pass  # the release is out of the manifest; a stray file is only disk space
        return found


def latest_link(page: str, page_url: str) -> tuple[str, str]:
    """The address and release of the newest alpha-numeric zip linked from the CMS page."""
    from urllib.parse import urljoin

    found = []
    for m in _LATEST_LINK.finditer(page):
        rid = f"{m.group('year')}-{_MONTH_WORDS[m.group('mon').lower()]:02d}"
        found.append((rid, m.start(), urljoin(page_url, m.group("href"))))
    if not found:
        raise CorpusError(
            f"no alpha-numeric HCPCS zip is linked from {page_url} (the page layout may have "
            "changed); download the newest quarter's zip from that page by hand and run "
            "`hcpcs corpus add FILE`"
        )
    rid, _pos, url = max(found)  # newest release; of its links, the last on the page
    return url, rid


def format_added(result: Added) -> str:
    """What `corpus add` (or `corpus fetch --latest`) did, for a person."""
    c = result.candidate
    what = (
        f"release {result.release} ({c.file}: {c.codes:,} codes, {c.modifiers:,} "
        f"modifier{'' if c.modifiers == 1 else 's'}, newest action {c.newest_action})"
    )
    if result.action == "already present":
        note = f", {result.note}" if result.note else ""
        return f"{what} is already present{note}: nothing changed"
    return (
        f"{result.action} {what}\n"
        "run `hcpcs index build` to use it (only new and changed texts are embedded)"
    )


def format_removed(source: Source) -> str:
    return (
        f"removed release {source.release} ({source.file})\n"
        "run `hcpcs index build` to rebuild the index without it"
    )


def fetch_latest(
    corpus_dir: Path,
    manifest: Path,
    page_url: str = QUARTERLY_PAGE,
    *,
    replace: bool = False,
    progress: Progress | None = None,
) -> Added:
    """Read the CMS quarterly-update page, download the newest alpha-numeric zip, add it."""
    if not re.fullmatch(r"https?://\S+", page_url):
        raise UsageError(f"the page must be an http:// or https:// address, not {page_url!r}")
    note = progress or (lambda _msg: None)
    with tempfile.TemporaryDirectory(prefix="hcpcs-latest-") as tmp:
        page_path = Path(tmp) / "page.html"
        note(f"reading {page_url}")
        download(page_url, page_path, "the CMS quarterly-update page")
        page = page_path.read_bytes().decode("utf-8", "replace")
        url, rid = latest_link(page, page_url)
        name = Path(url.split("?")[0]).name
        note(f"downloading {url} (release {rid})")
        zpath = Path(tmp) / name
        download(url, zpath, name)
        return add_release(corpus_dir, manifest, zpath, replace=replace, origin=url, url=url)
