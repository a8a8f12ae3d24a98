"""A chat input no one can type into, beside a warning that says why."""

import streamlit as st

st.title("Disabled app")
st.warning("The model is not configured: set **MODEL_ID** and restart.")
question = st.chat_input("Ask", disabled=True)
if question:
    with st.chat_message("assistant"):
        st.markdown(f"An answer to {question} no one could have asked for.")
