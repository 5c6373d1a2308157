"""Evaluation: question sets (sets), retrieval metrics (retrieval), and the answer-level run
with its checks, baseline comparison and reports (runner)."""
