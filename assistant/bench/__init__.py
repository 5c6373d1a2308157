"""Benchmarks that print their figures: the library (index build, answer latency, cold start,
threads, memory) and a load test of the Streamlit chat over its websocket (chat_load)."""
