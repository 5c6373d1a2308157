"""Client/server mode: a real `chroma run` on 127.0.0.1, reached through HCPCS_CHROMA_URL."""

from __future__ import annotations

import json
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant import store
from assistant.answer import ask
from assistant.config import Settings
from assistant.embeddings import HashEmbedder
from assistant.errors import StoreUnavailableError
from assistant.retrieval import Retriever
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

    # Answers through the server: the retriever reads its vectors from there.
    retriever = Retriever(settings).load()
    answer, _ = ask(retriever, "heated humidifier used with a positive airway pressure device")
    assert answer.codes[0].code == "E0562"

    # Server down: a clear error, quickly, with no retry storm. A retriever already loaded
    # keeps answering: it holds its vectors and never calls the server to answer.
    proc.terminate()
    proc.wait(timeout=10)
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match="cannot reach the Chroma server"):
        store.open_collection(settings, directory, manifest_data)
    with pytest.raises(StoreUnavailableError, match="cannot reach the Chroma server"):
        Retriever(settings).load()
    assert time.monotonic() - started < 10
    assert ask(retriever, "cpap device")[0].codes[0].code == "E0601"


class CountingServer(socketserver.ThreadingTCPServer):
    """A TCP server on 127.0.0.1 that answers every HTTP request with a 503 and counts them."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.connections = 0

        class Handler(socketserver.BaseRequestHandler):
            def handle(inner) -> None:  # noqa: N805 - the handler's own self
                self.connections += 1
                inner.request.recv(65536)
                inner.request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                    b"Connection: close\r\n\r\n"
                )

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.mark.parametrize("command", [["ask", "cpap device"], ["index", "build"]])
def test_a_failing_server_gets_no_retry_storm(tmp_path: Path, command):
    from click.testing import CliRunner

    from assistant.cli import cli
    from tests.fixture_corpus import assert_one_line_error

    env = fixture_env(tmp_path)
    server = CountingServer()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        if command[0] == "ask":
            # An index built on that server, which now answers every request with a 503.
            store.build_index(Settings.from_env(env), embedder=HashEmbedder())
            manifest_file = tmp_path / "index" / "current" / "manifest.json"
            data = json.loads(manifest_file.read_text())
            data["chroma"]["url"] = url
            manifest_file.write_text(json.dumps(data))
        started = time.monotonic()
        result = CliRunner().invoke(cli, command, env=env | {"HCPCS_CHROMA_URL": url})
        seconds = time.monotonic() - started
    finally:
        server.shutdown()
        server.server_close()
    assert_one_line_error(result, 1, "Chroma server", url)
    assert seconds < 10
    assert 1 <= server.connections <= 3, server.connections
