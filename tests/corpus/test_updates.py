"""`hcpcs corpus add / remove / list / fetch --latest` on the fixture corpus, and every bad
input the issue names: each a one-line error, with nothing in the corpus or index changed."""

from __future__ import annotations

import errno
import json
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.corpus import updates
from assistant.corpus.sources import LOCAL_MANIFEST, corpus_sources, load_local_sources
from assistant.errors import HcpcsError
from assistant.locks import exclusive
from tests.fixture_corpus import RECORDS, assert_one_line_error, fixture_env, record
from tests.quarterly import april, read_only, snapshot


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return fixture_env(tmp_path)


@pytest.fixture
def files(env, tmp_path: Path):
    """The fixture corpus's "April" (2099-04) as a CMS zip and as its bare records file."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    plan = april(Path(env["HCPCS_SOURCES"]), Path(env["HCPCS_CORPUS_DIR"]), folder)
    return folder, plan


def run(env: dict[str, str], *args: str):
    return CliRunner().invoke(cli, list(args), env=env)


def corpus(env) -> Path:
    return Path(env["HCPCS_CORPUS_DIR"])


def test_add_a_cms_zip_records_it_beside_the_corpus(env, files):
    folder, plan = files
    result = run(env, "corpus", "add", str(folder / plan.zip_name))
    assert result.exit_code == 0, result.output
    assert "added release 2099-04" in result.stdout and "hcpcs index build" in result.stdout
    [src] = load_local_sources(corpus(env))
    assert (src.id, src.release, src.effective.isoformat(), src.role) == (
        "local-hcpcs-2099-04",
        "2099-04",
        "2099-04-01",
        "archive",
    )
    assert src.file == plan.zip_name and src.origin == str((folder / plan.zip_name).resolve())
    copied = corpus(env) / src.path
    assert copied.read_bytes() == (folder / plan.zip_name).read_bytes()
    assert src.sha256 in (corpus(env) / LOCAL_MANIFEST).read_text()
    assert src.fingerprint.startswith("records-1:")
    # `corpus list` shows both manifests, each entry marked.
    listed = run(env, "corpus", "list")
    assert listed.exit_code == 0, listed.output
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert ["verified", "local", "cms-hcpcs-release", "2099-04", src.path] in rows
    assert ["verified", "project", "cms-hcpcs-release", "2099-01"] == rows[1][:4]
    as_json = json.loads(run(env, "corpus", "list", "--json").stdout)
    assert {(e["release"], e["manifest"]) for e in as_json if e["kind"] == "cms-hcpcs-release"} == {
        ("2098-01", "project"),
        ("2099-01", "project"),
        ("2099-04", "local"),
    }


def test_the_bare_records_file_is_added_too(env, files):
    folder, plan = files
    result = run(env, "corpus", "add", str(folder / plan.records_name))
    assert result.exit_code == 0, result.output
    [src] = load_local_sources(corpus(env))
    assert (src.release, src.role, src.file) == ("2099-04", "records", plan.records_name)


def test_the_same_file_twice_changes_nothing(env, files):
    folder, plan = files
    assert run(env, "corpus", "add", str(folder / plan.zip_name)).exit_code == 0
    before = snapshot(corpus(env))
    again = run(env, "corpus", "add", str(folder / plan.zip_name))
    assert again.exit_code == 0 and "already present" in again.stdout
    assert snapshot(corpus(env)) == before


def test_another_file_for_the_release_needs_replace(env, files):
    folder, plan = files
    assert run(env, "corpus", "add", str(folder / plan.zip_name)).exit_code == 0
    [first] = load_local_sources(corpus(env))
    before = snapshot(corpus(env))
    refused = run(env, "corpus", "add", str(folder / plan.records_name))
    assert_one_line_error(refused, 2, "2099-04 was already added", "--replace")
    assert snapshot(corpus(env)) == before
    replaced = run(env, "corpus", "add", "--replace", str(folder / plan.records_name))
    assert replaced.exit_code == 0 and "replaced release 2099-04" in replaced.stdout
    [second] = load_local_sources(corpus(env))
    assert second.sha256 != first.sha256 and second.file == plan.records_name
    assert not (corpus(env) / first.path).exists()  # the old copy is gone
    assert (corpus(env) / second.path).is_file()


def test_remove_undoes_an_add(env, files):
    folder, plan = files
    before = snapshot(corpus(env))
    assert run(env, "corpus", "add", str(folder / plan.zip_name)).exit_code == 0
    removed = run(env, "corpus", "remove", "2099-04")
    assert removed.exit_code == 0 and "removed release 2099-04" in removed.stdout
    assert snapshot(corpus(env)) == before
    assert not (corpus(env) / "local").exists()
    assert_one_line_error(run(env, "corpus", "remove", "2099-04"), 2, "was not added locally")
    assert_one_line_error(run(env, "corpus", "remove", "2099-01"), 2, "pinned by sources.toml")
    assert_one_line_error(run(env, "corpus", "remove", "April"), 2, "YYYY-01")


def test_a_pinned_release_is_not_added_over(env, tmp_path):
    """The project's own 2099-01 file is already there; one with other records is refused."""
    data = zipfile.ZipFile(corpus(env) / "cms-hcpcs/2099-01/hcpcs-2099.zip").read(
        "HCPC2099_JAN_ANWEB_TEST.txt"
    )
    same = tmp_path / "HCPC2099_JAN_ANWEB_copy.txt"
    same.write_bytes(data.replace(b"20000101        N", b"20990101        N", 1))
    result = run(env, "corpus", "add", str(same))
    assert_one_line_error(result, 2, "2099-01 is pinned by sources.toml")
    assert not (corpus(env) / LOCAL_MANIFEST).exists()


# --------------------------------------------------------------------------- bad input


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _april_lines() -> list[str]:
    """Fixture records with an April 2099 action date, so only the names are at fault."""
    return [
        *RECORDS,
        *record("E0702", "Pneumatic bed rail", add="20990401", action_date="20990401", action="A"),
    ]


def _records_data_at(path: Path, member: str) -> int:
    """An offset in the middle of a member's compressed bytes."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(member)
    header = path.read_bytes()[info.header_offset : info.header_offset + 30]
    start = info.header_offset + 30 + int.from_bytes(header[26:28], "little")
    start += int.from_bytes(header[28:30], "little")
    return start + info.compress_size // 2


def _text(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode("cp1252")


ICD10 = (
    "00001 A00     0 Cholera                                                      Cholera\n"
    "00002 A000    1 Cholera due to Vibrio cholerae 01, biovar cholerae          Cholera due\n"
    "00003 A001    1 Cholera due to Vibrio cholerae 01, biovar eltor             Cholera due\n"
    "00004 A009    1 Cholera, unspecified                                        Cholera, uns\n"
)
CPT = "".join(f"{99201 + n}  Office or other outpatient visit, level {n}\n" for n in range(6))


def _bad_inputs(tmp_path: Path, files) -> dict[str, tuple[list[str], int, tuple[str, ...]]]:
    folder, plan = files
    good_zip = (folder / plan.zip_name).read_bytes()
    april_name = "HCPC2099_APR_ANWEB.txt"
    broken = _april_lines()
    broken[3] = broken[3][:150]  # a record cut short: line 4
    corrupt = bytearray(good_zip)
    corrupt[_records_data_at(folder / plan.zip_name, plan.records_name)] ^= 0xFF
    t = tmp_path
    cases = {
        "zip without ANWEB": (
            _zip(t / "april-2099-alpha-numeric-hcpcs-file.zip", {"readme.txt": b"hello"}),
            1,
            ("no alpha-numeric HCPCS file", "members: readme.txt"),
        ),
        "truncated zip": (
            t / "t" / plan.zip_name,
            1,
            ("not a readable zip archive",),
        ),
        "corrupt zip": (t / "c" / plan.zip_name, 1, ("not a readable zip archive",)),
        "broken record": (t / april_name, 1, ("line 4", "truncated record")),
        "ICD-10 file": (t / "icd10cm_order_2026.txt", 1, ("ICD-10-CM",)),
        "ICD-10 file in a zip": (
            _zip(t / "april-2099-icd.zip", {"icd10cm_order_2099.txt": ICD10.encode()}),
            1,
            ("ICD-10-CM",),
        ),
        "CPT file named like ANWEB": (t / "cpt" / "HCPC2099_APR_ANWEB.txt", 1, ("CPT",)),
        "release not told": (t / "codes.txt", 1, ("cannot be told", "--release")),
        "year without quarter": (
            t / "y" / "HCPC2099_ANWEB.txt",
            1,
            ("names a year but no quarter",),
        ),
        "names and dates disagree": (
            t / "HCPC2099_JUL_ANWEB.txt",
            1,
            ("2099-07", "newest action-effective date", "2099-04-01"),
        ),
        "a spreadsheet": (t / "HCPC2099_APR_ANWEB.xlsx", 1, ("a spreadsheet", "ANWEB*.txt")),
        "missing path": (t / "nowhere.zip", 2, ("no such file",)),
        "a folder": (t, 2, ("is a folder",)),
    }
    for sub in ("t", "c", "cpt", "y"):
        (t / sub).mkdir(exist_ok=True)
    (t / "t" / plan.zip_name).write_bytes(good_zip[: len(good_zip) // 2])
    (t / "c" / plan.zip_name).write_bytes(bytes(corrupt))
    (t / april_name).write_bytes(_text(broken))
    (t / "icd10cm_order_2026.txt").write_text(ICD10)
    (t / "cpt" / "HCPC2099_APR_ANWEB.txt").write_text(CPT)
    (t / "codes.txt").write_bytes(_text(_april_lines()))
    (t / "y" / "HCPC2099_ANWEB.txt").write_bytes(_text(_april_lines()))
    (t / "HCPC2099_JUL_ANWEB.txt").write_bytes(_text(_april_lines()))
    _zip(t / "HCPC2099_APR_ANWEB.xlsx", {"[Content_Types].xml": b"<Types/>"})
    return {name: ([str(path)], code, words) for name, (path, code, words) in cases.items()}


BAD = [
    "zip without ANWEB",
    "truncated zip",
    "corrupt zip",
    "broken record",
    "ICD-10 file",
    "ICD-10 file in a zip",
    "CPT file named like ANWEB",
    "release not told",
    "year without quarter",
    "names and dates disagree",
    "a spreadsheet",
    "missing path",
    "a folder",
]


@pytest.mark.parametrize("case", BAD)
def test_bad_input_is_one_line_and_changes_nothing(env, files, tmp_path, case):
    bad = tmp_path / "bad"
    bad.mkdir()
    args, code, words = _bad_inputs(bad, files)[case]
    before = snapshot(corpus(env))
    result = run(env, "corpus", "add", *args)
    assert_one_line_error(result, code, *words)
    assert snapshot(corpus(env)) == before
    assert not (corpus(env) / LOCAL_MANIFEST).exists()


def test_a_zip_saved_without_its_suffix_is_read_as_a_zip(env, files, tmp_path):
    from assistant import store
    from assistant.config import Settings
    from assistant.embeddings import HashEmbedder

    folder, plan = files
    bare = tmp_path / "april-2099-alpha-numeric-hcpcs-file"
    bare.write_bytes((folder / plan.zip_name).read_bytes())
    assert run(env, "corpus", "add", str(bare)).exit_code == 0
    manifest = store.build_index(Settings.from_env(env), embedder=HashEmbedder())
    assert manifest["newest_release"] == "2099-04"


def test_release_option_names_what_the_names_cannot(env, tmp_path):
    path = tmp_path / "codes.txt"
    path.write_bytes(_text(_april_lines()))
    result = run(env, "corpus", "add", "--release", "2099-04", str(path))
    assert result.exit_code == 0, result.output
    [src] = load_local_sources(corpus(env))
    # Stored under a name the loader recognises as a records file.
    assert src.file == "HCPC2099_APR_ANWEB_codes.txt" and src.release == "2099-04"
    wrong = run(env, "corpus", "add", "--release", "2099-05", str(path))
    assert_one_line_error(wrong, 2, "YYYY-01, -04, -07 or -10")


def test_a_read_only_corpus_folder_changes_nothing(env, files):
    folder, plan = files
    before = snapshot(corpus(env))
    with read_only(corpus(env)):
        result = run(env, "corpus", "add", str(folder / plan.zip_name))
    assert_one_line_error(result, 1, "nothing was changed")
    assert snapshot(corpus(env)) == before
    assert not list(corpus(env).glob(".add-*"))


def test_a_full_disk_while_copying_changes_nothing(env, files, monkeypatch):
    folder, plan = files

    def full(origin: Path, target: Path) -> None:
        target.write_bytes(origin.read_bytes()[:100])  # part of it, then the disk is full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(updates, "copy_file", full)
    before = snapshot(corpus(env))
    result = run(env, "corpus", "add", str(folder / plan.zip_name))
    assert_one_line_error(result, 1, "No space left on device", "nothing was changed")
    assert snapshot(corpus(env)) == before
    assert not list(corpus(env).glob(".add-*"))


def test_a_full_disk_while_writing_the_manifest_takes_the_copy_back(env, files, monkeypatch):
    folder, plan = files

    def full(path: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(updates, "write_atomic", full)
    before = snapshot(corpus(env))
    result = run(env, "corpus", "add", str(folder / plan.zip_name))
    assert_one_line_error(result, 1, "nothing was changed")
    assert snapshot(corpus(env)) == before
    assert not (corpus(env) / "local").exists()


def test_two_adds_at_once_one_is_refused(env, files):
    folder, plan = files
    with exclusive(corpus(env) / ".fetch.lock", "corpus add"):  # another add is running
        result = run(env, "corpus", "add", str(folder / plan.zip_name))
        assert_one_line_error(result, 1, "another corpus fetch, add or remove is running")
        fetch = run(env, "corpus", "fetch")
        assert_one_line_error(fetch, 1, "another corpus fetch, add or remove is running")
    assert not (corpus(env) / LOCAL_MANIFEST).exists()
    assert run(env, "corpus", "add", str(folder / plan.zip_name)).exit_code == 0


def test_two_adds_in_threads_leave_one_release(env, files):
    """Two real adds racing: one adds, the other finds it present or is refused."""
    folder, plan = files
    outcomes: list[str] = []

    def add() -> None:
        try:
            got = updates.add_release(
                corpus(env), Path(env["HCPCS_SOURCES"]), folder / plan.zip_name
            )
            outcomes.append(got.action)
        except HcpcsError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=add) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert "added" in outcomes
    other = next(o for o in outcomes if o != "added") if outcomes.count("added") == 1 else None
    assert other in ("already present",) or "another corpus" in (other or "")
    assert [s.release for s in load_local_sources(corpus(env))] == ["2099-04"]


# --------------------------------------------------------------------------- fetch --latest


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no request lines on the test's stderr
        pass


@pytest.fixture
def site(tmp_path: Path):
    """A web server on 127.0.0.1 serving ``tmp_path/site``; yields (folder, base address)."""
    root = tmp_path / "site"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


PAGE = """<!doctype html><html><head><title>Quarterly Update | CMS</title></head><body>
<nav><a href="/">Home</a></nav><main><h1>Quarterly Update</h1>
<p>HCPCS quarterly update files:</p><ul>
<li><a href="/files/zip/{newest}">{label} Alpha-Numeric HCPCS File (ZIP)</a></li>
<li><a href="/files/zip/january-2099-alpha-numeric-hcpcs-file.zip">January 2099 (ZIP)</a></li>
<li><a href="/files/zip/october-2098-alpha-numeric-hcpcs-files.zip">October 2098 (ZIP)</a></li>
<li><a href="/files/zip/2099-hcpcs-record-layout.zip">Record layout</a></li>
</ul></main></body></html>"""


def test_fetch_latest_picks_the_newest_zip_and_adds_it(env, files, site):
    folder, plan = files
    root, base = site
    (root / "files" / "zip").mkdir(parents=True)
    (root / "files" / "zip" / plan.zip_name).write_bytes((folder / plan.zip_name).read_bytes())
    (root / "quarterly-update").write_text(PAGE.format(newest=plan.zip_name, label="April 2099"))
    result = run(env, "corpus", "fetch", "--latest", "--page", f"{base}/quarterly-update")
    assert result.exit_code == 0, result.output
    assert "added release 2099-04" in result.stdout
    assert f"{base}/files/zip/{plan.zip_name}" in result.stderr
    [src] = load_local_sources(corpus(env))
    assert src.origin == src.url == f"{base}/files/zip/{plan.zip_name}"
    again = run(env, "corpus", "fetch", "--latest", "--page", f"{base}/quarterly-update")
    assert again.exit_code == 0 and "already present" in again.stdout


def test_fetch_latest_on_a_changed_page_names_the_address(env, site):
    root, base = site
    (root / "quarterly-update").write_text("<html><body><p>We moved things.</p></body></html>")
    before = snapshot(corpus(env))
    result = run(env, "corpus", "fetch", "--latest", "--page", f"{base}/quarterly-update")
    assert_one_line_error(result, 1, f"{base}/quarterly-update", "by hand", "hcpcs corpus add")
    assert snapshot(corpus(env)) == before


def test_fetch_latest_with_a_missing_zip_is_one_line(env, site):
    root, base = site
    (root / "quarterly-update").write_text(
        PAGE.format(newest="april-2099-alpha-numeric-hcpcs-file.zip", label="April 2099")
    )
    before = snapshot(corpus(env))
    result = run(env, "corpus", "fetch", "--latest", "--page", f"{base}/quarterly-update")
    assert_one_line_error(result, 1, "april-2099-alpha-numeric-hcpcs-file.zip", "404")
    assert snapshot(corpus(env)) == before


def test_latest_link_takes_the_newest_quarter():
    page = PAGE.format(newest="july-2099-alpha-numeric-hcpcs-file.zip", label="July 2099")
    url, release = updates.latest_link(page, "https://www.cms.gov/quarterly-update")
    assert release == "2099-07"
    assert url == "https://www.cms.gov/files/zip/july-2099-alpha-numeric-hcpcs-file.zip"


@pytest.mark.parametrize(
    ("names", "release"),
    [
        (["october-2026-alpha-numeric-hcpcs-file.zip", "HCPC2026_OCT_ANWEB_v2.txt"], "2026-10"),
        (["HCPC2026_APR_ANWEB_03122026.txt"], "2026-04"),
        (["July_2025_Alpha-Numeric_HCPCS_File.zip"], "2025-07"),
        (["some.zip", "HCPC2020_ANWEB_w_disclaimer.txt"], None),
    ],
)
def test_release_from_names(names, release):
    assert updates.release_from_names(names)[0] == release


def test_names_that_disagree_are_refused():
    with pytest.raises(HcpcsError, match="disagree"):
        updates.release_from_names(["april-2026-x.zip", "HCPC2026_JUL_ANWEB.txt"])


def test_a_local_release_clashing_with_a_pinned_one_is_named(env, files):
    """A hand-edited local manifest naming a pinned release: every reader says what to do."""
    folder, plan = files
    assert run(env, "corpus", "add", str(folder / plan.zip_name)).exit_code == 0
    path = corpus(env) / LOCAL_MANIFEST
    path.write_text(path.read_text().replace('release = "2099-04"', 'release = "2099-01"'))
    with pytest.raises(HcpcsError, match="corpus remove 2099-01"):
        corpus_sources(Path(env["HCPCS_SOURCES"]), corpus(env))


def test_a_local_manifest_pointing_outside_is_refused(env, files):
    """`corpus remove` deletes what `path` names: a hand edit cannot aim it elsewhere."""
    folder, plan = files
    assert run(env, "corpus", "add", str(folder / plan.zip_name)).exit_code == 0
    manifest = corpus(env) / LOCAL_MANIFEST
    [src] = load_local_sources(corpus(env))
    manifest.write_text(manifest.read_text().replace(src.path, "../sources.toml"))
    before = snapshot(corpus(env).parent)
    assert_one_line_error(run(env, "corpus", "list"), 1, "path outside local/")
    assert_one_line_error(run(env, "corpus", "remove", "2099-04"), 1, "path outside local/")
    assert snapshot(corpus(env).parent) == before
