"""Two text inputs with the same label: a playbook cannot say which one to fill."""

import streamlit as st

st.text_input("Name", key="first_name")
st.text_input("Name", key="last_name")
st.button("Save")
