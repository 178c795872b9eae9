"""The provider-neutral core: rules, matching, conversations, answers and token counts.

It sees only `model.Request` and `model.Reply`; providers parse and render at the edges.
"""
