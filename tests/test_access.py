"""One access policy (bot/access.py) for every surface: the same table of cases through the chat
path (the real actions on a real CRM) and the JSON API (the running web app), plus the action
server's shared secret, conversation ownership and the audited "show number"."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass

import pytest
import requests
from sqlalchemy import create_engine, func, select

from actions.followups import ActionScheduleCallback
from actions.lookup import ActionLookupClient
from actions.outcome import ActionLogOutcome
from bot import access, signing
from bot.auth import Identity
from bot.db import sessions
from bot.models import Call, Client, ConversationOwner, FollowUp, PhoneReveal, User
from tests.actions_helper import Conversation, texts
from tests.conftest import api_token

MONEY_AND_NOTES = {"assets", "annual_income", "card_spend_per_year", "note", "holdings", "phone"}


@dataclass(frozen=True)
class Case:
    """What one user may do with one client, as every surface must enforce it."""

    login: str | None
    client: str
    read: str  # "full", "limited" (name, stage, owner) or "none"
    phone: str | None  # the number as shown; None: not shown at all
    write: bool

    def __str__(self) -> str:
        return f"{self.login or 'nobody'}-{self.client}"


ACCESS_TABLE = [
    Case("agent01", "张三", "full", "13800000001", True),  # an agent and their own client
    Case("agent01", "朱丽", "limited", None, False),  # an agent and another agent's client
    Case("trainee01", "张三", "none", None, False),  # trainees never touch real clients
    Case("super01", "张三", "full", "138****0001", False),  # supervisors read all, phone masked
    Case(None, "张三", "none", None, False),  # no verified user gets nothing
]


def _client_id(url: str, name: str) -> int:
    with sessions(url).begin() as session:
        return session.scalars(select(Client.id).where(Client.name == name)).one()


def _writes(url: str) -> tuple[int, int]:
    with sessions(url).begin() as session:
        return (session.scalar(select(func.count()).select_from(Call)),
                session.scalar(select(func.count()).select_from(FollowUp)))


# --- the policy itself ----------------------------------------------------------------------

@pytest.mark.parametrize("case", ACCESS_TABLE, ids=str)
def test_policy_decides_the_table(session, case):
    client = session.scalars(select(Client).where(Client.name == case.client)).one()
    user = session.scalars(select(User).where(User.login == case.login)).first() if case.login else None
    identity = Identity(user.login, user.role, user.name) if user else None
    level = {"full": access.Level.FULL, "limited": access.Level.LIMITED, "none": access.Level.NONE}[case.read]
    assert access.client_level(identity, client) is level
    assert access.phone_for(identity, client) == case.phone
    assert access.may_write_client(identity, client) is case.write


# --- the chat path ----------------------------------------------------------------------------

@pytest.mark.parametrize("case", ACCESS_TABLE, ids=str)
async def test_chat_follows_the_table(crm_url, frozen_clock, case):
    conversation = Conversation(sender_id=f"access-{case}", login=case.login)
    messages = await conversation.run(ActionLookupClient(), f"查一下{case.client}", "lookup_client",
                                      client_name=case.client)
    shown = texts(messages)
    card = next((m["custom"]["client"] for m in messages if (m.get("custom") or {}).get("type") == "client_card"),
                None)
    if case.read == "full":
        assert card["name"] == case.client and card["phone"] == case.phone and "assets" in card
    elif case.read == "limited":
        assert card["name"] == case.client and card["stage"] and card["agent_name"]
        assert not MONEY_AND_NOTES & set(card)
    else:
        assert card is None and case.client not in shown
    assert "1380000" not in shown.replace(case.phone or "-", "")  # no other number leaks into the text

    # Try to write, even with the client forced into the slots (as a forged tracker would).
    conversation.slots["current_client_id"] = str(_client_id(crm_url, case.client))
    before = _writes(crm_url)
    await conversation.run(ActionScheduleCallback(), "约他明天下午三点再打", "schedule_callback", time="明天下午三点")
    logged = await conversation.run(ActionLogOutcome(), "记一下，客户有意向", "log_outcome", outcome="interested")
    after = _writes(crm_url)
    if case.write:
        assert after == (before[0] + 1, before[1] + 1)
    else:
        assert after == before, "a refused user changed the CRM"
        assert "已记录" not in texts(logged)


async def test_chat_without_a_verified_user_gets_nothing(crm_url):
    """The login comes only from the channel's metadata on the message, never from slots."""
    conversation = Conversation(login=None, slots={"agent_login": "agent01", "session_started_metadata":
                                                   {"login": "agent01"}})
    messages = await conversation.run(ActionLookupClient(), "查一下张三", "lookup_client", client_name="张三")
    assert "重新登录" in texts(messages) and "张三" not in texts(messages)


async def test_deactivated_user_gets_nothing_in_chat(crm_url):
    with sessions(crm_url).begin() as session:
        session.scalars(select(User).where(User.login == "agent01")).one().active = False
    messages = await Conversation().run(ActionLookupClient(), "查一下张三", "lookup_client", client_name="张三")
    assert "重新登录" in texts(messages) and "13800000001" not in texts(messages)


async def test_phone_lookup_of_another_agents_client_is_not_found(crm_url):
    messages = await Conversation(login="agent01").run(ActionLookupClient(), "查13800000003", "lookup_client",
                                                       phone="13800000003")
    assert messages[0]["response"] == "utter_client_not_found" and "朱丽" not in texts(messages)


async def test_choice_buttons_carry_ids_not_phone_numbers(crm_url):
    # 丽 matches 朱丽 and 孙丽 (agent02's) as well as any own client: no phone number in any payload.
    messages = await Conversation(login="agent01").run(ActionLookupClient(), "查一下丽", "lookup_client",
                                                       client_name="丽")
    buttons = [b for m in messages for b in m.get("buttons", [])]
    assert len(buttons) >= 2
    for button in buttons:
        assert "client_id" in button["payload"] and not any(ch * 4 in button["payload"] for ch in "0138")
        assert "1380000" not in button["title"]


# --- the JSON API: same table -----------------------------------------------------------------

def _get(servers, path: str, login: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {api_token(servers, login)}"} if login else {}
    return requests.get(f"{servers['web']}{path}", headers=headers, timeout=30)


@pytest.mark.e2e
@pytest.mark.parametrize("case", ACCESS_TABLE, ids=str)
def test_api_follows_the_table(servers, case):
    client_id = _client_id(f"sqlite:///{servers['crm']}", case.client)
    by_id = _get(servers, f"/api/clients/{client_id}", case.login)
    phone = {"张三": "13800000001", "朱丽": "13800000003"}[case.client]
    by_phone = _get(servers, f"/api/clients/{phone}", case.login)
    if case.read == "full":
        assert by_id.status_code == 200 and by_id.json()["phone"] == case.phone and "assets" in by_id.json()
        assert by_phone.status_code == 200
    elif case.read == "limited":
        assert by_id.status_code == 200 and by_id.json()["name"] == case.client
        assert not MONEY_AND_NOTES & set(by_id.json())
        assert by_phone.status_code == 404  # a number never tells whose client it is
    else:
        expected = 401 if case.login is None else 403
        assert by_id.status_code == expected and by_phone.status_code == expected
        assert case.client not in by_id.text
    for path in ("/api/calls", "/api/followups", "/api/calls.csv"):
        reply = _get(servers, path, case.login)
        if case.read == "none":
            assert reply.status_code in (401, 403), path
        else:
            assert reply.status_code == 200, path


@pytest.mark.e2e
@pytest.mark.parametrize("case", ACCESS_TABLE, ids=str)
def test_rest_chat_follows_the_table(servers, case):
    """The same table through the real chat path: token-checked REST channel, Rasa, action server."""
    # Conversation ids are ASCII (the channel refuses others): the case's position names it.
    sender = f"rest-access-{ACCESS_TABLE.index(case)}-{case.login or 'nobody'}"
    headers = {"Authorization": f"Bearer {api_token(servers, case.login)}"} if case.login else {}

    def say(text: str) -> requests.Response:
        return requests.post(f"{servers['rasa']}/webhooks/rest/webhook", headers=headers, timeout=60,
                             json={"sender": sender, "message": text})

    reply = say(f"查一下{case.client}的资料")
    if case.login is None:
        assert reply.status_code == 401
        return
    replies = reply.json()
    cards = [r["custom"]["client"] for r in replies if (r.get("custom") or {}).get("type") == "client_card"]
    if case.read == "full":
        assert cards and cards[0]["phone"] == case.phone and "assets" in cards[0]
    elif case.read == "limited":
        assert cards and cards[0]["name"] == case.client and not MONEY_AND_NOTES & set(cards[0])
    else:
        assert not cards and "练习" in " ".join(r.get("text", "") for r in replies)
    if not case.write:
        say('/log_outcome{"outcome": "interested"}')
        with sqlite3.connect(servers["crm"]) as db:
            rows = db.execute("select count(*) from calls where conversation_id = ?", (sender,)).fetchone()[0]
        assert rows == 0


# --- supervisors: "show number", audited ------------------------------------------------------

@pytest.mark.e2e
def test_show_number_is_audited_and_listed(servers):
    url = f"sqlite:///{servers['crm']}"
    client_id = _client_id(url, "王华")
    supervisor = {"Authorization": f"Bearer {api_token(servers, 'super01')}"}
    assert _get(servers, f"/api/clients/{client_id}", "super01").json()["phone"] == "138****0004"
    reveal = requests.post(f"{servers['web']}/api/clients/{client_id}/phone", headers=supervisor, timeout=30)
    assert reveal.status_code == 200 and reveal.json()["phone"] == "13800000004"
    with sessions(url).begin() as session:
        row = session.scalars(select(PhoneReveal).order_by(PhoneReveal.id.desc())).first()
        assert row.user.login == "super01" and row.client.name == "王华"
    listed = requests.get(f"{servers['web']}/api/audit/phone-reveals", headers=supervisor, timeout=30).json()
    assert listed[0]["user"] == "super01" and listed[0]["client"] == "王华" and listed[0]["revealed_at"]
    # Agents may neither reveal another agent's client's number nor read the audit.
    agent = {"Authorization": f"Bearer {api_token(servers, 'agent01')}"}
    assert requests.post(f"{servers['web']}/api/clients/{client_id}/phone", headers=agent,
                         timeout=30).status_code == 403
    assert requests.get(f"{servers['web']}/api/audit/phone-reveals", headers=agent, timeout=30).status_code == 403


@pytest.mark.e2e
def test_show_number_from_a_browser_session_needs_the_csrf_token(servers):
    session = requests.Session()
    page = session.get(servers["web"], timeout=10)
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    session.post(f"{servers['web']}/login", data={"login": "super01", "password": "demo-super", "csrf": csrf},
                 timeout=30)
    client_id = _client_id(f"sqlite:///{servers['crm']}", "陈刚")
    forged = session.post(f"{servers['web']}/api/clients/{client_id}/phone", timeout=30)
    assert forged.status_code == 403


# --- the action server is not an open door -----------------------------------------------------

def _forged_call(sender: str, login: str, intent: str, entities: dict, slots: dict) -> dict:
    """What a forged POST /webhook looks like: a whole tracker, login and slots chosen by the attacker."""
    return {
        "next_action": "action_log_outcome" if intent == "log_outcome" else "action_lookup_client",
        "sender_id": sender, "version": "3.6.21", "domain": {},
        "tracker": {
            "sender_id": sender, "slots": slots, "latest_action_name": "action_listen", "paused": False,
            "followup_action": None, "active_loop": {}, "latest_event_time": time.time(),
            "latest_message": {"text": "x", "intent": {"name": intent, "confidence": 1.0},
                               "entities": [{"entity": k, "value": v} for k, v in entities.items()]},
            "events": [{"event": "user", "text": "x", "timestamp": time.time(), "metadata": {"login": login},
                        "parse_data": {"intent": {"name": intent, "confidence": 1.0}, "entities": []}}],
        },
    }


def _crm_state(crm_path) -> tuple:
    with sqlite3.connect(crm_path) as db:
        return (db.execute("select count(*) from calls").fetchone()[0],
                db.execute("select count(*) from followups").fetchone()[0],
                db.execute("select do_not_call from clients where name = '王华'").fetchone()[0])


@pytest.mark.e2e
def test_forged_action_server_requests_get_401_and_change_nothing(servers):
    wang = _client_id(f"sqlite:///{servers['crm']}", "王华")
    before = _crm_state(servers["crm"])
    lookup = _forged_call("forged-1", "agent02", "lookup_client", {"client_name": "孙丽"}, {})
    write = _forged_call("forged-2", "agent02", "log_outcome", {"outcome": "do_not_call"},
                         {"current_client_id": str(wang)})
    guessed = {signing.TIMESTAMP_HEADER: str(int(time.time())), signing.NONCE_HEADER: "n",
               signing.SIGNATURE_HEADER: "guessed"}
    for body, headers in ((lookup, {}), (write, {}), (write, guessed),
                          (write, signing.sign(b"{}", signing.signing_key("another-installation-secret")))):
        reply = requests.post(f"{servers['actions']}/webhook", json=body, headers=headers, timeout=30)
        assert reply.status_code == 401, reply.text
        assert "13800000008" not in reply.text and "孙丽" not in reply.text
    assert _crm_state(servers["crm"]) == before
    assert requests.get(f"{servers['actions']}/actions", timeout=10).status_code == 401
    assert requests.get(f"{servers['actions']}/health", timeout=10).status_code == 200


@pytest.mark.e2e
def test_rasa_reaches_the_action_server_with_the_secret(servers):
    """The same request through Rasa (token-checked channel) works: the secret is configured."""
    token = api_token(servers, "agent02")
    reply = requests.post(f"{servers['rasa']}/webhooks/rest/webhook", headers={"Authorization": f"Bearer {token}"},
                          json={"sender": "access-secret-ok", "message": "查一下王华"}, timeout=60)
    assert any((r.get("custom") or {}).get("client", {}).get("phone") == "13800000004" for r in reply.json())


@pytest.mark.e2e
def test_action_server_listens_on_loopback_only(servers):
    import subprocess

    port = servers["actions"].rsplit(":", 1)[1]
    listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
    assert listening.strip() and all("127.0.0.1:" in line for line in listening.strip().splitlines()), listening


@pytest.mark.e2e
def test_rasa_http_api_is_off_and_cors_is_the_web_apps(servers):
    assert requests.get(f"{servers['rasa']}/conversations/e2e-call-1/tracker", timeout=10).status_code in (403, 404)
    assert requests.get(f"{servers['rasa']}/status", timeout=10).status_code in (403, 404)
    web_origin = servers["web"]
    ok = requests.get(f"{servers['rasa']}/webhooks/rest/", headers={"Origin": web_origin}, timeout=10)
    assert ok.headers.get("Access-Control-Allow-Origin") == web_origin
    evil = requests.get(f"{servers['rasa']}/webhooks/rest/", headers={"Origin": "http://evil.example"}, timeout=10)
    assert evil.headers.get("Access-Control-Allow-Origin") in (None, "")


# --- conversations: who may write into which ----------------------------------------------------

def _tracker_with(tmp_path, sender: str, login: str | None):
    from bot.transcripts import _metadata

    url = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    engine = create_engine(url)
    _metadata.create_all(engine)
    data = json.dumps({"event": "user", "text": "你好", "metadata": {"login": login} if login else {}})
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "insert into events (sender_id, type_name, timestamp, data) values (?, 'user', 0, ?)", (sender, data))
    return url


def test_a_conversation_with_history_cannot_be_claimed_by_someone_else(session, tmp_path):
    from bot.transcripts import first_speaker

    url = _tracker_with(tmp_path, "old-call", "agent01")
    history = lambda sender: first_speaker(sender, url)  # noqa: E731
    agent02 = Identity("agent02", "agent", "周婷")
    agent01 = Identity("agent01", "agent", "李明")
    assert access.claim_conversation(session, "old-call", agent02, history) is False
    assert access.claim_conversation(session, "old-call", agent01, history) is True
    assert session.get(ConversationOwner, "old-call").user.login == "agent01"
    assert access.claim_conversation(session, "brand-new", agent02, history) is True
    assert access.claim_conversation(session, "brand-new", agent01, history) is False
    assert access.claim_conversation(session, "brand-new", None, history) is False


def test_history_without_a_known_speaker_is_nobodys(session, tmp_path):
    from bot.transcripts import first_speaker

    url = _tracker_with(tmp_path, "anonymous-call", None)
    for login in ("agent01", "super01"):
        user = Identity(login, "agent", login)
        assert access.claim_conversation(session, "anonymous-call", user, lambda s: first_speaker(s, url)) is False


def test_migration_backfills_owners_from_calls(tmp_path):
    from bot import migrate
    from bot.demo_data import load_demo_data

    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    migrate.upgrade(url, "0002")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("insert into users (id, login, name, role, password_hash, active, created_at) "
                                   "values (7, 'agent07', '老坐席', 'agent', 'x', 1, '2026-01-01 09:00:00')")
        connection.exec_driver_sql("insert into calls (conversation_id, agent_id, started_at, objections, products, "
                                   "updated_at) values ('legacy-call', 7, '2026-01-02 09:00:00', '[]', '[]', "
                                   "'2026-01-02 09:00:00')")
    migrate.upgrade(url)
    with sessions(url).begin() as session:
        load_demo_data(session)
        owner = session.get(ConversationOwner, "legacy-call")
        assert owner is not None and owner.user.login == "agent07"
        intruder = Identity("agent01", "agent", "李明")
        assert access.claim_conversation(session, "legacy-call", intruder) is False


# --- exports -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\",\"点我\")", "+1+1", "-2+3", "@SUM(A1)"])
def test_csv_cells_cannot_become_formulas(text):
    from bot.csv_export import spreadsheet_safe

    assert spreadsheet_safe(text) == "'" + text
    assert spreadsheet_safe("客户说" + text) == "客户说" + text


@pytest.mark.e2e
def test_csv_export_neutralises_formulas(servers):
    with sqlite3.connect(servers["crm"]) as db:
        agent = db.execute("select id from users where login = 'agent01'").fetchone()[0]
        client = db.execute("select id from clients where name = '刘洋'").fetchone()[0]
        db.execute("insert into calls (conversation_id, agent_id, client_id, started_at, disposition, objections, "
                   "products, notes, updated_at) values ('csv-formula', ?, ?, '2026-11-20 10:00:00', 'refused', "
                   "'[]', '[]', '=HYPERLINK(\"http://evil\",\"x\")', '2026-11-20 10:00:00')", (agent, client))
    reply = _get(servers, "/api/calls.csv?client=刘洋", "super01")
    line = next(row for row in reply.content.decode("utf-8-sig").splitlines() if "csv-formula" in row)
    assert "'=HYPERLINK" in line and ",=HYPERLINK" not in line


@pytest.mark.parametrize(("second", "wins"), [("agent02", False), ("agent01", True)])
def test_two_first_messages_at_once_give_the_conversation_one_owner(crm_url, second, wins):
    """Two first messages of one conversation race (two Rasa servers, a double click): the one
    that commits first owns it; the other is refused (another user) or let in (the same user),
    never an error. (On SQLite the owner row is committed by its savepoint already; the
    colliding insert on PostgreSQL is exercised by tests/test_scaleout.py.)"""
    import threading

    agent01 = Identity("agent01", "agent", "李明")
    claimed, release, results = threading.Event(), threading.Event(), {}

    def first():
        with sessions(crm_url).begin() as db:
            results["first"] = access.claim_conversation(db, "raced", agent01)
            claimed.set()
            release.wait(10)

    def other():
        claimed.wait(10)
        with sessions(crm_url).begin() as db:
            results["second"] = access.claim_conversation(db, "raced", Identity(second, "agent", "x"))

    threads = [threading.Thread(target=first), threading.Thread(target=other)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    release.set()
    for thread in threads:
        thread.join(60)
    assert results == {"first": True, "second": wins}
    with sessions(crm_url).begin() as db:
        assert [o.user.login for o in db.scalars(select(ConversationOwner).where(
            ConversationOwner.conversation_id == "raced"))] == ["agent01"]
