"""Streamlit entry point (placeholder until the chat lands): shows the index in use."""

from __future__ import annotations

import streamlit as st

from assistant.config import Settings
from assistant.errors import HcpcsError
from assistant.store import index_status

st.set_page_config(page_title="hcpcs-assistant", page_icon="📘")
st.title("hcpcs-assistant")
try:
    status = index_status(Settings.from_env())
except HcpcsError as exc:
    st.error(f"{exc}")
    st.stop()
if not status["current"]:
    st.warning(
        "The index is stale: " + "; ".join(status["stale_reasons"]) + ". Run `hcpcs index build`."
    )
newest = status["releases"][-1]
st.sidebar.markdown(
    f"**Release in use:** CMS HCPCS {newest['release']} (effective {newest['effective']})"
)
st.write("The chat is not built yet. Loaded releases:")
st.table(
    [
        {
            "release": r["release"],
            "effective": r["effective"],
            "codes": r["codes"],
            "modifiers": r["modifiers"],
        }
        for r in status["releases"]
    ]
)
