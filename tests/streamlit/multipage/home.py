"""A multipage app with a pages/ folder: this main page has no chat input."""

import streamlit as st

st.title("Folder home")
st.write("The questions are on another page.")
