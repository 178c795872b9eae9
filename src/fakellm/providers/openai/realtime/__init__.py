"""The OpenAI Realtime API over a WebSocket (`GET /v1/realtime?model=...`): text sessions, GA or beta events."""
