"""The support agent against fakellm: a tool call, then the final_result pydantic-ai validates."""

import pytest
from pydantic_ai.exceptions import UnexpectedModelBehavior

from support_agent import OrderStatus, build_agent


def rules(order_id, looked_up, final):
    return [
        {"name": "lookup", "when": {"turn": 1, "tools_include": "lookup_order"},
         "respond": {"tool_calls": [{"name": "lookup_order", "arguments": {"order_id": order_id}}]}},
        {"name": "report", "when": {"turn": 2, "tool_result_contains": looked_up},
         "respond": {"tool_calls": [{"name": "final_result", "arguments": final}]}},
    ]


@pytest.mark.fakellm(rules=rules("A-1002", "delayed",
                                 {"order_id": "A-1002", "status": "delayed", "apology_needed": True}))
def test_a_delayed_order_gets_an_apology(fakellm):
    result = build_agent().run_sync("Where is order A-1002?")

    assert result.output == OrderStatus(order_id="A-1002", status="delayed", apology_needed=True)
    fakellm.assert_tool_called("lookup_order", {"order_id": "A-1002"}, times=1)
    lookup, report = fakellm.requests
    # The tool ran in the app, and its result went back to the model.
    assert report.request["messages"][-1] == {"role": "tool", "tool_call_id": lookup.tool_calls[0].id,
                                              "content": "delayed"}
    assert report.rule == "report"


@pytest.mark.fakellm(rules=rules("A-1001", "shipped",
                                 {"order_id": "A-1001", "status": "shipped", "apology_needed": False}))
def test_a_shipped_order(fakellm):
    assert build_agent(fakellm.openai_base_url).run_sync("Where is A-1001?").output.status == "shipped"


INCOMPLETE = {"order_id": "A-1001", "status": "shipped"}  # no apology_needed


@pytest.mark.fakellm(rules=rules("A-1001", "shipped", INCOMPLETE) + [
    {"name": "still_incomplete", "when": {"tool_result_contains": "Field required"},
     "respond": {"tool_calls": [{"name": "final_result", "arguments": INCOMPLETE}]}},
])
def test_a_final_result_missing_a_field_is_retried_then_fails(fakellm):
    # pydantic-ai sends the validation error back and asks again; the model keeps answering badly.
    with pytest.raises(UnexpectedModelBehavior, match="Exceeded maximum"):
        build_agent().run_sync("Where is A-1001?")
    retry = fakellm.requests[2]
    assert retry.rule == "still_incomplete"
    assert "apology_needed" in str(retry.request["messages"][-1])
