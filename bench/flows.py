"""Call flows the load generator replays: what an agent types during real calls.

Each flow is one conversation (one sender id): look up a demo client, ask for the opening,
relay the client's objections, ask for the next selling point, book a callback, log the
outcome. Clients are the demo clients each agent owns (../shared/demo-data.yml); the
do-not-call flow is left out on purpose: it would change the CRM for every later flow.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

# (login, messages). agent01 owns 张三, 李四, 赵敏, 刘洋; agent02 owns 朱丽, 王华, 陈刚.
SALESBOT_FLOWS: list[tuple[str, list[str]]] = [
    ("agent01", ["查一下张三", "开场白怎么说", "客户说他在开会", "约他明天下午三点再打", "记一下，约回访"]),
    ("agent01", ["查一下李四", "这个客户开场白怎么说", "客户说不需要", "还有别的卖点吗", "客户说你们利率太低了",
                 "记一下，客户有意向"]),
    ("agent02", ["查一下朱丽的资料", "开场白怎么说", "客户问你是谁啊", "客户说好的", "还有别的卖点吗",
                 "客户说我再考虑考虑", "约她明天下午三点再打"]),
    ("agent01", ["查13800000005", "开场白怎么说", "客户说不需要", "客户说利率太低", "还有别的卖点吗",
                 "记一下，客户考虑中"]),
    ("agent02", ["查一下王华", "开场白怎么说", "客户说好的", "还有别的卖点吗", "客户说我在开会",
                 "约他明天下午三点再打"]),
    ("agent01", ["查一下刘洋", "开场白怎么说", "客户说又是推销的吧", "客户说不需要", "记一下，客户拒绝了"]),
    ("agent02", ["查一下陈刚", "开场白怎么说", "客户说我们已经在别的银行办过了", "还有别的卖点吗",
                 "客户说利率太低了", "记一下，客户有意向"]),
    ("agent01", ["查一下张三", "换一个开场白", "客户说我在开车", "约他明天下午三点再打", "今天要回访哪些客户"]),
]

# The same shape against the minimal bot's intents (utterances only).
MINIMAL_FLOWS: list[list[str]] = [
    ["你好", "开场白怎么说", "客户说他在开会", "客户说不需要", "再见"],
    ["你好", "这个客户开场白怎么说", "客户说不需要", "客户说你们利率太低了", "先这样，拜拜"],
    ["您好", "开场白怎么说", "我现在很忙", "客户说利率太低", "客户说不感兴趣", "再见"],
    ["早上好", "换一个开场白", "客户说在忙", "收益太低", "拜拜"],
]


def all_texts(flows: list[list[str]]) -> list[str]:
    """Every distinct message of the flows, in order (the NLU parse benchmark's inputs)."""
    return list(dict.fromkeys(text for flow in flows for text in flow))


class FlowSource:
    """Hands out new conversations round-robin over the flows, each with a fresh sender id."""

    def __init__(self, flows: list[tuple[str | None, list[str]]], prefix: str) -> None:
        self._flows = itertools.cycle(flows)
        self._ids = itertools.count(1)
        self._prefix = prefix

    def new(self) -> Conversation:
        login, messages = next(self._flows)
        return Conversation(f"{self._prefix}-{next(self._ids)}", login, list(messages))


class Conversation:
    """One call: its sender id, the agent typing (None: no login), and what is left to say."""

    def __init__(self, sender: str, login: str | None, messages: list[str]) -> None:
        self.sender = sender
        self.login = login
        self._messages: Iterator[str] = iter(messages)
        self._left = len(messages)

    def next_message(self) -> str:
        self._left -= 1
        return next(self._messages)

    @property
    def done(self) -> bool:
        return self._left <= 0
