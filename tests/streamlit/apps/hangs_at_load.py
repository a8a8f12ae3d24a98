"""A page that never finishes its first run (stoppable: each loop calls Streamlit)."""

import time

import streamlit as st

shown = st.empty()
while True:
    shown.markdown(f"loading {time.monotonic():.1f}")
    time.sleep(0.1)
