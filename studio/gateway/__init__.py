"""The OpenAI-compatible gateway: other tools call registry models and saved pipelines with
any OpenAI client, pointed at the studio (base URL http://127.0.0.1:8080/v1)."""
