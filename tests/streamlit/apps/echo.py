"""A chat app that answers at once, word by word, and shows its release."""

import re

import streamlit as st

st.title("Echo app")
st.caption("release test-1")
question = st.chat_input("Ask the echo")
if question:
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        answer = f"You asked **{question}**. The answer is 42."
        st.write_stream(iter(re.findall(r"\S+\s*", answer)))
