"""Inference: cached decoding, the Chatbot loaded from a run bundle, and the chat console."""
