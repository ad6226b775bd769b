"""Lists that scale (issue 17): the call and review lists are paged with a total (X-Total-Count),
the CSV export streams every row, and no query binds an IN list of unbounded size (SQLite refuses
more than 32,766 variables), so a tracker store with 40,000 conversations still answers."""

from __future__ import annotations

import csv
import io
import json
import os
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import func, select

from bot.crm import record_lookups
from bot.db import engine_for, sessions
from bot.models import Call, Client, User
from bot.transcripts import _metadata, client_lookups, events
from tests.test_accounts import bearer, live_app, token_for, web  # noqa: F401 - fixtures

MANY = 40_000  # more conversations than SQLite binds variables in one statement


def _supervisor(web):  # noqa: F811 - pytest fixture name
    return bearer(token_for(web, "super01", "demo-super").json()["token"])


@pytest.fixture()
def many_calls(crm_url):
    """1,200 logged calls of agent01 with 张三, one a minute, besides the demo history."""
    with sessions(crm_url).begin() as session:
        agent = session.scalars(select(User).where(User.login == "agent01")).one().id
        client = session.scalars(select(Client).where(Client.name == "张三")).one().id
        start = datetime(2026, 10, 1, 9, 0)
        session.add_all([Call(conversation_id=f"bulk-{n:05d}", client_id=client, agent_id=agent, disposition="refused",
                              started_at=start + timedelta(minutes=n), notes=f"第{n}通")
                         for n in range(1200)])
        session.flush()
        return session.scalar(select(func.count()).select_from(Call))


def test_the_call_list_is_paged_with_a_total(many_calls, web):  # noqa: F811
    headers = _supervisor(web)
    first = requests.get(f"{web}/api/calls", headers=headers, params={"limit": 100}, timeout=60)
    assert first.status_code == 200
    assert int(first.headers["X-Total-Count"]) == many_calls
    assert len(first.json()) == 100
    later = requests.get(f"{web}/api/calls", headers=headers, params={"limit": 100, "offset": 1100}, timeout=60)
    assert len(later.json()) == 100 and not {c["id"] for c in later.json()} & {c["id"] for c in first.json()}
    last = requests.get(f"{web}/api/calls", headers=headers, params={"offset": many_calls - 3}, timeout=60).json()
    assert len(last) == 3
    bad = requests.get(f"{web}/api/calls", headers=headers, params={"limit": "abc"}, timeout=60)
    assert bad.status_code == 400 and "limit" in bad.json()["error"]
    review = requests.get(f"{web}/api/conversations", headers=headers, params={"limit": 50, "offset": 600}, timeout=60)
    assert review.status_code == 200 and len(review.json()) == 50
    assert int(review.headers["X-Total-Count"]) >= many_calls


def test_the_csv_export_holds_every_row(many_calls, web):  # noqa: F811
    export = requests.get(f"{web}/api/calls.csv", headers=_supervisor(web), timeout=120)
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert len(rows) == many_calls
    assert rows[0]["started_at"] >= rows[-1]["started_at"]  # newest first
    assert sum(r["conversation_id"].startswith("bulk-") for r in rows) == 1200


@pytest.fixture()
def crowded_tracker(crm_url):
    """40,000 conversations of agent01, each pulling up 张三 (no outcome logged) and mentioning 年费."""
    with sessions(crm_url).begin() as session:
        client = session.scalars(select(Client).where(Client.name == "张三")).one().id
    engine = engine_for(os.environ["SALESBOT_TRACKER_URL"])
    _metadata.create_all(engine)
    start = datetime(2026, 11, 1, 9, 0).timestamp()
    rows = []
    for n in range(MANY):
        sender, when = f"crowd-{n:05d}", start + n
        rows.append({"sender_id": sender, "type_name": "user", "timestamp": when, "intent_name": "lookup_client",
                     "action_name": None, "data": json.dumps({
                         "event": "user", "timestamp": when, "text": "查一下张三 年费",
                         "metadata": {"login": "agent01"},
                         "parse_data": {"intent": {"name": "lookup_client", "confidence": 0.9}, "entities": []}})})
        rows.append({"sender_id": sender, "type_name": "slot", "timestamp": when, "intent_name": None,
                     "action_name": None, "data": json.dumps({"event": "slot", "timestamp": when,
                                                              "name": "current_client_id", "value": str(client)})})
    with engine.begin() as connection:
        connection.execute(events.insert(), rows)
    # As the upgrade that moved lookups into the CRM (migration 0016) copies them.
    with sessions(crm_url).begin() as session:
        assert record_lookups(session, client_lookups()) >= MANY
    return MANY


@pytest.mark.slow  # 5 s or more: make test only
def test_forty_thousand_conversations_still_list(crowded_tracker, web):  # noqa: F811
    headers = _supervisor(web)
    review = requests.get(f"{web}/api/conversations", headers=headers, params={"limit": 20}, timeout=300)
    assert review.status_code == 200, review.text
    assert int(review.headers["X-Total-Count"]) >= crowded_tracker
    assert len(review.json()) == 20
    # A full-text search that matches every one of them (calls filtered by conversation id).
    found = requests.get(f"{web}/api/conversations", headers=headers, params={"q": "年费", "limit": 5}, timeout=300)
    assert found.status_code == 200, found.text
    assert int(found.headers["X-Total-Count"]) == crowded_tracker
    calls = requests.get(f"{web}/api/calls", headers=headers, params={"q": "年费"}, timeout=300)
    assert calls.status_code == 200, calls.text
    assert requests.get(f"{web}/api/dashboard", headers=headers, timeout=300).status_code == 200


def test_a_deep_page_of_the_review_is_the_slice_of_the_whole_list(many_calls, crm_url, monkeypatch):
    """Past MERGE_HERE_UP_TO entries the database merges calls and lookups and skips to the page (on
    SQLite too; here from 100 entries deep): every page is still the slice of the whole list, newest
    first, from either end."""
    from bot import queries
    from bot.auth import Identity

    monkeypatch.setattr(queries, "MERGE_HERE_UP_TO", 100)
    supervisor = Identity("super01", "supervisor", "主管")
    with sessions(crm_url).begin() as session:
        whole, size = queries.conversations_page(session, supervisor, {}, None)
        assert size == len(whole) > 1000
        for offset in (99, 101, size // 2 - 30, size // 2 + 7, size - 260, size - 50, size - 1):
            assert queries.conversations_page(session, supervisor, {}, (offset, 50)) == (whole[offset:offset + 50],
                                                                                         size)
