"""An "April" quarterly file for the tests, made from the newest release's own record lines:
the real January 2026 file (from the corpus mirror) or the fixture corpus's 2099-01 file.

The same changes apply to both, since the fixture mirrors the real codes it uses: two codes
added (E0702, Q5999), E0194 terminated at the end of the first quarter, A4397 (terminated
2021-12-31) reinstated, E0562's long descriptor and E1399's short descriptor revised, and
E0601's coverage code changed from D to C. The zip is named as CMS names it and its records
member carries a drifted name (``_v2`` and a posting date).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from assistant.bench.quarter import QuarterPlan, next_quarter, quarter_zip
from assistant.corpus.release import ReleaseFiles, read_release_parts
from assistant.corpus.sources import corpus_sources
from assistant.records import release_quarter_end

ADDED = (
    ("E0702", "Pneumatic inflatable bed rail, safety enclosure, each", "Pneumatic bed rail"),
    ("Q5999", "Injection, quartuzumab-aprl, biosimilar, 10 mg", "Inj quartuzumab-aprl 10 mg"),
)
NEW_E0562 = "Humidifier, heated, used with positive airway pressure device, any type"
CHANGES = {
    "added": ADDED,
    "terminated": ("E0194",),
    "reinstated": ("A4397",),
    "revised": (("E0562", NEW_E0562),),
    "short_revised": (("E1399", "Durable medical equip misc"),),
    "coverage": (("E0601", "C"),),
}
# What `hcpcs corpus diff` must list, kind of change -> codes.
EXPECTED = {
    "added": ["E0702", "Q5999"],
    "terminated": ["E0194"],
    "reinstated": ["A4397"],
    "removed": [],
    "long-descriptor": ["E0562"],
    "short-descriptor": ["E1399"],
    "coverage": ["E0601"],
}


def newest_release(manifest: Path, corpus_dir: Path) -> tuple[str, ReleaseFiles]:
    sources = [s for s in corpus_sources(manifest, corpus_dir) if s.kind == "cms-hcpcs-release"]
    newest = max(s.release for s in sources)
    return newest, ReleaseFiles(corpus_dir / s.path for s in sources if s.release == newest)


def april(manifest: Path, corpus_dir: Path, folder: Path, *, layout: bool = True) -> QuarterPlan:
    """Write the next quarter's zip (with the release's layout and notes when ``layout``) and
    its bare records file into ``folder``; returns the plan (``plan.zip_name`` and
    ``plan.records_name`` are the files)."""
    newest, files = newest_release(manifest, corpus_dir)
    parts = read_release_parts(files)
    after = release_quarter_end(newest) + timedelta(days=1)
    plan = QuarterPlan(f"{after:%Y-%m}", **CHANGES)
    records = next_quarter(files.read(parts["records"]), plan)
    extra = {}
    if layout:
        for role in ("layout", "notes"):
            if parts[role]:
                extra[parts[role]] = files.read(parts[role])
    (folder / plan.zip_name).write_bytes(quarter_zip(records, plan, extra))
    (folder / plan.records_name).write_bytes(records)
    return plan


def quarter_dates(plan: QuarterPlan) -> tuple[date, date, date]:
    """A date in the quarter before the plan's, one in its own, one after it ends."""
    start = plan.start
    return start - timedelta(days=50), start + timedelta(days=14), start + timedelta(days=100)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (a corpus or index folder) with its bytes."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.is_symlink() and p.name != ".fetch.lock"
    }


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` cannot be written to for the block: by its mode, or (for root, whom modes
    do not stop) by the immutable attribute; skips the test where neither works."""
    os.chmod(folder, 0o555)
    immutable = False
    try:
        if _writable(folder):
            immutable = (
                subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0
            )
            if not immutable or _writable(folder):
                pytest.skip("cannot make a folder read-only here (root, no chattr)")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        os.chmod(folder, 0o755)


def _writable(folder: Path) -> bool:
    probe = folder / ".probe"
    try:
        probe.write_bytes(b"")
    except OSError:
        return False
    probe.unlink()
    return True
