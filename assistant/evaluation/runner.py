"""`hcpcs eval run`: question sets through the same `ask` path as the chat, checked and scored.

Per item: pass/fail per check, rank of the first expected code, latency. Metrics are pure
functions of the items; a report compares against a baseline and says what got worse.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from assistant import __version__
from assistant.evaluation.retrieval import first_rank, hit_at, mrr_at
from assistant.records import MODIFIER_PATTERN, Answer, Units

# Quality metrics a run is judged by against its baseline (latency is reported, not judged:
# it depends on the machine's load).
JUDGED = (
    "hit@1",
    "hit@5",
    "hit@10",
    "mrr@10",
    "notice_accuracy",
    "citation_validity",
    "coverage_statement_rate",
    "no_code_accuracy",
    "units_accuracy",
)
# Counts that must not grow (a regression when they do): answers with a replaced code first,
# and answers with a modifier first that asked for none.
FIRST_CODE_COUNTS = ("terminated_first", "modifier_first")


def _matches(pattern: str, text: str) -> bool:
    """A phrase (case-insensitive substring), or a regex when written as /.../."""
    if len(pattern) > 2 and pattern.startswith("/") and pattern.endswith("/"):
        return re.search(pattern[1:-1], text, re.IGNORECASE) is not None
    return pattern.casefold() in text.casefold()


def units_match(expected: dict[str, Any] | None, units: Units | None) -> bool:
    """The answer's billing units are the ones the item expects (sets.units_schema_error)."""
    if expected is None:
        return units is None
    if units is None or units.code != expected["code"].upper():
        return False
    if "problem" in expected:
        return units.problem == expected["problem"] and units.units is None
    return (
        units.units == expected["units"]
        and units.discarded_units == expected.get("discarded_units")
        and units.modifier == expected.get("modifier", "")
    )


def check_item(item: dict[str, Any], answer: Answer, valid_citation: Callable) -> dict[str, Any]:
    """Every check an item asks for, each True/False, plus the rank of its expected code."""
    codes = [r.code for r in answer.codes]
    checks: dict[str, bool] = {}
    rank = None
    if item["expected_codes"]:
        rank = first_rank(codes, item["expected_codes"])
        checks["expected_code"] = rank is not None
    if item.get("expected_all"):
        checks["expected_all"] = all(c.upper() in codes for c in item["expected_all"])
    if item.get("no_codes"):
        checks["no_codes"] = not answer.codes
    if item.get("notices") is not None:
        checks["notices"] = set(item["notices"]) <= set(answer.notice_ids)
    for pattern in item.get("must_include", []):
        checks[f"include:{pattern}"] = _matches(pattern, answer.text)
    for pattern in item.get("must_not_include", []):
        checks[f"exclude:{pattern}"] = not _matches(pattern, answer.text)
    refs = {c.ref for c in answer.citations} | {c.source for c in answer.citations}
    for source in item.get("must_cite", []):
        checks[f"cite:{source}"] = source in refs
    if "expected_units" in item:
        checks["units"] = units_match(item["expected_units"], answer.units)
    checks["citations_valid"] = all(valid_citation(c) for c in answer.citations)
    if answer.codes:
        checks["coverage_statement"] = "coverage" in answer.notice_ids
    return {
        "id": item["id"],
        "kind": item.get("kind") or "unspecified",
        "tags": item.get("tags", []),
        "question": item["question"],
        "expected": item["expected_codes"],
        "got": codes[:5],
        "notices": list(answer.notice_ids),
        "citations": len(answer.citations),
        "guidance_citations": sum(
            c.kind in ("guidance", "record-layout") for c in answer.citations
        ),
        "rank": rank,
        "checks": checks,
        "passed": all(checks.values()),
    }


def metrics(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The flat metrics of a list of item results."""
    ranked = [i["rank"] for i in items if i["expected"]]
    with_notices = [i for i in items if "notices" in i["checks"]]
    with_codes = [i for i in items if "coverage_statement" in i["checks"]]
    no_codes = [i for i in items if "no_codes" in i["checks"]]
    with_units = [i for i in items if "units" in i["checks"]]
    latencies = [i["latency_ms"] for i in items if "latency_ms" in i]
    out: dict[str, Any] = {
        "n": len(items),
        "passed": sum(1 for i in items if i["passed"]),
        "hit@1": round(hit_at(ranked, 1), 4),
        "hit@5": round(hit_at(ranked, 5), 4),
        "hit@10": round(hit_at(ranked, 10), 4),
        "mrr@10": round(mrr_at(ranked, 10), 4),
        "notice_accuracy": round(
            sum(i["checks"]["notices"] for i in with_notices) / len(with_notices), 4
        )
        if with_notices
        else 1.0,
        "citation_validity": round(
            sum(i["checks"]["citations_valid"] for i in items) / len(items), 4
        )
        if items
        else 1.0,
        "coverage_statement_rate": round(
            sum(i["checks"]["coverage_statement"] for i in with_codes) / len(with_codes), 4
        )
        if with_codes
        else 1.0,
    }
    if no_codes:
        out["no_code_accuracy"] = round(
            sum(i["checks"]["no_codes"] for i in no_codes) / len(no_codes), 4
        )
    for flag in FIRST_CODE_COUNTS:
        if any(flag in i for i in items):
            out[flag] = sum(1 for i in items if i.get(flag))
    if with_units:
        out["units_accuracy"] = round(
            sum(i["checks"]["units"] for i in with_units) / len(with_units), 4
        )
    cited = [i["citations"] for i in items if "citations" in i]
    if cited:
        out["citations_per_answer"] = round(sum(cited) / len(cited), 3)
    guidance = [i["guidance_citations"] for i in items if "guidance_citations" in i]
    if guidance:
        out["guidance_citations_per_answer"] = round(sum(guidance) / len(guidance), 3)
    if latencies:
        ordered = sorted(latencies)
        out["latency_p50_ms"] = round(statistics.median(ordered), 1)
        out["latency_p95_ms"] = round(ordered[max(0, round(0.95 * len(ordered)) - 1)], 1)
    return out


def grouped(items: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        for name in [item["kind"]] if key == "kind" else item["tags"]:
            groups.setdefault(name, []).append(item)
    return {name: metrics(group) for name, group in sorted(groups.items())}


def run_sets(
    retriever,
    loaded: list[tuple[Path, list[dict[str, Any]]]],
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Answer every question of the sets ((path, its questions from ``read_set``)); the report."""
    from assistant.answer import AskOptions, ask
    from assistant.retrieval import Filters
    from assistant.service import parse_date

    total = sum(len(q) for _path, q in loaded)
    validator = CitationValidator(retriever)
    first_code = FirstCode(retriever)
    items = []
    done = 0
    for path, questions in loaded:
        for q in questions:
            options = AskOptions(filters=Filters(date_of_service=parse_date(q.get("date"))))
            started = time.perf_counter()
            answer, _ = ask(retriever, q["question"], options=options)
            latency = (time.perf_counter() - started) * 1000
            result = check_item(q, answer, validator)
            result.update(first_code.flags(q, answer))
            result["set"] = path.name
            result["latency_ms"] = round(latency, 2)
            items.append(result)
            done += 1
            if progress:
                progress(done, total)
    manifest = retriever.manifest
    return {
        "metrics": metrics(items),
        "by_kind": grouped(items, "kind"),
        "by_tag": grouped(items, "tags"),
        "items": items,
        "produced_by": {
            "project_version": __version__,
            "model": manifest["model"],
            "index_build": manifest["build_id"],
            "parser_version": manifest["parser_version"],
            "corpus": {k: v["sha256"] for k, v in manifest["corpus"].items()},
            "sets": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p, _q in loaded},
        },
    }


class FirstCode:
    """What kind of code an answer puts first, for the two counts that must stay 0:

    - terminated first: an undated question whose first code is terminated although an
      active code replaced it (a successor) or says the same thing (the same descriptor),
      unless the question named the terminated code;
    - modifier first: a modifier first for a question that asks for no modifier (in words,
      or by expecting one), and names none.
    """

    def __init__(self, retriever) -> None:
        from assistant.rerank import wants_modifier

        self.retriever = retriever
        self.wants_modifier = wants_modifier
        newest = retriever.releases[-1].id
        self.active_texts = {
            r.long_description.casefold()
            for r in retriever.book.all_codes()
            if r.release == newest and r.kind == "code" and not r.terminated
        }

    def flags(self, item: dict[str, Any], answer: Answer) -> dict[str, bool]:
        first = answer.codes[0] if answer.codes else None
        if first is None:
            return {"terminated_first": False, "modifier_first": False}
        named = {m.code for m in self.retriever.mentions(item["question"])}
        replaced = bool(self.retriever.successor_of(first.code)) or (
            first.long_description.casefold() in self.active_texts
        )
        return {
            "terminated_first": first.terminated
            and not item.get("date")
            and first.code not in named
            and replaced,
            "modifier_first": first.kind == "modifier"
            and first.code not in named
            and not self.wants_modifier(item["question"])
            # a question whose right answer is a modifier asks for one, in words or not
            and not any(MODIFIER_PATTERN.match(c) for c in item["expected_codes"]),
        }


class CitationValidator:
    """Whether a citation quotes its source. A descriptor, guidance or record-layout citation
    is checked against the raw corpus file its ref names: a descriptor whole, as the release's
    fixed-width file holds it; a passage line by line, in order, as its guidance document,
    README or record layout has it (see ``assistant.corpus.quotes``; files are read once per
    validator). A cited crosswalk row or Table of Drugs line must exist in its parsed source
    with exactly the quoted fields."""

    def __init__(self, retriever) -> None:
        self.retriever = retriever
        self._texts = None  # the raw files, read when a citation first needs them
        self._drug_rows: set[tuple[str, str, str]] | None = None

    def __call__(self, citation) -> bool:
        if citation.kind in ("crosswalk", "drug-table"):
            return (citation.kind, citation.ref, citation.text) in self.drug_rows()
        if self._texts is None:
            from assistant.corpus.quotes import SourceTexts

            self._texts = SourceTexts(self.retriever.settings)
        return self._texts.check(citation)

    def drug_rows(self) -> set[tuple[str, str, str]]:
        """(kind, source, text) of every crosswalk row and Table of Drugs line of the corpus,
        rendered as the answer quotes them."""
        if self._drug_rows is None:
            from assistant.drug_units import crosswalk_text, drug_table_text

            rows = {
                ("crosswalk", entry.source, crosswalk_text(entry, row))
                for entry in self.retriever.crosswalk.values()
                for row in entry.rows
            }
            rows |= {
                ("drug-table", line.source, drug_table_text(line))
                for line in self.retriever.drugs.values()
            }
            self._drug_rows = rows
        return self._drug_rows


def compare(report: dict[str, Any], baseline: dict[str, Any], tolerance: float) -> dict[str, Any]:
    """Per-metric deltas and the items that went from pass to fail; ``regressed`` says whether
    any judged metric dropped by more than ``tolerance`` or any passing item now fails."""
    deltas = {}
    dropped = []
    for key in JUDGED:
        new, old = report["metrics"].get(key), baseline["metrics"].get(key)
        if new is None or old is None:
            continue
        deltas[key] = {"baseline": old, "now": new, "delta": round(new - old, 4)}
        if new < old - tolerance:
            dropped.append(key)
    for key in FIRST_CODE_COUNTS:
        new, old = report["metrics"].get(key), baseline["metrics"].get(key)
        if new is None or old is None:
            continue
        deltas[key] = {"baseline": old, "now": new, "delta": new - old}
        if new > old:
            dropped.append(key)
    before = {i["id"]: i for i in baseline.get("items", [])}
    flipped = [
        {
            "id": i["id"],
            "question": i["question"],
            "expected": i["expected"],
            "got": i["got"],
            "failed_checks": [k for k, v in i["checks"].items() if not v],
        }
        for i in report["items"]
        if i["id"] in before and before[i["id"]]["passed"] and not i["passed"]
    ]
    fixed = [
        i["id"]
        for i in report["items"]
        if i["id"] in before and not before[i["id"]]["passed"] and i["passed"]
    ]
    return {
        "deltas": deltas,
        "dropped_metrics": dropped,
        "flipped_to_fail": flipped,
        "fixed": fixed,
        "tolerance": tolerance,
        "regressed": bool(dropped or flipped),
    }


def format_comparison(comparison: dict[str, Any]) -> str:
    lines = [f"{'metric':<24} {'baseline':>9} {'now':>9} {'delta':>8}"]
    for key, d in comparison["deltas"].items():
        mark = ""
        if key in comparison["dropped_metrics"]:
            mark = "  GREW" if key in FIRST_CODE_COUNTS else "  DROPPED"
        lines.append(f"{key:<24} {d['baseline']:>9.4f} {d['now']:>9.4f} {d['delta']:>+8.4f}{mark}")
    lines.append(f"{len(comparison['fixed'])} items now pass that failed in the baseline")
    lines.append(f"{len(comparison['flipped_to_fail'])} items passed in the baseline and now fail")
    for item in comparison["flipped_to_fail"][:20]:
        lines.append(
            f"  - {item['id']}: {item['question'][:70]} (failed: "
            f"{', '.join(item['failed_checks'])})"
        )
    lines.append("REGRESSION" if comparison["regressed"] else "no regression")
    return "\n".join(lines)


def write_markdown(report: dict[str, Any], path: Path, baseline: dict[str, Any] | None) -> Path:
    """A report readable on its own, with a per-kind chart (PNG) beside it."""
    chart = path.with_suffix(".png")
    write_chart(report, baseline, chart)
    m = report["metrics"]
    lines = ["# hcpcs-assistant evaluation report", ""]
    produced = report["produced_by"]
    lines += [
        f"Model {produced['model']['name']} {produced['model']['version']}, index build "
        f"{produced['index_build']}, project {produced['project_version']}; sets: "
        + ", ".join(produced["sets"]),
        "",
    ]
    lines += [
        "## Headline",
        "",
        "| metric | value |" + (" baseline | delta |" if baseline else ""),
        "|---|---|" + ("---|---|" if baseline else ""),
    ]
    for key in ("n", "passed", *JUDGED, "latency_p50_ms", "latency_p95_ms"):
        if key not in m:
            continue
        row = f"| {key} | {m[key]} |"
        if baseline and key in baseline["metrics"]:
            old = baseline["metrics"][key]
            row += f" {old} | {m[key] - old:+.4f} |" if isinstance(old, (int, float)) else " | |"
        elif baseline:
            row += " | |"
        lines.append(row)
    lines += [
        "",
        "## By kind",
        "",
        "| kind | n | passed | hit@1 | hit@5 | mrr@10 | notices |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind, km in report["by_kind"].items():
        lines.append(
            f"| {kind} | {km['n']} | {km['passed']} | {km['hit@1']} | {km['hit@5']} | "
            f"{km['mrr@10']} | {km['notice_accuracy']} |"
        )
    lines += ["", f"![hit@1 by kind]({chart.name})", "", "## Failing items", ""]
    failing = [i for i in report["items"] if not i["passed"]]
    if not failing:
        lines.append("None.")
    for item in failing:
        failed = ", ".join(k for k, v in item["checks"].items() if not v)
        lines.append(f"- **{item['id']}** ({item['kind']}): {item['question']}  ")
        lines.append(
            f"  expected {', '.join(item['expected']) or '(no code)'}; got "
            f"{', '.join(item['got']) or '(no code)'}; notices "
            f"{', '.join(item['notices']) or '-'}; failed: {failed}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return chart


def write_chart(report: dict[str, Any], baseline: dict[str, Any] | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display; files only
    import matplotlib.pyplot as plt

    kinds = list(report["by_kind"])
    now = [report["by_kind"][k]["hit@1"] for k in kinds]
    fig, ax = plt.subplots(figsize=(max(6, len(kinds) * 1.1), 3.6), dpi=100)
    width = 0.38 if baseline else 0.6
    xs = range(len(kinds))
    ax.bar([x - (width / 2 if baseline else 0) for x in xs], now, width, label="this run")
    if baseline:
        old = [baseline.get("by_kind", {}).get(k, {}).get("hit@1", 0) for k in kinds]
        ax.bar([x + width / 2 for x in xs], old, width, label="baseline")
        ax.legend(loc="lower right")
    ax.set_xticks(list(xs), kinds)
    ax.set_ylim(0, 1)
    ax.set_ylabel("hit@1")
    ax.set_title("hit@1 by question kind")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def load_report(path: Path) -> dict[str, Any]:
    from assistant.errors import UsageError

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read report {path}: {exc.strerror}") from None
    except ValueError:
        raise UsageError(f"{path} is not a JSON report") from None
    if not isinstance(data, dict) or "metrics" not in data or "items" not in data:
        raise UsageError(f"{path} is not an eval report (no metrics and items)")
    return data


def write_report(report: dict[str, Any], path: Path) -> None:
    """The report as JSON, one key per line."""
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


# What a baseline item leaves out: timings, and what the set file says of the question.
_NOT_IN_BASELINE = frozenset({"latency_ms", "question", "tags", "kind"})


def baseline_of(report: dict[str, Any]) -> dict[str, Any]:
    """The report without timings or comparison, so that the baseline's diff shows only what
    changed in the answers; its items keep their outcome, the set file their question."""
    slim = {k: v for k, v in report.items() if k != "comparison"}
    slim["metrics"] = {k: v for k, v in report["metrics"].items() if "latency" not in k}
    slim["items"] = [
        {k: v for k, v in i.items() if k not in _NOT_IN_BASELINE} for i in report["items"]
    ]
    for group in ("by_kind", "by_tag"):
        slim[group] = {
            name: {k: v for k, v in m.items() if "latency" not in k}
            for name, m in report[group].items()
        }
    return slim


def write_baseline(report: dict[str, Any], path: Path) -> None:
    """The baseline as JSON with one item a line: its diff reads item by item, and it stays
    small enough to commit (1,801 items: about 0.6 MB)."""
    slim = baseline_of(report)
    items = slim.pop("items")
    head = json.dumps(slim, indent=1, ensure_ascii=False)[: -len("\n}")]
    rows = ",\n".join(json.dumps(i, ensure_ascii=False, separators=(",", ":")) for i in items)
    text = f'{head},\n "items": [\n{rows}\n ]\n}}\n' if items else f'{head},\n "items": []\n}}\n'
    path.write_text(text, encoding="utf-8")


def format_metrics(metrics: dict[str, Any]) -> str:
    """One line: every metric as name=value."""
    return " ".join(f"{k}={v}" for k, v in metrics.items())
