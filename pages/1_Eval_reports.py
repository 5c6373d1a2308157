"""Evaluators' page: load an `hcpcs eval run` report and see its metrics, kinds and failures."""

from __future__ import annotations

import json
from pathlib import Path

import streamlit as st

from assistant.errors import HcpcsError
from assistant.evaluation.runner import JUDGED, compare, load_report

EVALS = Path(__file__).resolve().parent.parent / "evals"

st.set_page_config(page_title="Eval reports · hcpcs-assistant", page_icon="📊")
st.title("Evaluation reports")
uploaded = st.file_uploader("Report (JSON from `hcpcs eval run --out`)", type=["json"])
path_text = st.text_input("…or a report path", value=str(EVALS / "baseline.json"))
baseline_text = st.text_input("Baseline to compare with (optional)", value="")

try:
    if uploaded is not None:
        report = json.loads(uploaded.getvalue().decode("utf-8"))
        if not isinstance(report, dict) or "metrics" not in report or "items" not in report:
            raise HcpcsError("that file is not an eval report (no metrics and items)")
    else:
        report = load_report(Path(path_text))
    baseline = load_report(Path(baseline_text)) if baseline_text.strip() else None
except (HcpcsError, ValueError, UnicodeDecodeError) as exc:
    st.error(f"Cannot load the report: {exc}")
    st.stop()

m = report["metrics"]
st.subheader("Headline")
rows = []
for key in ("n", "passed", *JUDGED, "latency_p50_ms", "latency_p95_ms"):
    if key in m:
        row = {"metric": key, "value": m[key]}
        if baseline is not None and key in baseline["metrics"]:
            row["baseline"] = baseline["metrics"][key]
            row["delta"] = round(m[key] - baseline["metrics"][key], 4)
        rows.append(row)
st.table(rows)
if baseline is not None:
    comparison = compare(report, baseline, 0.01)
    if comparison["regressed"]:
        st.error(
            f"Regression: {', '.join(comparison['dropped_metrics']) or 'no metric'} dropped; "
            f"{len(comparison['flipped_to_fail'])} items went from pass to fail."
        )
    else:
        st.success("No regression against the baseline (tolerance 0.01).")

st.subheader("By kind")
kinds = report.get("by_kind", {})
chart = {"this report": {k: v["hit@1"] for k, v in kinds.items()}}
if baseline is not None:
    chart["baseline"] = {k: baseline.get("by_kind", {}).get(k, {}).get("hit@1", 0.0) for k in kinds}
st.bar_chart(chart, y_label="hit@1", stack=False)
st.table(
    [
        {
            "kind": k,
            **{x: v[x] for x in ("n", "passed", "hit@1", "hit@5", "mrr@10", "notice_accuracy")},
        }
        for k, v in kinds.items()
    ]
)

failing = [i for i in report["items"] if not i["passed"]]
st.subheader(f"Failing items ({len(failing)})")
st.table(
    [
        {
            "id": i["id"],
            "kind": i["kind"],
            "question": i["question"],
            "expected": ", ".join(i["expected"]) or "-",
            "got": ", ".join(i["got"]) or "-",
            "failed checks": ", ".join(k for k, v in i["checks"].items() if not v),
        }
        for i in failing
    ]
)
