"""`hcpcs corpus fetch` from official addresses, without a mirror: a web server on 127.0.0.1
serves copies shaped like the official ones (a quarterly zip with its members, a page that
links to it, a guidance page with the text inside its HTML), and the real manifest's
fingerprints and cited statements are checked against the real files."""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.config import Settings
from assistant.corpus.fingerprint import records_fingerprint, text_fingerprint
from assistant.corpus.sources import (
    FETCH_RECORD,
    corpus_sources,
    fetch,
    load_sources,
    read_fetch_record,
    source_states,
)
from assistant.errors import ChecksumError, CorpusError
from tests.fixture_corpus import (
    GUIDANCE,
    NOTES,
    assert_one_line_error,
    fixture_env,
    write_corpus,
)
from tests.quarterly import snapshot

RECORDS_NAME = "HCPC2099_JAN_ANWEB_TEST.txt"
ZIP = "january-2099-alpha-numeric-hcpcs-file.zip"
CITED = (
    "does not, of itself, determine coverage",
    "product-agnostic",
)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _page(body: str, title: str = "Tiny Compliance Guidance") -> str:
    """An HTML page around ``body`` as a MAC's site wraps its articles."""
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title><script>var menu = 1;</script>"
        "<style>p {color: red}</style></head><body><header><nav><a href='/'>Home</a> "
        f"<a href='/topics'>Topics</a></nav></header><main><h1>{title}</h1>{body}</main>"
        "<footer>Last Updated Dec 05, 2026 · Privacy</footer></body></html>"
    )


def _guidance_html(drop: str = "") -> str:
    paragraphs = []
    for line in GUIDANCE.splitlines()[1:]:
        if drop and drop in line:
            line = line.replace(drop, "does not by itself decide coverage")
        tag = "h2" if len(line) < 20 else "p"
        paragraphs.append(f"<{tag}>{line.replace('&', '&amp;')}</{tag}>")
    return _page("".join(paragraphs))


@pytest.fixture
def official(tmp_path: Path):
    """The fixture corpus as CMS and a MAC would publish it, served from 127.0.0.1.

    Returns (site folder, manifest, corpus dir, base address). The pinned sha256s are those
    of the fixture's own files; the served records file has LF line ends and no trailing
    blanks, as a re-packed download might, so only its fingerprint can vouch for it.
    """
    mirror, _manifest = write_corpus(tmp_path / "fixture")
    with zipfile.ZipFile(mirror / "cms-hcpcs/2099-01/hcpcs-2099.zip") as zf:
        records = zf.read(RECORDS_NAME)
        layout = zf.read("HCPC2099_recordlayout.txt")
    site = tmp_path / "site"
    (site / "files" / "zip").mkdir(parents=True)
    (site / "guidance").mkdir()
    relaxed = b"\n".join(line.rstrip() for line in records.split(b"\r\n"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(RECORDS_NAME.replace("_TEST", "_TEST_v2"), relaxed)  # the name drifted
        zf.writestr("HCPC2099_recordlayout.txt", layout.replace(b"\r\n", b"\n"))
        zf.writestr("proc_notes_JAN2099.txt", NOTES.encode("cp1252"))
        zf.writestr("HCPC2099_JAN_ANWEB_TEST.xlsx", b"not read")
    (site / "files" / "zip" / ZIP).write_bytes(buf.getvalue())
    archive = (mirror / "cms-hcpcs/2098-01/hcpcs-2098.zip").read_bytes()
    (site / "files" / "zip" / "hcpcs-2098.zip").write_bytes(archive)
    (site / "quarterly-update").write_text(
        _page(f"<ul><li><a href='/files/zip/{ZIP}'>January 2099 (ZIP)</a></li></ul>", "HCPCS")
    )
    (site / "guidance" / "tiny").write_text(_guidance_html())

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def sha(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    entries = [
        {
            "id": "hcpcs-2099-01-records",
            "kind": "cms-hcpcs-release",
            "role": "records",
            "release": "2099-01",
            "effective": "2099-01-01",
            "file": RECORDS_NAME,
            "path": f"cms-hcpcs/2099-01/{RECORDS_NAME}",
            "sha256": sha(records),
            "url": f"{base}/files/zip/{ZIP}",
            "member": r"^HCPC2099_JAN_ANWEB.*\.txt$",
            "fingerprint": records_fingerprint(records, RECORDS_NAME),
        },
        {
            "id": "hcpcs-2099-01-layout",
            "kind": "cms-hcpcs-release",
            "role": "layout",
            "release": "2099-01",
            "effective": "2099-01-01",
            "file": "HCPC2099_recordlayout.txt",
            "path": "cms-hcpcs/2099-01/HCPC2099_recordlayout.txt",
            "sha256": sha(layout),
            "url": f"{base}/quarterly-update",
            "link": r"january-2099-alpha-numeric-hcpcs-file\.zip$",
            "member": r"record_?layout.*\.txt$",
            "fingerprint": text_fingerprint(layout),
        },
        {
            "id": "hcpcs-2099-01-notes",
            "kind": "cms-hcpcs-release",
            "role": "notes",
            "release": "2099-01",
            "effective": "2099-01-01",
            "file": "proc_notes_JAN2099.txt",
            "path": "cms-hcpcs/2099-01/proc_notes_JAN2099.txt",
            "sha256": sha(NOTES.encode("cp1252")),
            "url": f"{base}/files/zip/{ZIP}",
            "member": r"^proc_notes_JAN2099.*\.txt$",
        },
        {
            "id": "hcpcs-2098-01",
            "kind": "cms-hcpcs-release",
            "role": "archive",
            "release": "2098-01",
            "effective": "2098-01-01",
            "file": "hcpcs-2098.zip",
            "path": "cms-hcpcs/2098-01/hcpcs-2098.zip",
            "sha256": sha(archive),
            "url": f"{base}/files/zip/hcpcs-2098.zip",
        },
        {
            "id": "tiny-guidance",
            "kind": "guidance",
            "citation": "Tiny Compliance Guidance",
            "file": "tiny.txt",
            "path": "guidance/tiny.txt",
            "sha256": sha(GUIDANCE.encode()),
            "url": f"{base}/guidance/tiny",
            "cites": list(CITED),
        },
    ]
    lines = []
    for entry in entries:
        lines.append("[[source]]")
        entry.setdefault("title", entry["id"])
        for key, value in entry.items():
            lines.append(f"{key} = {json.dumps(value)}")
        lines.append("")
    manifest = tmp_path / "sources.toml"
    manifest.write_text("\n".join(lines))
    yield site, manifest, tmp_path / "raw", base
    server.shutdown()
    server.server_close()


def test_official_fetch_verifies_each_file_its_own_way(official):
    _site, manifest, raw, base = official
    got = {f.source.id: (f.action, f.how) for f in fetch(load_sources(manifest), raw)}
    assert got == {
        "hcpcs-2099-01-records": (
            "downloaded",
            "records-1 fingerprint (bytes differ from the pinned sha256)",
        ),
        "hcpcs-2099-01-layout": (
            "downloaded",
            "text-1 fingerprint (bytes differ from the pinned sha256)",
        ),
        "hcpcs-2099-01-notes": ("downloaded", "sha256"),
        "hcpcs-2098-01": ("downloaded", "sha256"),
        "tiny-guidance": ("downloaded", "page text kept, all 2 cited statements found"),
    }
    record = read_fetch_record(raw)
    assert set(record) == {"hcpcs-2099-01-records", "hcpcs-2099-01-layout", "tiny-guidance"}
    assert record["tiny-guidance"]["statements"] == list(CITED)
    assert record["tiny-guidance"]["origin"] == f"{base}/guidance/tiny"
    assert record["hcpcs-2099-01-layout"]["origin"] == f"{base}/files/zip/{ZIP}"
    # The page's menu, script and footer are not kept; its text is.
    kept = (raw / "guidance" / "tiny.txt").read_text()
    assert "Home" not in kept and "menu" not in kept and "Privacy" not in kept
    assert "product-agnostic and describe categories of like items" in kept
    # Everything is verified as the corpus now stands, and a second fetch changes nothing.
    sources = corpus_sources(manifest, raw)
    assert all(s.verified for s in source_states(sources, raw))
    assert {s.id: s.verified_by for s in sources}["hcpcs-2099-01-records"].startswith("records-1")
    before = snapshot(raw)
    again = {f.source.id: (f.action, f.how) for f in fetch(load_sources(manifest), raw)}
    assert again["tiny-guidance"] == (
        "verified",
        "page text kept, all 2 cited statements found, earlier",
    )
    assert again["hcpcs-2098-01"] == ("verified", "sha256")
    assert snapshot(raw) == before


def test_the_fetched_corpus_builds_and_answers_with_the_kept_text(official, tmp_path):
    from assistant import store
    from assistant.answer import ask
    from assistant.embeddings import HashEmbedder
    from assistant.service import load_retriever

    _site, manifest, raw, _base = official
    fetch(load_sources(manifest), raw)
    settings = Settings.from_env(
        {
            "HCPCS_CORPUS_DIR": str(raw),
            "HCPCS_INDEX_DIR": str(tmp_path / "index"),
            "HCPCS_SOURCES": str(manifest),
            "HCPCS_MODEL": "hash-embedder",
        }
    )
    built = store.build_index(settings, embedder=HashEmbedder())
    # The same releases as the pinned copies give (the fixture's own mirror, fetched as is).
    pinned = Settings.from_env(fixture_env(tmp_path / "pinned"))
    expected = store.build_index(pinned, embedder=HashEmbedder())

    def counts(manifest: dict) -> list[tuple]:
        return [
            (r["release"], r["codes"], r["modifiers"], r["active_codes"])
            for r in manifest["releases"]
        ]

    assert counts(built) == counts(expected)
    assert [r["release"] for r in built["releases"]] == ["2098-01", "2099-01"]
    store.check_current(settings)
    assert store.index_status(settings)["corpus_problems"] == []
    answer, _ = ask(load_retriever(settings), "E0601")
    [cited] = [c for c in answer.citations if c.supports == "coverage"]
    assert cited.ref == "tiny-guidance" and CITED[0] in cited.text


def test_the_cli_says_how_each_file_was_verified(official):
    _site, manifest, raw, _base = official
    env = {"HCPCS_SOURCES": str(manifest), "HCPCS_CORPUS_DIR": str(raw)}
    result = CliRunner().invoke(cli, ["corpus", "fetch"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 6 and lines[-1].startswith("5 files verified")
    assert (
        f"downloaded  cms-hcpcs/2099-01/{RECORDS_NAME}  (records-1 fingerprint (bytes differ "
        "from the pinned sha256))" in lines
    )
    assert "downloaded  guidance/tiny.txt  (page text kept, all 2 cited statements found)" in (
        lines
    )


def test_a_page_that_lost_a_cited_statement_is_refused_and_nothing_changes(official):
    site, manifest, raw, _base = official
    fetch(load_sources(manifest), raw)
    (raw / "guidance" / "tiny.txt").unlink()  # so that the page is fetched again
    before = snapshot(raw)
    (site / "guidance" / "tiny").write_text(_guidance_html(drop="does not, of itself,"))
    with pytest.raises(ChecksumError, match="no longer says 'does not, of itself, determine"):
        fetch(load_sources(manifest), raw)
    assert snapshot(raw) == before
    assert not list(raw.glob(".fetch-*"))
    # On an empty corpus folder too: nothing is written.
    empty = raw.parent / "empty"
    with pytest.raises(ChecksumError):
        fetch(load_sources(manifest), empty)
    assert snapshot(empty) == {}


def test_records_that_differ_are_refused_whatever_the_name(official):
    site, manifest, raw, _base = official
    path = site / "files" / "zip" / ZIP
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    name = next(n for n in members if "ANWEB" in n and n.endswith(".txt"))
    members[name] = members[name].replace(b"Air fluidized bed", b"Air fluidised bed")
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    with pytest.raises(ChecksumError, match="its records differ from the pinned fingerprint"):
        fetch(load_sources(manifest), raw)
    assert snapshot(raw) == {}


def test_a_page_without_the_link_names_the_page(official):
    site, manifest, raw, base = official
    (site / "quarterly-update").write_text(_page("<p>Files have moved.</p>", "HCPCS"))
    with pytest.raises(CorpusError, match=rf"no link matching .* on {base}/quarterly-update"):
        fetch(load_sources(manifest), raw)
    assert snapshot(raw) == {}


def test_a_download_error_is_one_line(official):
    site, manifest, raw, _base = official
    (site / "files" / "zip" / "hcpcs-2098.zip").unlink()
    env = {"HCPCS_SOURCES": str(manifest), "HCPCS_CORPUS_DIR": str(raw)}
    result = CliRunner().invoke(cli, ["corpus", "fetch"], env=env)
    assert_one_line_error(result, 1, "hcpcs-2098.zip: download from", "404")
    assert FETCH_RECORD not in snapshot(raw)


# --------------------------------------------------------------------------- the real manifest

ROOT = Path(__file__).resolve().parents[2]


def test_the_manifest_names_where_each_cms_file_is_found():
    sources = {s.id: s for s in load_sources(ROOT / "corpus" / "sources.toml")}
    for sid in ("hcpcs-2026-01-records", "hcpcs-2026-01-layout", "hcpcs-2026-01-notes"):
        assert sources[sid].url == (
            "https://www.cms.gov/files/zip/january-2026-alpha-numeric-hcpcs-file.zip"
        )
        assert sources[sid].member and sources[sid].fingerprint
    assert all(s.cites for s in sources.values() if s.kind == "guidance")
    # Nothing points at a landing page without saying which link or member to take.
    for src in sources.values():
        assert src.url.endswith((".zip", ".pdf")) or src.link or src.cites, src.id


def test_the_statements_the_answers_cite_are_listed_for_their_page():
    from assistant.answer import COVERAGE_PHRASES, PRODUCT_PHRASES

    sources = load_sources(ROOT / "corpus" / "sources.toml")
    cited = {c for s in sources for c in s.cites}
    compliance = next(s for s in sources if s.id == "noridian-jf-hcpcs-compliance")
    # Phrases found in no web page (the CMS README's) need no listing.
    for phrase in (*COVERAGE_PHRASES, *PRODUCT_PHRASES):
        if "imply" in phrase or "brand names" in phrase:
            continue
        assert phrase in cited and phrase in compliance.cites


@pytest.mark.integration
def test_the_real_files_match_their_fingerprints_and_statements(corpus_dir: Path):
    from assistant.corpus.fingerprint import matches
    from assistant.corpus.guidance import parse_guidance, statement_found
    from assistant.corpus.release import RECORDS_MEMBER

    for src in load_sources(ROOT / "corpus" / "sources.toml"):
        path = corpus_dir / src.path
        if src.fingerprint:
            data, name = path.read_bytes(), path.name
            if data[:4] == b"PK\x03\x04":
                with zipfile.ZipFile(path) as zf:
                    name = next(n for n in zf.namelist() if re.search(RECORDS_MEMBER, n))
                    data = zf.read(name)
            assert matches(src.fingerprint, data, name), src.id
            # Line endings and trailing blanks do not change a fingerprint.
            relaxed = b"\n".join(line.rstrip() for line in data.split(b"\r\n"))
            assert matches(src.fingerprint, relaxed, name), src.id
        if src.cites:
            passages = parse_guidance(path, src.id, src.title, src.citation or None)
            said = " ".join(p.text for p in passages)
            assert all(statement_found(c, said) for c in src.cites), src.id
