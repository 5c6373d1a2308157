"""Retrieval metrics (hit@k, MRR) as pure functions, and a retrieval-only run over sets."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any


def first_rank(ranked: list[str], expected: list[str]) -> int | None:
    """1-based rank of the first expected code in ``ranked``; None when absent."""
    wanted = {c.upper() for c in expected}
    for n, code in enumerate(ranked, 1):
        if code.upper() in wanted:
            return n
    return None


def hit_at(ranks: list[int | None], k: int) -> float:
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


def mrr_at(ranks: list[int | None], k: int) -> float:
    return sum(1.0 / r for r in ranks if r is not None and r <= k) / len(ranks) if ranks else 0.0


CUTOFFS = (1, 5, 10)  # hit@ these ranks is reported, those up to k


def retrieval_metrics(ranks: list[int | None], k: int = 10) -> dict[str, float]:
    """n, hit@1, hit@5, hit@10 (those up to ``k``), hit@k and MRR@k of the ranks."""
    out: dict[str, float] = {"n": len(ranks)}
    for cutoff in sorted({c for c in CUTOFFS if c <= k} | {k}):
        out[f"hit@{cutoff}"] = round(hit_at(ranks, cutoff), 4)
    out[f"mrr@{k}"] = round(mrr_at(ranks, k), 4)
    return out


def evaluate_retrieval(
    retriever, questions: list[dict[str, Any]], mode: str, k: int = 10, items: bool = False
) -> dict[str, Any]:
    """Each question with expected codes through one retriever, ``k`` candidates retrieved;
    metrics at k (see ``retrieval_metrics``) and, with ``items``, each question's rank."""
    from assistant.retrieval import Filters
    from assistant.service import parse_date

    ranks: list[int | None] = []
    per_item = []
    started = time.perf_counter()
    for q in questions:
        if not q["expected_codes"]:
            continue
        filters = Filters(date_of_service=parse_date(q.get("date")))
        result = retriever.search(q["question"], filters, k=k, mode=mode)
        ranked = [h.record.code for h in result.hits][:k]
        rank = first_rank(ranked, q["expected_codes"])
        ranks.append(rank)
        if items:
            per_item.append(
                {"id": q["id"], "rank": rank, "expected": q["expected_codes"], "got": ranked[:5]}
            )
    metrics: dict[str, Any] = retrieval_metrics(ranks, k)
    metrics["seconds"] = round(time.perf_counter() - started, 2)
    if items:
        metrics["items"] = per_item
    return metrics


def run_retrieval(
    retriever,
    loaded: dict[Path, list[dict[str, Any]]],
    modes: tuple[str, ...],
    k: int = 10,
    items: bool = False,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Every set (path -> its questions) through every retriever mode.

    Returns {set name: {mode: metrics}}.
    """
    return {
        path.name: {mode: evaluate_retrieval(retriever, qs, mode, k, items) for mode in modes}
        for path, qs in loaded.items()
    }


def retrieval_json(report: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """`hcpcs eval retrieval --json`. One set: the first retriever's metrics at the top level
    ({"n", "hit@1", ...}) and every retriever's under "retrievers"; several sets: that object
    per set under "sets"."""
    shaped = {}
    for name, by_mode in report.items():
        first = next(iter(by_mode))
        shaped[name] = {"set": name, "retriever": first, **by_mode[first], "retrievers": by_mode}
    return next(iter(shaped.values())) if len(shaped) == 1 else {"sets": shaped}


def format_retrieval(report: dict[str, dict[str, dict[str, Any]]]) -> str:
    """A table: one row per set and retriever, one column per metric."""
    first = next(iter(next(iter(report.values())).values()))
    columns = [key for key in first if "@" in key]
    lines = [f"{'set':<24} {'retriever':<8} {'n':>5} " + " ".join(f"{c:>7}" for c in columns)]
    for name, modes in report.items():
        for mode, m in modes.items():
            lines.append(
                f"{name:<24} {mode:<8} {m['n']:>5} " + " ".join(f"{m[c]:>7.3f}" for c in columns)
            )
    return "\n".join(lines)
