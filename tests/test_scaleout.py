"""Scale-out on real engines: PostgreSQL (CRM and tracker store), Redis (Rasa's lock store), two
Rasa servers, one action server and the web app behind nginx (bot/deploy.py).

One stack for the module: PostgreSQL and Redis from Debian's packages on loopback, the CRM
migrated with Alembic, the trained model. Messages of the same conversations go alternately
to both Rasa servers (directly and through nginx); PostgreSQL then shows every transcript
whole and in order, one call row per conversation and client, at most one open follow-up per
client. A headless Chromium logs in through nginx and chats in the widget through it.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.conftest import ARTIFACTS, DEMO_PASSWORDS, free_port, service_clock_offset, socketio_client

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOGS = ARTIFACTS / "scaleout-logs"


def _public_address() -> str:
    """An address of this machine other than loopback (as another computer would use), if any."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.254", 9))  # no packet is sent: this only picks the outgoing interface
            address = probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"
    return address if not address.startswith("127.") else "127.0.0.1"


@pytest.fixture(scope="module")
def stack(trained_model, postgres_server, redis_server, tmp_path_factory):
    from bot.deploy import start_scaled_services
    from bot.provision import prepare
    from bot.services import stop

    crm_url, tracker_url = postgres_server("crm"), postgres_server("tracker")
    tmp = tmp_path_factory.mktemp("scaleout")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SALESBOT_DB_URL", crm_url)
        mp.setenv("SALESBOT_TRACKER_URL", tracker_url)
        mp.setenv("SALESBOT_REDIS_URL", redis_server)
        mp.setenv("SALESBOT_SECRET", "scaleout-Zx7Cv3Bn9Mq1We5Rt8Yu2Io4Pa6Sd0")
        mp.setenv("SALESBOT_VAR_DIR", str(tmp / "var"))
        mp.setenv("SALESBOT_LISTEN", "0.0.0.0")  # the entry point serves other computers (one test uses that)
        offset = service_clock_offset()  # the services' clock reads 10:00 today (bot/clock.py)
        mp.setenv("SALESBOT_CLOCK_OFFSET", str(offset.total_seconds()))
        started = time.monotonic()
        prepare(verbose=False, demo=True)  # Alembic upgrade head on PostgreSQL, then the demo data
        migrated = time.monotonic() - started
        rasa_ports = [free_port(), free_port()]
        ports = {"actions_port": free_port(), "web_port": free_port(), "entry_port": free_port()}
        prefix = tmp / "nginx"
        processes = start_scaled_services(rasa_ports, **ports, model=trained_model, prefix=prefix, log_dir=LOGS)
        print(f"\nscale-out stack: migrated in {migrated:.1f}s, up in {time.monotonic() - started:.1f}s")
        engine = create_engine(crm_url, future=True)
        tracker = create_engine(tracker_url, future=True)
        state = SimpleNamespace(
            rasa=[f"http://127.0.0.1:{port}" for port in rasa_ports],
            entry=f"http://127.0.0.1:{ports['entry_port']}", entry_port=ports["entry_port"],
            web=f"http://127.0.0.1:{ports['web_port']}", crm=engine, tracker=tracker, nginx=prefix,
            clock_offset=offset, crm_url=crm_url, redis=redis_server)
        try:
            yield state
        finally:
            engine.dispose()
            tracker.dispose()
            stop(processes)
            if (prefix / "access.log").exists():
                (LOGS / "nginx-access.log").write_bytes((prefix / "access.log").read_bytes())


def token(stack, login: str) -> str:
    reply = requests.post(f"{stack.entry}/api/token", json={"login": login, "password": DEMO_PASSWORDS[login]},
                          timeout=30)
    reply.raise_for_status()
    return reply.json()["token"]


def say(base: str, bearer: str, sender: str, message: str) -> list[dict]:
    reply = requests.post(f"{base}/webhooks/rest/webhook", headers={"Authorization": f"Bearer {bearer}"},
                          json={"sender": sender, "message": message}, timeout=120)
    assert reply.status_code == 200, (base, message, reply.status_code, reply.text)
    return reply.json()


def tracker_events(stack, sender: str) -> list[dict]:
    """The conversation's events as Rasa's SQL tracker store keeps them, in insertion order."""
    with stack.tracker.connect() as connection:
        rows = connection.execute(text("select type_name, data from events where sender_id = :s order by id"),
                                  {"s": sender}).all()
    return [{"type": row.type_name, **json.loads(row.data)} for row in rows]


def assert_whole_turns(events: list[dict], sent: list[str]) -> None:
    """Every message sent is there once, in order, and each turn ended (the bot answered and went
    back to listening) before the next message was taken up: no two turns interleaved."""
    users = [i for i, e in enumerate(events) if e["type"] == "user"]
    assert [events[i]["text"] for i in users] == sent
    for start, end in zip(users, [*users[1:], len(events)], strict=True):
        turn = events[start + 1:end]
        assert any(e["type"] == "bot" for e in turn), [e["type"] for e in turn]
        actions = [e for e in turn if e["type"] == "action"]
        assert actions and actions[-1]["name"] == "action_listen", [e.get("name") for e in actions]
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)


def test_the_crm_is_migrated_on_postgresql(stack):
    from alembic.script import ScriptDirectory

    from bot.migrate import alembic_config

    heads = set(ScriptDirectory.from_config(alembic_config(stack.crm_url)).get_heads())
    with stack.crm.connect() as connection:
        assert connection.dialect.name == "postgresql"
        assert {r[0] for r in connection.execute(text("select version_num from alembic_version"))} == heads
        logins = {r[0] for r in connection.execute(text("select login from users"))}
        assert set(DEMO_PASSWORDS) <= logins
        assert connection.execute(text("select count(*) from clients")).scalar() >= 8


# (agent, client, what the client said) -- four calls at once, two per agent.
CALLS = [("agent01", "张三", "客户说他在开会"), ("agent01", "李四", "客户说不需要"),
         ("agent02", "朱丽", "客户说这个会不会亏本"), ("agent02", "王华", "客户说他在开会")]


def test_interleaved_conversations_on_two_rasa_servers(stack):
    """Four calls at the same time, each message to another server than the one before
    (rasa 1, rasa 2, nginx in turn): the transcripts, calls and follow-ups are all whole."""
    targets = [*stack.rasa, stack.entry]
    tokens = {login: token(stack, login) for login in {"agent01", "agent02"}}
    run = uuid.uuid4().hex[:8]
    scripts = {f"scale-{run}-{n}": (agent, client, [f"查一下{client}", objection, "记一下，客户有意向",
                                                     "约他明天下午三点再打"])
               for n, (agent, client, objection) in enumerate(CALLS)}

    def call(item):
        n, (sender, (agent, client, messages)) = item
        replies = []
        for step, message in enumerate(messages):
            replies.append(say(targets[(n + step) % len(targets)], tokens[agent], sender, message))
        return sender, replies

    started = time.monotonic()
    with ThreadPoolExecutor(len(scripts)) as pool:
        results = dict(pool.map(call, enumerate(scripts.items())))
    elapsed = time.monotonic() - started
    print(f"\n{sum(len(s[2]) for s in scripts.values())} messages in {len(scripts)} parallel calls: {elapsed:.1f}s")

    for sender, (_agent, client, messages) in scripts.items():
        lookup = results[sender][0]
        assert any(r.get("custom", {}).get("client", {}).get("name") == client for r in lookup), lookup
        assert_whole_turns(tracker_events(stack, sender), messages)

    senders = list(scripts)
    with stack.crm.connect() as connection:
        calls = connection.execute(text(
            "select c.conversation_id, k.name, c.disposition, count(*) over (partition by c.conversation_id, "
            "c.client_id) as n from calls c join clients k on k.id = c.client_id "
            "where c.conversation_id = any(:senders)"), {"senders": senders}).all()
        assert sorted((r.conversation_id, r.name, r.n) for r in calls) == \
            sorted((sender, client, 1) for sender, (_a, client, _m) in scripts.items())
        assert {r.disposition for r in calls} <= {"interested", "callback"}
        # At most one open follow-up per client, anywhere; ours is due tomorrow at 15:00.
        doubled = connection.execute(text(
            "select client_id from followups where status = 'open' group by client_id having count(*) > 1")).all()
        assert doubled == []
        due = dict(connection.execute(text(
            "select k.name, f.due_at from followups f join clients k on k.id = f.client_id "
            "where f.status = 'open' and k.name = any(:names)"), {"names": [c[1] for c in CALLS]}).all())
    tomorrow = (datetime.now() + stack.clock_offset).date() + timedelta(days=1)
    assert due == {client: datetime.combine(tomorrow, datetime.min.time()).replace(hour=15)
                   for _agent, client, _objection in CALLS}


def test_two_messages_of_one_conversation_at_once_on_both_servers(stack):
    """The first two messages of a new conversation, sent at the same instant to the two servers:
    both are taken (the conversation gets one owner, no error), and the Redis lock store lets one
    server finish its turn before the other takes the conversation up."""
    bearer = token(stack, "agent01")
    sender = f"scale-same-{uuid.uuid4().hex[:8]}"
    messages = ["查一下赵敏", "这个客户开场白怎么说"]
    barrier = threading.Barrier(2)

    def send(n: int) -> float:
        barrier.wait()
        started = time.monotonic()
        say(stack.rasa[n], bearer, sender, messages[n])
        return time.monotonic() - started

    with ThreadPoolExecutor(2) as pool:
        durations = list(pool.map(send, range(2)))
    print(f"\nconcurrent pair answered in {durations[0]:.2f}s and {durations[1]:.2f}s")
    events = tracker_events(stack, sender)
    received = [e["text"] for e in events if e["type"] == "user"]
    assert sorted(received) == sorted(messages)  # both taken, once each, in whichever order they got the lock
    assert_whole_turns(events, received)
    with stack.crm.connect() as connection:
        owners = connection.execute(text("select u.login from conversations c join users u on u.id = c.user_id "
                                         "where c.conversation_id = :s"), {"s": sender}).scalars().all()
    assert owners == ["agent01"]
    # The servers' locks went through Redis (bot/rasa_ext/lock_store.py: one WATCH per change).
    import redis

    assert redis.Redis.from_url(stack.redis).info("commandstats")["cmdstat_watch"]["calls"] > 0


def test_the_redis_lock_store_lets_one_server_in_at_a_time(redis_server):
    """Two lock stores (as in two servers) and four workers fight over one conversation: never
    two inside at once, nobody stuck (Rasa's own RedisLockStore fails this: its read-change-write
    of a lock is not atomic)."""
    import asyncio

    from bot.rasa_ext.lock_store import AtomicRedisLockStore

    stores = [AtomicRedisLockStore.from_url(redis_server) for _ in range(2)]
    inside, overlaps, done = [], [], []
    conversation = f"lock-{uuid.uuid4().hex}"

    def worker(store):
        async def run():
            for _ in range(15):
                async with store.lock(conversation, wait_time_in_seconds=0.001):
                    inside.append(1)
                    if len(inside) > 1:
                        overlaps.append(1)
                    await asyncio.sleep(0.001)
                    inside.pop()
            done.append(1)

        asyncio.run(run())

    threads = [threading.Thread(target=worker, args=(stores[n % 2],), daemon=True) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(done) == 4 and overlaps == []
    assert stores[0].red.exists(stores[0].key_prefix + conversation) == 0  # nothing left behind


async def test_socketio_through_nginx_sticks_to_one_server(stack):
    """Several widget connections through nginx: every request of one connection reaches the
    same Rasa server (else long-polling breaks), and the connections spread over both."""
    import asyncio

    bearer = token(stack, "agent02")
    upstreams: dict[str, set[str]] = {}
    for n in range(12):
        affinity = f"test-{n}-{uuid.uuid4().hex[:6]}"
        client = socketio_client()
        replies: asyncio.Queue = asyncio.Queue()
        client.on("bot_uttered", replies.put_nowait)
        confirmed: asyncio.Future = asyncio.get_running_loop().create_future()
        client.on("session_confirm", lambda sid, f=confirmed: f.done() or f.set_result(sid))
        await client.connect(f"{stack.entry}?affinity={affinity}", socketio_path="/socket.io",
                             transports=["polling"], auth={"token": bearer}, wait_timeout=10)
        try:
            await client.emit("session_request", {"session_id": None})
            session_id = await asyncio.wait_for(confirmed, 10)
            await client.emit("user_uttered", {"message": "查一下朱丽", "session_id": session_id})
            reply = await asyncio.wait_for(replies.get(), 60)
            assert reply.get("text")
        finally:
            await client.disconnect()
        upstreams[affinity] = _upstreams_for(stack, affinity)
        if n >= 1 and len(set().union(*upstreams.values())) == 2:
            break
    assert all(len(servers) == 1 for servers in upstreams.values()), upstreams
    assert set().union(*upstreams.values()) == {u.removeprefix("http://") for u in stack.rasa}, upstreams


def _upstreams_for(stack, affinity: str) -> set[str]:
    """The Rasa servers nginx sent this connection's requests to (its access log)."""
    lines = [line for line in (stack.nginx / "access.log").read_text().splitlines() if f"affinity={affinity}" in line]
    assert lines
    return {re.search(r"upstream=(\S+)", line).group(1) for line in lines}


def test_the_widget_works_through_the_entry_point(stack):
    """A browser that knows only the entry point (by this machine's network address, as another
    computer would) logs in and chats: the page sends socket.io to its own origin."""
    from playwright.sync_api import expect, sync_playwright

    assert CHROMIUM.exists(), "Chromium is missing: apt-get install -y chromium (make test installs it)"
    origin = f"http://{_public_address()}:{stack.entry_port}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-CN", base_url=origin)
            context.set_default_timeout(60_000)
            page = context.new_page()
            chat_requests: list[str] = []
            page.on("request", lambda r: "/socket.io/" in r.url and chat_requests.append(r.url))
            problems: list[str] = []
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto("/")
            page.get_by_label("用户名").fill("agent02")
            page.get_by_label("密码").fill(DEMO_PASSWORDS["agent02"])
            page.get_by_role("button", name="登录").click()
            expect(page.locator("#status")).to_have_text("已连接")
            assert page.locator("body").get_attribute("data-rasa-url") == ""
            csp = page.locator("meta[http-equiv='Content-Security-Policy']").get_attribute("content")
            assert "connect-src 'self'" in csp and ":5005" not in csp and "127.0.0.1" not in csp

            page.locator("#input").fill("查一下朱丽")
            page.locator("#input").press("Enter")
            expect(page.locator(".client-card .client-name").last).to_contain_text("朱丽")
            (ARTIFACTS / "screenshots").mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "screenshots" / "scaleout-widget-through-nginx.png"))
            assert chat_requests and all(url.startswith(f"{origin}/socket.io/") for url in chat_requests)
            assert problems == []
            context.close()
        finally:
            browser.close()


def test_the_page_sends_the_browser_to_the_host_it_came_from():
    """Without an entry point (`make run`): the page names Rasa on the host the browser used, so the
    widget works from another computer too, and Rasa's CORS admits that page."""
    from sanic_cors.core import try_match_any

    from bot.services import web_origins
    from bot.web.app import browser_rasa_url

    def request(host: str):
        return SimpleNamespace(host=host, scheme="http", headers={})

    assert browser_rasa_url(":5005", request("192.0.2.7:8000")) == "http://192.0.2.7:5005"
    assert browser_rasa_url(":5005", request("crm.bank.example:8000")) == "http://crm.bank.example:5005"
    assert browser_rasa_url(":5005", request("[fd00::2]:8000")) == "http://[fd00::2]:5005"
    assert browser_rasa_url(":5005", request('evil"; script-src *:8000')) == "http://localhost:5005"
    assert browser_rasa_url("/", request("192.0.2.7:8080")) == ""
    assert browser_rasa_url("https://chat.bank.example/", request("x")) == "https://chat.bank.example"
    # Serving other computers (SALESBOT_LISTEN), Rasa's CORS admits this host's own address, exactly.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SALESBOT_LISTEN", "0.0.0.0")
        origins = web_origins(8000)
    assert try_match_any(f"http://{_public_address()}:8000", origins)
    assert not try_match_any(f"http://{_public_address()}:8001", origins)
    assert not try_match_any("http://192.0.2.7:8000", origins)
