"""A chat app on Nova 2 through its US inference profile, with ConverseStream and
Nova's own top-k in ``additionalModelRequestFields``, as Nova's docs show it.
``?endpoint=`` is the sandbox's Bedrock endpoint."""

import boto3
import streamlit as st

MODEL_ID = "us.amazon.nova-2-lite-v1:0"

client = boto3.client(
    "bedrock-runtime",
    endpoint_url=st.query_params.get("endpoint") or None,
    region_name="us-east-1",
    aws_access_key_id="sandbox",
    aws_secret_access_key="sandbox",
)
st.title("Nova 2 chat")
question = st.chat_input("Ask Nova")
if question:
    with st.chat_message("user"):
        st.markdown(question)
    response = client.converse_stream(
        modelId=MODEL_ID,
        messages=[{"role": "user", "content": [{"text": question}]}],
        system=[{"text": "You answer questions about opskit."}],
        inferenceConfig={"maxTokens": 1024, "temperature": 0.5},
        additionalModelRequestFields={"inferenceConfig": {"topK": 50}},
    )

    def texts():
        for event in response["stream"]:
            if "contentBlockDelta" in event:
                yield event["contentBlockDelta"]["delta"].get("text", "")

    with st.chat_message("assistant"):
        st.write_stream(texts())
