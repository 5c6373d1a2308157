"""Glue shared by the CLI, the app and the eval runner: options from raw input, JSON shapes."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

from assistant.answer import AskOptions
from assistant.config import Settings
from assistant.errors import UsageError
from assistant.retrieval import Filters, Retriever


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


def read_batch(path: Path) -> list[dict[str, Any]]:
    """Questions of a JSONL file ('-' for stdin): each line an object with a "question"."""
    if str(path) == "-":
        raw = sys.stdin.buffer.read()
        name = "<stdin>"
    else:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read {path}: {exc.strerror}") from None
        name = str(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{name} is not valid UTF-8") from None
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
