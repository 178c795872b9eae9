"""Greets new users and translates phrases with an OpenAI model (OPENAI_BASE_URL picks the server)."""

from openai import OpenAI


def greet(name: str, client: OpenAI | None = None) -> str:
    client = client or OpenAI()
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": f"Please greet {name}."}])
    return reply.choices[0].message.content or ""


def translate(text: str, language: str, client: OpenAI | None = None) -> str:
    client = client or OpenAI()
    reply = client.chat.completions.create(model="gpt-4o-mini", messages=[
        {"role": "system", "content": f"You translate into {language}."},
        {"role": "user", "content": text},
    ])
    return reply.choices[0].message.content or ""
