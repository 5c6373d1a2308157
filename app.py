"""The Streamlit chat for coders. UI only: every answer comes from assistant.answer.ask and is
rendered from its fields by assistant.webapp.chat.

Nothing is written to disk: the conversation lives in the session (coders may paste patient
details); the download button is the only way it leaves the page. Corpus and user text is
rendered as text (Markdown-escaped), never as HTML.
"""

from __future__ import annotations

from datetime import date

import streamlit as st

from assistant.answer import MAX_QUESTION_CHARS, AskOptions
from assistant.records import SECTIONS, release_label
from assistant.retrieval import Filters
from assistant.webapp.chat import ChatTurn, lookup_panel, render_turns, state
from assistant.webapp.loader import loader_or_stop

MAX_INPUT_CHARS = 4 * MAX_QUESTION_CHARS


def main() -> None:
    st.set_page_config(page_title="hcpcs-assistant", page_icon="📘")
    st.title("HCPCS Level II coding assistant")
    load = loader_or_stop()
    retriever = load.retriever
    release = retriever.releases[-1]
    effective = release.effective.isoformat()
    st.sidebar.markdown(f"**Release in use:** {release_label(release.id)} (effective {effective})")
    use_date = st.sidebar.checkbox("Date of service")
    day = st.sidebar.date_input("Date", value=date.today(), disabled=not use_date)
    sections = st.sidebar.multiselect("Sections", SECTIONS)
    top = st.sidebar.slider("Candidates", 1, 10, 5)
    chat = state()
    if st.sidebar.button("New conversation"):
        chat.clear()
    lookup_panel(retriever)

    question = st.chat_input("Ask about a code, an item, a drug or a modifier")
    too_long = question is not None and len(question) > MAX_INPUT_CHARS
    if question is not None and question.strip() and not too_long:
        options = AskOptions(
            filters=Filters(date_of_service=day if use_date else None, sections=tuple(sections)),
            top=top,
        )
        chat.turns.append(ChatTurn(question, options))
    render_turns(chat, load)
    if too_long:
        with st.chat_message("assistant"):
            st.warning(
                f"That question is {len(question):,} characters long; please keep it "
                f"under {MAX_INPUT_CHARS:,}."
            )
    if chat.turns:
        st.sidebar.download_button(
            "Download conversation (Markdown)",
            chat.as_markdown(),
            file_name="hcpcs-conversation.md",
            mime="text/markdown",
        )


main()
