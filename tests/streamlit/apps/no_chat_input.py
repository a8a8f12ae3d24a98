"""A page with no chat input at all."""

import streamlit as st

st.title("Nothing to ask")
st.write("This page has no chat input.")
