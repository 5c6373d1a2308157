"""The answer is data: every shell renders its fields, none reads its wording.

The proof: rewording every notice in assistant.answer.WORDING (and nowhere else) changes what
the CLI, the JSON, the chat, the Markdown export and the load-test client show, while the eval
checks, which go by notice id and citation kind, pass exactly as before.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import streamlit as st
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from assistant import answer as answer_module
from assistant import store
from assistant.answer import AskOptions, ask
from assistant.cli import cli
from assistant.config import Settings
from assistant.embeddings import HashEmbedder
from assistant.evaluation.runner import CitationValidator, check_item
from assistant.records import CITATION_KINDS, NOTICE_IDS, Answer, Citation, Notice
from assistant.render import answer_json, answer_text, conversation_markdown, format_answer
from assistant.retrieval import Filters, Retriever
from tests.fixture_corpus import fixture_env

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    env = fixture_env(tmp_path_factory.mktemp("answer-data"))
    store.build_index(Settings.from_env(env), embedder=HashEmbedder())
    return env


@pytest.fixture(scope="module")
def retriever(env) -> Retriever:
    return Retriever(Settings.from_env(env), embedder=HashEmbedder()).load()


@pytest.fixture
def reworded(monkeypatch) -> dict[str, str]:
    """Every notice and remark reworded, each new text carrying a marker of its id."""
    new = {key: f"[[{key}]] " + value for key, value in answer_module.WORDING.items()}
    for key, value in new.items():
        monkeypatch.setitem(answer_module.WORDING, key, value)
    return new


def test_notice_and_citation_vocabularies_are_closed():
    with pytest.raises(ValueError):
        Notice("covered", "no such notice")
    with pytest.raises(ValueError):
        Citation("webpage", "x", "y", "z", "w")
    assert {"coverage", "terminated", "not-yet-valid", "no-evidence"} <= set(NOTICE_IDS)
    assert {"descriptor", "guidance", "record-layout"} <= set(CITATION_KINDS)


def test_the_answer_carries_its_parts_as_fields(retriever):
    answer, _ = ask(retriever, "is A4397 still valid?")
    assert answer.codes[0].code == "A4397" and answer.release == "2099-01"
    terminated = answer.notices_of("terminated")
    assert terminated and terminated[0].codes == ("A4397",)
    descriptor = answer.citations_of("descriptor")[0]
    assert (descriptor.ref, descriptor.locator) == ("2099-01", "A4397")
    guidance = answer.citations_of("guidance")
    assert guidance and all(c.supports == "coverage" for c in guidance)
    assert answer.text == answer_text(answer)  # the text is a rendering of the fields


def test_a_code_not_yet_added_on_the_date_gets_its_own_notice(retriever):
    # E0562 was added on 2000-01-01 in the fixture.
    options = AskOptions(filters=Filters(date_of_service=date(1999, 6, 1)))
    answer, _ = ask(retriever, "E0562", options=options)
    assert answer.notice_ids[0] == "not-yet-valid"
    assert "terminated" not in answer.notice_ids
    assert answer.notices_of("not-yet-valid")[0].codes == ("E0562",)


def test_rewording_notices_changes_every_shell_and_no_check(retriever, env, reworded):
    answer, _ = ask(retriever, "the manufacturer rep says CMS assigned our device code A4397")
    assert {"coverage", "product-agnostic", "terminated"} <= set(answer.notice_ids)
    for notice in answer.notices:
        assert notice.text.startswith(f"[[{notice.id}]]")

    # The CLI: text and JSON.
    assert "[[coverage]]" in format_answer(answer)
    data = answer_json(answer)
    assert {n["id"]: n["text"][: len(n["id"]) + 4] for n in data["notices"]} == {
        n.id: f"[[{n.id}]]" for n in answer.notices
    }
    assert "[[terminated]]" in conversation_markdown([(answer.question, answer)])

    # The eval checks go by ids and kinds: they pass with any wording.
    item = {
        "id": "x",
        "question": answer.question,
        "expected_codes": ["A4397"],
        "notices": ["coverage", "product-agnostic", "terminated"],
    }
    result = check_item(item, answer, CitationValidator(retriever))
    assert result["passed"], result["checks"]

    # The command itself, in this process (so the rewording applies).
    runner = CliRunner()
    out = runner.invoke(cli, ["ask", "what is A4397?", "--json"], env=env)
    assert out.exit_code == 0, out.output
    notices = {n["id"]: n["text"] for n in json.loads(out.output)["notices"]}
    assert notices["coverage"].startswith("[[coverage]]")


def test_rewording_reaches_the_chat(env, monkeypatch, reworded):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.chat_input[0].set_value("is A4397 still valid?").run()
    assert not at.exception
    shown = "\n".join(e.value for kind in ("info", "error", "warning") for e in getattr(at, kind))
    shown = shown.replace("\\", "")
    assert "[[coverage]]" in shown and "[[terminated]]" in shown
    st.cache_resource.clear()


def test_load_test_client_reads_the_same_wording(reworded):
    from assistant.bench import chat_load

    assert chat_load.WORDING["coverage"].startswith("[[coverage]]")


def test_a_quotation_of_several_units_keeps_one_unit_a_line():
    """A record-layout table or a run of paragraphs is quoted an entry (paragraph) a line; the
    CLI, the Markdown export and the chat keep those lines apart and show the source's marks."""
    table = Citation(
        "record-layout",
        "CMS HCPCS 2026-01 record layout",
        "HCPCS Coverage Code",
        "C = Carrier judgment\nD = Special coverage instructions apply",
        ref="hcpcs-2026-01-layout",
        supports="coverage",
    )
    answer = Answer(question="q", release="2026-01", citations=(table,), text="A.")
    cli_text = format_answer(answer)
    assert '(record-layout): "C = Carrier judgment\n      D = Special coverage' in cli_text
    exported = conversation_markdown([("q", answer)])
    assert "“C = Carrier judgment  \n  D = Special coverage instructions apply”" in exported

    def page() -> None:
        from assistant.records import Answer, Citation
        from assistant.webapp.chat import render_answer

        quote = "> (2) Code sets:\n> > (i) Widgets."
        cited = Citation("guidance", "99 CFR 1.2", "(2)", quote, "cfr")
        render_answer(Answer(question="q", release="2026-01", citations=(cited,)))

    at = AppTest.from_function(page).run()
    assert not at.exception
    shown = [m.value for m in at.expander[0].markdown]
    assert shown[1] == "> \\> \\(2\\) Code sets:\n>\n> \\> \\> \\(i\\) Widgets\\."
