"""One server, many small apps: ``?app=NAME`` runs ``NAME.py`` beside this file.

One Streamlit server for every test app keeps the suite fast; the query string
travels in the session's first message, as a browser sends it.
"""

import runpy
from pathlib import Path

import streamlit as st

name = st.query_params.get("app", "")
script = Path(__file__).with_name(f"{name}.py")
if not name.isidentifier() or name == "main" or not script.is_file():
    st.error(f"no test app {name!r}")
    st.stop()
runpy.run_path(str(script), run_name="__main__")
