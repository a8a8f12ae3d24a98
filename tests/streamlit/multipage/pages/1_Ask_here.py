"""The pages/ folder's page, at URL path /Ask_here, with the chat input."""

import streamlit as st

st.title("Ask here page")
question = st.chat_input("Ask the page")
if question:
    with st.chat_message("assistant"):
        st.write(f"the page answers: {question}")
