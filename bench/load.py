"""The load generator: open-loop arrivals at a fixed rate, and closed-loop capacity.

Open loop: message i is due at start + i/rate, whatever happened before; it is sent then and
its latency is reply time - scheduled time, so a slow server cannot slow the arrivals down and
hide its own queueing (no coordinated omission). Messages of one conversation stay in order:
a due message goes to a conversation whose previous reply has arrived, or to a new one.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp

from bench.flows import Conversation, FlowSource

REQUEST_TIMEOUT = 60  # seconds; a reply later than this is an error
INTERNAL_ERROR_TEXT = "系统刚才出了点问题"  # utter_internal_error: an action failed


@dataclass
class PhaseResult:
    name: str
    latencies: list[float] = field(default_factory=list)  # seconds, successful messages only
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    elapsed: float = 0.0
    late_sends: int = 0  # sends more than 50 ms after their schedule (the generator fell behind)

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    def percentile(self, p: float) -> float | None:
        return percentile(self.latencies, p)

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0


def percentile(values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


Sender = Callable[[aiohttp.ClientSession, Conversation, str], Awaitable[str | None]]


def rest_sender(url: str, tokens: dict[str, str] | None = None) -> Sender:
    """POST one message to a Rasa REST webhook; returns an error kind, or None if it was answered."""

    async def send(http: aiohttp.ClientSession, conversation: Conversation, text: str) -> str | None:
        headers = {}
        if tokens is not None and conversation.login:
            headers["Authorization"] = f"Bearer {tokens[conversation.login]}"
        try:
            async with http.post(url, json={"sender": conversation.sender, "message": text},
                                 headers=headers) as response:
                if response.status != 200:
                    return f"HTTP {response.status}"
                replies = await response.json(content_type=None)
        except asyncio.TimeoutError:
            return "timeout"
        except (aiohttp.ClientError, ValueError) as error:
            return type(error).__name__
        if not isinstance(replies, list) or not any(isinstance(r, dict) and r.get("text") for r in replies):
            return "empty reply"
        if any(INTERNAL_ERROR_TEXT in (r.get("text") or "") for r in replies):
            return "internal error reply"
        return None

    return send


def client_session(connections: int = 200) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
        connector=aiohttp.TCPConnector(limit=connections, force_close=False),
    )


async def open_loop(send: Sender, flows: FlowSource, rate: float, seconds: float, name: str) -> PhaseResult:
    """Send ``rate`` messages per second for ``seconds`` on a fixed schedule; wait for the replies."""
    result = PhaseResult(name)
    loop = asyncio.get_running_loop()
    idle: deque[Conversation] = deque()
    count = max(1, round(rate * seconds))
    tasks = []

    async def one(http, conversation: Conversation, due: float) -> None:
        text = conversation.next_message()
        problem = await send(http, conversation, text)
        if problem is None:
            result.latencies.append(loop.time() - due)
        else:
            result.error(problem)
        if not conversation.done:
            idle.append(conversation)  # ready for its next message

    async with client_session() as http:
        start = loop.time() + 0.2
        for i in range(count):
            due = start + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            elif delay < -0.05:
                result.late_sends += 1
            conversation = idle.popleft() if idle else flows.new()
            tasks.append(asyncio.create_task(one(http, conversation, due)))
            result.sent += 1
        await asyncio.gather(*tasks)
        result.elapsed = loop.time() - start
    return result


async def closed_loop(send: Sender, flows: FlowSource, concurrency: int, seconds: float, name: str) -> PhaseResult:
    """``concurrency`` conversations, each sending its next message as soon as the last is answered."""
    result = PhaseResult(name)
    loop = asyncio.get_running_loop()

    async with client_session() as http:
        start = loop.time()
        deadline = start + seconds

        async def worker() -> None:
            conversation = flows.new()
            while loop.time() < deadline:
                if conversation.done:
                    conversation = flows.new()
                sent_at = loop.time()
                problem = await send(http, conversation, conversation.next_message())
                result.sent += 1
                if problem is None:
                    result.latencies.append(loop.time() - sent_at)
                else:
                    result.error(problem)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        # Messages answered per second over the window (replies after the deadline count too,
        # and so does the time they took).
        result.elapsed = loop.time() - start
    return result
