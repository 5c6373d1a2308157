"""Metric functions on hand-made rankings, and question-set schema errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.errors import UsageError
from assistant.evaluation.retrieval import (
    evaluate_retrieval,
    first_rank,
    format_retrieval,
    hit_at,
    mrr_at,
    retrieval_metrics,
)
from assistant.evaluation.sets import drug_questions, read_set
from assistant.records import DrugEntry


def test_first_rank_any_expected_code_counts():
    assert first_rank(["E0601", "E0562", "A7030"], ["A7030", "E0562"]) == 2
    assert first_rank(["E0601"], ["e0601"]) == 1
    assert first_rank(["E0601"], ["E0562"]) is None
    assert first_rank([], ["E0562"]) is None


def test_hit_and_mrr_on_hand_made_ranks():
    ranks = [1, 2, None, 7, 12]
    assert hit_at(ranks, 1) == pytest.approx(0.2)
    assert hit_at(ranks, 5) == pytest.approx(0.4)
    assert hit_at(ranks, 10) == pytest.approx(0.6)
    assert mrr_at(ranks, 10) == pytest.approx((1 + 0.5 + 1 / 7) / 5)
    assert retrieval_metrics([]) == {
        "n": 0,
        "hit@1": 0.0,
        "hit@5": 0.0,
        "hit@10": 0.0,
        "mrr@10": 0.0,
    }


def test_metrics_at_k_name_their_cutoffs():
    ranks = [1, 2, 3, None]
    assert retrieval_metrics(ranks, 2) == {"n": 4, "hit@1": 0.25, "hit@2": 0.5, "mrr@2": 0.375}
    assert list(retrieval_metrics(ranks, 20)) == [
        "n",
        "hit@1",
        "hit@5",
        "hit@10",
        "hit@20",
        "mrr@20",
    ]
    assert retrieval_metrics(ranks, 20)["hit@20"] == 0.75


class _RankedRetriever:
    """Ranks the codes of each question's "ranking" field, and records the k it was asked for."""

    def __init__(self, rankings: dict[str, list[str]]) -> None:
        self.rankings = rankings
        self.asked_k: list[int] = []

    def search(self, question, _filters, k, mode):
        from types import SimpleNamespace

        self.asked_k.append(k)
        hits = [
            SimpleNamespace(record=SimpleNamespace(code=code)) for code in self.rankings[question]
        ]
        return SimpleNamespace(hits=hits)


def test_eval_retrieval_k_is_the_candidates_retrieved_and_the_metrics_cutoff():
    """--k used to be ignored (candidates were max(k, 10), metrics always @10)."""
    ranked = ["A0001", "A0002", "A0003", "A0004", "A0005", "A0006"]
    fake = _RankedRetriever({"second": ranked, "sixth": ranked, "absent": ranked})
    questions = [
        {"id": "1", "question": "second", "expected_codes": ["A0002"]},
        {"id": "2", "question": "sixth", "expected_codes": ["A0006"]},
        {"id": "3", "question": "absent", "expected_codes": ["B0001"]},
        {"id": "4", "question": "not asked", "expected_codes": []},
    ]
    at_one = evaluate_retrieval(fake, questions, "hybrid", k=1, items=True)
    assert fake.asked_k == [1, 1, 1]
    assert {k: v for k, v in at_one.items() if "@" in k} == {"hit@1": 0.0, "mrr@1": 0.0}
    assert [i["rank"] for i in at_one["items"]] == [None, None, None]
    at_five = evaluate_retrieval(fake, questions, "hybrid", k=5, items=True)
    assert [i["rank"] for i in at_five["items"]] == [2, None, None]  # the sixth is not retrieved
    assert at_five["hit@5"] == pytest.approx(0.3333) and at_five["mrr@5"] == pytest.approx(0.1667)
    at_ten = evaluate_retrieval(fake, questions, "bm25", k=10)
    assert (at_ten["hit@5"], at_ten["hit@10"]) == (pytest.approx(0.3333), pytest.approx(0.6667))
    table = format_retrieval({"set.jsonl": {"hybrid": at_five}}).splitlines()
    assert table[0].split() == ["set", "retriever", "n", "hit@1", "hit@5", "mrr@5"]
    assert table[1].split() == ["set.jsonl", "hybrid", "3", "0.000", "0.333", "0.167"]


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (
            ['{"id": "a", "question": "q", "expected_codes": []}', "{not json"],
            r"set.jsonl:2: not valid JSON",
        ),
        (['{"id": "a", "expected_codes": []}'], r"set.jsonl:1: 'question' is required"),
        (
            ['{"id": "a", "question": "q", "expected_codes": "E0601"}'],
            r":1: 'expected_codes' is required",
        ),
        (['{"id": "a", "question": "q", "expected_codes": [], "kind": "x"}'], r":1: kind must be"),
        (['{"id": "a", "question": "q", "expected_codes": []}'] * 2, r":2: duplicate id 'a'"),
        (["[1, 2]"], r":1: each line must be a JSON object"),
        ([""], "no questions"),
    ],
)
def test_bad_sets_name_file_and_line(tmp_path: Path, lines, message):
    with pytest.raises(UsageError, match=message):
        read_set(_write(tmp_path, lines))


def test_good_set_reads(tmp_path: Path):
    item = {"id": "a", "question": "cpap", "expected_codes": ["E0601"], "kind": "description"}
    assert read_set(_write(tmp_path, [json.dumps(item)])) == [item]


def test_drug_questions_pool_routes_and_ask_brands_by_name():
    entries = [
        DrugEntry("Abatacept", "10 mg", ("IV",), ("J0129",), "t", 1),
        DrugEntry("Abatacept", "10 mg", ("SC",), ("J9999",), "t", 2),
        DrugEntry("Orencia", "10 mg", ("IV",), ("J0129",), "t", 3, see="Abatacept"),
        DrugEntry("Gone drug", "1 mg", ("IV",), ("J0000",), "t", 4),
    ]
    questions = drug_questions(entries, {"J0129", "J9999"})
    assert [q["question"] for q in questions] == [
        "HCPCS code for Abatacept, 10 mg",
        "HCPCS code for Orencia, 10 mg",
    ]
    assert questions[0]["expected_codes"] == ["J0129", "J9999"]
    assert questions[1]["tags"] == ["table-of-drugs", "brand-see"]


def test_ties_are_broken_deterministically():
    from assistant.records import CodeRecord, Hit
    from assistant.retrieval import rank_key

    def hit(code: str, kind: str, score: float) -> Hit:
        return Hit(CodeRecord(code, kind, "2099-01", "d", "s"), score)

    hits = [
        hit("E0562", "code", 0.5),
        hit("KX", "modifier", 0.5),
        hit("A4397", "code", 0.5),
        hit("E0601", "code", 0.9),
    ]
    for order in (hits, hits[::-1]):
        assert [h.record.code for h in sorted(order, key=rank_key)] == [
            "E0601",
            "A4397",
            "E0562",
            "KX",
        ]
