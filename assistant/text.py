"""Text normalisation shared by the lexical index and the question side of retrieval."""

from __future__ import annotations

import re

TOKENIZER_VERSION = "tok-1"
_TOKEN = re.compile(r"[a-z0-9]+(?:\.[0-9]+)?")


def tokenize(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens (decimals such as ``0.5`` kept whole)."""
    return _TOKEN.findall(text.casefold())
