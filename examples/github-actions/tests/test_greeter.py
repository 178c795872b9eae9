"""The suite CI runs against the fakellm the workflow started (found through OPENAI_BASE_URL)."""

import json
import os
import urllib.request

from greeter import greet, translate


def journal() -> list[dict]:
    """What fakellm answered, newest last, from its admin API."""
    root = os.environ["OPENAI_BASE_URL"].removesuffix("/v1")
    with urllib.request.urlopen(f"{root}/_fakellm/requests") as response:
        return json.load(response)["requests"]


def test_greet():
    assert greet("Ada") == "Hello, Ada! Welcome aboard."
    assert journal()[-1]["rule"] == "greet"


def test_translate():
    assert translate("good morning", "French") == "Bonjour"
    last = journal()[-1]
    assert last["rule"] == "translate"
    assert last["request"]["messages"][0]["content"] == "You translate into French."
