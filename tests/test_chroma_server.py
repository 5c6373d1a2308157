"""Client/server mode: a real `chroma run` on 127.0.0.1, reached through HCPCS_CHROMA_URL."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant import store
from assistant.config import Settings
from assistant.embeddings import HashEmbedder
from assistant.errors import StoreUnavailableError
from tests.fixture_corpus import fixture_env, free_port, wait_for_http

CHROMA = Path(sys.executable).parent / "chroma"


@pytest.fixture
def chroma_server(tmp_path: Path):
    port = free_port()
    log = (tmp_path / "chroma.log").open("w")
    proc = subprocess.Popen(
        [
            str(CHROMA),
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--path",
            str(tmp_path / "server-data"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_for_http(f"{url}/api/v2/heartbeat", proc, tmp_path / "chroma.log", 30)
    yield url, proc
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.mark.integration
def test_build_and_query_through_a_chroma_server(tmp_path: Path, chroma_server):
    url, proc = chroma_server
    settings = Settings.from_env(fixture_env(tmp_path) | {"HCPCS_CHROMA_URL": url})
    first = store.build_index(settings, embedder=HashEmbedder())
    second = store.build_index(settings, embedder=HashEmbedder())
    directory, manifest_data = store.check_current(settings)
    assert manifest_data["chroma"] == {"url": url, "collection": second["chroma"]["collection"]}
    assert not (directory / "chroma").exists()  # the vectors live on the server
    collection = store.open_collection(settings, directory, manifest_data)
    got = collection.query(
        query_embeddings=HashEmbedder().embed(["heated humidifier positive airway pressure"]),
        n_results=1,
        where={"kind": "code"},
    )
    assert got["metadatas"][0][0]["ref"] == "E0562"
    # The first build's collection was dropped from the server when the second swapped in.
    client = store.chroma_client(settings, None)
    names = {c.name for c in client.list_collections()}
    assert second["chroma"]["collection"] in names
    assert first["chroma"]["collection"] not in names

    # Server down: a clear error, quickly, with no retry storm.
    proc.terminate()
    proc.wait(timeout=10)
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="cannot reach the Chroma server"):
        store.open_collection(settings, directory, manifest_data)
    assert time.monotonic() - started < 10
