"""The "What changed" page and the chat's release-behind warning, through AppTest, over the
fixture corpus with its "April" (2099-04) release added."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from assistant import store
from assistant.config import Settings
from assistant.corpus.updates import add_release
from assistant.embeddings import HashEmbedder
from tests.fixture_corpus import fixture_env
from tests.quarterly import ADDED, EXPECTED, NEW_E0562, april

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "3_What_changed.py")
APP = str(ROOT / "app.py")


@pytest.fixture(scope="module")
def index_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("changes-page")
    env = fixture_env(root)
    settings = Settings.from_env(env)
    folder = root / "downloads"
    folder.mkdir()
    plan = april(settings.manifest, settings.corpus_dir, folder)
    add_release(settings.corpus_dir, settings.manifest, folder / plan.zip_name)
    store.build_index(settings, embedder=HashEmbedder())
    return env


@pytest.fixture
def page(index_env, monkeypatch):
    for key, value in index_env.items():
        monkeypatch.setenv(key, value)
    downloads: dict[str, tuple[str, str]] = {}
    real = st.download_button

    def spy(label, data, *args, **kwargs):  # what the button would hand the browser
        downloads[label] = (data, kwargs.get("file_name", ""))
        return real(label, data, *args, **kwargs)

    monkeypatch.setattr(st, "download_button", spy)
    st.cache_resource.clear()
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    return at, downloads


def _tables(at: AppTest) -> dict[str, list[dict]]:
    return {
        head.value: df.value.to_dict("records")
        for head, df in zip(at.subheader, at.dataframe, strict=True)
    }


def test_the_page_shows_the_newest_two_releases_by_kind(page):
    at, downloads = page
    assert [s.value for s in at.selectbox] == ["2099-01", "2099-04"]
    summary = at.markdown[0].value.replace("\\", "")
    assert "CMS HCPCS 2099-01 → CMS HCPCS 2099-04" in summary
    assert "2 added, 1 terminated, 1 reinstated" in summary
    tables = _tables(at)
    assert list(tables) == [
        "Added (2)",
        "Terminated (1)",
        "Reinstated (1)",
        "Long descriptor revised (1)",
        "Short descriptor revised (1)",
        "Coverage code changed (1)",
    ]
    assert [r["Code"] for r in tables["Added (2)"]] == EXPECTED["added"]
    assert tables["Added (2)"][0]["Long descriptor"] == ADDED[0][1]
    assert tables["Terminated (1)"] == [
        {"Code": "E0194", "Terminated": "2099-03-31", "Long descriptor": "Air fluidized bed"}
    ]
    assert tables["Long descriptor revised (1)"][0]["New text"] == NEW_E0562
    data, name = downloads["Download as CSV"]
    assert name == "hcpcs-changes-2099-01-to-2099-04.csv"
    rows = list(csv.DictReader(io.StringIO(data)))
    assert sorted((r["change"], r["code"]) for r in rows) == sorted(
        (kind, code) for kind, codes in EXPECTED.items() for code in codes
    )


def test_other_releases_and_a_section(page):
    at, downloads = page
    at.selectbox[0].set_value("2098-01").run()
    assert not at.exception
    assert at.selectbox[1].options == ["2099-01", "2099-04"]
    tables = _tables(at)
    # From 2098-01: E0562 and E0702 and Q5999 are new; A4397 was active then and is again.
    assert [r["Code"] for r in tables["Added (3)"]] == ["E0562", "E0702", "Q5999"]
    assert "Reinstated (1)" not in tables
    at.multiselect[0].set_value(["Q"]).run()
    assert list(_tables(at)) == ["Added (1)"]
    data, _name = downloads["Download as CSV"]
    assert [r["code"] for r in csv.DictReader(io.StringIO(data))] == ["Q5999"]


class _Today(date):
    """``date`` whose today() is a day the test chooses (the chat's date input stops ten
    years ahead, before the fixture's 2099 releases)."""

    day = date(2099, 11, 3)

    @classmethod
    def today(cls) -> date:
        return cls.day


@pytest.mark.parametrize(
    ("today", "warned"), [(date(2099, 11, 3), True), (date(2099, 5, 3), False)]
)
def test_the_chat_shows_the_release_and_warns_when_today_is_past_it(
    index_env, monkeypatch, today, warned
):
    import assistant.answer

    for key, value in index_env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(_Today, "day", today)
    monkeypatch.setattr(assistant.answer, "date", _Today)
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.chat_input[0].set_value("E0601").run()
    assert not at.exception
    last = at.chat_message[-1]
    assert "Answered from CMS HCPCS 2099-04" in [c.value.replace("\\", "") for c in last.caption]
    warnings = [w.value.replace("\\", "") for w in last.warning]
    expected = (
        "Answered from the April 2099 release; codes added or changed after 2099-06-30 are not "
        "known here; `hcpcs corpus add` the current quarter."
    )
    assert (expected in warnings) is warned, warnings
