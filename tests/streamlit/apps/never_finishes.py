"""Starts answering and never finishes: the answer so far stays "thinking..." (it
stays stoppable: each loop calls Streamlit)."""

import time

import streamlit as st

question = st.chat_input("Ask")
if question:
    with st.chat_message("assistant"):
        shown = st.empty()
        while True:
            shown.markdown("thinking...")
            time.sleep(0.1)
