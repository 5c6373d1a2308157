"""Shared fixtures: the real corpus (fetched into HCPCS_CORPUS_DIR) for integration tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _corpus_dir() -> Path:
    return Path(os.environ.get("HCPCS_CORPUS_DIR", ROOT / "corpus" / "raw"))


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    """The fetched corpus, laid out like the mirror (``cms-hcpcs/2025-01/hcpcs-2025.zip`` ...).

    Missing corpus: a skip on a developer machine, a failure where HCPCS_REQUIRE_CORPUS=1
    (``make test`` and CI set it, after fetching), so CI never passes by skipping.
    """
    path = _corpus_dir()
    if not (path / "cms-hcpcs").is_dir():
        if os.environ.get("HCPCS_REQUIRE_CORPUS") == "1":
            pytest.fail(f"corpus not found at {path}: run `hcpcs corpus fetch` first")
        pytest.skip(f"corpus not found at {path}")
    return path


@pytest.fixture(scope="session")
def real_index(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A full index of the real corpus with the real model, built once per test session.

    Returns (settings, manifest). About a minute on 2 cores.
    """
    from assistant import store
    from assistant.config import Settings

    settings = Settings.from_env(
        {
            "HCPCS_CORPUS_DIR": str(corpus_dir),
            "HCPCS_INDEX_DIR": str(tmp_path_factory.mktemp("real-index")),
        }
    )
    manifest = store.build_index(settings)
    return settings, manifest
