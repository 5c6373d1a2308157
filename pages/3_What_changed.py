"""What changed between two loaded releases: codes added, terminated, reinstated, removed,
descriptors revised, coverage codes changed. Computed from the records (assistant.changes)."""

from __future__ import annotations

import streamlit as st

from assistant.changes import CHANGE_KINDS, changes_csv, counts, diff_releases
from assistant.errors import HcpcsError
from assistant.records import SECTIONS, release_label
from assistant.webapp.loader import loader_or_stop, text

# The columns each kind of change is shown with: (field of Change.as_dict, header).
COLUMNS = {
    "added": (("code", "Code"), ("date", "Added"), ("descriptor", "Long descriptor")),
    "terminated": (("code", "Code"), ("date", "Terminated"), ("descriptor", "Long descriptor")),
    "reinstated": (("code", "Code"), ("before", "Was"), ("descriptor", "Long descriptor")),
    "removed": (("code", "Code"), ("date", "Terminated"), ("descriptor", "Long descriptor")),
    "long-descriptor": (("code", "Code"), ("before", "Old text"), ("after", "New text")),
    "short-descriptor": (("code", "Code"), ("before", "Old text"), ("after", "New text")),
    "coverage": (("code", "Code"), ("before", "Old coverage"), ("after", "New coverage")),
}

st.set_page_config(page_title="What changed · hcpcs-assistant", page_icon="🔁")
st.title("What changed")
load = loader_or_stop()
releases = [r.id for r in load.retriever.releases]
if len(releases) < 2:
    st.info(
        f"Only one release is loaded ({text(releases[0])}): add another with "
        "`hcpcs corpus add` and rebuild the index to compare."
    )
    st.stop()

left, right = st.columns(2)
old = left.selectbox("From release", releases[:-1], index=len(releases) - 2)
newer = [r for r in releases if r > old]
new = right.selectbox("To release", newer, index=len(newer) - 1)
sections = st.multiselect("Sections (all when none)", SECTIONS)

try:
    changes = diff_releases(load.retriever.book, old, new, sections)
except HcpcsError as exc:
    st.error(text(str(exc)))
    st.stop()

tally = counts(changes)
st.markdown(
    f"**{text(release_label(old))} → {text(release_label(new))}**: "
    + text(", ".join(f"{n} {CHANGE_KINDS[kind]}" for kind, n in tally.items()))
)
st.download_button(
    "Download as CSV",
    changes_csv(changes),
    file_name=f"hcpcs-changes-{old}-to-{new}.csv",
    mime="text/csv",
)
for kind, label in CHANGE_KINDS.items():
    rows = [c.as_dict() for c in changes if c.change == kind]
    if not rows:
        continue
    st.subheader(f"{label.capitalize()} ({len(rows)})")
    columns = COLUMNS[kind]
    st.dataframe(
        {header: [row[field] for row in rows] for field, header in columns},
        hide_index=True,
    )
