"""Where Vertex AI's model calls live, what a location looks like, and what an unknown path there gets told.

A call names its model by resource path: `projects/{project}/locations/{location}/publishers/
{publisher}/models/{model}:{method}`, after the API version (`v1`, or `v1beta1`, google-genai's
default). Project and model may be anything; the location must look like a Vertex AI location,
so a path built from the wrong setting (a project id where the region belongs) is a clear 404.
"""

from __future__ import annotations

import re

from ..base import InvalidRequest

# google-genai sends v1beta1 unless told otherwise; AnthropicVertex sends v1. A base URL of the
# server's root without `/v1` makes AnthropicVertex send the resource path bare: served too.
GEMINI_VERSIONS = ("v1", "v1beta1")
CLAUDE_PREFIXES = ("/v1", "")
RESOURCE = "/projects/{project}/locations/{location}/publishers/{publisher}/models/{model}"

# `global`, the multi-regions `us` and `eu`, and regions such as us-central1, europe-west4, us-east5.
_LOCATION = re.compile(r"global|us|eu|[a-z]+-[a-z]+[0-9]+")
_OWNED = ("/v1/projects/", "/v1beta1/", "/projects/")


def resource(publisher: str) -> str:
    return RESOURCE.replace("{publisher}", publisher)


def check_location(params: dict[str, str]) -> None:
    """A 404 for a location no Vertex AI endpoint serves (the real API has no such resource)."""
    location = params["location"]
    if _LOCATION.fullmatch(location) is None:
        raise InvalidRequest(
            f"Location '{location}' is not a Vertex AI location (projects/{params['project']}/locations/{location}): "
            f"use a region such as us-central1, europe-west4 or us-east5, or global.", status=404)


def owns_path(path: str) -> bool:
    """Paths whose 404/405 is Vertex AI's (Google's error shape)."""
    return path.startswith(_OWNED) or path == "/v1beta1"


def unknown_path(method: str, path: str) -> str | None:
    """For a POST under the Vertex AI prefixes that no route serves: which calls fakellm serves there."""
    if method != "POST" or not owns_path(path):
        return None
    return (f"Unknown path {method} {path}. fakellm serves Vertex AI's Gemini at POST /{{v1,v1beta1}}/projects/"
            f"{{project}}/locations/{{location}}/publishers/google/models/{{model}}:generateContent "
            f"(or :streamGenerateContent, :countTokens) and Claude at POST /v1/projects/{{project}}/locations/"
            f"{{location}}/publishers/anthropic/models/{{model}}:rawPredict (or :streamRawPredict).")
