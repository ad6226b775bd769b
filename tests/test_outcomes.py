"""Dispositions from outcome phrases, how they move the client through the funnel, and what logging
a call writes (bot.outcomes against the real CRM fixtures, without Rasa)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot import crm
from bot.models import Call, Client, FollowUp
from bot.outcomes import OutcomeRefused, ProductNeeded, Unsuitable, disposition_for, log_call, next_stage
from tests.conftest import WORKDAY_MORNING

# Suitability reads the clock (a risk assessment is valid for a year): tests run at a fixed date.
pytestmark = pytest.mark.usefixtures("frozen_clock")


@pytest.mark.parametrize(
    ("phrase", "code"),
    [
        ("deal", "deal"),
        ("客户同意办理了", "deal"),
        ("没接电话", "no_answer"),  # not a listed synonym, but contains one
        ("是空号", "invalid_number"),
        ("別再打了", "do_not_call"),  # Traditional
        ("约回访", "callback"),
        ("随便写写", None),
        ("没成交", None),  # denied: the agent is asked which outcome instead
        (None, None),
    ],
)
def test_disposition_for(phrase, code):
    assert disposition_for(phrase) == code


@pytest.mark.parametrize(
    ("stage", "disposition", "previous_deals", "expected"),
    [
        ("general", "deal", 0, "deal"),
        ("deal", "deal", 1, "loyal"),  # a second deal
        ("unknown", "interested", 0, "potential"),
        ("loyal", "interested", 3, "loyal"),  # never moves a client backwards
        ("unknown", "refused", 0, "general"),
        ("potential", "refused", 0, "potential"),
        ("general", "no_answer", 0, "general"),
        ("general", "do_not_call", 0, "general"),  # the flag is set instead
    ],
)
def test_next_stage(stage, disposition, previous_deals, expected):
    assert next_stage(stage, disposition, previous_deals) == expected


# ---- logging a call against the real CRM fixtures, without Rasa ----------------------------

def _client(session, name):
    return session.scalars(select(Client).where(Client.name == name)).one()


def _log(session, client, outcome, conversation="conv-1", now=WORKDAY_MORNING, **kwargs):
    kwargs.setdefault("products", [])
    return log_call(session, conversation_id=conversation, agent_id=client.agent_id, client=client,
                    outcome=outcome, started_at=now, now=now, objections=[], opening_style=None, **kwargs)


def _snapshot(session, client):
    """Everything logging may change for a client."""
    session.expire_all()
    client = session.get(Client, client.id)
    return (client.stage, client.do_not_call, sorted(h.product.code for h in client.holdings),
            [(c.conversation_id, c.disposition, c.notes) for c in
             session.scalars(select(Call).where(Call.client_id == client.id).order_by(Call.id))],
            [(f.id, f.status, f.due_at) for f in
             session.scalars(select(FollowUp).where(FollowUp.client_id == client.id).order_by(FollowUp.id))])


def test_two_clients_in_one_conversation_get_a_row_each(session):
    zhang, li = _client(session, "张三"), _client(session, "李四")
    first = _log(session, zhang, "deal", deal_product="PLATINUM_CARD", notes="张三办了白金卡",
                 products=["PLATINUM_CARD"])
    second = _log(session, li, "refused", notes="李四说不需要")
    assert first.created and second.created and first.call.id != second.call.id
    assert (crm.call_for(session, "conv-1", zhang.id).disposition, crm.call_for(session, "conv-1", li.id).disposition) \
        == ("deal", "refused")
    assert crm.call_for(session, "conv-1", zhang.id).notes == "张三办了白金卡"
    assert crm.call_for(session, "conv-1", li.id).notes == "李四说不需要"  # only her own note
    assert (zhang.stage, li.stage) == ("deal", "potential")  # 李四 was potential: a refusal never demotes
    assert "PLATINUM_CARD" in {h.product.code for h in zhang.holdings}
    assert "PLATINUM_CARD" not in {h.product.code for h in li.holdings}
    # Back to 张三 in the same conversation: his row is updated, his deal not counted twice.
    again = _log(session, zhang, "deal", deal_product="白金信用卡", notes="补充：年费已说明")
    assert not again.created and again.call.id == first.call.id and zhang.stage == "deal"
    assert again.call.notes == "张三办了白金卡\n补充：年费已说明"
    assert len(session.scalars(select(Call).where(Call.conversation_id == "conv-1")).all()) == 2


def test_a_deal_needs_a_catalogue_product_and_writes_nothing_without(session):
    zhang = _client(session, "张三")
    before = _snapshot(session, zhang)
    with pytest.raises(ProductNeeded, match="哪个产品"):
        _log(session, zhang, "deal", products=["PLATINUM_CARD"])  # discussed, but not confirmed
    with pytest.raises(ProductNeeded, match="黄金期货"):
        _log(session, zhang, "deal", deal_product="黄金期货")
    assert _snapshot(session, zhang) == before
    logged = _log(session, zhang, "deal", deal_product="白金卡", amount=None)  # an alias
    assert logged.product.code == "PLATINUM_CARD" and logged.call.products == ["PLATINUM_CARD"]


@pytest.mark.parametrize(
    ("name", "product", "problem"),
    [
        ("朱丽", "STEADY_WEALTH", "还没有有效的风险测评"),  # never assessed
        ("张三", "FUND_SIP", "高于客户的风险承受能力C2"),  # R3 above C2
    ],
)
def test_an_unsuitable_wealth_deal_is_refused_and_nothing_changes(session, name, product, problem):
    client = _client(session, name)
    session.add(FollowUp(client_id=client.id, agent_id=client.agent_id, due_at=WORKDAY_MORNING,
                         reason="上次约的回访", conversation_id="earlier"))
    session.flush()
    before = _snapshot(session, client)
    with pytest.raises(Unsuitable) as refused:
        _log(session, client, "deal", deal_product=product, amount=200000, notes="客户要买")
    assert problem in refused.value.reason and "手机银行" in refused.value.reason  # the next step
    assert _snapshot(session, client) == before


def test_a_suitable_wealth_deal_is_logged(session):
    zhang = _client(session, "张三")  # C2
    logged = _log(session, zhang, "deal", deal_product="稳享理财", amount=200000)  # R2
    held = {h.product.code: h.amount for h in zhang.holdings}
    assert logged.product.code == "STEADY_WEALTH" and held["STEADY_WEALTH"] == 200000


def test_a_deal_in_another_conversation_makes_a_loyal_client(session):
    liu = _client(session, "刘洋")
    _log(session, liu, "deal", conversation="c1", deal_product="PLATINUM_CARD")
    _log(session, liu, "deal", conversation="c1", deal_product="PLATINUM_CARD")  # same call, re-logged
    assert liu.stage == "deal"
    _log(session, liu, "deal", conversation="c2", deal_product="MOBILE_BANKING")
    assert liu.stage == "loyal"


def _book(session, client, when, conversation, now=WORKDAY_MORNING, agent_id=None):
    return crm.add_followup(session, client_id=client.id, agent_id=agent_id or client.agent_id, due_at=when,
                            reason="约回访", conversation_id=conversation, now=now)


@pytest.mark.parametrize(
    ("outcome", "stays_open"),
    [("callback", True), ("thinking", True), ("interested", True), ("deal", False), ("refused", False),
     ("no_answer", True), ("invalid_number", True)],  # not reached: no callback happened
)
def test_this_calls_booking_stays_open_only_when_the_outcome_promises_a_next_call(session, outcome, stays_open):
    zhang = _client(session, "张三")
    booking = _book(session, zhang, WORKDAY_MORNING + timedelta(hours=4), "conv-1")
    logged = _log(session, zhang, outcome, deal_product="PLATINUM_CARD" if outcome == "deal" else None)
    assert booking.followup.status == ("open" if stays_open else "done")
    assert logged.done_followups == (0 if stays_open else 1)


def test_an_outcome_in_a_later_call_closes_the_callback_it_answered(session):
    zhang = _client(session, "张三")
    booking = _book(session, zhang, WORKDAY_MORNING + timedelta(hours=1), "conv-1")  # due today
    later = WORKDAY_MORNING + timedelta(hours=2)
    logged = _log(session, zhang, "refused", conversation="conv-2", now=later)
    assert (booking.followup.status, booking.followup.closed_at, logged.done_followups) == ("done", later, 1)


@pytest.mark.parametrize("outcome", ["callback", "refused", "no_answer"])
def test_a_callback_agreed_for_a_later_day_survives_an_earlier_call(session, outcome):
    """李四 agreed on next Monday; a call today (whatever its outcome) was not that callback."""
    zhang = _client(session, "张三")
    booking = _book(session, zhang, datetime(2026, 11, 30, 10, 0), "conv-1")  # next week
    logged = _log(session, zhang, outcome, conversation="conv-2", now=WORKDAY_MORNING + timedelta(hours=2))
    assert (booking.followup.status, logged.done_followups) == ("open", 0)


def test_do_not_call_cancels_the_open_follow_up(session):
    zhao = _client(session, "赵敏")
    booking = _book(session, zhao, WORKDAY_MORNING + timedelta(days=1), "conv-1")
    logged = _log(session, zhao, "do_not_call", conversation="conv-2")
    assert (booking.followup.status, logged.cancelled_followups, zhao.do_not_call) == ("cancelled", 1, True)


def test_correcting_a_deal_undoes_its_holding_and_stage(session):
    """成交 logged by mistake, corrected to 拒绝 in the same call: no sale remains in the CRM."""
    liu = _client(session, "刘洋")  # 一般客户, holds nothing
    _log(session, liu, "deal", deal_product="MOBILE_BANKING")
    assert (liu.stage, [h.product.code for h in liu.holdings]) == ("deal", ["MOBILE_BANKING"])
    _log(session, liu, "deal", deal_product="PLATINUM_CARD")  # the other product, in fact
    assert (liu.stage, [h.product.code for h in liu.holdings]) == ("deal", ["PLATINUM_CARD"])
    _log(session, liu, "refused")
    assert (liu.stage, liu.holdings) == ("general", [])


def test_a_deal_below_the_products_minimum_is_refused(session):
    zhang = _client(session, "张三")
    before = _snapshot(session, zhang)
    with pytest.raises(OutcomeRefused, match="起点金额"):
        _log(session, zhang, "deal", deal_product="LARGE_CD", amount=50000)
    assert _snapshot(session, zhang) == before
    assert _log(session, zhang, "deal", deal_product="LARGE_CD", amount=200000).product.code == "LARGE_CD"


def test_the_dashboards_counts_follow_every_logged_and_corrected_outcome(session):
    """The dashboard reads counts kept as outcomes are logged (bot.call_counts): after logging and
    correcting calls they equal the counts computed again from the call rows, and a corrected outcome
    counts once, as what it became."""
    from bot import call_counts
    from bot.analytics import dashboard_data
    from bot.auth import Identity

    zhang, li = _client(session, "张三"), _client(session, "李四")
    log_call(session, conversation_id="count-1", agent_id=zhang.agent_id, client=zhang, outcome="interested",
             started_at=WORKDAY_MORNING, now=WORKDAY_MORNING, objections=["objection_busy", "objection_busy"],
             opening_style="direct", products=[])
    log_call(session, conversation_id="count-2", agent_id=li.agent_id, client=li, outcome="refused",
             started_at=WORKDAY_MORNING, now=WORKDAY_MORNING, objections=["objection_price"],
             opening_style="self_intro", products=[])
    # The first call corrected: 有意向 -> 成交 (the call's objections and opening, as the chat passes them).
    log_call(session, conversation_id="count-1", agent_id=zhang.agent_id, client=zhang, outcome="deal",
             deal_product="PLATINUM_CARD", started_at=WORKDAY_MORNING, now=WORKDAY_MORNING,
             objections=["objection_busy"], opening_style="direct", products=[])
    kept = call_counts.read(session, None)
    call_counts.rebuild(session)
    assert sorted(map(sorted, kept.values())) == sorted(map(sorted, call_counts.read(session, None).values()))
    board = dashboard_data(session, Identity("super01", "supervisor", "郑主管"))
    direct = {row["key"]: row for row in board["conversion"]["by_opening"]}["direct"]
    assert (direct["calls"], direct["deals"], direct["interested"]) == (1, 1, 0)
    assert board["objections"] == {"objection_busy": 1, "objection_price": 1}  # an objection counts once a call
    assert sum(row["calls"] for row in board["conversion"]["by_segment"]) >= 2
