"""A bounded load test of the Streamlit chat: concurrent sessions ask questions, timed.

Each session is its own websocket to ``/_stcore/stream``, speaking the browser's protocol: a
``BackMsg.rerun_script`` to load the page, then one per question carrying the chat input's
``chat_input_value`` trigger. A question's time runs from sending that message to the
``script_finished`` ForwardMsg of the run it started; the run's delta elements are read back to
check that an answer (a code card with the coverage statement, a "no relevant code" warning or
another notice) really arrived. Everything is bounded: a per-question timeout and a total
deadline after which the sessions stop by themselves and what did not finish counts as an error.
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from assistant.answer import WORDING
from assistant.bench.library import child_env, percentile
from assistant.config import PROJECT_ROOT
from assistant.errors import HcpcsError, UsageError

APP = PROJECT_ROOT / "app.py"
# The chat shows each notice's text as the composer words it (WORDING, read when a turn is
# classified).
# The card's first line, as app.render_answer writes it: "Best match · **Code E0601** · …".
_CARD_CODE = re.compile(r"\*\*(?:Code|Modifier) ([A-Z0-9]{2,5})\*\*")
_UNESCAPE = re.compile(r"\\(.)")
_MAIN = 0  # RootContainer.MAIN: where the chat messages sit
CONNECT_TIMEOUT = 10.0


class UiLoadError(HcpcsError):
    """The Streamlit server could not be started or did not become healthy."""


@dataclass(frozen=True)
class Server:
    """A running `streamlit run` subprocess and its base URL."""

    url: str
    process: subprocess.Popen


@dataclass(frozen=True)
class Turn:
    """One question asked in one session, and what came back."""

    session: int
    index: int
    question: str
    seconds: float | None
    kind: str  # code | no-evidence | notice | error | timeout | not-asked
    codes: tuple[str, ...] = ()
    coverage: bool = False
    error: str | None = None
    text: str = ""

    @property
    def answered(self) -> bool:
        """True when the page rendered an answer for this question."""
        return self.kind in ("code", "no-evidence", "notice")


@dataclass
class _Run:
    """What one script run sent: its elements, top-level chat blocks, and how it ended."""

    status: str = ""
    elements: list[tuple[tuple[int, ...], str, str]] = field(default_factory=list)
    chat_blocks: list[tuple[int, ...]] = field(default_factory=list)
    chat_input_id: str | None = None
    page_script_hash: str = ""


# -- the server ---------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, seconds: float) -> None:
    """Wait for ``url`` to answer 200; UiLoadError if the server process exits or is slow."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        if process.poll() is not None:
            raise UiLoadError(f"the server exited with code {process.returncode} while starting")
        time.sleep(0.2)
    raise UiLoadError(f"{url} did not answer within {seconds:.0f} s")


def _tail(log: IO[bytes], chars: int = 800) -> str:
    log.flush()
    log.seek(0)
    return log.read().decode("utf-8", "replace")[-chars:]


@contextmanager
def streamlit_server(
    env: Mapping[str, str] | None = None,
    *,
    app: Path = APP,
    cwd: Path | None = None,
    port: int | None = None,
    startup_timeout: float = 60.0,
    log_path: Path | None = None,
) -> Iterator[Server]:
    """Run `streamlit run app.py` on 127.0.0.1 until the block ends; always stop it."""
    port = port or free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        # A load test edits nothing; watching the tree only costs CPU the answers need.
        "--server.fileWatcherType",
        "none",
    ]
    log: IO[bytes] = log_path.open("w+b") if log_path else tempfile.TemporaryFile("w+b")
    process = subprocess.Popen(
        command,
        env=dict(os.environ if env is None else env),
        cwd=cwd or app.parent,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for_http(f"{url}/_stcore/health", process, startup_timeout)
        except UiLoadError as exc:
            raise UiLoadError(f"{exc}; log tail: {_tail(log)}") from None
        yield Server(url, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


# -- the protocol -------------------------------------------------------------------------------


def _rerun_message(
    url: str, page_script_hash: str, chat_input_id: str | None = None, question: str = ""
) -> bytes:
    """The BackMsg a browser sends to (re)run the page, optionally submitting the chat input."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    msg = BackMsg()
    state = msg.rerun_script
    state.query_string = ""
    state.page_script_hash = page_script_hash
    state.context_info.timezone = "UTC"
    state.context_info.timezone_offset = 0
    state.context_info.locale = "en-US"
    state.context_info.url = url + "/"
    state.context_info.is_embedded = False
    if chat_input_id is not None:
        # The widget manager's setChatInputValue: a trigger that holds only for this run.
        widget = state.widget_states.widgets.add()
        widget.id = chat_input_id
        widget.chat_input_value.data = question
    return msg.SerializeToString()


def _element_text(element: Any) -> tuple[str, str]:
    """(kind, text) of one delta element; alerts are kinds like ``alert:warning``."""
    from streamlit.proto.Alert_pb2 import Alert

    kind = element.WhichOneof("type") or ""
    if kind in ("markdown", "heading", "text"):
        return kind, getattr(element, kind).body
    if kind == "alert":
        return f"alert:{Alert.Format.Name(element.alert.format).lower()}", element.alert.body
    if kind == "exception":
        return kind, f"{element.exception.type}: {element.exception.message}"
    if kind == "code":
        return kind, element.code.code_text
    return kind, ""


async def _run(ws: Any, message: bytes, deadline: float) -> _Run:
    """Send one rerun and read ForwardMsgs until that run's ``script_finished``."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    run = _Run()
    started = False
    await ws.send(message)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        data = await asyncio.wait_for(ws.recv(), remaining)
        msg = ForwardMsg()
        msg.ParseFromString(data)
        which = msg.WhichOneof("type")
        if which == "new_session":
            # Every run starts with one; a script_finished before it belongs to an older run.
            started = True
            run.page_script_hash = msg.new_session.page_script_hash
        elif which == "delta" and started:
            path = tuple(msg.metadata.delta_path)
            delta = msg.delta.WhichOneof("type")
            if delta == "add_block" and msg.delta.add_block.WhichOneof("type") == "chat_message":
                if len(path) == 2 and path[0] == _MAIN:
                    run.chat_blocks.append(path)
            elif delta == "new_element":
                element = msg.delta.new_element
                kind, text = _element_text(element)
                if kind == "chat_input":
                    run.chat_input_id = element.chat_input.id
                run.elements.append((path, kind, text))
        elif which == "session_event" and msg.session_event.HasField(
            "script_compilation_exception"
        ):
            exc = msg.session_event.script_compilation_exception
            run.elements.append(((), "exception", f"{exc.type}: {exc.message}"))
        elif which == "script_finished" and started:
            status = ForwardMsg.ScriptFinishedStatus.Name(msg.script_finished)
            if status != "FINISHED_EARLY_FOR_RERUN":
                run.status = status
                return run


def _unescape(markdown: str) -> str:
    return _UNESCAPE.sub(r"\1", markdown)


def _turn(session: int, index: int, question: str, seconds: float, run: _Run, before: int) -> Turn:
    """Classify one question's run: a chat message block beyond the ``before`` already on the
    page is needed, and the last one is this turn's answer."""
    base = {"session": session, "index": index, "question": question, "seconds": seconds}
    exceptions = [text for _, kind, text in run.elements if kind == "exception"]
    if exceptions:
        return Turn(**base, kind="error", error=f"exception: {exceptions[0][:160]}")
    if run.status != "FINISHED_SUCCESSFULLY":
        return Turn(**base, kind="error", error=f"script ended {run.status}")
    if len(run.chat_blocks) <= before:
        alerts = [text for _, kind, text in run.elements if kind == "alert:error"]
        reason = alerts[0][:160] if alerts else "no answer rendered"
        return Turn(**base, kind="error", error=reason)
    block = run.chat_blocks[-1]
    mine = [(k, t) for p, k, t in run.elements if p[: len(block)] == block and len(p) > len(block)]
    text = "\n".join(_unescape(t) for _, t in mine if t)
    codes = tuple(dict.fromkeys(_CARD_CODE.findall("\n".join(t for _, t in mine))))
    coverage = WORDING["coverage"] in text
    if codes and not coverage:
        # A product rule, not a load figure: every answer naming a code says it.
        error = "code card without the coverage statement"
        return Turn(**base, kind="error", codes=codes, error=error, text=text)
    if codes:
        kind = "code"
    elif WORDING["no-evidence"] in text:
        kind = "no-evidence"
    elif any(k.startswith("alert:") for k, _ in mine):
        kind = "notice"
    else:
        return Turn(**base, kind="error", error="empty answer", text=text)
    return Turn(**base, kind=kind, codes=codes, coverage=coverage, text=text)


async def _session(
    url: str,
    number: int,
    questions: Sequence[str],
    question_timeout: float,
    deadline: float,
    turns: list[Turn],
    page_loads: list[float],
) -> None:
    """One browser tab: load the page, then ask each question once the previous one finished."""
    from websockets.asyncio.client import connect

    def give_up(start: int, kind: str, reason: str) -> None:
        """Record question ``start`` as ``kind`` and the rest of the session as not asked."""
        turns.append(Turn(number, start, questions[start], None, kind, error=reason))
        for i in range(start + 1, len(questions)):
            turns.append(
                Turn(number, i, questions[i], None, "not-asked", error=f"not asked: {reason}")
            )

    ws_url = url.replace("http", "ws", 1).rstrip("/") + "/_stcore/stream"
    try:
        ws = await asyncio.wait_for(
            connect(
                ws_url,
                subprotocols=["streamlit"],  # type: ignore[list-item]  # a NewType of str
                proxy=None,
                ping_interval=None,
                max_size=2**26,
                open_timeout=None,
            ),
            max(0.001, min(CONNECT_TIMEOUT, deadline - time.monotonic())),
        )
    except Exception as exc:  # refused, timed out, or a failed handshake: this tab only
        give_up(0, "error", f"connect failed: {type(exc).__name__} {exc}"[:160])
        return
    async with ws:
        t0 = time.monotonic()
        try:
            # The page load is bounded by the deadline only: the first one also opens the index.
            page = await _run(ws, _rerun_message(url, ""), deadline)
        except TimeoutError:
            give_up(0, "timeout", "page load did not finish in time")
            return
        except Exception as exc:  # a closed socket or a bad frame ends this tab only
            give_up(0, "error", f"page load failed: {type(exc).__name__} {exc}"[:160])
            return
        page_loads.append(time.monotonic() - t0)
        if page.chat_input_id is None:
            alerts = [t for _, k, t in page.elements if k in ("alert:error", "exception")]
            give_up(0, "error", f"page has no chat input: {' '.join(alerts)}"[:160])
            return
        chat_input_id, page_hash = page.chat_input_id, page.page_script_hash
        blocks = len(page.chat_blocks)
        for i, question in enumerate(questions):
            now = time.monotonic()
            if now >= deadline:
                give_up(i, "not-asked", "total deadline passed")
                return
            message = _rerun_message(url, page_hash, chat_input_id, question)
            try:
                run = await _run(ws, message, min(now + question_timeout, deadline))
            except TimeoutError:
                waited = time.monotonic() - now
                give_up(i, "timeout", f"no answer after {waited:.1f} s")
                return
            except Exception as exc:
                give_up(i, "error", f"{type(exc).__name__} {exc}"[:160])
                return
            turns.append(_turn(number, i, question, time.monotonic() - now, run, blocks))
            chat_input_id = run.chat_input_id or chat_input_id
            blocks = len(run.chat_blocks)


def _summary(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None, "mean": None}
    return {
        "p50": round(percentile(values, 50), 3),
        "p95": round(percentile(values, 95), 3),
        "max": round(max(values), 3),
        "mean": round(statistics.fmean(values), 3),
    }


async def _load(
    url: str,
    plan: list[list[str]],
    question_timeout: float,
    timeout: float,
) -> tuple[list[Turn], list[float]]:
    turns: list[Turn] = []
    page_loads: list[float] = []
    deadline = time.monotonic() + timeout
    tasks = [
        asyncio.create_task(_session(url, n, qs, question_timeout, deadline, turns, page_loads))
        for n, qs in enumerate(plan)
    ]
    # Sessions stop themselves at the deadline; the grace period only guards against a hang.
    _, pending = await asyncio.wait(tasks, timeout=timeout + 10)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    seen = {(t.session, t.index) for t in turns}
    for n, qs in enumerate(plan):
        for i, question in enumerate(qs):
            if (n, i) not in seen:
                turns.append(Turn(n, i, question, None, "timeout", error="session hung"))
    return sorted(turns, key=lambda t: (t.session, t.index)), page_loads


def run_load(
    url: str,
    questions: Sequence[str],
    *,
    sessions: int = 4,
    questions_per_session: int = 10,
    timeout: float = 300.0,
    question_timeout: float = 60.0,
    warmup: str | None = None,
) -> dict[str, Any]:
    """Run ``sessions`` concurrent chat sessions against ``url``; figures as a dict.

    Session ``s`` asks questions ``s*q .. s*q+q-1`` of the list (wrapping round), so sessions
    ask different questions when the list is long enough. ``warmup``, when given, is asked in a
    session of its own first (untimed), so the model load is not counted in the answers.
    ``timeout`` bounds the whole run including the warm-up.
    """
    if not questions:
        raise UiLoadError("no questions to ask")
    if sessions < 1 or questions_per_session < 1:
        raise UiLoadError("sessions and questions per session must be at least 1")
    started = time.monotonic()
    warmup_seconds = None
    if warmup:
        turns, _ = asyncio.run(_load(url, [[warmup]], question_timeout, timeout))
        warmup_seconds = turns[0].seconds
        if not turns[0].answered:
            raise UiLoadError(f"the warm-up question got no answer: {turns[0].error}")
    q = questions_per_session
    plan = [[questions[(s * q + i) % len(questions)] for i in range(q)] for s in range(sessions)]
    left = max(0.001, timeout - (time.monotonic() - started))
    t0 = time.monotonic()
    turns, page_loads = asyncio.run(_load(url, plan, question_timeout, left))
    wall = time.monotonic() - t0
    answered = [t for t in turns if t.answered]
    errors = [t for t in turns if not t.answered]
    return {
        "url": url,
        "sessions": sessions,
        "questions_per_session": q,
        "asked": sum(1 for t in turns if t.kind != "not-asked"),
        "answered": len(answered),
        "errors": len(errors),
        "error_reasons": [f"s{t.session} q{t.index}: {t.error}" for t in errors],
        "kinds": dict(Counter(t.kind for t in turns)),
        "with_coverage_statement": sum(1 for t in answered if t.coverage),
        "answer_seconds": _summary([t.seconds for t in answered if t.seconds is not None]),
        "page_load_seconds": _summary(page_loads),
        "warmup_seconds": None if warmup_seconds is None else round(warmup_seconds, 3),
        "wall_seconds": round(wall, 3),
        "answers_per_second": round(len(answered) / wall, 3) if wall > 0 else 0.0,
        "stopped_by_deadline": bool(errors) and time.monotonic() - started >= timeout,
        "turns": [asdict(t) for t in turns],
    }


WARMUP_QUESTION = "cpap machine for sleep apnea"
_SERVER_URL = re.compile(r"https?://[\w.\-\[\]:]+/?")


def check_url(url: str) -> str:
    """A running server's address as `hcpcs bench ui --url` takes it: scheme, host and port."""
    if not _SERVER_URL.fullmatch(url):
        raise UsageError("give http://HOST:PORT")
    return url


def load_test(settings, questions: Sequence[str], url: str | None = None, **options: Any) -> dict:
    """``run_load`` against the server at ``url``, or against one started for the run.

    Without ``url``, the index is checked first (a missing or stale one is said before a
    server starts) and `streamlit run app.py` is started with the settings' environment.
    ``options`` are ``run_load``'s; the warm-up question is ``WARMUP_QUESTION`` unless given.
    """
    options.setdefault("warmup", WARMUP_QUESTION)
    if url is not None:
        return run_load(url, questions, **options)
    from assistant import store

    store.check_current(settings)
    with streamlit_server(child_env(settings)) as server:
        return run_load(server.url, questions, **options)


def format_load(figures: Mapping[str, Any]) -> str:
    """A few lines for a person: counts, answer-time percentiles, throughput, errors."""

    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f} s"

    a, p = figures["answer_seconds"], figures["page_load_seconds"]
    total = figures["sessions"] * figures["questions_per_session"]
    lines = [
        f"UI load test of {figures['url']}: {figures['sessions']} sessions × "
        f"{figures['questions_per_session']} questions",
        f"answered {figures['answered']}/{total}, errors {figures['errors']}"
        + (" (stopped by the deadline)" if figures["stopped_by_deadline"] else ""),
        f"answer time  p50 {secs(a['p50'])}  p95 {secs(a['p95'])}  max {secs(a['max'])}  "
        f"mean {secs(a['mean'])}",
        f"page load    p50 {secs(p['p50'])}  p95 {secs(p['p95'])}",
        f"wall {figures['wall_seconds']:.2f} s, {figures['answers_per_second']:.2f} answers/s"
        + (
            f", warm-up {secs(figures['warmup_seconds'])}"
            if figures.get("warmup_seconds") is not None
            else ""
        ),
    ]
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(figures["kinds"].items()))
    lines.append(f"outcomes: {kinds}")
    reasons = figures["error_reasons"]
    for reason in reasons[:5]:
        lines.append(f"  error {reason}")
    if len(reasons) > 5:
        lines.append(f"  … and {len(reasons) - 5} more")
    return "\n".join(lines)
