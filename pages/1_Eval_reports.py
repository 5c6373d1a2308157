"""Evaluators' page: an `hcpcs eval run` report's metrics, kinds and failures.

Reports are picked from the report folders (HCPCS_REPORT_DIRS; .artifacts/ and evals/ by
default) or uploaded; the page opens no other path (assistant/webapp/reports.py).
"""

from __future__ import annotations

import streamlit as st

from assistant.config import Settings
from assistant.errors import HcpcsError
from assistant.evaluation.runner import JUDGED, compare
from assistant.webapp.loader import text
from assistant.webapp.reports import ReportFolders, read_upload

NONE = "(none)"

st.set_page_config(page_title="Eval reports · hcpcs-assistant", page_icon="📊")
st.title("Evaluation reports")
try:
    folders = ReportFolders(Settings.from_env().report_dirs)
except HcpcsError as exc:
    st.error(f"The app's settings are not valid: {text(str(exc))}")
    st.stop()
found = folders.choices()
uploaded = st.file_uploader("Report (JSON from `hcpcs eval run --out`)", type=["json"])
default = found.index("evals/baseline.json") if "evals/baseline.json" in found else 0
picked = st.selectbox(
    "…or a report from the report folders", found or [NONE], index=default if found else 0
)
compared = st.selectbox("Baseline to compare with (optional)", [NONE, *found])

try:
    if uploaded is not None:
        report = read_upload(uploaded.name, uploaded.getvalue())
    elif found:
        report = folders.load(picked)
    else:
        st.info(
            "No reports in the report folders "
            f"({text(', '.join(str(f) for f in folders.folders.values()))}); upload one, or "
            "run `hcpcs eval run ... --out .artifacts/eval-report.json`."
        )
        st.stop()
    baseline = folders.load(compared) if compared != NONE else None
except HcpcsError as exc:
    st.error(f"Cannot load the report: {text(str(exc))}")
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
