"""The durable writes (bot/outbox.py ``DURABLE_WRITES``): a callback an objection answer books is
kept like one the agent books by hand, when the CRM is down, and written once it is back.

The CRM really goes away (tests/test_faults.py `database`); the actions are the real ones.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from actions.guidance import ActionCustomerAgrees, ActionHandleObjection, ActionSuggestOpening
from actions.lookup import ActionLookupClient
from bot import outbox
from bot.models import Call, FollowUp
from tests.actions_helper import Conversation, texts
from tests.conftest import WORKDAY_MORNING
from tests.test_faults import database  # noqa: F401 - the CRM that can go down, as a fixture


async def _looked_up(name: str) -> Conversation:
    conversation = Conversation(sender_id="call-objection-1")
    await conversation.run(ActionLookupClient(), f"查一下{name}", "lookup_client", client_name=name)
    return conversation


def test_the_follow_up_bookings_are_durable_on_both_paths():
    assert outbox.is_durable("action_schedule_callback", "schedule_callback")
    assert outbox.is_durable("action_handle_objection", "objection_busy")  # answered by a callback
    assert not outbox.is_durable("action_handle_objection", "objection_price")  # answered, nothing booked
    assert not outbox.is_durable("action_suggest_opening", "request_opening")


async def test_an_objections_follow_up_is_kept_when_the_crm_is_down_and_booked_once_it_is_back(
        database, frozen_clock):  # noqa: F811
    conversation = await _looked_up("张三")
    database.down()
    said = await conversation.run(ActionHandleObjection(), "客户说他在开会", "objection_busy")
    assert "已暂存" in texts(said) and "客户说他在开会" in texts(said)
    assert outbox.counts() == {"pending": 1}

    database.up()
    frozen_clock(WORKDAY_MORNING + timedelta(minutes=20))  # the database came back 20 minutes later
    said = await conversation.run(ActionSuggestOpening(), "开场白", "request_opening")
    assert "已补写进CRM" in texts(said) and "客户说他在开会" in texts(said)
    followups = database.rows(select(FollowUp).where(FollowUp.status == "open"))
    assert [(f.client.name, f.conversation_id) for f in followups] == [("张三", "call-objection-1")]
    # Booked at the moment the objection was heard (in about an hour), not when it was replayed.
    assert followups[0].due_at == datetime(2026, 11, 23, 11, 0)
    assert outbox.counts() == {}


async def test_an_objection_that_books_nothing_is_not_kept(database, frozen_clock):  # noqa: F811
    conversation = await _looked_up("张三")
    database.down()
    said = await conversation.run(ActionHandleObjection(), "太贵了", "objection_price")
    assert "CRM数据库暂时连不上" in texts(said)
    assert outbox.counts() == {}


def test_a_yes_to_the_deal_is_durable_and_any_other_ok_is_not():
    assert outbox.is_durable("action_customer_agrees", "customer_agrees")  # the action then asks the call's state
    assert not outbox.is_durable("action_customer_agrees", "objection_busy")


async def test_a_deal_the_customer_agreed_to_while_the_crm_was_down_is_logged_once_it_is_back(
        database, frozen_clock):  # noqa: F811
    conversation = await _looked_up("张三")
    await conversation.run(ActionSuggestOpening(), "开场白", "request_opening")
    await conversation.run(ActionCustomerAgrees(), "客户说好的你说吧", "customer_agrees")
    said = await conversation.run(ActionCustomerAgrees(), "客户说听着不错", "customer_agrees")
    assert conversation.slots.get("call_phase") == "closing", texts(said)
    database.down()
    said = await conversation.run(ActionCustomerAgrees(), "客户说行，就办这个吧", "customer_agrees")
    assert "已暂存" in texts(said)
    assert outbox.counts() == {"pending": 1}

    database.up()
    frozen_clock(WORKDAY_MORNING + timedelta(minutes=5))
    said = await conversation.run(ActionSuggestOpening(), "开场白", "request_opening")
    assert "已补写进CRM" in texts(said)
    calls = database.rows(select(Call).where(Call.conversation_id == "call-objection-1"))
    assert [(c.client.name, c.disposition) for c in calls] == [("张三", "deal")]
    assert outbox.counts() == {}


async def test_an_ok_that_only_asks_for_the_next_point_is_not_kept(database, frozen_clock):  # noqa: F811
    conversation = await _looked_up("张三")
    await conversation.run(ActionSuggestOpening(), "开场白", "request_opening")
    database.down()
    said = await conversation.run(ActionCustomerAgrees(), "客户说好的你说吧", "customer_agrees")
    assert "CRM数据库暂时连不上" in texts(said)
    assert outbox.counts() == {}
