"""Contact limits (issue 19, part 4): calling hours, calls per day and per week, cooling-off after a
refusal; on the injected clock (frozen Monday 2026-11-23 10:00) with the real SQLite CRM."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from actions.followups import ActionScheduleCallback
from actions.guidance import ActionHandleObjection, ActionNextAdvantage, ActionProductPitch, ActionSuggestOpening
from actions.lookup import ActionLookupClient
from actions.outcome import ActionLogOutcome
from bot import contact_policy
from bot.db import sessions
from bot.guidance import callback_due
from bot.models import Call, Client, FollowUp, User
from bot.settings import SettingError, contact_limits
from tests.actions_helper import Conversation, texts
from tests.conftest import WORKDAY_MORNING

MONDAY = WORKDAY_MORNING  # 2026-11-23 10:00


async def _looked_up(name: str, sender_id: str, login: str = "agent01") -> tuple[Conversation, list]:
    conversation = Conversation(sender_id=sender_id, login=login)
    card = await conversation.run(ActionLookupClient(), f"查一下{name}", "lookup_client", client_name=name)
    return conversation, card


async def _marketing_call(name: str, sender_id: str, outcome: str = "interested") -> None:
    """A call with an opening, its outcome logged: one marketing call."""
    conversation, _card = await _looked_up(name, sender_id)
    opening = await conversation.run(ActionSuggestOpening(), "开场白怎么说", "request_opening")
    assert opening[0]["custom"]["type"] == "script"
    await conversation.run(ActionLogOutcome(), "记一下", "log_outcome", outcome=outcome)


def _add_calls(url: str, name: str, moments: list[datetime], **fields) -> None:
    """Earlier logged calls with an opening (as the actions would have written them)."""
    with sessions(url).begin() as session:
        client = session.scalars(select(Client).where(Client.name == name)).one()
        agent = session.scalars(select(User).where(User.login == "agent01")).one()
        for i, at in enumerate(moments):
            values = {"disposition": "interested", "opening_style": "direct", "products": ["LARGE_CD"], **fields}
            session.add(Call(conversation_id=f"earlier-{name}-{i}", client_id=client.id, agent_id=agent.id,
                             started_at=at, ended_at=at + timedelta(minutes=5), **values))


def _blocked(messages: list) -> dict | None:
    custom = messages[0].get("custom") or {}
    return custom if custom.get("type") == "contact_blocked" else None


# --- calling hours ---------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("moment", "allowed", "next_allowed"),
    [
        (datetime(2026, 11, 23, 8, 59), False, "2026-11-23T09:00"),  # a minute early
        (datetime(2026, 11, 23, 9, 0), True, None),  # the start is inside
        (datetime(2026, 11, 23, 20, 59), True, None),  # the last minute
        (datetime(2026, 11, 23, 21, 0), False, "2026-11-24T09:00"),  # the end is outside: tomorrow
    ],
)
async def test_calling_hours_edges(crm_url, frozen_clock, moment, allowed, next_allowed):
    frozen_clock(moment)
    conversation, card = await _looked_up("张三", "call-hours")
    assert card[0]["custom"]["client"]["contact"]["allowed"] is allowed
    messages = await conversation.run(ActionSuggestOpening(), "开场白怎么说", "request_opening")
    blocked = _blocked(messages)
    if allowed:
        assert blocked is None and messages[0]["custom"]["type"] == "script"
        assert card[0]["buttons"]  # opening, first point
        return
    assert blocked["rules"] == ["hours"] and blocked["next_allowed"] == next_allowed
    assert "不在营销外呼时间（09:00-21:00）内" in messages[0]["text"]
    assert "不提供开场白" in messages[0]["text"]
    assert not card[0]["buttons"]  # nothing to press while the client may not be called
    assert conversation.slots.get("opening_styles_used") in (None, [])  # no opening was given
    # The pitch path gives no line either: a pitch would start the marketing call as well.
    pitch = await conversation.run(ActionNextAdvantage(), "第一个卖点", "request_next_advantage")
    assert _blocked(pitch) is not None


def test_calling_hours_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("SALESBOT_CALLING_HOURS", "10:00-18:30")
    limits = contact_limits()
    assert contact_policy.in_calling_hours(datetime(2026, 11, 23, 18, 29), limits)
    assert not contact_policy.in_calling_hours(datetime(2026, 11, 23, 18, 30), limits)
    assert not contact_policy.in_calling_hours(datetime(2026, 11, 23, 9, 59), limits)
    # An objection's callback keeps clear of the edges: 30 minutes after the start, 1 hour before the end.
    assert callback_due("objection_busy", datetime(2026, 11, 23, 17, 0)) == datetime(2026, 11, 24, 10, 30)
    assert callback_due("objection_busy", datetime(2026, 11, 23, 6, 0)) == datetime(2026, 11, 23, 10, 30)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SALESBOT_CALLING_HOURS", "9-21"),  # not HH:MM
        ("SALESBOT_CALLING_HOURS", "21:00-09:00"),  # the end before the start
        ("SALESBOT_CALLING_HOURS", "09:00-25:00"),  # no such hour
        ("SALESBOT_MAX_CALLS_PER_DAY", "one"),
        ("SALESBOT_MAX_CALLS_PER_WEEK", "-1"),
        ("SALESBOT_COOLING_OFF_DAYS", "3.5"),
    ],
)
def test_a_malformed_limit_stops_salesbot_prepare(monkeypatch, tmp_path, name, value):
    from bot.provision import prepare

    monkeypatch.setenv("SALESBOT_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("SALESBOT_DB_URL", f"sqlite:///{tmp_path / 'crm.sqlite3'}")
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingError, match=name):
        contact_limits()
    with pytest.raises(SettingError, match=name):
        prepare(verbose=False)  # at start-up, before anything is written
    assert not (tmp_path / "crm.sqlite3").exists()


def test_the_defaults(monkeypatch):
    for name in ("SALESBOT_CALLING_HOURS", "SALESBOT_MAX_CALLS_PER_DAY", "SALESBOT_MAX_CALLS_PER_WEEK",
                 "SALESBOT_COOLING_OFF_DAYS"):
        monkeypatch.delenv(name, raising=False)
    limits = contact_limits()
    assert contact_policy.hours_label(limits) == "09:00-21:00"
    assert (limits.max_calls_per_day, limits.max_calls_per_week, limits.cooling_off_days) == (1, 3, 30)


# --- calls per day and per week --------------------------------------------------------------------

async def test_one_marketing_call_a_day_and_the_call_in_progress_never_counts(crm_url, frozen_clock):
    first, _card = await _looked_up("张三", "call-1")
    opening = await first.run(ActionSuggestOpening(), "开场白怎么说", "request_opening")
    assert opening[0]["custom"]["type"] == "script"
    await first.run(ActionLogOutcome(), "记一下，客户有意向", "log_outcome", outcome="interested")
    # The same conversation goes on: its own opening is not a previous call.
    again = await first.run(ActionSuggestOpening(), "换一个开场白", "request_opening")
    assert again[0]["custom"]["type"] == "script"
    looked_again = await first.run(ActionLookupClient(), "查一下张三", "lookup_client", client_name="张三")
    assert looked_again[0]["custom"]["client"]["contact"]["allowed"] is True

    frozen_clock(MONDAY + timedelta(hours=5))  # 15:00, another call
    second, card = await _looked_up("张三", "call-2")
    contact = card[0]["custom"]["client"]["contact"]
    assert contact["allowed"] is False and contact["rules"] == ["per_day"]
    assert contact["next_allowed"] == "2026-11-24T09:00"
    assert "今天已给张三打过1次营销电话（每天最多1次）" in card[0]["text"]
    assert "最早可以在明天09:00来电" in card[0]["text"]
    messages = await second.run(ActionSuggestOpening(), "开场白怎么说", "request_opening")
    assert _blocked(messages)["rules"] == ["per_day"]

    frozen_clock(datetime(2026, 11, 24, 9, 0))  # the next morning
    third, card = await _looked_up("张三", "call-3")
    assert card[0]["custom"]["client"]["contact"]["allowed"] is True
    assert (await third.run(ActionSuggestOpening(), "开场白", "request_opening"))[0]["custom"]["type"] == "script"


@pytest.mark.parametrize("action", ["opening", "pitch"])
async def test_an_opening_or_a_pitch_counts_even_if_no_outcome_is_ever_logged(crm_url, frozen_clock, action):
    first, _card = await _looked_up("张三", "call-unlogged")
    if action == "opening":
        given = await first.run(ActionSuggestOpening(), "开场白怎么说", "request_opening")
    else:
        given = await first.run(ActionNextAdvantage(), "讲一个卖点", "request_next_advantage")
    assert given[0]["custom"]["type"] == "script"
    # No outcome logged: the agent hung up and moved on. Later the same day, another conversation.
    frozen_clock(MONDAY + timedelta(hours=2))
    second, card = await _looked_up("张三", "call-later")
    assert card[0]["custom"]["client"]["contact"]["rules"] == ["per_day"]
    assert _blocked(await second.run(ActionSuggestOpening(), "开场白怎么说", "request_opening"))


async def test_a_lookup_alone_is_no_marketing_call(crm_url, frozen_clock):
    await _looked_up("张三", "call-lookup-only")
    frozen_clock(MONDAY + timedelta(hours=2))
    _second, card = await _looked_up("张三", "call-later")
    assert card[0]["custom"]["client"]["contact"]["allowed"] is True


async def test_calls_that_never_reached_the_customer_do_not_count(crm_url, frozen_clock):
    _add_calls(crm_url, "张三", [MONDAY - timedelta(hours=1)], disposition="no_answer")
    _add_calls(crm_url, "李四", [MONDAY - timedelta(hours=1)], opening_style=None, products=[])  # no line given
    for name in ("张三", "李四"):
        _conversation, card = await _looked_up(name, f"call-{name}")
        assert card[0]["custom"]["client"]["contact"]["allowed"] is True


async def test_three_marketing_calls_in_seven_rolling_days(crm_url, frozen_clock):
    # Wednesday, Friday and Sunday of the week before: three calls in the last seven days.
    _add_calls(crm_url, "张三", [datetime(2026, 11, 18, 15, 0), datetime(2026, 11, 20, 11, 0),
                                datetime(2026, 11, 22, 10, 0)])
    conversation, card = await _looked_up("张三", "call-week")
    contact = card[0]["custom"]["client"]["contact"]
    assert contact["rules"] == ["per_week"]
    # Rolling, not the calendar week: Monday is no fresh start; the Wednesday call drops out at 15:00.
    assert contact["next_allowed"] == "2026-11-25T15:00"
    assert "最近7天已给张三打过3次营销电话（7天内最多3次）" in card[0]["text"]
    assert _blocked(await conversation.run(ActionSuggestOpening(), "开场白", "request_opening"))
    frozen_clock(datetime(2026, 11, 25, 15, 0))
    _conversation, card = await _looked_up("张三", "call-week-later")
    assert card[0]["custom"]["client"]["contact"]["allowed"] is True


def test_next_allowed_moment_respects_both_counts_and_the_hours(monkeypatch):
    limits = contact_limits()
    starts = [datetime(2026, 11, 17, 20, 30), datetime(2026, 11, 20, 11, 0), datetime(2026, 11, 23, 9, 30)]
    # Today's call (day limit) and three in the week: the 17th's call leaves at 20:30 on the 24th.
    assert contact_policy.next_allowed(MONDAY, starts, limits) == datetime(2026, 11, 24, 20, 30)
    monkeypatch.setenv("SALESBOT_CALLING_HOURS", "09:00-20:00")
    # ... and that is after the hours: the next morning.
    assert contact_policy.next_allowed(MONDAY, starts, contact_limits()) == datetime(2026, 11, 25, 9, 0)


@pytest.mark.parametrize("name", ["SALESBOT_MAX_CALLS_PER_DAY", "SALESBOT_MAX_CALLS_PER_WEEK"])
async def test_zero_turns_a_count_limit_off(crm_url, frozen_clock, monkeypatch, name):
    monkeypatch.setenv(name, "0")
    # Three calls this morning: over both limits while both are on.
    _add_calls(crm_url, "张三", [MONDAY - timedelta(minutes=m) for m in (20, 40, 55)])
    _conversation, card = await _looked_up("张三", "call-zero")
    contact = card[0]["custom"]["client"]["contact"]
    off = "per_day" if name == "SALESBOT_MAX_CALLS_PER_DAY" else "per_week"
    assert off not in contact["rules"] and contact["rules"]  # the other limit still applies
    monkeypatch.setenv("SALESBOT_MAX_CALLS_PER_DAY", "0")
    monkeypatch.setenv("SALESBOT_MAX_CALLS_PER_WEEK", "0")
    conversation, card = await _looked_up("张三", "call-zero-both")
    assert card[0]["custom"]["client"]["contact"]["allowed"] is True
    assert "每天最多不限" in card[0]["custom"]["client"]["contact"]["limits"]
    opening = await conversation.run(ActionSuggestOpening(), "开场白", "request_opening")
    assert opening[0]["custom"]["type"] == "script"


async def test_an_agreed_callback_is_not_counted_and_may_be_made_when_due(crm_url, frozen_clock, monkeypatch):
    monkeypatch.setenv("SALESBOT_MAX_CALLS_PER_WEEK", "2")
    first, _card = await _looked_up("张三", "call-busy")
    await first.run(ActionSuggestOpening(), "开场白怎么说", "request_opening")
    await first.run(ActionHandleObjection(), "客户说在开会", "objection_busy")  # callback at 11:00
    await first.run(ActionLogOutcome(), "记一下，约回访", "log_outcome", outcome="callback")

    frozen_clock(MONDAY + timedelta(minutes=30))  # 10:30: the day's call is made, the callback not yet due
    early, card = await _looked_up("张三", "call-early")
    contact = card[0]["custom"]["client"]["contact"]
    assert contact["allowed"] is False and contact["agreed_callback"] == "2026-11-23T11:00"
    assert contact["next_allowed"] == "2026-11-23T10:45"  # a little before the agreed time
    assert "客户约定的回访在今天11:00" in card[0]["text"]

    frozen_clock(MONDAY + timedelta(hours=1))  # 11:00: the agreed callback, whatever the day's count
    back, card = await _looked_up("张三", "call-back")
    assert card[0]["custom"]["client"]["contact"]["allowed"] is True
    opening = await back.run(ActionSuggestOpening(), "开场白怎么说", "request_opening")
    assert opening[0]["custom"]["key"] == "callback"
    await back.run(ActionLogOutcome(), "记一下，客户有意向", "log_outcome", outcome="interested")

    # The next day: one marketing call in the week (the callback is not one), under the limit of 2.
    frozen_clock(datetime(2026, 11, 24, 10, 0))
    _next_day, card = await _looked_up("张三", "call-tuesday")
    assert card[0]["custom"]["client"]["contact"]["allowed"] is True


# --- cooling-off after a refusal -------------------------------------------------------------------

async def _refused(product: str, sender_id: str = "call-refused") -> None:
    conversation, _card = await _looked_up("张三", sender_id)
    pitch = await conversation.run(ActionProductPitch(), f"{product}怎么介绍", "request_product_pitch",
                                   product=product)
    assert product in pitch[0]["text"]
    await conversation.run(ActionHandleObjection(), "客户说不需要", "objection_not_interested")
    await conversation.run(ActionLogOutcome(), "记一下，客户拒绝了", "log_outcome", outcome="refused")


async def test_a_refused_product_is_not_pitched_again_during_cooling_off(crm_url, frozen_clock):
    await _refused("大额存单")
    frozen_clock(datetime(2026, 11, 25, 10, 0))  # two days on: a call is allowed, not that product
    conversation, card = await _looked_up("张三", "call-again")
    contact = card[0]["custom"]["client"]["contact"]
    assert contact["allowed"] is True
    assert [c["product"] for c in contact["cooling_off"]] == ["LARGE_CD"]
    assert contact["cooling_off"][0]["until"] == "2026-12-23T10:00"
    assert "冷静期内不再推介：大额存单（11月23日被拒绝，冷静期到12月23日）" in card[0]["text"]
    assert all(p["code"] != "LARGE_CD" for p in card[0]["custom"].get("recommended_products", []))
    # Asked for by name: refused with the reason, another suitable product instead.
    pitch = await conversation.run(ActionProductPitch(), "大额存单怎么介绍", "request_product_pitch",
                                   product="大额存单")
    script = pitch[0]["custom"]
    assert "客户11月23日拒绝过大额存单，冷静期到12月23日，这次不推介大额存单。已改为介绍" in texts(pitch)
    assert "大额存单" not in script["text"] and script["type"] == "script"
    assert not any(p.startswith("LARGE_CD") for p in conversation.slots["used_selling_points"])
    # Another product may be offered.
    other = await conversation.run(ActionProductPitch(), "白金信用卡怎么介绍", "request_product_pitch",
                                   product="白金信用卡")
    assert "白金信用卡卖点1/3" in other[0]["text"] and "冷静期" not in texts(other)


async def test_the_opening_avoids_a_product_in_cooling_off(crm_url, frozen_clock):
    await _refused("大额存单")
    frozen_clock(datetime(2026, 11, 24, 10, 0))
    conversation, _card = await _looked_up("张三", "call-opening")
    for _ in range(4):
        opening = await conversation.run(ActionSuggestOpening(), "开场白", "request_opening")
        assert "大额存单" not in opening[0]["custom"]["text"]


async def test_cooling_off_ends_and_zero_means_none(crm_url, frozen_clock, monkeypatch):
    await _refused("大额存单")
    frozen_clock(datetime(2026, 12, 23, 10, 0))  # 30 days on: over
    _conversation, card = await _looked_up("张三", "call-later")
    assert card[0]["custom"]["client"]["contact"]["cooling_off"] == []
    frozen_clock(datetime(2026, 11, 24, 10, 0))
    monkeypatch.setenv("SALESBOT_COOLING_OFF_DAYS", "0")
    conversation, card = await _looked_up("张三", "call-no-cooling")
    assert card[0]["custom"]["client"]["contact"]["cooling_off"] == []
    pitch = await conversation.run(ActionProductPitch(), "大额存单怎么介绍", "request_product_pitch",
                                   product="大额存单")
    assert "大额存单卖点1/3" in pitch[0]["text"]


async def test_not_interested_cools_off_the_products_of_that_call(crm_url, frozen_clock):
    # "不需要" logged as 考虑中: still a refusal of what was pitched (the objection decides).
    _add_calls(crm_url, "张三", [datetime(2026, 11, 20, 10, 0)], disposition="thinking",
               objections=["objection_not_interested"], products=["PLATINUM_CARD"])
    _add_calls(crm_url, "李四", [datetime(2026, 11, 20, 10, 0)], disposition="thinking",
               objections=["objection_think_it_over"], products=["PLATINUM_CARD"])
    _conversation, card = await _looked_up("张三", "call-a")
    assert [c["product"] for c in card[0]["custom"]["client"]["contact"]["cooling_off"]] == ["PLATINUM_CARD"]
    _conversation, card = await _looked_up("李四", "call-b")
    assert card[0]["custom"]["client"]["contact"]["cooling_off"] == []


# --- callbacks only inside the calling hours -------------------------------------------------------

@pytest.mark.parametrize(
    ("phrase", "proposed"),
    [
        ("2026-11-23T21:30", ["2026-11-23T20:45", "2026-11-24T09:00"]),  # tonight: just before the end first
        ("2026-11-24T08:00", ["2026-11-24T09:00", "2026-11-23T20:45"]),  # early: the opening first
    ],
)
async def test_a_callback_outside_the_hours_is_not_booked(crm_url, frozen_clock, phrase, proposed):
    conversation, _card = await _looked_up("张三", "call-book")
    messages = await conversation.run(ActionScheduleCallback(), f"约他{phrase}再打", "schedule_callback",
                                      time=phrase)
    assert "不在营销外呼时间（09:00-21:00）内，这次没有预约回访" in messages[0]["text"]
    assert messages[0]["custom"]["proposed"] == proposed
    assert [b["payload"] for b in messages[0]["buttons"]] == [
        f'/schedule_callback{{"time": "{t}"}}' for t in proposed]
    with sessions(crm_url).begin() as session:
        assert session.scalars(select(FollowUp)).all() == []
    # The proposed time books.
    booked = await conversation.run(ActionScheduleCallback(), messages[0]["buttons"][0]["payload"],
                                    "schedule_callback", time=proposed[0])
    assert booked[0]["response"] == "utter_callback_booked"
    with sessions(crm_url).begin() as session:
        assert [f.due_at.isoformat(timespec="minutes") for f in session.scalars(select(FollowUp))] == [proposed[0]]


async def test_a_callback_spoken_in_the_evening_is_refused(crm_url, frozen_clock):
    conversation, _card = await _looked_up("张三", "call-evening")
    messages = await conversation.run(ActionScheduleCallback(), "约他今晚九点半再打", "schedule_callback",
                                      time="今晚九点半")
    assert "不在营销外呼时间" in messages[0]["text"] and "今天20:45" in messages[0]["text"]


def test_nearest_times_never_in_the_past():
    limits = contact_limits()
    late = datetime(2026, 11, 23, 20, 50)
    assert contact_policy.nearest_calling_times(datetime(2026, 11, 23, 21, 30), late, limits) == [
        datetime(2026, 11, 24, 9, 0)]
