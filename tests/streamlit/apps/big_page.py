"""A page with an element over Streamlit's 10 KB cache threshold: from the second
run on, the server sends a reference to it instead of the element."""

import streamlit as st

st.markdown("big block start " + "lorem ipsum " * 1500 + "big block end")
question = st.chat_input("Ask")
if question:
    with st.chat_message("assistant"):
        st.markdown(f"answer to {question}")
