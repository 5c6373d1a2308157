"""The second ranking stage's parts on hand-made data and the fixture index: successors,
the glossary, intent gating, evidence, candidates compared and the clarifying question."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import streamlit as st
from click.testing import CliRunner
from streamlit.testing.v1 import AppTest

from assistant import store
from assistant.answer import AskOptions, Conversation, ask
from assistant.cli import cli
from assistant.compare import choose, compare, segments, siblings
from assistant.config import PROJECT_ROOT, Settings
from assistant.embeddings import HashEmbedder
from assistant.errors import CorpusError
from assistant.evidence import judge, other_code_set
from assistant.glossary import Glossary, load
from assistant.records import CodeRecord
from assistant.render import answer_json
from assistant.rerank import is_reporting_code, wants_modifier, wants_reporting
from assistant.retrieval import Filters, Retriever
from assistant.successors import find_successors
from tests.fixture_corpus import fixture_env

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def code(code: str, text: str, **fields) -> CodeRecord:
    return CodeRecord(code, "code", "2026-01", text, text[:28], **fields)


# --- successors ------------------------------------------------------------------------------


def test_successor_added_the_day_after_with_the_same_item():
    records = [
        code(
            "C9113", "Injection, pantoprazole sodium, per vial", termination_date=date(2024, 6, 30)
        ),
        code("J2470", "Injection, pantoprazole sodium, 40 mg", add_date=date(2024, 7, 1)),
        code("J2810", "Injection, theophylline, per 40 mg", add_date=date(2024, 7, 1)),
        code(
            "J1030",
            "Injection, methylprednisolone acetate, 40 mg",
            termination_date=date(2024, 3, 31),
        ),
        code("J1010", "Injection, methylprednisolone acetate, 1 mg", add_date=date(2024, 4, 1)),
        # added the day after but another drug: no successor
        code(
            "J0001", "Injection, something else entirely, 1 mg", termination_date=date(2023, 12, 31)
        ),
        code("J0002", "Injection, unrelated drug, 1 mg", add_date=date(2024, 1, 1)),
        # named by the cross-reference field
        code(
            "K0903",
            "Insert, old code",
            termination_date=date(2024, 12, 31),
            cross_references=("A5514",),
        ),
        code("A5514", "For diabetics only, multiple density insert", add_date=date(2020, 1, 1)),
    ]
    found = {(s.code, s.successor, s.basis) for s in find_successors(records)}
    assert found == {
        ("C9113", "J2470", "added the day after, same item"),
        ("J1030", "J1010", "added the day after, same item"),
        ("K0903", "A5514", "cross-reference"),
    }


# --- glossary --------------------------------------------------------------------------------


def test_the_project_glossary_loads_and_reads_terms_longest_first():
    entries, sha = load(PROJECT_ROOT / "corpus" / "glossary.toml")
    assert len(entries) >= 200 and len(sha) == 64
    glossary = Glossary(entries)
    text, uses = glossary.expand("knee scooter for a BK amputee")
    assert [u.term for u in uses] == ["knee scooter", "BK"]  # not "scooter" alone
    assert "crutch substitute lower leg platform" in text and "below knee" in text
    assert glossary.uses("fit the brace") == []  # "FIT" only in capitals
    assert [u.term for u in glossary.uses("FIT test kit")] == ["FIT test"]
    assert [u.term for u in glossary.uses("pt returned the FIT")] == ["FIT"]


def test_a_malformed_glossary_is_refused(tmp_path):
    bad = tmp_path / "g.toml"
    bad.write_text('[[entry]]\nterms = ["x"]\nmeans = "y"\nbasis = "guess"\nsource = "z"\n')
    with pytest.raises(CorpusError, match="basis"):
        load(bad)
    bad.write_text("not toml [[")
    with pytest.raises(CorpusError, match="TOML"):
        load(bad)


# --- intent ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "modifier", "reporting"),
    [
        ("which modifier says the ABN is on file", True, False),
        ("what goes on the line for the left side", True, False),
        ("heavy duty walker with wheels", False, False),
        ("MIPS quality measure for a documented BMI", False, True),
    ],
)
def test_intent(question, modifier, reporting):
    assert wants_modifier(question) is modifier
    assert wants_reporting(question) is reporting


def test_a_quality_reporting_code_is_told_from_a_service():
    measure = code("G8777", "Diabetes screening test performed", pricing_indicators=("00",))
    visit = code("G0402", "Initial preventive physical examination", pricing_indicators=("11",))
    assert is_reporting_code(measure) and not is_reporting_code(visit)


# --- evidence --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "code_set"),
    [
        ("ICD-10 for type 2 diabetes", "ICD-10"),
        ("99213 vs 99214", "CPT"),
        ("CPT for a knee scope", "CPT"),
        ("what's the NDC for lidocaine", "NDC"),
        ("MS-DRG for sepsis", "DRG"),
        ("HCPCS code for the drug with NDC 00003-3734-13", ""),  # says HCPCS: in scope
        ("heparin 10000 units", ""),  # five digits with a unit: a dose, not a CPT code
    ],
)
def test_other_code_sets(question, code_set):
    assert other_code_set(question) == code_set


IDF = {"walker": 5.0, "wheel": 4.0, "heavy": 3.0, "duty": 3.0, "hip": 6.0, "pen": 5.0}


def test_evidence_rules():
    walker = [{"walker", "wheel", "heavy", "duty"}]
    ok = judge(["walker", "wheel"], walker, IDF, {}, False, "walker with wheels")
    assert ok.ok and ok.reason == "explained"
    # context around the item does not hide it
    busy = judge(["hip", "heavy", "duty", "walker"], walker, IDF, {}, False, "q")
    assert busy.ok
    # a name no file knows, and only a word that names no item: no evidence, and said why
    common = frozenset({"pen", "ride"})
    humira = judge(["humira", "pen"], [{"pen"}], IDF, {}, False, "Humira 40 mg pen", common)
    assert not humira.ok and humira.unknown == ("humira",)
    # ... unless the best text names a term of the trade the question uses
    idf = IDF | {"pantoprazole": 7.7}
    words = ["pantoprazole", "reconstituted"]
    trade = judge(words, [{"pantoprazole"}], idf, {}, False, "q", common)
    assert trade.ok and trade.unknown == ("reconstituted",)
    # ... or when the known words describe the item well on their own (walker 5 + wheel 4)
    clinical = judge(["bariatric", "walker", "wheel"], walker, IDF, {}, False, "q", common)
    assert clinical.ok and clinical.unknown == ("bariatric",)
    # (a made-up name with everyday words around it: heavy 3 + duty 3)
    everyday = common | {"heavy", "duty"}
    weak = judge(["frobnicator", "heavy", "duty"], walker, IDF, {}, False, "q", everyday)
    assert not weak.ok
    # an everyday word no file has is not a name
    ride = judge(["walker", "wheel", "ride"], walker, IDF, {}, False, "q", frozenset({"ride"}))
    assert ride.ok and ride.unknown == ()
    # nothing but the words of policy
    assert judge(["cover", "medicare"], walker, IDF, {}, False, "q").reason == "policy-only"
    assert judge(["walker"], walker, IDF, {}, False, "q", similarity=0.2).ok is False
    # a question longer than one vector can stand for is judged by its words alone
    pasted = ["walker", "wheel"] * 40
    assert judge(pasted, walker, IDF, {}, False, "q", similarity=0.03).ok is True
    assert judge([], walker, IDF, {}, True, "E0143").reason == "named"


# --- candidates compared -------------------------------------------------------------------------

BED = "Hospital bed, semi-electric (head and foot adjustment), with any type side rails"
WITH, WITHOUT = code("E0260", f"{BED}, with mattress"), code("E0261", f"{BED}, without mattress")


def test_segments_respect_parentheses():
    assert segments(WITH.long_description) == [
        "Hospital bed",
        "semi-electric (head and foot adjustment)",
        "with any type side rails",
        "with mattress",
    ]


def test_siblings_and_their_differences():
    other = code("E0601", "Continuous positive airway pressure (cpap) device")
    assert siblings(WITH, [WITHOUT, other]) == [WITHOUT]
    differences = compare([WITH, WITHOUT, other])
    assert [(d.code, d.phrases, d.against) for d in differences] == [
        ("E0260", ("with mattress",), "E0261"),
        ("E0261", ("without mattress",), "E0260"),
    ]


@pytest.mark.parametrize(
    ("reply", "chosen"),
    [
        ("without", "E0261"),
        ("with", "E0260"),
        ("the one with the mattress", "E0260"),
        ("E0261", "E0261"),
        ("maybe", None),
    ],
)
def test_a_reply_chooses_a_candidate(reply, chosen):
    picked = choose(reply, compare([WITH, WITHOUT]))
    assert (picked.code if picked else None) == chosen


# --- on the fixture index ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    env = fixture_env(tmp_path_factory.mktemp("second-stage"))
    store.build_index(Settings.from_env(env), embedder=HashEmbedder())
    return env


@pytest.fixture(scope="module")
def retriever(env) -> Retriever:
    return Retriever(Settings.from_env(env), embedder=HashEmbedder()).load()


def test_the_index_records_successors_and_the_glossary(retriever):
    assert retriever.successor_of("J1030") == ["J1010"]
    assert retriever.manifest["successors"] == 1
    assert retriever.manifest["glossary"]["sha256"]


def test_current_code_first_and_the_terminated_one_names_it(retriever):
    ranked = [h.record.code for h in retriever.search("methylprednisolone acetate 40 mg").hits]
    assert ranked.index("J1010") < ranked.index("J1030")
    answer, _ = ask(retriever, "J1030")  # named: it keeps its place, and says what replaced it
    assert answer.codes[0].code == "J1030"
    notice = answer.notices_of("terminated")[0]
    assert notice.codes == ("J1030", "J1010") and "J1010" in notice.text
    # on a date the old code was valid, it comes first
    old = Filters(date_of_service=date(2098, 2, 1))
    ranked = [h.record.code for h in retriever.search("methylprednisolone acetate 40 mg", old).hits]
    assert ranked[0] == "J1030"


def test_the_answer_compares_siblings_and_asks(retriever, env):
    answer, conversation = ask(retriever, "semi electric hospital bed")
    assert {answer.codes[0].code, answer.codes[1].code} == {"E0260", "E0261"}
    assert answer.clarify and "E0260" in answer.clarify and "E0261" in answer.clarify
    data = answer_json(answer)
    assert {d["code"]: d["phrases"] for d in data["differences"]} == {
        "E0260": ["with mattress"],
        "E0261": ["without mattress"],
    }
    assert data["clarify"] == answer.clarify
    # the reply re-ranks with the chosen part stated
    follow, _ = ask(retriever, "without", conversation)
    assert follow.codes[0].code == "E0261"
    assert follow.clarify is None
    # a question that states the part gets no clarifying question
    stated, _ = ask(retriever, "semi electric hospital bed without mattress")
    assert stated.codes[0].code == "E0261" and stated.clarify is None
    # the CLI's JSON carries both fields
    out = CliRunner().invoke(cli, ["ask", "semi electric hospital bed", "--json"], env=env)
    payload = json.loads(out.output)
    assert payload["clarify"] and payload["differences"]


def test_the_chat_shows_the_comparison_and_the_question(env, monkeypatch):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.chat_input[0].set_value("semi electric hospital bed").run()
    assert not at.exception
    table = at.table[0].value
    assert set(table["code"]) == {"E0260", "E0261"}
    closing = at.chat_message[-1].markdown[-1].value.replace("\\", "")
    assert "which applies?" in closing and "E0261 is without mattress" in closing
    at.chat_input[0].set_value("without").run()
    last = "\n".join(m.value for m in at.chat_message[-1].markdown).replace("\\", "")
    assert "Code E0261" in last.split("\n")[0] or "Code E0261" in last
    st.cache_resource.clear()


def test_no_evidence_answers_name_no_code(retriever):
    for question in (
        "ICD-10 for type 2 diabetes",
        "qwxz zzkj",
        "does a HCPCS code mean Medicare pays?",
    ):
        answer, _ = ask(retriever, question, Conversation(), AskOptions())
        assert answer.codes == (), question
    answer, _ = ask(retriever, "ICD-10 for type 2 diabetes")
    assert any("ICD-10" in remark for remark in answer.remarks)


def test_a_term_of_several_words_is_found_in_other_forms_and_not_under_a_negation():
    entries, _ = load(PROJECT_ROOT / "corpus" / "glossary.toml")
    glossary = Glossary(entries)
    terms = [u.term for u in glossary.uses("modifier when nothing was wasted from the vial")]
    assert terms == ["nothing wasted"]  # and not "wasted" (JW) inside it
    assert [u.term for u in glossary.uses("no ABN signed, expect a denial")] == ["no ABN"]


@pytest.mark.parametrize(
    ("question", "heads"),
    [
        ("plain CPAP hose, not the heated kind", {"hose", "tub"}),
        ("alternating pressure pad w/ pump", {"pad"}),
        ("home suction machine for oral/airway secretions", {"machine", "pump"}),
    ],
)
def test_the_item_a_question_names(question, heads):
    from assistant.rerank import question_heads

    entries, _ = load(PROJECT_ROOT / "corpus" / "glossary.toml")
    uses = Glossary(entries).uses(question)
    assert question_heads(question, uses) == heads
