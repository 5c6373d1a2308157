"""The Streamlit side of the project: the process's loader, the chat's rendering of an answer,
and the pieces the other pages share. Imported only by app.py and pages/ (Streamlit)."""
