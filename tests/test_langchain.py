"""The LangChain component: HcpcsRetriever in an LCEL chain, as the README shows it."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from assistant import store
from assistant.config import Settings
from assistant.embeddings import HashEmbedder
from assistant.errors import IndexMissingError
from assistant.langchain_retriever import HcpcsRetriever
from tests.fixture_corpus import fixture_env

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = fixture_env(tmp_path_factory.mktemp("langchain"))
    store.build_index(Settings.from_env(env), embedder=HashEmbedder())
    return env


def readme_chain() -> str:
    """The README's LCEL example: the Python block that builds a chain on HcpcsRetriever."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    found = [b for b in blocks if "HcpcsRetriever" in b and "RunnableLambda" in b]
    assert len(found) == 1, "the README shows one LCEL chain on HcpcsRetriever"
    return found[0]


def test_the_readme_chain_runs_and_cites_descriptors(env, monkeypatch):
    from langchain_core.runnables import RunnableSequence

    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code = readme_chain()
    printed = io.StringIO()
    namespace: dict = {}
    with contextlib.redirect_stdout(printed):
        exec(compile(code, str(README), "exec"), namespace)  # noqa: S102 - our own README
    assert isinstance(namespace["chain"], RunnableSequence)
    lines = printed.getvalue().splitlines()
    assert lines[0] == (
        'E0562 (CMS HCPCS 2099-01, active): "Humidifier, heated, used with positive airway '
        'pressure device"'
    )
    assert 1 <= len(lines) <= 3  # k=3 in the example
    # The chain is a Runnable like any other: batch runs each question through it.
    answers = namespace["chain"].batch(["E0601", "irrigation sleeve"])
    assert answers[0].startswith('E0601 (CMS HCPCS 2099-01, active): "Continuous positive')
    assert "A4397 (CMS HCPCS 2099-01, terminated)" in answers[1]


def test_from_settings_refuses_a_missing_index(tmp_path: Path, env):
    settings = Settings.from_env(env | {"HCPCS_INDEX_DIR": str(tmp_path / "none")})
    with pytest.raises(IndexMissingError, match="hcpcs index build"):
        HcpcsRetriever.from_settings(settings)
