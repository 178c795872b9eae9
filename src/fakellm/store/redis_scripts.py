"""The Lua scripts of the Redis store: each store step is one script, so Redis runs it atomically.

The scripts are in lua/, one file a step, each run with lua/common.lua (the key layout and the
helpers every step shares) in front of it. They are sent once per Redis server and then called by
their SHA1 (EVALSHA); a Redis that restarted and forgot them gets them again on the next call.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

_LUA = Path(__file__).parent / "lua"


@dataclass(frozen=True, slots=True)
class LuaScript:
    name: str
    text: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.text.encode()).hexdigest())

    async def run(self, client: Redis, args: Sequence[Any]) -> Any:
        try:
            return await client.evalsha(self.sha, 0, *args)
        except NoScriptError:
            await client.script_load(self.text)
            return await client.evalsha(self.sha, 0, *args)


def _load(name: str) -> LuaScript:
    common = (_LUA / "common.lua").read_text()
    return LuaScript(name, f"{common}\n-- {name}.lua\n{(_LUA / f'{name}.lua').read_text()}")


OPEN_TURN = _load("open_turn")
COUNT_HIT = _load("count_hit")
CONVERSATIONS = _load("conversations")
ADMIT = _load("admit")
SETTLE = _load("settle")
RECORD = _load("record")
NOTE_LATENCY = _load("note_latency")
JOURNAL = _load("journal")
JOURNAL_INFO = _load("journal_info")
CLEAR_JOURNAL = _load("clear_journal")
PUT_RESPONSE = _load("put_response")
GET_RESPONSE = _load("get_response")
RESPONSE_HISTORY = _load("response_history")
OWNER_OF_ITEM = _load("owner_of_item")
DELETE_RESPONSE = _load("delete_response")
RESIZE = _load("resize")
RESET = _load("reset")
PUT_CONFIG = _load("put_config")
