"""Lookups that cannot be used as an oracle (issue 17): a number names a client only to those who
may read that client, suffixes (尾号) search only the agent's own clients, a name with digits in it
is no backdoor, and a supervisor who finds a client by number leaves an audit row. The same on
every path: typed text, button payloads (client_name / phone / client_id) and the JSON API."""

from __future__ import annotations

import json

import pytest
import requests
from sqlalchemy import select

from actions.lookup import ActionLookupClient
from bot.db import sessions
from bot.models import Client, PhoneReveal
from tests.actions_helper import Conversation, texts
from tests.conftest import DEMO_PASSWORDS
from tests.test_accounts import bearer, live_app, token_for, web  # noqa: F401 - fixtures

# agent02's clients, agent02 herself, and their numbers: agent01 may learn none of these from a number.
AGENT02_NAMES = ("朱丽", "王华", "陈刚", "孙丽", "周婷")
AGENT02_PHONES = ("13800000003", "13800000004", "13800000006", "13800000008")


def _payload(**entities: str) -> str:
    """A button payload, as anyone can type it into the chat."""
    return "/lookup_client" + json.dumps(entities, ensure_ascii=False)


async def _lookup(login: str, text: str, **entities: str) -> list[dict]:
    return await Conversation(sender_id=f"oracle-{login}", login=login).run(
        ActionLookupClient(), text, "lookup_client", **entities)


def _card(messages: list[dict]) -> dict | None:
    return next((m["custom"]["client"] for m in messages if (m.get("custom") or {}).get("type") == "client_card"),
                None)


def _audit_rows(url: str) -> list[tuple[str, str, str]]:
    with sessions(url).begin() as session:
        return [(r.user.login, r.client.name, r.kind)
                for r in session.scalars(select(PhoneReveal).order_by(PhoneReveal.id)).unique()]


def _reveals_nothing(messages: list[dict], *typed: str) -> None:
    """No card, no choice, no name of agent02's, no number beyond what the user typed (echoed back)."""
    shown = texts(messages)
    assert _card(messages) is None and not any(m.get("buttons") for m in messages), shown
    assert not any(name in shown for name in AGENT02_NAMES), shown
    typed += tuple("".join(c for c in t if c.isdigit()) for t in typed)  # echoed as the number read
    for echo in sorted(typed, key=len, reverse=True):
        shown = shown.replace(echo, "")
    assert not any(phone in shown for phone in AGENT02_PHONES), shown


# --- the chat path ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "entities"),
    [
        # The exact payload: answered "朱丽是周婷负责的客户".
        (_payload(client_name="号13800000003"), {"client_name": "号13800000003"}),
        ("查一下号13800000003", {"client_name": "号13800000003"}),  # the model tags it as a name
        (_payload(phone="13800000003"), {"phone": "13800000003"}),
        ("查13800000003", {"phone": "13800000003"}),
        ("查一下13800000003", {"client_name": "13800000003"}),
    ],
)
async def test_another_agents_number_is_not_found_on_every_chat_path(crm_url, text, entities):
    messages = await _lookup("agent01", text, **entities)
    assert messages[0]["response"] == "utter_client_not_found"
    _reveals_nothing(messages, text, *entities.values())


async def test_a_suffix_loop_reveals_nothing_about_another_agents_clients(crm_url):
    """The issue's attack: 尾号<d>0003, then 尾号<dd>0003 ... rebuilt agent02's number in 19 messages."""
    suffixes = ["0003", "0004", "0006", "0008"] + [f"{d}0003" for d in range(10)] + \
        [f"{d:02d}0003" for d in range(100)] + ["00000003", "800000003", "3800000003"]
    for suffix in suffixes:
        for text, entities in ((f"尾号{suffix}", {}), (f"查尾号{suffix}", {"phone": suffix}),
                               (_payload(client_name=f"尾号{suffix}"), {"client_name": f"尾号{suffix}"}),
                               (_payload(phone=suffix), {"phone": suffix})):
            messages = await _lookup("agent01", text, **entities)
            _reveals_nothing(messages, text, *entities.values())


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        ("查尾号0001", {}),
        ("查0001", {"phone": "0001"}),
        (_payload(client_name="尾号0001"), {"client_name": "尾号0001"}),
        ("查尾号800000001", {}),
    ],
)
async def test_an_agents_own_client_by_suffix_still_works(crm_url, text, entities):
    card = _card(await _lookup("agent01", text, **entities))
    assert card["name"] == "张三" and card["phone"] == "13800000001"


async def test_another_agents_client_by_name_still_gives_the_limited_view(crm_url):
    card = _card(await _lookup("agent01", "查一下朱丽", client_name="朱丽"))
    assert card["name"] == "朱丽" and card["agent_name"] == "周婷" and "phone" not in card


async def test_a_button_by_id_gives_the_same_view_as_the_api(crm_url):
    """The ambiguous-name buttons carry ids; another agent's client by id is the limited view."""
    with sessions(crm_url).begin() as session:
        client_id = session.scalars(select(Client.id).where(Client.name == "朱丽")).one()
    card = _card(await _lookup("agent01", _payload(client_id=str(client_id)), client_id=str(client_id)))
    assert card["name"] == "朱丽" and card["limited"] and "phone" not in card


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        ("查尾号0001", {}),
        ("查0001", {"phone": "0001"}),
        (_payload(client_name="尾号0001"), {"client_name": "尾号0001"}),
        (_payload(phone="0001"), {"phone": "0001"}),
        ("查尾号800000001", {}),
    ],
)
async def test_a_supervisor_cannot_unmask_a_number_by_suffix(crm_url, text, entities):
    messages = await _lookup("super01", text, **entities)
    shown = texts(messages)
    assert _card(messages) is None and "张三" not in shown and "完整的11位手机号" in shown
    assert _audit_rows(crm_url) == []


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        ("查13800000001", {"phone": "13800000001"}),
        ("查+86 138-0000-0001", {}),
        (_payload(client_name="号13800000001"), {"client_name": "号13800000001"}),
    ],
)
async def test_a_supervisors_lookup_by_number_is_found_and_audited(crm_url, text, entities):
    card = _card(await _lookup("super01", text, **entities))
    assert card["name"] == "张三" and card["phone"] == "138****0001"
    assert _audit_rows(crm_url) == [("super01", "张三", "lookup")]


async def test_lookups_by_name_or_by_the_owner_are_not_audited(crm_url):
    await _lookup("super01", "查一下张三", client_name="张三")
    await _lookup("agent01", "查13800000001", phone="13800000001")
    assert _audit_rows(crm_url) == []


# --- the JSON API (the real web app, in this process, on this test's CRM) ---------------------

def _get(base: str, key: str, login: str) -> requests.Response:
    token = token_for(base, login, DEMO_PASSWORDS[login]).json()["token"]
    return requests.get(f"{base}/api/clients/{key}", headers=bearer(token), timeout=30)


def test_the_api_is_the_same_lookup(web, crm_url):  # noqa: F811 - the fixture
    # agent01: another agent's number, whole or in part, is "no such client".
    for key in ("13800000003", "800000003", "00000003", "+8613800000003", "%2B86%20138-0000-0003"):
        reply = _get(web, key, "agent01")
        assert reply.status_code == 404 and reply.json() == {"error": "没有这个客户。"}, key
    assert _get(web, "13800000001", "agent01").json()["phone"] == "13800000001"
    assert _get(web, "800000001", "agent01").json()["name"] == "张三"  # an own client by suffix
    # A supervisor: a suffix finds nobody; the whole number finds the client, masked, and is audited.
    for key in ("00000001", "800000001"):
        reply = _get(web, key, "super01")
        assert reply.status_code == 404 and "张三" not in reply.text, key
    assert _audit_rows(crm_url) == []
    found = _get(web, "%2B86%2013800000001", "super01")
    assert found.status_code == 200 and found.json()["name"] == "张三" and found.json()["phone"] == "138****0001"
    assert _audit_rows(crm_url) == [("super01", "张三", "lookup")]
    # ... and shown in the same 号码查看记录 list, saying it was a lookup.
    token = token_for(web, "super01", DEMO_PASSWORDS["super01"]).json()["token"]
    listed = requests.get(f"{web}/api/audit/phone-reveals", headers=bearer(token), timeout=30).json()
    assert [(r["user"], r["client"], r["kind"]) for r in listed] == [("super01", "张三", "lookup")]
