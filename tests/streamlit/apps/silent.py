"""Takes the question and shows nothing: the run ends with no answer on the page."""

import streamlit as st

st.title("Silent")
question = st.chat_input("Ask into the void")
