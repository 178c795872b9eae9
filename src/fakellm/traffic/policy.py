"""A config's traffic policy: rate limits and delivery plans, as the engine asks for them."""

from __future__ import annotations

from typing import Callable, Sequence

from ..config.schema import Config, RespondSpec
from ..model import Reply, Request
from ..store.base import Store
from .delivery import Plan, Plans
from .ratelimit import HeaderFormat, Limits


class TrafficPolicy:
    """`engine.Traffic` for one config."""

    def __init__(self, config: Config, store: Store, count_input: Callable[[Request], int],
                 header_format: HeaderFormat, auth_headers: Sequence[str], speed: float = 1.0):
        self.plans = Plans(config, speed)
        self.limits = Limits(config, store, count_input, header_format, auth_headers)
        self.active = self.plans.any or self.limits.active

    async def admit(self, request: Request, rule_index: int | None) -> Reply | None:
        return await self.limits.admit(request, rule_index) if self.limits.active else None

    async def settle(self, request: Request, reply: Reply, rule_index: int | None) -> None:
        if self.limits.active:
            await self.limits.settle(request, reply, rule_index)

    def plan(self, spec: RespondSpec | None) -> Plan | None:
        return self.plans.get(spec)
