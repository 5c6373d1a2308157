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
    """Index build time and peak memory: a fresh build timed now, or what the index recorded.

    A fresh build runs as its own `hcpcs index build` process into a temporary folder (the
    embedded Chroma there even when a server is configured), so the current index is untouched
    and nothing is reused from it.
    """
    from assistant.errors import HcpcsError
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
        env = child_env(settings)
        env.update({"HCPCS_INDEX_DIR": tmp, "HCPCS_CHROMA_URL": ""})
        seconds, _rss, code = _cold(["index", "build"], env)
        if code != 0:
            raise HcpcsError("the timed index build failed; run `hcpcs index build` to see why")
        manifest = read_manifest(Path(tmp) / "current")
    return {
        "measured": "fresh build now",
        "build_id": manifest["build_id"],
        "seconds": manifest["build_seconds"],
        "process_seconds": round(seconds, 2),
        "peak_rss_mb": manifest["peak_rss_mb"],
        "documents": manifest["documents"],
        "reused_vectors": manifest.get("reused_vectors", 0),
        "stage_seconds": manifest.get("stage_seconds"),
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
    return "\n".join(
        [
            f"index build ({b['measured']}): {b['seconds']} s, peak {b['peak_rss_mb']} MB, "
            f"{b['documents']} documents, {b['reused_vectors']} vectors reused",
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
