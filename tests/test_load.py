"""Load through the library: 8 threads asking 500 questions get what one thread gets."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from assistant.answer import ask
from assistant.evaluation.sets import read_set
from assistant.render import answer_json
from assistant.retrieval import Retriever
from assistant.service import make_options

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EVALS = Path(__file__).resolve().parent.parent / "evals"
QUESTIONS = 500


def _questions() -> list[tuple[str, str | None]]:
    """The first 500 questions of the project's sets, each with its date of service if any."""
    items = []
    for name in ("coder.jsonl", "policy.jsonl", "validity.jsonl", "drugs.jsonl"):
        items += [(q["question"], q.get("date")) for q in read_set(EVALS / name)]
    assert len(items) >= QUESTIONS
    return items[:QUESTIONS]


def test_eight_threads_give_the_answers_of_one(real_index):
    settings, _ = real_index
    retriever = Retriever(settings).load()
    questions = _questions()

    def answer(item: tuple[str, str | None]) -> dict:
        question, day = item
        return answer_json(ask(retriever, question, options=make_options(day))[0])

    one = [answer(item) for item in questions]
    # The threads take the questions in another order, so that neighbours differ from the
    # single-threaded run and any state shared between questions would show.
    order = list(range(QUESTIONS))
    random.Random(7).shuffle(order)
    with ThreadPoolExecutor(max_workers=8) as pool:
        shuffled = list(pool.map(answer, [questions[i] for i in order]))
    eight = [None] * QUESTIONS
    for position, i in enumerate(order):
        eight[i] = shuffled[position]
    differing = [questions[i][0] for i in range(QUESTIONS) if one[i] != eight[i]]
    assert differing == []
    assert sum(1 for a in one if a["codes"]) > 450  # the comparison is of real answers
