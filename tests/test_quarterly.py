"""A quarterly update end to end: add an "April" file, rebuild, compare, look up and ask.

The April file is made from the newest release's own record lines (tests/quarterly.py): the
fixture corpus's 2099-01 (fast, the hash embedder) and the real January 2026 file from the
corpus mirror (integration: the real model, rebuilding a copy of the session's real index).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant import store
from assistant.answer import ask, release_behind
from assistant.bench.quarter import QuarterPlan
from assistant.cli import cli
from assistant.config import Settings
from assistant.corpus.updates import add_release, remove_release
from assistant.embeddings import HashEmbedder
from assistant.errors import IndexStaleError
from assistant.service import load_retriever, make_options
from tests.fixture_corpus import fixture_env
from tests.quarterly import ADDED, EXPECTED, NEW_E0562, april, quarter_dates


class CountingEmbedder(HashEmbedder):
    """The fake embedder, counting the texts it is asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def embed(self, texts: list[str]) -> list[list[float]]:
        self.texts += texts
        return super().embed(texts)


@dataclass
class Case:
    kind: str  # "fixture" or "real"
    settings: Settings
    env: dict[str, str]
    plan: QuarterPlan
    old: str  # the release before the added quarter
    first: dict
    second: dict
    stale: str  # why the index was stale after the add
    embedded: list[str] | None  # texts the rebuild embedded (fake embedder only)


def _add_and_rebuild(kind: str, settings: Settings, env, folder: Path, embedder_factory) -> Case:
    first = store.read_manifest(store.build_dir(settings))
    plan = april(settings.manifest, settings.corpus_dir, folder)
    added = add_release(settings.corpus_dir, settings.manifest, folder / plan.zip_name)
    assert added.action == "added"
    with pytest.raises(IndexStaleError) as stale:
        store.check_current(settings)
    embedder = embedder_factory()
    second = store.build_index(settings, embedder=embedder)
    texts = getattr(embedder, "texts", None)
    old = first["newest_release"]
    return Case(kind, settings, env, plan, old, first, second, str(stale.value), texts)


@pytest.fixture(scope="module")
def fixture_case(tmp_path_factory: pytest.TempPathFactory) -> Case:
    root = tmp_path_factory.mktemp("april-fixture")
    env = fixture_env(root)
    settings = Settings.from_env(env)
    store.build_index(settings, embedder=HashEmbedder())
    folder = root / "downloads"
    folder.mkdir()
    return _add_and_rebuild("fixture", settings, env, folder, CountingEmbedder)


@pytest.fixture(scope="module")
def real_case(real_index, tmp_path_factory: pytest.TempPathFactory) -> Case:
    """The real corpus (its files linked) plus April 2026, rebuilt from a copy of the
    session's real index so that the rebuild can reuse its vectors."""
    from assistant.bench.library import link_corpus

    real_settings, _manifest = real_index
    root = tmp_path_factory.mktemp("april-real")
    link_corpus(real_settings, root / "corpus")
    shutil.copytree(real_settings.index_dir, root / "index", symlinks=True)
    env = {
        "HCPCS_CORPUS_DIR": str(root / "corpus"),
        "HCPCS_INDEX_DIR": str(root / "index"),
    }
    settings = Settings.from_env(env)
    folder = root / "downloads"
    folder.mkdir()
    return _add_and_rebuild("real", settings, env, folder, lambda: None)


@pytest.fixture(
    params=[
        "fixture",
        pytest.param("real", marks=[pytest.mark.integration, pytest.mark.slow]),
    ]
)
def case(request) -> Case:
    return request.getfixturevalue(f"{request.param}_case")


def _cli(case: Case, *args: str):
    env = {**case.env, "HCPCS_MODEL": case.settings.model}
    return CliRunner().invoke(cli, list(args), env=env)


def test_an_add_makes_the_index_stale_naming_the_local_manifest(case: Case):
    assert "local-sources.toml lists other files" in case.stale
    assert f"added local-hcpcs-{case.plan.release}" in case.stale
    store.check_current(case.settings)  # current again after the rebuild
    assert case.second["newest_release"] == case.plan.release


def test_the_rebuild_embeds_only_new_and_changed_texts(case: Case):
    # Two added codes, one revised long descriptor, one revised short descriptor: four new
    # texts. A terminated, reinstated or recoded code keeps its text and its vector.
    assert case.second["embedded_texts"] == 4
    assert case.second["reused_vectors"] == case.second["documents"] - 4
    if case.embedded is not None:
        assert len(case.embedded) == 4
        assert any(ADDED[0][1] in t for t in case.embedded)
        assert any(NEW_E0562 in t for t in case.embedded)


def test_diff_lists_exactly_the_changes(case: Case):
    result = _cli(case, "corpus", "diff", case.old, case.plan.release, "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    got = {kind: [c["code"] for c in out["changes"] if c["change"] == kind] for kind in EXPECTED}
    assert got == EXPECTED
    assert out["counts"] == {kind: len(codes) for kind, codes in EXPECTED.items()}
    by = {(c["change"], c["code"]): c for c in out["changes"]}
    start = case.plan.start
    assert by[("terminated", "E0194")]["date"] == (start - timedelta(days=1)).isoformat()
    assert by[("added", "E0702")]["date"] == start.isoformat()
    assert by[("added", "Q5999")]["descriptor"] == ADDED[1][1]
    revised = by[("long-descriptor", "E0562")]
    assert revised["before"] == "Humidifier, heated, used with positive airway pressure device"
    assert revised["after"] == NEW_E0562
    assert by[("short-descriptor", "E1399")]["after"] == "Durable medical equip misc"
    coverage = by[("coverage", "E0601")]
    assert coverage["before"].startswith("D = ") and coverage["after"].startswith("C = ")
    assert by[("reinstated", "A4397")]["before"] == "terminated 2021-12-31"


def test_diff_by_section_and_as_text(case: Case):
    result = _cli(case, "corpus", "diff", case.old, case.plan.release, "--section", "q")
    assert result.exit_code == 0, result.output
    assert "1 added, 0 terminated" in result.stdout
    assert f'Q5999 added {case.plan.start}: "{ADDED[1][1]}"' in result.stdout
    assert "E0702" not in result.stdout


def test_diff_refuses_unknown_and_reversed_releases(case: Case):
    unknown = _cli(case, "corpus", "diff", case.old, "1999-01")
    assert unknown.exit_code == 2 and "unknown release '1999-01'" in unknown.stderr
    backwards = _cli(case, "corpus", "diff", case.plan.release, case.old)
    assert backwards.exit_code == 2 and "must be the older one" in backwards.stderr
    section = _cli(case, "corpus", "diff", case.old, case.plan.release, "--section", "EJ")
    assert section.exit_code == 2 and "section must be a letter" in section.stderr


def test_lookup_shows_a_codes_history_as_its_changes(case: Case):
    result = _cli(case, "lookup", "E0194", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["status"] == f"terminated {case.plan.start - timedelta(days=1)}"
    last = out["changes"][-1]
    assert (last["change"], last["old_release"], last["new_release"]) == (
        "terminated",
        case.old,
        case.plan.release,
    )
    text = _cli(case, "lookup", "A4397").stdout
    assert f"{case.old} -> {case.plan.release}  A4397 reinstated" in text
    new = json.loads(_cli(case, "lookup", "E0702", "--json").stdout)
    assert [c["change"] for c in new["changes"]] == ["added"]
    assert [r["release"] for r in new["records"]] == [case.plan.release]


@pytest.fixture(scope="module")
def fixture_retriever(fixture_case: Case):
    return load_retriever(fixture_case.settings)


@pytest.fixture(scope="module")
def real_retriever(real_case: Case):
    return load_retriever(real_case.settings)


@pytest.fixture
def retriever(case: Case, request):
    return request.getfixturevalue(f"{case.kind}_retriever")


def test_a_new_code_is_found(case: Case, retriever):
    answer, _ = ask(retriever, "pneumatic inflatable bed rail safety enclosure")
    assert answer.codes[0].code == "E0702"
    assert answer.codes[0].release == case.plan.release
    by_code, _ = ask(retriever, "what is Q5999?")
    assert [r.code for r in by_code.codes] == ["Q5999"]
    assert by_code.codes[0].long_description == ADDED[1][1]


def test_a_code_terminated_in_april_is_terminated_for_april_not_february(case: Case, retriever):
    before, inside, _after = quarter_dates(case.plan)
    april_answer, _ = ask(retriever, "Is E0194 valid?", options=make_options(inside.isoformat()))
    record = april_answer.codes[0]
    assert record.code == "E0194" and not record.active_on(inside)
    assert "terminated" in april_answer.notice_ids
    assert f"not valid for a date of service of {inside}" in april_answer.text
    feb_answer, _ = ask(retriever, "Is E0194 valid?", options=make_options(before.isoformat()))
    assert feb_answer.codes[0].active_on(before)
    assert f"For a date of service of {before}: valid." in feb_answer.text
    assert "not valid for a date of service" not in feb_answer.text


def test_release_behind_on_a_date_after_the_quarter(case: Case, retriever):
    _before, inside, after = quarter_dates(case.plan)
    late, _ = ask(retriever, "E0601", options=make_options(after.isoformat()))
    [notice] = late.notices_of("release-behind")
    assert f"Answered from the April {case.plan.start.year} release" in notice.text
    assert f"after {case.plan.start.year}-06-30 are not known here" in notice.text
    assert "hcpcs corpus add" in notice.text
    timely, _ = ask(retriever, "E0601", options=make_options(inside.isoformat()))
    assert "release-behind" not in timely.notice_ids


def test_remove_then_rebuild_drops_the_release(fixture_case: Case, tmp_path: Path):
    # On a copy, so that the module's other tests keep their April release.
    env = dict(fixture_case.env)
    root = tmp_path / "copy"
    shutil.copytree(Path(env["HCPCS_CORPUS_DIR"]), root / "raw", symlinks=True)
    shutil.copytree(Path(env["HCPCS_INDEX_DIR"]), root / "index", symlinks=True)
    env.update({"HCPCS_CORPUS_DIR": str(root / "raw"), "HCPCS_INDEX_DIR": str(root / "index")})
    settings = Settings.from_env(env)
    remove_release(settings.corpus_dir, settings.manifest, fixture_case.plan.release)
    with pytest.raises(IndexStaleError, match="removed local-hcpcs-2099-04"):
        store.check_current(settings)
    embedder = CountingEmbedder()
    manifest = store.build_index(settings, embedder=embedder)
    assert manifest["newest_release"] == fixture_case.old and not embedder.texts


def test_release_behind_is_judged_against_today_without_a_date():
    assert release_behind("2026-01", None, today=date(2026, 3, 31)) is None
    notice = release_behind("2026-01", None, today=date(2026, 12, 5))
    assert notice is not None and notice.id == "release-behind"
    assert notice.text == (
        "Answered from the January 2026 release; codes added or changed after 2026-03-31 are "
        "not known here; `hcpcs corpus add` the current quarter."
    )
    # A date of service wins over today.
    assert release_behind("2026-01", date(2026, 2, 1), today=date(2026, 12, 5)) is None
    assert release_behind("2025-10", date(2026, 1, 1)).text.startswith(
        "Answered from the October 2025 release; codes added or changed after 2025-12-31"
    )


@pytest.mark.integration
def test_the_real_2025_to_2026_diff_matches_the_corpus_readme(real_index):
    """The mirror's README: 364 codes added since January 2025, 156 newly terminated. Nine
    codes were added after January 2025 and terminated by January 2026: both lists hold them."""
    settings, _manifest = real_index
    env = {"HCPCS_CORPUS_DIR": str(settings.corpus_dir), "HCPCS_INDEX_DIR": str(settings.index_dir)}
    result = CliRunner().invoke(cli, ["corpus", "diff", "2025-01", "2026-01", "--json"], env=env)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["counts"]["added"] == 364 and out["counts"]["terminated"] == 156
    assert out["counts"]["removed"] == 0
    added = {c["code"] for c in out["changes"] if c["change"] == "added"}
    ended = {c["code"]: c for c in out["changes"] if c["change"] == "terminated"}
    assert len(added & ended.keys()) == 9
    assert [c["code"] for c in out["changes"] if c["change"] == "reinstated"] == ["J0570"]
    # The other 147 were active in January 2025, 93 of them ending on the last day of 2025.
    before = {code: c for code, c in ended.items() if code not in added}
    assert len(before) == 147
    assert sum(1 for c in before.values() if c["date"] == "2025-12-31") == 93
