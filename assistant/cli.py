"""The `hcpcs` command: parse options, call the library, print. Nothing else.

Results go to stdout, progress to stderr. Errors are one line: exit 1 for a runtime error,
2 for bad usage. Heavy modules (torch, chromadb) are imported only by the commands that need
them, so `hcpcs lookup` stays fast. Options that several commands share are decorators
(``json_option``, ``sets_argument``, ``set_option``, ``tolerance_option``, ``output_path``), and
every choice list is the library's own constant.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from assistant import __version__
from assistant.config import EVALS_DIR, Settings
from assistant.errors import HcpcsError, UsageError
from assistant.quiz.builder import DIFFICULTIES, FORMATS, QUIZ_KINDS
from assistant.records import STATUSES, section_letters
from assistant.retrieval import MODES

DEFAULT_BENCH_SET = EVALS_DIR / "coder.jsonl"


class _Group(click.Group):
    """Turns the project's typed errors into one-line messages with the right exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except HcpcsError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except OSError as exc:
            if isinstance(exc, BrokenPipeError):
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"Error: {where}{exc.strerror or exc}", err=True)
            ctx.exit(1)
        except Exception as exc:
            # A bug or a library's unexpected failure: still one line, and the traceback for
            # whoever asks for it.
            if os.environ.get("HCPCS_DEBUG") == "1":
                raise
            message = " ".join(str(exc).split())[:300]
            click.echo(
                f"Error: unexpected {type(exc).__name__}: {message} "
                "(HCPCS_DEBUG=1 shows the traceback)",
                err=True,
            )
            ctx.exit(1)


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj


# --------------------------------------------------------------------------- shared options


def _writable(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
    """An output file's folder must exist and be writable before any work starts."""
    if value is None:
        return value
    folder = Path(value).parent
    if not folder.is_dir():
        raise click.BadParameter(f"folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise click.BadParameter(f"folder {str(folder)!r} is not writable")
    return value


def _library_check(parse: Callable[[Any], Any]) -> Callable[..., Any]:
    """A click callback that parses with a library function, its UsageError a BadParameter."""

    def callback(_ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        try:
            return parse(value)
        except UsageError as exc:
            raise click.BadParameter(str(exc)) from None

    return callback


def _path() -> click.Path:
    """A file (not a folder) argument or option, as a Path."""
    return click.Path(path_type=Path, dir_okay=False)


def json_option(help_text: str = "Machine-readable output (JSON).") -> Callable:
    """--json: print for machines instead of people."""
    return click.option("--json", "as_json", is_flag=True, help=help_text)


def output_path(*decls: str, **attrs: Any) -> Callable:
    """An option (or, with one bare name, an argument) naming a file to write: its folder is
    checked before any work."""
    if len(decls) == 1 and not decls[0].startswith("-"):
        return click.argument(*decls, type=_path(), callback=_writable, **attrs)
    return click.option(*decls, type=_path(), callback=_writable, **attrs)


sets_argument = click.argument("sets", nargs=-1, required=True, type=_path())
set_option = click.option(
    "--set",
    "set_path",
    type=_path(),
    default=DEFAULT_BENCH_SET,
    show_default="evals/coder.jsonl",
    help="Question set whose questions are asked, in order.",
)
tolerance_option = click.option(
    "--tolerance",
    type=click.FloatRange(0, 1),
    default=0.01,
    show_default=True,
    help="How far a quality metric may drop below the baseline.",
)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hcpcs")
@click.option(
    "--corpus-dir",
    type=click.Path(path_type=Path),
    help="Corpus folder [HCPCS_CORPUS_DIR; corpus/raw].",
)
@click.option(
    "--index-dir", type=click.Path(path_type=Path), help="Index folder [HCPCS_INDEX_DIR; index/]."
)
@click.option("--chroma-url", help="Chroma server URL [HCPCS_CHROMA_URL; unset: embedded Chroma].")
@click.pass_context
def cli(
    ctx: click.Context, corpus_dir: Path | None, index_dir: Path | None, chroma_url: str | None
) -> None:
    """HCPCS Level II coding assistant, grounded in the official CMS releases.

    Set-up: `hcpcs corpus fetch --mirror DIR`, then `hcpcs index build`.
    """
    try:
        ctx.obj = Settings.from_env(
            corpus_dir=corpus_dir, index_dir=index_dir, chroma_url=chroma_url
        )
        from assistant.logs import configure

        configure(ctx.obj)
    except HcpcsError as exc:
        click.echo(f"Error: {exc}", err=True)
        ctx.exit(exc.exit_code)


# --------------------------------------------------------------------------- corpus


@cli.group()
def corpus() -> None:
    """Fetch, add, verify, list and compare the CMS source files.

    The project's manifest is corpus/sources.toml; releases you add with `hcpcs corpus add`
    are recorded in local-sources.toml inside the corpus folder.
    """


@corpus.command("fetch")
@click.option(
    "--mirror",
    type=click.Path(path_type=Path),
    help="Copy from this local mirror folder instead of downloading from CMS.",
)
@click.option(
    "--latest",
    is_flag=True,
    help="Instead: find the newest quarterly alpha-numeric zip on the CMS quarterly-update "
    "page, download it and add it (as `hcpcs corpus add` does).",
)
@click.option(
    "--page",
    metavar="URL",
    help="With --latest: the page to read (default: the CMS quarterly-update page).",
)
@click.option("--replace", is_flag=True, help="With --latest: replace a release added before.")
@click.pass_context
def corpus_fetch(
    ctx: click.Context, mirror: Path | None, latest: bool, page: str | None, replace: bool
) -> None:
    """Copy or download every source file, verify it, and write it atomically.

    Without --mirror, files are downloaded from their official addresses (CMS zips are
    unpacked) and verified by sha256, or, when CMS's bytes differ from the pinned copy, by the
    fingerprint of their records or text; a guidance web page is kept as text when every
    statement the answers cite is found in it. One line per file says how it was verified. A
    mismatch or a missing file stops the fetch and leaves the corpus folder as it was.
    """
    settings = _settings(ctx)
    if latest:
        if mirror is not None:
            raise click.UsageError("--latest downloads from CMS; it does not take --mirror")
        from assistant.corpus.updates import QUARTERLY_PAGE, fetch_latest, format_added

        result = fetch_latest(
            settings.corpus_dir,
            settings.manifest,
            page or QUARTERLY_PAGE,
            replace=replace,
            progress=lambda msg: click.echo(msg, err=True),
        )
        click.echo(format_added(result))
        return
    if page is not None or replace:
        raise click.UsageError("--page and --replace go with --latest")
    from assistant.corpus.sources import fetch, fetch_summary, fetched_line, load_sources

    results = fetch(
        load_sources(settings.manifest),
        settings.corpus_dir,
        mirror,
        lambda item: click.echo(fetched_line(item)),
    )
    click.echo(fetch_summary(results, settings.corpus_dir))


@corpus.command("add")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--replace", is_flag=True, help="Replace a release added before from another file.")
@click.option(
    "--release",
    metavar="YYYY-MM",
    help="The release (2026-04) when the file names cannot tell it; checked against them.",
)
@click.pass_context
def corpus_add(ctx: click.Context, path: Path, replace: bool, release: str | None) -> None:
    """Add a CMS quarterly release: the zip CMS publishes, or its HCPC*ANWEB*.txt file.

    The release (year and quarter) is told from the names and checked against the records'
    action-effective dates; every record is parsed before anything changes. The file is
    copied into the corpus folder and recorded in local-sources.toml (sha256, release,
    effective date, origin). The same file again changes nothing; another file for a release
    already added is refused unless --replace. Then run `hcpcs index build`.
    """
    from assistant.corpus.updates import add_release, format_added

    settings = _settings(ctx)
    result = add_release(
        settings.corpus_dir,
        settings.manifest,
        path,
        replace=replace,
        release=release,
        origin=str(path.resolve()),
    )
    click.echo(format_added(result))


@corpus.command("remove")
@click.argument("release")
@click.pass_context
def corpus_remove(ctx: click.Context, release: str) -> None:
    """Remove a release added with `hcpcs corpus add`: undo the add.

    RELEASE is its id, such as 2026-04. Releases of corpus/sources.toml cannot be removed.
    """
    from assistant.corpus.updates import format_removed, remove_release

    settings = _settings(ctx)
    click.echo(format_removed(remove_release(settings.corpus_dir, settings.manifest, release)))


@corpus.command("list")
@json_option()
@click.pass_context
def corpus_list(ctx: click.Context, as_json: bool) -> None:
    """Show each source, whose manifest names it (project or local), and whether it is
    present and verified."""
    from assistant.corpus.sources import (
        corpus_sources,
        format_states,
        source_states,
        states_json,
        states_problem,
    )

    settings = _settings(ctx)
    states = source_states(
        corpus_sources(settings.manifest, settings.corpus_dir), settings.corpus_dir
    )
    click.echo(json.dumps(states_json(states), indent=2) if as_json else format_states(states))
    problem = states_problem(states)
    if problem:
        click.echo(problem, err=True)
        ctx.exit(1)


@corpus.command("diff")
@click.argument("old")
@click.argument("new")
@click.option(
    "--section",
    "sections",
    multiple=True,
    help="Only codes of this section letter (repeatable), or 'modifier'.",
)
@json_option()
@click.pass_context
def corpus_diff(
    ctx: click.Context, old: str, new: str, sections: tuple[str, ...], as_json: bool
) -> None:
    """What changed from release OLD to release NEW, computed from the records.

    OLD and NEW are loaded releases, such as 2025-01 and 2026-01. Codes added, terminated
    (with the date), reinstated, no longer in the file, long or short descriptor revised (old
    and new text), coverage code changed. Reads the record store of the built index: both
    releases must be loaded.
    """
    from assistant.changes import diff_index, diff_json, format_diff

    changes = diff_index(_settings(ctx), old, new, sections)
    if as_json:
        click.echo(json.dumps(diff_json(old, new, sections, changes), indent=2, ensure_ascii=False))
    else:
        click.echo(format_diff(old, new, sections, changes))


# --------------------------------------------------------------------------- index


@cli.group()
def index() -> None:
    """Build the index and report its status."""


@index.command("build")
@click.option("--if-needed", is_flag=True, help="Build only when the index is missing or stale.")
@click.pass_context
def index_build(ctx: click.Context, if_needed: bool) -> None:
    """Parse the corpus, embed it into Chroma, build BM25 beside it, and swap it in.

    The previous index keeps answering until the new one is complete. Texts the previous
    build embedded keep their vectors: after `hcpcs corpus add`, only the new and changed
    texts are embedded.
    """
    from assistant import store

    settings = _settings(ctx)
    if if_needed:
        reason = store.build_needed(settings)
        if reason is None:
            click.echo("index is current", err=True)
            return
        click.echo(f"building: {reason}", err=True)
    with _Progress() as bar:
        manifest = store.build_index(settings, progress=bar)
    click.echo(store.format_build(manifest))


@index.command("status")
@json_option()
@click.pass_context
def index_status(ctx: click.Context, as_json: bool) -> None:
    """Show the index manifest and whether it is current for the corpus and model.

    Exits 1 when the index is stale.
    """
    from assistant import store

    status = store.index_status(_settings(ctx))
    if as_json:
        click.echo(json.dumps(status, indent=2))
    else:
        click.echo(store.format_index_status(status))
        warning = store.format_corpus_problems(status)
        if warning:
            click.echo(warning, err=True)
    if not status["current"]:
        ctx.exit(1)


# --------------------------------------------------------------------------- lookup


@cli.command()
@click.argument("code")
@click.option("--release", help="Only this release (e.g. 2025-01); default: every loaded release.")
@json_option()
@click.pass_context
def lookup(ctx: click.Context, code: str, release: str | None, as_json: bool) -> None:
    """Show the full record of CODE (or modifier) in every loaded release."""
    from assistant.lookup import format_lookup, lookup_code

    result = lookup_code(_settings(ctx), code, release)
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
    else:
        click.echo(format_lookup(result))


# --------------------------------------------------------------------------- ask


@cli.command()
@click.argument("question", required=False)
@click.option(
    "--date",
    "day",
    help="Date of service (YYYY-MM-DD): validity judged by each code's add and termination dates.",
)
@click.option("--release", help="Answer from this release (e.g. 2025-01); default: the newest.")
@click.option(
    "--top",
    type=click.IntRange(1, 20),
    default=5,
    show_default=True,
    help="How many candidate codes to show.",
)
@click.option(
    "--section",
    "sections",
    multiple=True,
    help="Only codes of this section letter (repeatable), or 'modifier'.",
)
@click.option("--status", type=click.Choice(STATUSES), help="Only codes of this status.")
@click.option(
    "--batch",
    type=_path(),
    help='Answer every line of a JSONL file ({"question", optional "date"}); - for stdin.',
)
@json_option("Machine-readable output (one JSON line per question).")
@click.pass_context
def ask(
    ctx: click.Context,
    question: str | None,
    day: str | None,
    release: str | None,
    top: int,
    sections: tuple[str, ...],
    status: str | None,
    batch: Path | None,
    as_json: bool,
) -> None:
    """Answer a coding QUESTION from the loaded CMS releases, with citations and notices.

    A drug question that states a dose ("Opdivo 240 mg", "350 mg from four 100 mg vials")
    also gets its billing units with the arithmetic and the claim lines (JW or JZ). Use - as
    QUESTION to read it from standard input.
    """
    from assistant import service
    from assistant.answer import ask as ask_question
    from assistant.render import answer_json, format_answer

    if (question is None) == (batch is None):
        raise click.UsageError("give a QUESTION or --batch FILE, not both or neither")
    # Everything the user gave is checked before the index and the model are loaded.
    options = service.make_options(day, release, top, sections, status)
    if batch is not None:
        items = service.read_batch(batch)
        retriever = service.load_retriever(_settings(ctx))
        for line in service.batch_answers(retriever, items, options):
            click.echo(json.dumps(line, ensure_ascii=False))
        return
    assert question is not None
    question = service.read_question(question)
    retriever = service.load_retriever(_settings(ctx))
    answer, _ = ask_question(retriever, question, options=options)
    if as_json:
        click.echo(json.dumps(answer_json(answer), ensure_ascii=False, indent=2))
    else:
        click.echo(format_answer(answer))


# --------------------------------------------------------------------------- eval


@cli.group("eval")
def eval_group() -> None:
    """Measure retrieval and answers against question sets (JSONL)."""


@eval_group.command("retrieval")
@sets_argument
@click.option(
    "--retriever",
    "modes",
    multiple=True,
    type=click.Choice(MODES),
    help="Retriever(s) to run (repeatable); default: all three, compared.",
)
@click.option(
    "--k",
    type=click.IntRange(1, 100),
    default=10,
    show_default=True,
    help="Candidates retrieved per question; hit@1/5/10 up to K, hit@K and MRR@K are reported.",
)
@json_option("Print the metrics as JSON.")
@click.option(
    "--items", is_flag=True, help="Include per-item results (rank of first expected code)."
)
@click.pass_context
def eval_retrieval(
    ctx: click.Context,
    sets: tuple[Path, ...],
    modes: tuple[str, ...],
    k: int,
    as_json: bool,
    items: bool,
) -> None:
    """Run every question of SETS through the retrievers, K candidates each; print hit@K, MRR@K.

    Each line: {"id", "question", "expected_codes": [...]} (a hit is any expected code);
    optional "date". Lines without expected codes are skipped. With --json and one set, the
    first retriever's metrics are at the top level and all retrievers' under "retrievers".
    """
    from assistant.evaluation.retrieval import format_retrieval, retrieval_json, run_retrieval
    from assistant.evaluation.sets import read_set
    from assistant.service import load_retriever

    loaded = {path: read_set(path) for path in sets}
    retriever = load_retriever(_settings(ctx))
    report = run_retrieval(retriever, loaded, modes or MODES, k, items)
    if as_json:
        click.echo(json.dumps(retrieval_json(report), indent=2))
    else:
        click.echo(format_retrieval(report))


@eval_group.command("run")
@sets_argument
@output_path("--out", required=True, help="Write the JSON report here.")
@output_path("--markdown", help="Also write a Markdown report (and its chart, a PNG beside it).")
@click.option("--baseline", type=_path(), help="Compare with this report: exit 1 on a regression.")
@tolerance_option
@output_path(
    "--write-baseline",
    "write_baseline",
    is_flag=False,
    flag_value=str(EVALS_DIR / "baseline.json"),
    default=None,
    help="Also write the report as the new baseline (default evals/baseline.json).",
)
@click.pass_context
def eval_run(
    ctx: click.Context,
    sets: tuple[Path, ...],
    out: Path,
    markdown: Path | None,
    baseline: Path | None,
    tolerance: float,
    write_baseline: Path | None,
) -> None:
    """Answer every question of SETS through the chat's ask path; check, score and report.

    Exit 1 when, against --baseline, a quality metric drops by more than --tolerance or an
    item that passed now fails.
    """
    from assistant.evaluation import runner
    from assistant.evaluation.sets import read_set
    from assistant.service import load_retriever

    base = runner.load_report(baseline) if baseline else None
    # Read (and so checked) before anything is loaded: a malformed set fails at once.
    loaded = [(path, read_set(path)) for path in sets]
    retriever = load_retriever(_settings(ctx))
    with _Progress() as bar:
        report = runner.run_sets(retriever, loaded, lambda n, total: bar("questions", n, total))
    comparison = runner.compare(report, base, tolerance) if base else None
    if comparison:
        report["comparison"] = comparison
    runner.write_report(report, out)
    if markdown:
        runner.write_markdown(report, markdown, base)
    if write_baseline:
        runner.write_baseline(report, write_baseline)
    click.echo(runner.format_metrics(report["metrics"]))
    if comparison:
        click.echo(runner.format_comparison(comparison))
        if comparison["regressed"]:
            ctx.exit(1)


@eval_group.command("compare")
@click.argument("report", type=_path())
@click.argument("baseline", type=_path())
@tolerance_option
@json_option("Print the comparison as JSON.")
@click.pass_context
def eval_compare(
    ctx: click.Context, report: Path, baseline: Path, tolerance: float, as_json: bool
) -> None:
    """Compare REPORT with BASELINE (two `eval run` reports); exit 1 on a regression."""
    from assistant.evaluation.runner import compare, format_comparison, load_report

    comparison = compare(load_report(report), load_report(baseline), tolerance)
    click.echo(json.dumps(comparison, indent=2) if as_json else format_comparison(comparison))
    if comparison["regressed"]:
        ctx.exit(1)


@eval_group.command("make-validity-set")
@output_path("out")
@click.option(
    "--count",
    type=click.IntRange(1, 500),
    default=20,
    show_default=True,
    help="How many terminated codes to ask about (two questions each).",
)
@click.pass_context
def eval_make_validity_set(ctx: click.Context, out: Path, count: int) -> None:
    """Write date-of-service questions built from the newest release's termination dates."""
    from assistant.evaluation.sets import make_set

    written = make_set(_settings(ctx), "validity", out, count)
    click.echo(f"{written} questions written to {out}")


@eval_group.command("make-drug-set")
@output_path("out")
@click.pass_context
def eval_make_drug_set(ctx: click.Context, out: Path) -> None:
    """Write the question set generated from the Table of Drugs (name and unit -> code) to OUT.

    Only codes active in the newest release are expected answers.
    """
    from assistant.evaluation.sets import make_set

    written = make_set(_settings(ctx), "drug", out)
    click.echo(f"{written} questions written to {out}")


# --------------------------------------------------------------------------- quiz


@cli.group()
def quiz() -> None:
    """Build quizzes from the codebook for trainers."""


@quiz.command("make")
@click.option("--count", type=click.IntRange(1, 500), required=True, help="How many questions.")
@click.option(
    "--section",
    "sections",
    callback=_library_check(section_letters),
    help="Section letters to draw from, e.g. E or EJL.",
)
@click.option("--kind", type=click.Choice(QUIZ_KINDS), default="mixed", show_default=True)
@click.option(
    "--difficulty",
    type=click.Choice(DIFFICULTIES),
    default="easy",
    show_default=True,
    help="easy: other codes of the section; hard: its nearest neighbours "
    "(valid-on-date: codes terminated since, dates close together).",
)
@click.option("--release", help="Release to draw from (default: the newest).")
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Same seed, same quiz, byte for byte."
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="json", show_default=True)
@output_path("--out", help="Write here instead of standard output (required for qti, a zip).")
@click.pass_context
def quiz_make(
    ctx: click.Context,
    count: int,
    sections: tuple[str, ...],
    kind: str,
    difficulty: str,
    release: str | None,
    seed: int,
    fmt: str,
    out: Path | None,
) -> None:
    """Make a multiple-choice quiz from active codes of a release, checked item by item."""
    from assistant.quiz.builder import QuizBuilder
    from assistant.quiz.export import export
    from assistant.service import load_retriever

    if fmt == "qti" and out is None:
        raise click.UsageError("--format qti writes a zip: give --out FILE.zip")
    builder = QuizBuilder(load_retriever(_settings(ctx)), release)
    data = export(builder.make(count, kind, difficulty, sections, seed), fmt)
    if out is None:
        click.echo(data.decode("utf-8"), nl=False)
    else:
        out.write_bytes(data)
        click.echo(f"{count} questions ({fmt}) written to {out}", err=True)


# --------------------------------------------------------------------------- bench


@cli.group(invoke_without_command=True)
@set_option
@click.option("--threads", type=click.IntRange(1, 64), default=8, show_default=True)
@click.option(
    "--build",
    "measure_build",
    is_flag=True,
    help="Also time a fresh index build into a temporary folder (about a minute); without "
    "it, the build time and memory the current index recorded are reported.",
)
@json_option("Print the figures as JSON.")
@click.pass_context
def bench(
    ctx: click.Context, set_path: Path, threads: int, measure_build: bool, as_json: bool
) -> None:
    """Measure index build, warm answer latency (p50/p95), cold start, throughput, memory.

    `hcpcs bench ui` load-tests the Streamlit chat instead.
    """
    if ctx.invoked_subcommand is not None:
        return
    from assistant.bench.library import format_bench, run_bench
    from assistant.evaluation.sets import read_set

    questions = [q["question"] for q in read_set(set_path)]
    figures = run_bench(_settings(ctx), questions, threads=threads, measure_build=measure_build)
    click.echo(json.dumps(figures, indent=2) if as_json else format_bench(figures))


def _server_url(value: str | None) -> str | None:
    from assistant.bench.chat_load import check_url

    return None if value is None else check_url(value)


@bench.command("ui")
@click.option("--sessions", type=click.IntRange(1, 32), default=4, show_default=True)
@click.option(
    "--questions",
    "per_session",
    type=click.IntRange(1, 200),
    default=10,
    show_default=True,
    help="Questions each session asks, one after the other.",
)
@set_option
@click.option(
    "--timeout",
    type=click.FloatRange(1, 3600),
    default=300,
    show_default=True,
    help="Seconds after which the whole run stops by itself.",
)
@click.option(
    "--question-timeout",
    type=click.FloatRange(0.1, 600),
    default=60,
    show_default=True,
    help="Seconds one answer may take before its session gives up.",
)
@click.option(
    "--url",
    callback=_library_check(_server_url),
    help="Load-test this running server (http://127.0.0.1:PORT) instead of starting one.",
)
@json_option("Print the figures (and every turn) as JSON.")
@click.pass_context
def bench_ui(
    ctx: click.Context,
    sessions: int,
    per_session: int,
    set_path: Path,
    timeout: float,
    question_timeout: float,
    url: str | None,
    as_json: bool,
) -> None:
    """Load-test the Streamlit chat on 127.0.0.1: concurrent sessions, p50/p95 answer times.

    Starts `streamlit run app.py` on a free port (unless --url), warms it with one question,
    then runs --sessions websocket sessions at once, each asking its questions in turn. Exits 1
    if any question got no answer.
    """
    from assistant.bench.chat_load import format_load, load_test
    from assistant.evaluation.sets import read_set

    figures = load_test(
        _settings(ctx),
        [q["question"] for q in read_set(set_path)],
        url,
        sessions=sessions,
        questions_per_session=per_session,
        timeout=timeout,
        question_timeout=question_timeout,
    )
    if as_json:
        click.echo(json.dumps(figures, indent=2, ensure_ascii=False))
    else:
        click.echo(format_load(figures))
    if figures["errors"]:
        ctx.exit(1)


class _Progress:
    """A progress bar on stderr, one per stage, drawn only on a terminal; closed on exit."""

    def __init__(self) -> None:
        self._stage: str | None = None
        self._bar = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if stage != self._stage:
            self.close()
            self._stage = stage
            self._bar = tqdm(
                total=total,
                desc=stage,
                file=sys.stderr,
                unit="doc" if total > 1 else "",
                disable=None,
                leave=True,
            )
        assert self._bar is not None
        self._bar.n = done
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def main() -> None:
    try:
        cli(prog_name="hcpcs")
    except BrokenPipeError:
        # The reader went away (`hcpcs quiz make ... | head`): stop quietly, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(141)
