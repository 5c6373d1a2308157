"""The corpus manifest and the fetch step: verified, atomic, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.corpus.sources import fetch, load_sources, source_states
from assistant.errors import ChecksumError, CorpusError, HcpcsError, UsageError
from assistant.locks import exclusive
from tests.fixture_corpus import write_corpus


def test_fetch_copies_and_verifies(tmp_path: Path):
    mirror, manifest = write_corpus(tmp_path)
    sources = load_sources(manifest)
    out = tmp_path / "raw"
    results = fetch(sources, out, mirror)
    assert [(f.action, f.how) for f in results] == [("copied", "sha256")] * len(sources)
    assert all(s.verified for s in source_states(sources, out))
    # A second fetch finds everything verified and copies nothing.
    assert [f.action for f in fetch(sources, out, mirror)] == ["verified"] * len(sources)
    assert not list(out.glob(".fetch-*"))


def test_altered_mirror_file_is_refused_and_nothing_changes(tmp_path: Path):
    mirror, manifest = write_corpus(tmp_path)
    sources = load_sources(manifest)
    out = tmp_path / "raw"
    fetch(sources, out, mirror)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    guidance = mirror / "guidance" / "tiny.txt"
    guidance.write_text(guidance.read_text() + "tampered\n")
    (out / "guidance" / "tiny.txt").unlink()  # force a re-copy of the altered file
    del before[out / "guidance" / "tiny.txt"]
    with pytest.raises(ChecksumError, match=r"tiny\.txt: sha256 mismatch"):
        fetch(sources, out, mirror)
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert not list(out.glob(".fetch-*"))


def test_a_bad_file_anywhere_leaves_earlier_files_untouched(tmp_path: Path):
    mirror, manifest = write_corpus(tmp_path)
    sources = load_sources(manifest)
    out = tmp_path / "raw"
    # The first file is fine, the last one is truncated in the mirror: nothing is written.
    last = mirror / sources[-1].path
    last.write_bytes(last.read_bytes()[:10])
    with pytest.raises(ChecksumError, match="sha256"):
        fetch(sources, out, mirror)
    assert not (out / sources[0].path).exists()


def test_missing_mirror_file_names_file_and_sha256(tmp_path: Path):
    mirror, manifest = write_corpus(tmp_path)
    (mirror / "guidance" / "tiny.txt").unlink()
    with pytest.raises(CorpusError, match=r"tiny\.txt: missing from mirror .*sha256"):
        fetch(load_sources(manifest), tmp_path / "raw", mirror)


def test_missing_mirror_folder_is_a_usage_error(tmp_path: Path):
    _mirror, manifest = write_corpus(tmp_path)
    with pytest.raises(UsageError, match="mirror folder not found"):
        fetch(load_sources(manifest), tmp_path / "raw", tmp_path / "nowhere")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not = [valid", "not valid TOML"),
        ("", "no \\[\\[source\\]\\] entries"),
        ('[[source]]\nid = "x"\n', "lacks kind"),
    ],
)
def test_bad_manifest(tmp_path: Path, text: str, message: str):
    path = tmp_path / "sources.toml"
    path.write_text(text)
    with pytest.raises(CorpusError, match=message):
        load_sources(path)


def test_project_manifest_covers_the_mirror():
    """Every file of the shared mirror has an entry, with the sha256 of the real file."""
    root = Path(__file__).resolve().parents[2]
    sources = load_sources(root / "corpus" / "sources.toml")
    assert len({s.id for s in sources}) == len(sources) == 23
    kinds = {s.kind for s in sources}
    assert {"cms-hcpcs-release", "table-of-drugs", "guidance", "drug-crosswalk"} <= kinds
    mirror = root.parent / "shared" / "corpus"
    if mirror.is_dir():
        on_disk = {
            p.relative_to(mirror).as_posix()
            for p in mirror.rglob("*")
            if p.is_file() and p.name != "README.md"
        }
        assert on_disk == {s.path for s in sources}


def test_a_killed_fetch_leaves_nothing_the_next_one_keeps(tmp_path: Path):
    mirror, manifest = write_corpus(tmp_path)
    out = tmp_path / "raw"
    out.mkdir()
    leftover = out / ".fetch-killed"  # what a fetch killed while staging leaves behind
    leftover.mkdir()
    (leftover / "hcpcs-2099-01").write_bytes(b"half a file")
    fetch(load_sources(manifest), out, mirror)
    assert not list(out.glob(".fetch-*"))
    assert all(s.verified for s in source_states(load_sources(manifest), out))


def test_a_second_fetch_at_once_is_refused(tmp_path: Path):
    mirror, manifest = write_corpus(tmp_path)
    out = tmp_path / "raw"
    out.mkdir()
    with exclusive(out / ".fetch.lock", "corpus fetch"):  # a fetch is running
        with pytest.raises(HcpcsError, match="another corpus fetch, add or remove is running"):
            fetch(load_sources(manifest), out, mirror)
    assert not (out / "guidance").exists()
    fetch(load_sources(manifest), out, mirror)  # once it ends, the next one runs
