"""An app that catches its model's error and replies with a canned apology."""

import streamlit as st

st.title("Apologetic app")
question = st.chat_input("Ask")
if question:
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        try:
            raise TimeoutError("the model did not answer")
        except TimeoutError:
            st.markdown("Sorry, I couldn't process your request at the moment.")
