"""The ASGI app, its router and HTTP helpers."""
