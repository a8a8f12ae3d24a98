"""A script that raises before it renders its chat input."""

import streamlit as st

st.title("Broken at load")
raise ValueError("settings are missing")
