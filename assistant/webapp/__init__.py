"""The Streamlit side of the project: the process's loader, the chat's rendering of an answer
and its turns (chat), the eval page's report folders (reports), and the pieces the pages
share. Imported only by app.py and pages/ (Streamlit)."""
