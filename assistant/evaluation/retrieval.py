"""Retrieval metrics (hit@k, MRR) as pure functions, and a retrieval-only run over sets."""

from __future__ import annotations

import time
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


def retrieval_metrics(ranks: list[int | None]) -> dict[str, float]:
    return {
        "n": len(ranks),
        "hit@1": round(hit_at(ranks, 1), 4),
        "hit@5": round(hit_at(ranks, 5), 4),
        "hit@10": round(hit_at(ranks, 10), 4),
        "mrr@10": round(mrr_at(ranks, 10), 4),
    }


def evaluate_retrieval(
    retriever, questions: list[dict[str, Any]], mode: str, k: int = 10, items: bool = False
) -> dict[str, Any]:
    """Run each question with expected codes through one retriever; metrics and per-item ranks."""
    from assistant.retrieval import Filters
    from assistant.service import parse_date

    ranks: list[int | None] = []
    per_item = []
    started = time.perf_counter()
    for q in questions:
        if not q["expected_codes"]:
            continue
        filters = Filters(date_of_service=parse_date(q.get("date")))
        result = retriever.search(q["question"], filters, k=max(k, 10), mode=mode)
        ranked = [h.record.code for h in result.hits]
        rank = first_rank(ranked, q["expected_codes"])
        ranks.append(rank)
        if items:
            per_item.append(
                {"id": q["id"], "rank": rank, "expected": q["expected_codes"], "got": ranked[:5]}
            )
    metrics: dict[str, Any] = retrieval_metrics(ranks)
    metrics["seconds"] = round(time.perf_counter() - started, 2)
    if items:
        metrics["items"] = per_item
    return metrics


def format_retrieval(report: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = [
        f"{'set':<24} {'retriever':<8} {'n':>5} {'hit@1':>7} {'hit@5':>7} {'hit@10':>7} "
        f"{'mrr@10':>7}"
    ]
    for name, modes in report.items():
        for mode, m in modes.items():
            lines.append(
                f"{name:<24} {mode:<8} {m['n']:>5} {m['hit@1']:>7.3f} {m['hit@5']:>7.3f} "
                f"{m['hit@10']:>7.3f} {m['mrr@10']:>7.3f}"
            )
    return "\n".join(lines)
