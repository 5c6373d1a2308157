"""The index: build it, swap it in atomically, check it is current, open it for reading.

Layout of HCPCS_INDEX_DIR::

    current -> builds/<build id>      symlink, replaced atomically when a build completes
    builds/<build id>/manifest.json   what built it (model, corpus sha256s, parser version, counts)
    builds/<build id>/records.sqlite  every parsed record (lookups read only this)
    builds/<build id>/lexical.pkl     BM25 over the same documents as the dense index
    builds/<build id>/chroma/         the embedded Chroma database (unless HCPCS_CHROMA_URL is set)

A build writes into ``builds/.tmp-<id>`` and becomes ``current`` only when complete, so a
failed or killed build leaves the previous index answering.
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant import __version__
from assistant.attributes import ATTRIBUTES_VERSION
from assistant.config import Settings
from assistant.corpus.release import PARSER_VERSION as RELEASE_PARSER_VERSION
from assistant.corpus.sources import LOCAL_MANIFEST, corpus_sources, sha256_file
from assistant.embeddings import installed_version
from assistant.errors import (
    HcpcsError,
    IndexDamagedError,
    IndexMissingError,
    IndexStaleError,
    StoreUnavailableError,
    UsageError,
)
from assistant.locks import exclusive
from assistant.text import TOKENIZER_VERSION

INDEX_FORMAT = 3  # 2: sha256 of the record store and BM25 files; 3: derived tables, glossary
# "crosswalk-rows": crosswalk entries keep their NDC rows (cited one row at a time).
PARSER_VERSION = (
    f"{RELEASE_PARSER_VERSION}+{TOKENIZER_VERSION}+docs-3+crosswalk-rows+{ATTRIBUTES_VERSION}"
)
COLLECTION_PREFIX = "hcpcs-"
# Files of a build whose size, mtime and sha256 are recorded and checked when it is opened.
CHECKED_FILES = ("records.sqlite", "lexical.pkl")
FIX = "run `hcpcs index build`"

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class IndexPaths:
    root: Path

    @property
    def current(self) -> Path:
        return self.root / "current"

    @property
    def builds(self) -> Path:
        return self.root / "builds"


def build_dir(settings: Settings) -> Path:
    """The directory of the current build; IndexMissingError if none was ever built."""
    current = IndexPaths(settings.index_dir).current
    target = current.resolve() if current.is_symlink() else current
    if not (target / "manifest.json").is_file():
        raise IndexMissingError(f"no index in {settings.index_dir}; {FIX}")
    return target


def read_manifest(directory: Path) -> dict[str, Any]:
    try:
        return json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexStaleError(
            f"index manifest in {directory} is unreadable ({exc}); {FIX}"
        ) from None


def staleness(settings: Settings, manifest: dict[str, Any]) -> list[str]:
    """Reasons the index does not match the corpus, model and code; empty when it is current."""
    reasons = []
    if manifest.get("format") != INDEX_FORMAT:
        reasons.append(f"index format {manifest.get('format')} (this version reads {INDEX_FORMAT})")
    if manifest.get("parser_version") != PARSER_VERSION:
        reasons.append(f"parser version {manifest.get('parser_version')} (now {PARSER_VERSION})")
    model = manifest.get("model", {})
    if model.get("name") != settings.model:
        reasons.append(f"model {model.get('name')} (settings ask for {settings.model})")
    elif model.get("version") != installed_version(settings.model):
        reasons.append(
            f"model {settings.model} {model.get('version')} (installed: "
            f"{installed_version(settings.model)})"
        )
    built_url = manifest.get("chroma", {}).get("url")
    if built_url != settings.chroma_url:
        reasons.append(
            f"built for Chroma at {built_url or 'embedded'}, settings use "
            f"{settings.chroma_url or 'embedded'}"
        )
    sources = corpus_sources(settings.manifest, settings.corpus_dir)
    recorded = {k: v.get("sha256") for k, v in manifest.get("corpus", {}).items()}
    now = {s.id: s.sha256 for s in sources}
    if now != recorded:
        local = {s.id for s in sources if s.local} | {
            k for k, v in manifest.get("corpus", {}).items() if v.get("local")
        }
        changed = {k for k in now.keys() | recorded.keys() if now.get(k) != recorded.get(k)}
        if changed - local:
            reasons.append(f"{settings.manifest.name} lists other files or checksums")
        if changed & local:
            added = sorted(now.keys() - recorded.keys())
            removed = sorted(recorded.keys() - now.keys())
            detail = "; ".join(
                part
                for part in (
                    f"added {', '.join(added)}" if added else "",
                    f"removed {', '.join(removed)}" if removed else "",
                )
                if part
            )
            reasons.append(
                f"{LOCAL_MANIFEST} lists other files or checksums ({detail or 'replaced'})"
            )
    glossary = manifest.get("glossary", {}).get("sha256")
    try:
        current = sha256_file(settings.glossary)
    except OSError:
        current = None
    if glossary != current:
        reasons.append(f"the glossary {settings.glossary.name} changed since the build")
    return reasons


def corpus_problems(settings: Settings, manifest: dict[str, Any]) -> list[str]:
    """Corpus files that are missing or no longer match their sha256 since the build.

    They do not make the index stale: it was built from the verified bytes its manifest
    records, and keeps answering. They do mean the next build would fail until the corpus is
    fetched again, which `hcpcs index status` says.
    """
    problems = []
    recorded = manifest.get("corpus", {})
    for src in corpus_sources(settings.manifest, settings.corpus_dir):
        path = settings.corpus_dir / src.path
        rec = recorded.get(src.id, {})
        try:
            st = path.stat()
        except OSError:
            problems.append(f"{src.file} is missing from {settings.corpus_dir}")
            continue
        if (st.st_size, st.st_mtime_ns) != (rec.get("size"), rec.get("mtime_ns")):
            # Only hash when the file looks touched: status checks stay cheap.
            if st.st_size != rec.get("size") or sha256_file(path) != src.sha256:
                problems.append(f"{src.file} does not match its sha256")
    return problems


def check_current(settings: Settings, deep: bool = False) -> tuple[Path, dict[str, Any]]:
    """The current build and its manifest; IndexMissingError / IndexStaleError otherwise.

    The record store and BM25 files are checked against what their build recorded, so a
    descriptor is never quoted from a damaged file: with ``deep`` (the long-lived retriever,
    about 70 ms) always by sha256; otherwise by sha256 only when a file's size or mtime says
    it was touched, which keeps `hcpcs lookup` quick.
    """
    directory = build_dir(settings)
    manifest = read_manifest(directory)
    reasons = staleness(settings, manifest)
    if reasons:
        raise IndexStaleError(f"index is stale ({reasons[0]}); {FIX}")
    damaged = damage(directory, manifest, deep)
    if damaged:
        raise IndexDamagedError(f"index is damaged ({damaged[0]}); {FIX}")
    return directory, manifest


def damage(directory: Path, manifest: dict[str, Any], deep: bool = True) -> list[str]:
    """Files of the build that are missing or differ from what the build recorded."""
    problems = []
    for name, expected in manifest.get("files", {}).items():
        path = directory / name
        try:
            st = path.stat()
        except OSError:
            problems.append(f"{name} is missing")
            continue
        if st.st_size != expected.get("size"):
            problems.append(
                f"{name} is {st.st_size:,} bytes, the build wrote {expected.get('size'):,}"
            )
            continue
        untouched = st.st_mtime_ns == expected.get("mtime_ns")
        if (deep or not untouched) and sha256_file(path) != expected.get("sha256"):
            problems.append(f"{name} does not match the sha256 the build recorded")
    return problems


def chroma_client(settings: Settings, path: Path | None):
    """An embedded PersistentClient at ``path``, or an HttpClient for HCPCS_CHROMA_URL."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url is None:
        assert path is not None
        try:
            return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
        except Exception as exc:  # a damaged chroma.sqlite3 surfaces as one of several kinds
            raise IndexDamagedError(
                f"the Chroma store at {path} cannot be opened ({type(exc).__name__}); {FIX}"
            ) from None
    from urllib.parse import urlparse

    url = urlparse(settings.chroma_url)
    try:
        client = chromadb.HttpClient(
            host=url.hostname or "127.0.0.1",
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
        client.heartbeat()
    except Exception as exc:  # chromadb raises many kinds; all mean "not reachable"
        raise StoreUnavailableError(
            f"cannot reach the Chroma server at {settings.chroma_url} ({type(exc).__name__}); "
            "start it with `chroma run --host 127.0.0.1 --port N --path DIR` "
            "or unset HCPCS_CHROMA_URL"
        ) from None
    return client


def open_collection(settings: Settings, directory: Path, manifest: dict[str, Any]):
    client = chroma_client(settings, directory / "chroma")
    name = manifest["chroma"]["collection"]
    try:
        return client.get_collection(name, embedding_function=None)
    except Exception:
        raise IndexStaleError(f"Chroma collection {name} is missing; {FIX}") from None


def build_index(
    settings: Settings,
    embedder=None,
    progress: Progress | None = None,
    corpus=None,
) -> dict[str, Any]:
    """Parse the corpus, embed and index it, and swap the new index in. Returns its manifest."""
    started = time.perf_counter()
    report = progress or (lambda _stage, _done, _total: None)
    paths = IndexPaths(settings.index_dir)
    try:
        paths.builds.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"cannot use {settings.index_dir} as the index folder: {exc.strerror}"
        ) from None
    # One build at a time per index folder: a second would delete the first's staging files.
    with exclusive(paths.root / ".build.lock", "index build"):
        manifest = _build(settings, paths, started, report, embedder, corpus)
    return manifest


def _build(settings: Settings, paths: IndexPaths, started: float, report, embedder, corpus):
    """Parse, write the record store and BM25, embed into a new collection, write the
    manifest, then swap the build in; a failure at any step removes what it wrote."""
    from assistant.codebook import write_derived
    from assistant.corpus.loader import load_corpus
    from assistant.documents import build_documents
    from assistant.embeddings import make_embedder

    _remove_leftovers(paths)
    build_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    tmp = paths.builds / f".tmp-{build_id}"
    tmp.mkdir()
    collection_name = COLLECTION_PREFIX + build_id.lower()
    client = None
    warming = None
    try:
        stages = _Stages()
        embedder = embedder or make_embedder(settings.model)
        warming = _warm_up(settings, embedder)
        report("parse corpus", 0, 1)
        if corpus is None:
            corpus = load_corpus(settings)
        report("parse corpus", 1, 1)
        stages.lap("parse")
        documents = build_documents(corpus)
        _write_stores(tmp, corpus, documents)
        stages.lap("records_and_lexical")

        # Descriptor attributes, successors and the glossary are worked out on a thread while
        # the model embeds (torch leaves the interpreter free), then written beside the records.
        derive = _Derive(corpus, settings.glossary)
        derive.start()
        client = chroma_client(settings, tmp / "chroma")
        collection = client.create_collection(
            collection_name, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
        )
        reuse = _previous_vectors(settings, embedder, {d.text for d in documents})
        stages.lap("reuse")
        embedded = _embed_into(collection, documents, embedder, report, stages.lap, reuse)
        if warming is not None:
            warming.join()

        derive.join()
        derived = derive.result()
        write_derived(tmp / "records.sqlite", *derived[:3], derived[4])
        stages.lap("derived")

        manifest = _describe(settings, build_id, collection_name, embedder, corpus, documents)
        manifest["glossary"] = {"path": str(settings.glossary), "sha256": derived[3]}
        manifest["successors"] = len(derived[1])
        manifest["build_seconds"] = round(time.perf_counter() - started, 2)
        manifest["stage_seconds"] = stages.seconds
        manifest["reused_vectors"] = sum(1 for d in documents if d.text in reuse)
        manifest["embedded_texts"] = embedded
        manifest["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        manifest["files"] = {name: _file_record(tmp / name) for name in CHECKED_FILES}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        del collection
        _release_client(settings, client)
        client = None
        _swap_in(paths, tmp, build_id)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if client is not None and settings.chroma_url is not None:
            _drop_collection(client, collection_name)
        if warming is not None:
            warming.join()  # not left loading (and writing to stderr) while the process ends
        raise
    _prune(settings, paths, keep={build_id})
    manifest["size_bytes"] = _du(paths.builds / build_id)
    return manifest


class _Derive(threading.Thread):
    """Parse every distinct descriptor into attributes, find successors, load the glossary."""

    def __init__(self, corpus, glossary_path: Path):
        super().__init__(name="derive", daemon=True)
        self.corpus = corpus
        self.glossary_path = glossary_path
        self._result = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            from assistant.attributes import parse
            from assistant.drug_units import drug_families
            from assistant.glossary import load
            from assistant.successors import find_successors

            entries, sha = load(self.glossary_path)
            texts = {
                r.long_description
                for release in self.corpus.releases.values()
                for r in (*release.codes.values(), *release.modifiers.values())
            }
            attributes = {text: parse(text, descriptor=True).to_data() for text in sorted(texts)}
            newest = self.corpus.releases[max(self.corpus.releases)]
            successors = find_successors(newest.codes.values())
            latest = {}
            for rid in sorted(self.corpus.releases):
                latest.update(self.corpus.releases[rid].codes)
            families = drug_families(latest.values())
            self._result = (attributes, successors, entries, sha, families)
        except BaseException as exc:  # raised again by result(), in the building thread
            self._error = exc

    def result(self):
        if self._error is not None:
            raise self._error
        return self._result


class _Stages:
    """Seconds taken by each stage of a build, recorded in its manifest."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._mark = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.seconds[stage] = round(now - self._mark, 2)
        self._mark = now


def _write_stores(directory: Path, corpus, documents) -> None:
    """The record store (what lookups and answers quote) and BM25, from the same documents."""
    from assistant.codebook import write_codebook

    write_codebook(directory / "records.sqlite", corpus, documents)
    _write_lexical(directory / "lexical.pkl", documents)


def _describe(
    settings: Settings, build_id: str, collection_name: str, embedder, corpus, documents
) -> dict[str, Any]:
    """What built the index and what it holds: the body of its manifest.

    The model, corpus sha256s and parser version are what ``staleness`` compares with the
    settings and manifest of the day; the counts are what `hcpcs index status` shows.
    """
    return {
        "format": INDEX_FORMAT,
        "build_id": build_id,
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "project_version": __version__,
        "parser_version": PARSER_VERSION,
        "model": {
            "name": embedder.name,
            "version": embedder.version,
            "dimension": embedder.dimension,
        },
        "chroma": {"url": settings.chroma_url, "collection": collection_name},
        "corpus": {
            s.id: {"sha256": s.sha256, "path": s.path}
            | {"local": s.local, "verified_by": s.verified_by}
            | _stat_record(settings.corpus_dir / s.path)
            for s in corpus.sources
        },
        "releases": _release_summaries(corpus),
        "newest_release": max(corpus.releases),
        "drug_entries": len(corpus.drugs),
        "drug_see_entries": sum(1 for d in corpus.drugs if d.see),
        "crosswalk_entries": len(corpus.crosswalk),
        "passages": len(corpus.passages),
        "documents": len(documents),
        "documents_by_kind": _count_kinds(documents),
    }


def _release_summaries(corpus) -> list[dict[str, Any]]:
    """Per release: its effective date, counts, layout and the metadata key its codes carry."""
    from assistant.documents import release_key

    return [
        {
            "release": rid,
            "effective": rel.effective.isoformat(),
            "codes": len(rel.codes),
            "modifiers": len(rel.modifiers),
            "active_codes": sum(1 for r in rel.codes.values() if not r.terminated),
            "noc_codes": sum(1 for r in rel.codes.values() if r.noc),
            "noc_list": rel.noc_list,
            "layout": rel.layout_name,
            "metadata_key": release_key(rid),
        }
        for rid, rel in sorted(corpus.releases.items())
    ]


def _stat_record(path: Path) -> dict[str, int]:
    """Size and mtime: what tells a file untouched since the build without hashing it."""
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _file_record(path: Path) -> dict[str, Any]:
    """What a build file is checked against when the index is opened (see ``damage``)."""
    return _stat_record(path) | {"sha256": sha256_file(path)}


def _warm_up(settings: Settings, embedder):
    """Load the model on a thread while the corpus is parsed, when texts will need embedding:
    always for a first build, and for a rebuild when the corpus changed (an added quarter).
    The loading (about ten seconds) then costs a rebuild almost nothing. Returns the thread.
    """
    prepare = getattr(embedder, "prepare", None)
    if prepare is None:
        return None
    try:
        previous = read_manifest(build_dir(settings)).get("corpus", {})
        current = corpus_sources(settings.manifest, settings.corpus_dir)
        if {s.id: s.sha256 for s in current} == {k: v.get("sha256") for k, v in previous.items()}:
            return None  # the same corpus: nothing new to embed, unless the model changed
    except HcpcsError:
        pass  # no previous index, or the corpus cannot be read (the parse will say why)

    def load() -> None:
        try:
            prepare()
        except Exception:  # noqa: S110 - the embed step loads it again and reports the error
            pass

    thread = threading.Thread(target=load, name="load-model", daemon=True)
    thread.start()
    return thread


def _previous_vectors(settings: Settings, embedder, wanted: set[str]) -> dict[str, list[float]]:
    """Vectors of the current build that the new one can keep, by text: same model, same text.

    A vector depends on nothing but its text, so a document whose text the previous build
    embedded (under any id: a record layout passage that moved to a newer release, a
    descriptor carried by one more release) keeps its vector instead of being embedded
    again. Anything odd about the old index (stale format, unreadable, another model) means
    nothing is reused.
    """
    try:
        from assistant.codebook import Codebook

        directory = build_dir(settings)
        manifest = read_manifest(directory)
        model = manifest.get("model", {})
        if (model.get("name"), model.get("version")) != (embedder.name, embedder.version):
            return {}
        if manifest.get("chroma", {}).get("url") != settings.chroma_url:
            return {}
        book = Codebook(directory / "records.sqlite")
        try:
            by_id = {d[0]: d[3] for d in book.documents() if d[3] in wanted}
        finally:
            book.close()
        collection = open_collection(settings, directory, manifest)
        return {
            by_id[doc_id]: [float(x) for x in vector]
            for doc_id, vector in read_vectors(collection, sorted(by_id))
        }
    except Exception:  # any fault in the old index only costs the time to embed again
        return {}


def read_vectors(
    collection, ids: Sequence[str], batch: int = 4096
) -> Iterator[tuple[str, Sequence[float]]]:
    """(id, vector) for each of ``ids`` that the Chroma collection holds, read ``batch`` ids
    at a time (one request for all of them would exceed what a Chroma server takes).

    An id the collection does not hold is left out: a caller that needs every vector counts
    them. Errors of Chroma pass through, for the caller to say what they mean.
    """
    for start in range(0, len(ids), batch):
        got = collection.get(ids=list(ids[start : start + batch]), include=["embeddings"])
        yield from zip(got["ids"], got["embeddings"], strict=True)


def _embed_into(
    collection, documents, embedder, report: Progress, lap, reuse: dict[str, list[float]]
) -> int:
    """Embed each distinct new text once, then add every document's vector to the collection.
    Returns how many texts were embedded.

    Vectors of texts the previous build embedded come from it (``reuse``, by text).

    Texts go to the model in order of length, so its batches are evenly padded. Chroma gets
    vectors and metadata only: the texts live in records.sqlite, and Chroma's full-text index
    of documents would cost a third of the insert time for nothing.
    """
    vectors: dict[str, list[float]] = dict(reuse)
    texts = sorted({d.text for d in documents} - vectors.keys(), key=lambda t: (len(t), t))
    chunk_size = 1024
    for start in range(0, len(texts), chunk_size):
        chunk = texts[start : start + chunk_size]
        vectors.update(zip(chunk, embedder.embed(chunk), strict=True))
        report("embed", min(start + chunk_size, len(texts)), len(texts))
    lap("embed")
    add_size = 4096
    for start in range(0, len(documents), add_size):
        chunk = documents[start : start + add_size]
        collection.add(
            ids=[d.id for d in chunk],
            embeddings=[vectors[d.text] for d in chunk],
            metadatas=[d.metadata() for d in chunk],
        )
        report("store", min(start + add_size, len(documents)), len(documents))
    lap("chroma")
    return len(texts)


def _release_client(settings: Settings, client) -> None:
    """Close an embedded Chroma client so that nothing holds the build dir when it is renamed."""
    if settings.chroma_url is None:
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()


def _count_kinds(documents) -> dict[str, int]:
    counts: dict[str, int] = {}
    for d in documents:
        counts[d.kind] = counts.get(d.kind, 0) + 1
    return counts


def _write_lexical(path: Path, documents) -> None:
    from assistant.lexical import Lexical

    lexical = Lexical.build([d.id for d in documents], [d.text for d in documents])
    with path.open("wb") as fh:
        pickle.dump(lexical, fh, protocol=5)


def load_lexical(directory: Path):
    """The BM25 index of a build (an ``assistant.lexical.Lexical``)."""
    try:
        with (directory / "lexical.pkl").open("rb") as fh:
            return pickle.load(fh)  # noqa: S301 - our own file, written by build_index
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError) as exc:
        raise IndexDamagedError(
            f"the BM25 index in {directory} cannot be read ({type(exc).__name__}); {FIX}"
        ) from None


def _swap_in(paths: IndexPaths, tmp: Path, build_id: str) -> None:
    final = paths.builds / build_id
    os.replace(tmp, final)
    link = paths.root / f".current-{build_id}"
    os.symlink(Path("builds") / build_id, link)
    os.replace(link, paths.current)  # atomic: readers see the old or the new index, never half


def _remove_leftovers(paths: IndexPaths) -> None:
    """Temporary builds of a build that was killed, and stray symlinks of an interrupted swap."""
    for tmp in paths.builds.glob(".tmp-*"):
        shutil.rmtree(tmp, ignore_errors=True)
    for link in paths.root.glob(".current-*"):
        link.unlink(missing_ok=True)


def _prune(settings: Settings, paths: IndexPaths, keep: set[str]) -> None:
    """Remove builds other than the new one (their collections too, on a server)."""
    for old in paths.builds.iterdir():
        if old.name in keep or old.name.startswith(".tmp-"):
            continue
        manifest_file = old / "manifest.json"
        if settings.chroma_url is not None and manifest_file.is_file():
            try:
                name = json.loads(manifest_file.read_text())["chroma"]["collection"]
                _drop_collection(chroma_client(settings, None), name)
            except (HcpcsError, ValueError, KeyError):
                pass  # the server may be gone or the manifest old: leave its collection
        shutil.rmtree(old, ignore_errors=True)


def _drop_collection(client, name: str) -> None:
    try:
        client.delete_collection(name)
    except Exception:  # already gone, or the server went away: nothing more to do
        pass


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def index_status(settings: Settings) -> dict[str, Any]:
    """The current build's manifest plus whether it is current, with the reasons if not."""
    directory = build_dir(settings)
    manifest = read_manifest(directory)
    reasons = staleness(settings, manifest)
    status = dict(manifest)
    status["path"] = str(directory)
    status["current"] = not reasons
    status["stale_reasons"] = reasons + damage(directory, manifest)
    status["current"] = not status["stale_reasons"]
    status["corpus_problems"] = corpus_problems(settings, manifest)
    status["size_bytes"] = _du(directory)
    return status


def format_index_status(status: dict[str, Any]) -> str:
    """``index_status`` for people: the build, its model and parser, what it holds."""
    state = "current" if status["current"] else "STALE: " + "; ".join(status["stale_reasons"])
    lines = [
        f"index {status['build_id']} ({state})",
        f"  built {status['built_at']} in {status['build_seconds']} s, "
        f"{status['size_bytes'] / 1e6:.1f} MB at {status['path']}",
        f"  model {status['model']['name']} {status['model']['version']}, "
        f"parser {status['parser_version']}",
    ]
    lines += [
        f"  release {r['release']} (effective {r['effective']}): {r['codes']} codes "
        f"({r['active_codes']} active), {r['modifiers']} modifiers"
        for r in status["releases"]
    ]
    lines.append(
        f"  {status['drug_entries']} Table of Drugs entries "
        f"({status['drug_see_entries']} see lines), "
        f"{status['crosswalk_entries']} crosswalk entries, {status['passages']} passages"
    )
    return "\n".join(lines)


def format_corpus_problems(status: dict[str, Any]) -> str | None:
    """The warning for corpus files damaged or missing since the build; None when there are
    none. A warning, not a fault: the index still answers."""
    if not status["corpus_problems"]:
        return None
    return (
        f"  corpus: {'; '.join(status['corpus_problems'])} (the index still answers; "
        "run `hcpcs corpus fetch` before the next build)"
    )


def format_build(manifest: dict[str, Any]) -> str:
    """One line on a finished build: its time, memory, size and what it holds."""
    releases = ", ".join(
        f"{r['release']} {r['codes']} codes/{r['modifiers']} modifiers"
        for r in manifest["releases"]
    )
    return (
        f"index {manifest['build_id']} built in {manifest['build_seconds']} s "
        f"(peak {manifest['peak_rss_mb']} MB, {manifest['size_bytes'] / 1e6:.1f} MB on disk): "
        f"{releases}; {manifest['drug_entries']} drug entries, "
        f"{manifest['crosswalk_entries']} crosswalk entries, {manifest['passages']} passages; "
        f"{manifest['reused_vectors']} vectors reused, {manifest['embedded_texts']} texts embedded"
    )


def build_needed(settings: Settings) -> str | None:
    """Why the index needs a build (missing or stale), or None when it is current."""
    try:
        check_current(settings)
    except (IndexMissingError, IndexStaleError) as exc:
        return str(exc)
    return None
