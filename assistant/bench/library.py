"""`hcpcs bench`: the project's speed and memory figures, measured and printed.

Warm answers run in this process over a question set; cold figures start fresh processes of
the installed `hcpcs` command, as a coder would.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

from assistant.config import Settings


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def _cold(args: list[str], env: dict[str, str]) -> tuple[float, int, int]:
    """Wall seconds, peak RSS (MB) and exit code of one fresh `hcpcs` process."""
    exe = Path(sys.executable).with_name("hcpcs")
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "assistant"]
    started = time.perf_counter()
    proc = subprocess.Popen(
        command + args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    # wait4 gives this child's own peak memory, not the largest of every child so far.
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return seconds, round(usage.ru_maxrss / 1024), proc.returncode


def child_env(settings: Settings) -> dict[str, str]:
    """The environment for a child `hcpcs` or `streamlit` process using these settings."""
    env = dict(os.environ)
    env.update(
        {
            "HF_HUB_OFFLINE": "1",
            "HCPCS_CORPUS_DIR": str(settings.corpus_dir),
            "HCPCS_INDEX_DIR": str(settings.index_dir),
            "HCPCS_SOURCES": str(settings.manifest),
            "HCPCS_MODEL": settings.model,
            "HCPCS_CHROMA_URL": settings.chroma_url or "",
        }
    )
    return env


def build_figures(settings: Settings, measure: bool) -> dict[str, Any]:
    """Index build time and peak memory: measured now, or what the current index recorded.

    Measured (``--build``), in one run and into a temporary folder (the current index and the
    corpus are untouched; the embedded Chroma there even when a server is configured):

    1. a fresh build of the corpus, as its own `hcpcs index build` process (nothing reused);
    2. the next quarter after the newest loaded release, made from that release's own record
       lines (about as many codes added, terminated and revised as a real quarter), added with
       `hcpcs corpus add` to a copy of the corpus folder (its files linked, not copied);
    3. the rebuild after that add, again as its own process: only new and changed texts are
       embedded, the other vectors are copied from the fresh build.
    """
    from assistant.store import build_dir, read_manifest

    if not measure:
        manifest = read_manifest(build_dir(settings))
        return {
            "measured": "recorded by the current index",
            "build_id": manifest["build_id"],
            "seconds": manifest.get("build_seconds"),
            "peak_rss_mb": manifest.get("peak_rss_mb"),
            "documents": manifest.get("documents"),
            "reused_vectors": manifest.get("reused_vectors", 0),
        }
    with tempfile.TemporaryDirectory(prefix="hcpcs-bench-") as tmp:
        corpus_dir = Path(tmp) / "corpus"
        link_corpus(settings, corpus_dir)
        env = child_env(settings)
        env.update(
            {
                "HCPCS_INDEX_DIR": str(Path(tmp) / "index"),
                "HCPCS_CORPUS_DIR": str(corpus_dir),
                "HCPCS_CHROMA_URL": "",
            }
        )
        fresh = _timed_build(env, Path(tmp) / "index", "fresh build")
        started = time.perf_counter()
        added = add_next_quarter(settings, corpus_dir, Path(tmp))
        add_seconds = time.perf_counter() - started
        again = _timed_build(env, Path(tmp) / "index", "rebuild after the add")
    ratio = again["process_seconds"] / fresh["process_seconds"]
    return {
        "measured": "fresh build and rebuild after adding a quarter, now",
        **fresh,
        "after_add": {
            **again,
            "release": added["release"],
            "plan": added["plan"],
            "add_seconds": round(add_seconds, 2),
            "share_of_fresh": round(ratio, 3),
            "target_share": REBUILD_TARGET,
            "target_met": ratio <= REBUILD_TARGET,
        },
    }


# A rebuild after adding one quarter may take at most this share of a fresh build's time.
REBUILD_TARGET = 0.25


def _timed_build(env: dict[str, str], index_dir: Path, what: str) -> dict[str, Any]:
    from assistant.errors import HcpcsError
    from assistant.store import read_manifest

    seconds, rss, code = _cold(["index", "build"], env)
    if code != 0:
        raise HcpcsError(f"the timed {what} failed; run `hcpcs index build` to see why")
    manifest = read_manifest(index_dir / "current")
    return {
        "build_id": manifest["build_id"],
        "seconds": manifest["build_seconds"],
        "process_seconds": round(seconds, 2),
        "peak_rss_mb": manifest["peak_rss_mb"],
        "process_peak_rss_mb": rss,
        "documents": manifest["documents"],
        "reused_vectors": manifest.get("reused_vectors", 0),
        "embedded_texts": manifest.get("embedded_texts"),
        "stage_seconds": manifest.get("stage_seconds"),
    }


def link_corpus(settings: Settings, corpus_dir: Path) -> None:
    """A corpus folder whose files are symbolic links to the real ones (and copies of its
    local manifest and fetch record): adding a release to it leaves the real one alone."""
    import shutil

    from assistant.corpus.sources import FETCH_RECORD, LOCAL_MANIFEST, corpus_sources

    for src in corpus_sources(settings.manifest, settings.corpus_dir):
        target = corpus_dir / src.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to((settings.corpus_dir / src.path).resolve())
    for name in (LOCAL_MANIFEST, FETCH_RECORD):
        if (settings.corpus_dir / name).is_file():
            shutil.copyfile(settings.corpus_dir / name, corpus_dir / name)


def add_next_quarter(settings: Settings, corpus_dir: Path, tmp: Path) -> dict[str, Any]:
    """Make the quarter after the newest release from its records and add it to
    ``corpus_dir`` (as `hcpcs corpus add` would); returns the release and what it changes."""
    from assistant.bench.quarter import next_quarter, pick_plan, quarter_zip
    from assistant.corpus.release import ReleaseFiles, parse_records, read_release_parts
    from assistant.corpus.sources import corpus_sources
    from assistant.corpus.updates import add_release
    from assistant.records import release_quarter_end

    sources = corpus_sources(settings.manifest, corpus_dir)
    releases = [s for s in sources if s.kind == "cms-hcpcs-release"]
    newest = max(s.release for s in releases)
    files = ReleaseFiles(corpus_dir / s.path for s in releases if s.release == newest)
    name = read_release_parts(files)["records"]
    assert name is not None
    data = files.read(name)
    codes, _modifiers, _header = parse_records(data, name, newest)
    after = release_quarter_end(newest) + timedelta(days=1)
    plan = pick_plan(codes, f"{after:%Y-%m}")
    path = tmp / plan.zip_name
    path.write_bytes(quarter_zip(next_quarter(data, plan), plan))
    add_release(corpus_dir, settings.manifest, path, origin="hcpcs bench (made from records)")
    return {
        "release": plan.release,
        "plan": {
            "added": len(plan.added),
            "terminated": len(plan.terminated),
            "revised": len(plan.revised),
            "reinstated": len(plan.reinstated),
        },
    }


def run_bench(
    settings: Settings,
    questions: list[str],
    threads: int = 8,
    repeat_cold: int = 3,
    measure_build: bool = False,
) -> dict[str, Any]:
    from assistant.answer import ask
    from assistant.service import load_retriever

    build = build_figures(settings, measure_build)
    env = child_env(settings)

    lookup = [_cold(["lookup", "E0601"], env) for _ in range(repeat_cold)]
    cold_ask = [_cold(["ask", "cpap machine for sleep apnea"], env) for _ in range(repeat_cold)]
    failed = [r for r in lookup + cold_ask if r[2] != 0]
    if failed:
        from assistant.errors import HcpcsError

        raise HcpcsError("a cold `hcpcs` run failed; check `hcpcs index status`")

    started = time.perf_counter()
    retriever = load_retriever(settings)
    ask(retriever, "warm up the model")
    load_seconds = time.perf_counter() - started

    latencies = []
    for question in questions:
        t0 = time.perf_counter()
        ask(retriever, question)
        latencies.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda q: ask(retriever, q), questions))
    threaded_seconds = time.perf_counter() - t0

    return {
        "index_build": build,
        "questions": len(questions),
        "warm_answer_ms": {
            "p50": round(percentile(latencies, 50), 1),
            "p95": round(percentile(latencies, 95), 1),
            "mean": round(statistics.fmean(latencies), 1),
            "max": round(max(latencies), 1),
        },
        "cold_lookup_s": round(statistics.median(r[0] for r in lookup), 3),
        "cold_ask_s": round(statistics.median(r[0] for r in cold_ask), 3),
        "load_seconds": round(load_seconds, 2),
        "threads": threads,
        "threaded_questions_per_s": round(len(questions) / threaded_seconds, 1),
        "peak_rss_mb": {
            "bench_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "cold_processes": max(r[1] for r in lookup + cold_ask),
        },
    }


def format_bench(figures: dict[str, Any]) -> str:
    w = figures["warm_answer_ms"]
    b = figures["index_build"]
    lines = [
        f"index build ({b['measured']}): {b['seconds']} s, peak {b['peak_rss_mb']} MB, "
        f"{b['documents']} documents, {b['reused_vectors']} vectors reused"
    ]
    if "after_add" in b:
        a = b["after_add"]
        p = a["plan"]
        met = "met" if a["target_met"] else "NOT met"
        lines = [
            f"fresh index build: {b['process_seconds']} s ({b['seconds']} s in the build), "
            f"peak {b['peak_rss_mb']} MB, {b['documents']} documents, "
            f"{b['embedded_texts']} texts embedded",
            f"rebuild after adding {a['release']} (+{p['added']} codes, {p['terminated']} "
            f"terminated, {p['revised']} revised, {p['reinstated']} reinstated; the add took "
            f"{a['add_seconds']} s): {a['process_seconds']} s ({a['seconds']} s in the build), "
            f"{a['share_of_fresh']:.0%} of the fresh build (target <= "
            f"{a['target_share']:.0%}: {met}), peak {a['peak_rss_mb']} MB, "
            f"{a['reused_vectors']} vectors reused, {a['embedded_texts']} texts embedded",
            "  stages (s): fresh "
            + ", ".join(f"{k} {v}" for k, v in (b["stage_seconds"] or {}).items())
            + "; after the add "
            + ", ".join(f"{k} {v}" for k, v in (a["stage_seconds"] or {}).items()),
        ]
    return "\n".join(
        [
            *lines,
            f"warm question -> answer over {figures['questions']} questions: p50 {w['p50']} ms, "
            f"p95 {w['p95']} ms (mean {w['mean']}, max {w['max']})",
            f"cold `hcpcs lookup E0601`: {figures['cold_lookup_s']} s",
            f"cold `hcpcs ask`: {figures['cold_ask_s']} s",
            f"load (index, BM25, model) in a warm process: {figures['load_seconds']} s",
            f"{figures['threads']} threads: {figures['threaded_questions_per_s']} questions/s",
            f"peak memory: {figures['peak_rss_mb']['bench_process']} MB (bench process), "
            f"{figures['peak_rss_mb']['cold_processes']} MB (largest cold process)",
        ]
    )
