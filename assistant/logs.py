"""Opt-in usage logging. Off by default: nothing a coder types is written anywhere.

``HCPCS_LOG_FILE`` turns on one JSON line per answered question: when, how long the question
was, how long the answer took, the codes and notices it gave. The question's text is left
out unless ``HCPCS_LOG_QUESTIONS=1`` also asks for it. The logger never propagates to the
root logger, so a host application's logging (Streamlit's, a notebook's) never sees it.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.config import Settings
from assistant.errors import UsageError

LOGGER = logging.getLogger("hcpcs")
LOGGER.addHandler(logging.NullHandler())
LOGGER.propagate = False
_configured: Path | None = None
_lock = threading.Lock()


def configure(settings: Settings) -> None:
    """Attach the log file the settings name (once per process); nothing when none is named."""
    global _configured
    if settings.log_file is None:
        return
    path = settings.log_file.expanduser().resolve()
    with _lock:
        if _configured == path:
            return
        try:
            handler = logging.FileHandler(path, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"HCPCS_LOG_FILE {path} cannot be opened: {exc.strerror}") from None
        handler.setFormatter(logging.Formatter("%(message)s"))
        for old in [h for h in LOGGER.handlers if isinstance(h, logging.FileHandler)]:
            LOGGER.removeHandler(old)
            old.close()
        LOGGER.addHandler(handler)
        LOGGER.setLevel(logging.INFO)
        _configured = path


def answered(settings: Settings, question: str, answer, seconds: float, follow_up: bool) -> None:
    """One event for an answered question; its text only when the settings ask for it."""
    if not LOGGER.isEnabledFor(logging.INFO) or settings.log_file is None:
        return
    event: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "event": "answer",
        "question_chars": len(question),
        "follow_up": follow_up,
        "ms": round(seconds * 1000, 1),
        "codes": [r.code for r in answer.codes],
        "notices": list(answer.notice_ids),
    }
    if settings.log_questions:
        event["question"] = question
    LOGGER.info(json.dumps(event, ensure_ascii=False))
