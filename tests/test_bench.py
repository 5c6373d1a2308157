"""`hcpcs bench --json` on the fixture corpus: every figure the report promises, measured."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant import store
from assistant.cli import cli
from assistant.config import Settings
from assistant.embeddings import HashEmbedder
from tests.fixture_corpus import fixture_env

pytestmark = pytest.mark.integration  # starts `hcpcs` processes


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    env = fixture_env(tmp_path)
    store.build_index(Settings.from_env(env), embedder=HashEmbedder())
    qset = tmp_path / "set.jsonl"
    questions = ["cpap device", "heated humidifier", "air fluidized bed", "E0601", "KX modifier"]
    qset.write_text(
        "".join(
            json.dumps({"id": f"q{n}", "question": q, "expected_codes": []}) + "\n"
            for n, q in enumerate(questions)
        )
    )
    return env | {"SET": str(qset), "HF_HUB_OFFLINE": "1"}


def _bench(env: dict[str, str], *args: str) -> dict:
    result = CliRunner().invoke(
        cli, ["bench", "--set", env["SET"], "--threads", "4", "--json", *args], env=env
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_bench_reports_every_figure(env):
    current = os.readlink(Path(env["HCPCS_INDEX_DIR"]) / "current")
    figures = _bench(env)
    build = figures["index_build"]
    assert build["measured"] == "recorded by the current index"
    assert build["build_id"] == Path(current).name and build["seconds"] > 0
    assert build["peak_rss_mb"] > 0 and build["documents"] > 0
    assert figures["questions"] == 5
    warm = figures["warm_answer_ms"]
    assert 0 < warm["p50"] <= warm["p95"] <= warm["max"]
    assert figures["cold_lookup_s"] > 0 and figures["cold_ask_s"] > 0
    assert figures["threads"] == 4 and figures["threaded_questions_per_s"] > 0
    # Each cold process's own peak, not the bench process's.
    assert 0 < figures["peak_rss_mb"]["cold_processes"] < 2000
    assert figures["peak_rss_mb"]["bench_process"] > 0


def test_bench_build_times_a_fresh_build_and_a_rebuild_after_an_add(env):
    index = Path(env["HCPCS_INDEX_DIR"])
    corpus = Path(env["HCPCS_CORPUS_DIR"])
    before = os.readlink(index / "current")
    corpus_before = sorted(p.relative_to(corpus) for p in corpus.rglob("*"))
    build = _bench(env, "--build")["index_build"]
    assert build["measured"] == "fresh build and rebuild after adding a quarter, now"
    assert build["reused_vectors"] == 0 and build["build_id"] != Path(before).name
    assert build["process_seconds"] >= build["seconds"] > 0
    assert set(build["stage_seconds"]) >= {"parse", "embed", "chroma"}
    assert build["embedded_texts"] > 0 and build["peak_rss_mb"] > 0
    after = build["after_add"]
    assert after["release"] == "2099-04"  # the quarter after the fixture's newest, 2099-01
    plan = after["plan"]
    assert plan["added"] > 0 and plan["reinstated"] == 1
    # Each added code and revised descriptor is one new text; everything else is reused.
    assert after["embedded_texts"] == plan["added"] + plan["revised"]
    assert after["reused_vectors"] == after["documents"] - after["embedded_texts"]
    assert after["documents"] == build["documents"] + plan["added"] + plan["revised"]
    assert after["share_of_fresh"] == round(after["process_seconds"] / build["process_seconds"], 3)
    assert after["target_share"] == 0.25 and after["peak_rss_mb"] > 0
    # The index and the corpus the bench was pointed at are untouched.
    assert os.readlink(index / "current") == before
    assert [p.name for p in (index / "builds").iterdir()] == [Path(before).name]
    assert sorted(p.relative_to(corpus) for p in corpus.rglob("*")) == corpus_before
