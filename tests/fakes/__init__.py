"""Loopback fakes of model services (Ollama, OpenAI-style), for the real SDKs to talk to."""
