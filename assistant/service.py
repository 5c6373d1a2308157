"""Glue shared by the CLI, the app and the eval runner: options from raw input, JSON shapes."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from assistant.answer import AskOptions, ask, clean_question
from assistant.config import Settings
from assistant.errors import UsageError
from assistant.render import answer_json
from assistant.retrieval import Filters, Retriever

_SURROGATE = re.compile(r"[\udc80-\udcff]")  # bytes of argv that were not UTF-8


def load_retriever(settings: Settings) -> Retriever:
    """A loaded retriever over the current index (refuses a stale or missing one)."""
    return Retriever(settings).load()


def parse_date(value: str | None) -> date | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise UsageError(f"date of service must be YYYY-MM-DD, not {str(value)[:40]!r}") from None


def make_options(
    day: str | None,
    release: str | None = None,
    top: int = 5,
    sections: tuple[str, ...] = (),
    status: str | None = None,
) -> AskOptions:
    sections = tuple(s if s.lower() == "modifier" else s.upper() for s in sections)
    sections = tuple("modifier" if s.lower() == "modifier" else s for s in sections)
    return AskOptions(
        filters=Filters(
            release=release, date_of_service=parse_date(day), status=status, sections=sections
        ),
        top=top,
    )


def read_text(path: Path | str, name: str | None = None) -> str:
    """A file's text, or standard input's for '-', as UTF-8; UsageError when it cannot be read
    or is not UTF-8. ``name`` is what the error calls it (default: the path, or <stdin>)."""
    if str(path) == "-":
        raw = sys.stdin.buffer.read()
        name = name or "<stdin>"
    else:
        name = name or str(path)
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{name} is not valid UTF-8") from None


def read_question(question: str) -> str:
    """The question as given on the command line, or read from standard input for '-'.

    UsageError for a question that is not UTF-8 (an argument that was not arrives with
    surrogate escapes) or that is empty once cleaned.
    """
    if _SURROGATE.search(question):
        raise UsageError("the question is not valid UTF-8")
    if question == "-":
        question = read_text("-", "the question on standard input")
    if not clean_question(question)[0]:
        raise UsageError("the question is empty")
    return question


def read_batch(path: Path) -> list[dict[str, Any]]:
    """Questions of a JSONL file ('-' for stdin): each line an object with a "question"."""
    name = "<stdin>" if str(path) == "-" else str(path)
    text = read_text(path, name)
    items = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            raise UsageError(f"{name}:{lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(item, dict) or not isinstance(item.get("question"), str):
            raise UsageError(f'{name}:{lineno}: each line needs a "question" string')
        if not item["question"].strip():
            raise UsageError(f"{name}:{lineno}: the question is empty")
        try:
            parse_date(item.get("date"))
        except UsageError as exc:
            raise UsageError(f"{name}:{lineno}: {exc}") from None
        items.append(item)
    return items


def batch_answers(
    retriever: Retriever, items: list[dict[str, Any]], options: AskOptions
) -> Iterator[dict[str, Any]]:
    """Each item of ``read_batch`` answered with ``options`` (its own "date" wins), as the
    JSON object `hcpcs ask --batch` prints for it (with its "id", when it has one)."""
    for item in items:
        day = parse_date(item.get("date"))
        own = options
        if day is not None:
            own = replace(options, filters=replace(options.filters, date_of_service=day))
        answer, _ = ask(retriever, item["question"], options=own)
        yield answer_json(answer, item.get("id"))
