"""A chat app as aws-samples' Bedrock quick-starts write it: a Claude model id,
the Anthropic Messages body, InvokeModelWithResponseStream, the text deltas
written as they come. ``?endpoint=`` is the sandbox's Bedrock endpoint."""

import json

import boto3
import streamlit as st

MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"

client = boto3.client(
    "bedrock-runtime",
    endpoint_url=st.query_params.get("endpoint") or None,
    region_name="us-east-1",
    aws_access_key_id="sandbox",
    aws_secret_access_key="sandbox",
)
st.title("Claude chat")
question = st.chat_input("Ask Claude")
if question:
    with st.chat_message("user"):
        st.markdown(question)
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 1024,
        "system": "You answer questions about opskit.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": question}]}],
        "temperature": 0.5,
        "top_k": 250,
    }
    response = client.invoke_model_with_response_stream(modelId=MODEL_ID, body=json.dumps(body))

    def texts():
        for event in response["body"]:
            chunk = json.loads(event["chunk"]["bytes"])
            if chunk["type"] == "content_block_delta" and chunk["delta"]["type"] == "text_delta":
                yield chunk["delta"]["text"]

    with st.chat_message("assistant"):
        st.write_stream(texts())
