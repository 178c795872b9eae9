"""The API families fakellm serves. The server, the admin API, rate limits, the journal and the
test harness ask this module; adding a provider is a folder under providers/ and a line here."""

from __future__ import annotations

from .anthropic.family import FAMILY as ANTHROPIC
from .base import Family
from .bedrock.family import FAMILY as BEDROCK
from .gemini.family import FAMILY as GEMINI
from .ollama.family import FAMILY as OLLAMA
from .openai.family import FAMILY as OPENAI
from .vertex.family import FAMILY as VERTEX

# In the order the banner and the docs list them. Where families overlap (an unknown path's
# error shape, the shared GET /v1/models), the first other than DEFAULT that claims it wins,
# then DEFAULT, which claims everything. VERTEX comes before GEMINI: a Vertex path is also shaped
# like a Gemini model call.
FAMILIES: tuple[Family, ...] = (OPENAI, ANTHROPIC, VERTEX, GEMINI, OLLAMA, BEDROCK)
DEFAULT = OPENAI

API_NAMES: frozenset[str] = frozenset(api for family in FAMILIES for api in family.apis)
# What `when.api` may name: an endpoint ("openai.chat") or a whole family ("openai").
KNOWN_APIS: frozenset[str] = API_NAMES | frozenset(family.name for family in FAMILIES)
AUTH_HEADERS: tuple[str, ...] = tuple(dict.fromkeys(h for family in FAMILIES for h in family.auth_headers))
# Never shown in the journal or the dashboard.
REDACTED_HEADERS: frozenset[str] = frozenset(AUTH_HEADERS) | {"authorization", "proxy-authorization"}


def family_of_api(api: str) -> Family | None:
    name = api.split(".", 1)[0]
    return next((family for family in FAMILIES if family.name == name), None)


def family_of_path(path: str) -> Family:
    """The family whose error shape an unknown path under it gets."""
    return next((f for f in FAMILIES if f is not DEFAULT and f.owns_path(path)), DEFAULT)


def family_of_listing(headers: dict[str, str]) -> Family:
    """Whose SDK asks for the shared model listing."""
    return next((f for f in FAMILIES if f is not DEFAULT and f.models is not None and f.models.claims(headers)),
                DEFAULT)


def sdk_environ(root: str) -> dict[str, str]:
    """Environment variables that point SDK clients built without arguments at a server at `root`."""
    out: dict[str, str] = {}
    for family in FAMILIES:
        out.update(family.sdk_environ(root))
    return out


def base_urls(root: str) -> list[tuple[str, str]]:
    """(label, URL) of what each family's SDK wants as its base URL, for a server at `root`."""
    return [(family.base_url_label, root + family.base_path) for family in FAMILIES]
