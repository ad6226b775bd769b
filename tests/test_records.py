"""Exact records through the actions: one call row per client per conversation, the deal for the
product the agent confirms, suitability before a wealth deal, one open follow-up per client."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import select

from actions.followups import ActionListFollowups, ActionScheduleCallback
from actions.guidance import ActionProductPitch
from actions.lookup import ActionLookupClient
from actions.outcome import ActionLogOutcome
from bot import crm
from bot.db import sessions
from bot.models import Call, Client, FollowUp
from bot.profile import ProductInfo, Profile, suitable
from tests.actions_helper import Conversation, texts
from tests.conftest import WORKDAY_MORNING


async def _looked_up(name: str, conversation: Conversation | None = None, **kwargs) -> Conversation:
    conversation = conversation or Conversation(**kwargs)
    await conversation.run(ActionLookupClient(), f"查一下{name}", "lookup_client", client_name=name)
    return conversation


def _crm_of(url: str, name: str) -> tuple:
    """What logging may change for a client: stage, flag, holdings, call rows, follow-ups."""
    with sessions(url).begin() as session:
        client = session.scalars(select(Client).where(Client.name == name)).one()
        calls = session.scalars(select(Call).where(Call.client_id == client.id).order_by(Call.id)).unique()
        followups = session.scalars(select(FollowUp).where(FollowUp.client_id == client.id)
                                    .order_by(FollowUp.id)).unique()
        return (client.stage, client.do_not_call, sorted(h.product.code for h in client.holdings),
                [(c.conversation_id, c.disposition, c.notes) for c in calls],
                [(f.status, f.due_at) for f in followups])


def _followups(url: str, name: str) -> list[tuple[str, datetime]]:
    return _crm_of(url, name)[4]


async def test_two_clients_in_one_conversation_keep_their_own_rows(crm_url, frozen_clock):
    call = await _looked_up("张三", sender_id="two-clients")
    await call.run(ActionProductPitch(), "白金信用卡怎么介绍", "request_product_pitch", product="白金信用卡")
    deal = await call.run(ActionLogOutcome(), "张三成交了，办白金信用卡", "log_outcome", outcome="deal",
                          product="白金信用卡")
    assert deal[0]["response"] == "utter_outcome_logged" and deal[0]["custom"]["product"] == "PLATINUM_CARD"
    await _looked_up("李四", call)
    refused = await call.run(ActionLogOutcome(), "李四拒绝了，说不需要", "log_outcome", outcome="refused")
    assert refused[0]["response"] == "utter_outcome_logged"  # her own row, not an update of his

    zhang, li = _crm_of(crm_url, "张三"), _crm_of(crm_url, "李四")
    assert zhang[3] == [("two-clients", "deal", "张三成交了，办白金信用卡")]
    assert li[3] == [("two-clients", "refused", "李四拒绝了，说不需要")]
    assert zhang[0] == "deal" and "PLATINUM_CARD" in zhang[2]
    assert li[0] == "potential" and "PLATINUM_CARD" not in li[2]  # a refusal neither demotes nor sells
    with sessions(crm_url).begin() as session:
        rows = session.scalars(select(Call).where(Call.conversation_id == "two-clients")).unique().all()
        assert {r.client.name: r.products for r in rows} == {"张三": ["PLATINUM_CARD"], "李四": []}


async def test_a_deal_without_a_product_asks_which_and_writes_nothing(crm_url, frozen_clock):
    call = await _looked_up("张三")
    for product in ("大额存单", "白金信用卡"):
        await call.run(ActionProductPitch(), f"{product}怎么介绍", "request_product_pitch", product=product)
    before = _crm_of(crm_url, "张三")
    asked = await call.run(ActionLogOutcome(), "成交了，二十万", "log_outcome", outcome="deal", amount="二十万")
    assert "哪个产品" in asked[0]["text"] and asked[0]["custom"]["type"] == "outcome_needs_product"
    # The products of this call, the one under discussion first; the amount rides along.
    assert [b["title"] for b in asked[0]["buttons"]] == ["成交：白金信用卡", "成交：大额存单"]
    payload = asked[0]["buttons"][1]["payload"]
    assert payload.startswith("/log_outcome{")
    entities = json.loads(payload.removeprefix("/log_outcome"))
    assert entities == {"outcome": "deal", "product": "大额存单", "amount": "200000"}
    assert _crm_of(crm_url, "张三") == before and call.slots.get("call_phase") != "ended"

    done = await call.run(ActionLogOutcome(), payload, "log_outcome", **entities)
    assert done[0]["response"] == "utter_outcome_logged" and "成交产品：大额存单" in texts(done)
    stage, _dnc, holdings, calls, _f = _crm_of(crm_url, "张三")
    assert stage == "deal" and "LARGE_CD" in holdings and "PLATINUM_CARD" not in holdings
    assert [c[1] for c in calls] == ["deal"] and call.slots["call_phase"] == "ended"
    with sessions(crm_url).begin() as session:
        zhang = session.scalars(select(Client).where(Client.name == "张三")).one()
        held = {h.product.code: h.amount for h in zhang.holdings}
    assert held["LARGE_CD"] == 200000


async def test_nothing_discussed_offers_the_products_that_fit_the_client(crm_url, frozen_clock):
    call = await _looked_up("朱丽", login="agent02")  # no risk assessment: no wealth product offered
    asked = await call.run(ActionLogOutcome(), "成交了", "log_outcome", outcome="deal")
    names = [b["title"].removeprefix("成交：") for b in asked[0]["buttons"]]
    assert names and all(b["title"].startswith("成交：") for b in asked[0]["buttons"])
    with sessions(crm_url).begin() as session:
        zhu = Profile.from_row(session.scalars(select(Client).where(Client.name == "朱丽")).one())
        catalogue = {p.name: ProductInfo.from_row(p) for p in crm.catalogue(session)}
    assert all(suitable(zhu, catalogue[name]) for name in names)
    assert _crm_of(crm_url, "朱丽")[3] == []


async def test_an_unknown_product_is_not_logged(crm_url, frozen_clock):
    call = await _looked_up("张三")
    asked = await call.run(ActionLogOutcome(), "成交了黄金期货", "log_outcome", outcome="deal", product="黄金期货")
    assert "没有“黄金期货”" in asked[0]["text"] and asked[0]["buttons"]
    assert _crm_of(crm_url, "张三")[3] == []


async def test_a_wealth_deal_the_client_may_not_buy_is_refused_with_the_next_step(crm_url, frozen_clock):
    zhu_call = await _looked_up("朱丽", login="agent02")
    before = _crm_of(crm_url, "朱丽")
    refused = await zhu_call.run(ActionLogOutcome(), "成交了，稳享理财", "log_outcome", outcome="deal",
                                 product="稳享理财")
    text = texts(refused)
    assert "还没有有效的风险测评" in text and "手机银行或到网点完成风险测评" in text and "没有记录成交" in text
    assert refused[0]["custom"]["type"] == "outcome_refused"
    assert _crm_of(crm_url, "朱丽") == before and zhu_call.slots.get("call_phase") != "ended"

    zhang_call = await _looked_up("张三")  # C2
    fund = await zhang_call.run(ActionLogOutcome(), "成交了，基金定投", "log_outcome", outcome="deal",
                                product="基金定投")
    assert "R3" in texts(fund) and "C2" in texts(fund) and _crm_of(crm_url, "张三")[3] == []
    wealth = await zhang_call.run(ActionLogOutcome(), "成交了，稳享理财", "log_outcome", outcome="deal",
                                  product="稳享理财")
    assert wealth[0]["response"] == "utter_outcome_logged"
    assert "STEADY_WEALTH" in _crm_of(crm_url, "张三")[2] and "FUND_SIP" not in _crm_of(crm_url, "张三")[2]


async def test_follow_up_life_booked_moved_done_cancelled(crm_url, frozen_clock):
    monday, tuesday = WORKDAY_MORNING, WORKDAY_MORNING + timedelta(days=1)
    first = await _looked_up("张三", sender_id="monday")
    booked = await first.run(ActionScheduleCallback(), "约他今天下午两点再打", "schedule_callback",
                             time="今天下午两点")
    assert booked[0]["response"] == "utter_callback_booked"
    assert _followups(crm_url, "张三") == [("open", monday.replace(hour=14))]

    moved = await first.run(ActionScheduleCallback(), "改到明天上午十点", "schedule_callback", time="明天上午十点")
    assert "已把张三的回访从今天14:00改到明天10:00" in moved[0]["text"]
    assert moved[0]["custom"]["moved_from"] == "2026-11-23T14:00"
    assert _followups(crm_url, "张三") == [("open", tuesday)]  # moved, not a second row

    # Tuesday: the agent calls back; logging the outcome closes the callback as done.
    frozen_clock(tuesday + timedelta(minutes=5))
    second = await _looked_up("张三", sender_id="tuesday")
    logged = await second.run(ActionLogOutcome(), "记一下，客户有意向", "log_outcome", outcome="interested")
    assert "1个待办回访已标记为完成" in texts(logged)
    assert _followups(crm_url, "张三") == [("done", tuesday)]

    again = await second.run(ActionScheduleCallback(), "约他明天下午三点", "schedule_callback", time="明天下午三点")
    assert again[0]["response"] == "utter_callback_booked"  # a new callback: the last one is done
    wednesday_3pm = datetime(2026, 11, 25, 15, 0)
    assert _followups(crm_url, "张三") == [("done", tuesday), ("open", wednesday_3pm)]

    dnc = await second.run(ActionLogOutcome(), "客户要求别再打了", "log_outcome", outcome="do_not_call")
    assert "取消1个待办回访" in texts(dnc)
    assert _followups(crm_url, "张三") == [("done", tuesday), ("cancelled", wednesday_3pm)]


async def test_only_open_past_due_follow_ups_are_listed_as_overdue(crm_url, frozen_clock):
    now = WORKDAY_MORNING
    with sessions(crm_url).begin() as session:
        clients = {c.name: c for c in session.scalars(select(Client)).unique()}

        def book(name, due_at):
            client = clients[name]
            return crm.add_followup(session, client_id=client.id, agent_id=client.agent_id, due_at=due_at,
                                    reason=f"回访{name}").followup

        book("李四", now - timedelta(hours=1))  # open, overdue
        book("刘洋", now + timedelta(hours=2))  # open, later today
        book("张三", now - timedelta(hours=2)).close("done", now)
        book("赵敏", now - timedelta(hours=2)).close("cancelled", now)
    messages = await Conversation(sender_id="list").run(ActionListFollowups(), "今天要回访哪些客户",
                                                        "list_followups")
    items = {i["client"]: i for i in messages[0]["custom"]["items"]}
    assert set(items) == {"李四", "刘洋"}  # done and cancelled never show
    assert (items["李四"]["overdue"], items["李四"]["status"]) == (True, "open")
    assert (items["刘洋"]["overdue"], items["刘洋"]["status"]) == (False, "open")
    lines = messages[0]["items"].splitlines()
    assert [line for line in lines if "（已逾期）" in line] == [next(line for line in lines if "李四" in line)]
