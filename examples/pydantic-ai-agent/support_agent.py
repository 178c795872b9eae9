"""A customer-support agent: looks an order up with a tool, answers with a typed status."""

from __future__ import annotations

import os

from pydantic import BaseModel
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

ORDERS = {"A-1001": "shipped", "A-1002": "delayed"}


class OrderStatus(BaseModel):
    order_id: str
    status: str
    apology_needed: bool


def build_agent(base_url: str | None = None) -> Agent[None, OrderStatus]:
    """The agent on an OpenAI-compatible endpoint (OPENAI_BASE_URL unless given)."""
    provider = OpenAIProvider(base_url=base_url or os.environ.get("OPENAI_BASE_URL"),
                              api_key=os.environ.get("OPENAI_API_KEY", "not-set"))
    agent = Agent(OpenAIChatModel("gpt-4o-mini", provider=provider), output_type=OrderStatus,
                  instructions="Look the order up, then report its status.")

    @agent.tool_plain
    def lookup_order(order_id: str) -> str:
        """The order's shipping status."""
        return ORDERS.get(order_id, "unknown order")

    return agent


if __name__ == "__main__":
    import sys

    print(build_agent().run_sync(" ".join(sys.argv[1:]) or "Where is order A-1002?").output)
