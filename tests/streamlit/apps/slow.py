"""Streams 20 words, one every 0.12 s: an answer that takes several seconds."""

import time

import streamlit as st

WORDS = [f"word{i}" for i in range(20)]

question = st.chat_input("Ask slowly")
if question:
    with st.chat_message("assistant"):
        shown = st.empty()
        for count in range(1, len(WORDS) + 1):
            shown.markdown(" ".join(WORDS[:count]))
            time.sleep(0.12)
