"""Starts answering and never finishes (it stays stoppable: each loop calls Streamlit)."""

import time

import streamlit as st

question = st.chat_input("Ask")
if question:
    with st.chat_message("assistant"):
        shown = st.empty()
        tick = 0
        while True:
            tick += 1
            shown.markdown(f"thinking {'.' * (tick % 4)}")
            time.sleep(0.1)
