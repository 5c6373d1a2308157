"""The chat's claim-line table under the best match (AppTest over a fixture index with a drug
code in its newest release)."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from assistant import store
from assistant.config import Settings
from assistant.embeddings import HashEmbedder
from tests.fixture_corpus import fixture_env, record

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture(scope="module")
def drug_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    drug = record("J9999", "Injection, examplumab, 10 mg", "Inj examplumab 10 mg")
    env = fixture_env(tmp_path_factory.mktemp("app-units"), extra_records=drug)
    store.build_index(Settings.from_env(env), embedder=HashEmbedder())
    return env


@pytest.fixture
def app(drug_env, monkeypatch) -> AppTest:
    for key, value in drug_env.items():
        monkeypatch.setenv(key, value)
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception
    return at


def claim_tables(at: AppTest) -> list:
    """The claim-line tables on the page (the comparison of candidates is a table too)."""
    return [t.value for t in at.table if "HCPCS/Modifier" in list(t.value.columns)]


def table_rows(at: AppTest) -> list[list[object]]:
    (frame,) = claim_tables(at)
    return [list(row) for row in frame.itertuples(index=False)]


def test_claim_lines_with_jw_under_the_best_match(app) -> None:
    ask(app, "J9999 350 mg from four 100 mg single-dose vials")
    assert table_rows(app) == [["J9999", 35], ["J9999 JW", 5]]
    assert list(claim_tables(app)[0].columns) == ["HCPCS/Modifier", "Units billed"]
    captions = [c.value for c in app.caption]
    assert any(
        "350 mg / 10 mg per unit = 35 units of J9999" in c and "discarded" in c for c in captions
    )


def test_one_jz_line_when_nothing_is_discarded(app) -> None:
    ask(app, "J9999 400 mg, no waste")
    assert table_rows(app) == [["J9999 JZ", 40]]


def test_no_table_and_a_remark_when_no_number_can_be_given(app) -> None:
    ask(app, "J9999 5 mg/kg")
    assert not claim_tables(app)
    assert any("weight in kg" in c.value for c in app.caption)


def test_no_table_without_a_dose(app) -> None:
    ask(app, "J9999")
    assert not claim_tables(app)
