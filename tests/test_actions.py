"""Custom actions against a real SQLite CRM, driven with rasa_sdk's Tracker and CollectingDispatcher."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from actions.followups import ActionListFollowups, ActionScheduleCallback
from actions.guidance import ActionHandleObjection, ActionNextAdvantage, ActionProductPitch, ActionSuggestOpening
from actions.lookup import ActionLookupClient
from actions.outcome import ActionLogOutcome
from bot.db import sessions
from bot.models import Call, Client, FollowUp, User
from tests.actions_helper import Conversation, texts
from tests.conftest import WORKDAY_MORNING


def _one(url, stmt):
    with sessions(url).begin() as session:
        return session.scalars(stmt).unique().all()


async def _looked_up(name: str, **kwargs) -> Conversation:
    conversation = Conversation(**kwargs)
    await conversation.run(ActionLookupClient(), f"查一下{name}", "lookup_client", client_name=name)
    return conversation


async def test_lookup_by_name_shows_the_client_card(crm_url):
    conversation = Conversation()
    messages = await conversation.run(ActionLookupClient(), "查一下张三的资料", "lookup_client", client_name="张三")
    card = messages[0]["custom"]
    assert card["type"] == "client_card"
    assert card["client"]["name"] == "张三" and card["client"]["stage"] == "general"
    assert "张三" in messages[0]["text"] and "一般客户" in messages[0]["text"]
    assert conversation.slots["current_client_name"] == "张三"
    assert messages[0]["buttons"]  # quick replies: opening, selling point


async def test_another_agents_client_shows_name_stage_and_owner_only(crm_url):
    conversation = Conversation(login="agent02")
    messages = await conversation.run(ActionLookupClient(), "查一下张三", "lookup_client", client_name="张三")
    card = messages[0]["custom"]["client"]
    assert card["name"] == "张三" and card["stage"] == "general" and card["agent_name"] == "李明"
    assert not {"phone", "assets", "annual_income", "note", "holdings"} & set(card)
    assert "李明负责" in messages[0]["text"] and "138" not in texts(messages)
    assert "current_client_id" not in conversation.slots  # not this agent's call
    own = await Conversation(login="agent01").run(ActionLookupClient(), "查一下张三", "lookup_client",
                                                  client_name="张三")
    assert own[0]["custom"]["client"]["phone"] == "13800000001"


async def test_lookup_by_phone(crm_url):
    conversation = Conversation()
    messages = await conversation.run(ActionLookupClient(), "查13800000002", "lookup_client", phone="13800000002")
    assert messages[0]["custom"]["client"]["name"] == "李四"


async def test_lookup_not_found_says_so(crm_url):
    messages = await Conversation().run(ActionLookupClient(), "查一下欧阳锋", "lookup_client", client_name="欧阳锋")
    assert messages[0]["response"] == "utter_client_not_found" and messages[0]["query"] == "欧阳锋"


async def test_lookup_without_name_asks_for_one(crm_url):
    messages = await Conversation().run(ActionLookupClient(), "查一下客户", "lookup_client")
    assert messages[0]["response"] == "utter_ask_client"


async def test_ambiguous_name_offers_a_choice(crm_url):
    with sessions(crm_url).begin() as session:
        agent = session.scalars(select(User).where(User.login == "agent01")).one()
        session.add(Client(name="张三", phone="13900000009", stage="unknown", agent=agent))
    conversation = Conversation()
    messages = await conversation.run(ActionLookupClient(), "查一下张三", "lookup_client", client_name="张三")
    assert messages[0]["response"] == "utter_client_ambiguous"
    assert len(messages[0]["buttons"]) == 2
    assert "current_client_id" not in conversation.slots
    # The buttons look the client up by id, which is unambiguous and carries no phone number.
    with sessions(crm_url).begin() as session:
        second = session.scalars(select(Client.id).where(Client.phone == "13900000009")).one()
    assert messages[0]["buttons"][1]["payload"] == f'/lookup_client{{"client_id": "{second}"}}'
    assert not any("1390000" in b["payload"] for b in messages[0]["buttons"])


async def test_do_not_call_client_gets_a_warning_and_no_script(crm_url):
    conversation = await _looked_up("孙丽", login="agent02")  # her own agent
    messages = await conversation.run(ActionSuggestOpening(), "开场白怎么说", "request_opening")
    assert "勿扰" in messages[0]["text"]
    assert "custom" not in messages[0] or messages[0]["custom"].get("type") != "script"


async def test_called_today_warning(crm_url):
    first = await _looked_up("张三", sender_id="call-a")
    await first.run(ActionLogOutcome(), "记一下，没人接", "log_outcome", outcome="no_answer")
    second = Conversation(sender_id="call-b")
    messages = await second.run(ActionLookupClient(), "查一下张三", "lookup_client", client_name="张三")
    assert "今天已经给张三打过电话" in messages[0]["text"]


async def test_opening_then_next_style(crm_url):
    conversation = await _looked_up("朱丽", login="agent02")
    first = await conversation.run(ActionSuggestOpening(), "开场白怎么说", "request_opening")
    assert first[0]["custom"]["key"] == "referral" and "王华" in first[0]["text"]
    assert "周婷" in first[0]["text"]  # the logged-in agent's name
    second = await conversation.run(ActionSuggestOpening(), "换一个开场白", "request_opening")
    assert second[0]["custom"]["key"] != "referral"


async def test_pitch_rotation_never_repeats_a_point(crm_url):
    conversation = await _looked_up("李四")
    seen = []
    first = await conversation.run(ActionProductPitch(), "白金信用卡怎么介绍", "request_product_pitch",
                                   product="白金信用卡")
    seen.append(first[0]["text"])
    for _ in range(2):
        more = await conversation.run(ActionNextAdvantage(), "还有别的卖点吗", "request_next_advantage")
        seen.append(more[0]["text"])
    assert [s.split("：")[0] for s in seen] == [f"【三个卖点，一次讲一个】白金信用卡卖点{i}/3" for i in (1, 2, 3)]


async def test_unknown_product_lists_the_catalogue(crm_url):
    messages = await Conversation().run(ActionProductPitch(), "黄金期货怎么介绍", "request_product_pitch",
                                        product="黄金期货")
    assert messages[0]["response"] == "utter_unknown_product" and "白金信用卡" in messages[0]["products"]


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (WORKDAY_MORNING, datetime(2026, 11, 23, 11, 0)),  # office hours: in about an hour
        (datetime(2026, 11, 23, 19, 17), datetime(2026, 11, 24, 9, 30)),  # evening: next morning
    ],
)
async def test_busy_objection_books_a_follow_up(crm_url, frozen_clock, now, due):
    frozen_clock(now)
    conversation = await _looked_up("张三")
    messages = await conversation.run(ActionHandleObjection(), "客户说他在开会", "objection_busy")
    assert messages[0]["custom"]["key"] == "objection_busy"
    assert "已为张三创建回访" in messages[0]["text"]
    followups = _one(crm_url, select(FollowUp))
    assert len(followups) == 1 and followups[0].client.name == "张三"
    assert followups[0].due_at == due


async def test_third_refusal_closes_politely(crm_url):
    conversation = await _looked_up("张三")
    replies = []
    for _ in range(3):
        messages = await conversation.run(ActionHandleObjection(), "不需要", "objection_not_interested")
        replies.append(messages[0]["custom"]["key"])
    assert replies == ["objection_not_interested", "objection_not_interested", "closing"]
    assert conversation.slots["objections_seen"] == ["objection_not_interested"]


async def test_log_outcome_twice_updates_one_row(crm_url):
    conversation = await _looked_up("张三")
    await conversation.run(ActionHandleObjection(), "我在开会", "objection_busy")
    await conversation.run(ActionSuggestOpening(), "开场白", "request_opening")
    first = await conversation.run(ActionLogOutcome(), "记一下，客户有意向", "log_outcome", outcome="interested")
    # A deal names its product: without one, buttons of the products discussed, nothing written.
    ask = await conversation.run(ActionLogOutcome(), "改一下，客户同意办理了", "log_outcome", outcome="deal")
    buttons = [b for m in ask for b in m.get("buttons", [])]
    assert buttons and all(b["title"].startswith("成交：") for b in buttons)
    assert [c.disposition for c in _one(crm_url, select(Call))] == ["interested"]
    chosen = json.loads(buttons[0]["payload"].removeprefix("/log_outcome"))
    second = await conversation.run(ActionLogOutcome(), buttons[0]["payload"], "log_outcome", **chosen)
    assert first[0]["response"] == "utter_outcome_logged"
    assert second[0]["response"] == "utter_outcome_updated"
    calls = _one(crm_url, select(Call))
    assert len(calls) == 1
    call = calls[0]
    assert call.disposition == "deal" and call.conversation_id == "call-test-1"
    assert call.objections == ["objection_busy"] and call.opening_style
    assert call.agent.login == "agent01" and call.client.name == "张三"
    assert call.products  # what was pitched in the opening
    assert _one(crm_url, select(Client.stage).where(Client.name == "张三")) == ["deal"]


async def test_second_deal_makes_a_loyal_client(crm_url):
    for sender in ("call-1", "call-2"):
        conversation = await _looked_up("刘洋", sender_id=sender)
        await conversation.run(ActionLogOutcome(), "成交了，办的手机银行", "log_outcome", outcome="deal",
                               product="手机银行")
    assert _one(crm_url, select(Client.stage).where(Client.name == "刘洋")) == ["loyal"]


async def test_do_not_call_request_sets_the_flag(crm_url):
    conversation = await _looked_up("赵敏")
    await conversation.run(ActionLogOutcome(), "客户要求别再打了", "log_outcome", outcome="do_not_call")
    assert _one(crm_url, select(Client.do_not_call).where(Client.name == "赵敏")) == [True]


async def test_outcome_without_disposition_asks_with_buttons(crm_url):
    conversation = await _looked_up("张三")
    messages = await conversation.run(ActionLogOutcome(), "记一下", "log_outcome")
    assert messages[0]["response"] == "utter_ask_outcome" and len(messages[0]["buttons"]) == 8
    assert _one(crm_url, select(func.count()).select_from(Call)) == [0]


@pytest.mark.parametrize(
    ("text", "time_entity", "response"),
    [
        ("约他明天下午三点再打", "明天下午三点", "utter_callback_booked"),
        ("一个小时后再打给他", None, "utter_callback_booked"),
        ("约他昨天下午三点", "昨天下午三点", "utter_callback_time_past"),
        ("约个时间再打", None, "utter_ask_callback_time"),
    ],
)
async def test_schedule_callback(crm_url, frozen_clock, text, time_entity, response):
    conversation = await _looked_up("张三")
    entities = {"time": time_entity} if time_entity else {}
    messages = await conversation.run(ActionScheduleCallback(), text, "schedule_callback", **entities)
    assert messages[0]["response"] == response
    expected = 1 if response == "utter_callback_booked" else 0
    assert len(_one(crm_url, select(FollowUp))) == expected


async def test_list_followups_shows_only_my_due_ones(crm_url, frozen_clock):
    from bot import crm

    now = WORKDAY_MORNING
    with sessions(crm_url).begin() as session:
        agents = dict(session.execute(select(User.login, User.id)).all())
        clients = dict(session.execute(select(Client.name, Client.id)).all())
        crm.add_followup(session, client_id=clients["张三"], agent_id=agents["agent01"],
                         due_at=now - timedelta(minutes=1), reason="客户正忙")
        crm.add_followup(session, client_id=clients["李四"], agent_id=agents["agent01"],
                         due_at=now + timedelta(days=7), reason="下周再联系")
        crm.add_followup(session, client_id=clients["朱丽"], agent_id=agents["agent02"],
                         due_at=now - timedelta(minutes=1), reason="别人的回访")
    messages = await Conversation(sender_id="call-3").run(ActionListFollowups(), "今天要回访哪些客户",
                                                          "list_followups")
    items = messages[0]["custom"]["items"]
    assert [i["client"] for i in items] == ["张三"]
    assert items[0]["overdue"] is True
    assert "朱丽" not in texts(messages) and "李四" not in texts(messages)


def _unsure(text="佢话唔得闲啊"):
    return {"text": text, "intent": {"name": "nlu_fallback", "confidence": 0.45},
            "intent_ranking": [{"name": "nlu_fallback", "confidence": 0.45},
                               {"name": "objection_busy", "confidence": 0.3},
                               {"name": "objection_not_interested", "confidence": 0.2},
                               {"name": "greet", "confidence": 0.1}, {"name": "thank", "confidence": 0.01}],
            "entities": []}


async def test_when_unsure_the_assistant_asks_with_the_likeliest_readings_and_none_of_them():
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.session import ActionClarifyIntent

    dispatcher = CollectingDispatcher()
    in_call = Tracker("c", {"current_client_id": 3}, _unsure(), [], False, None, {}, "action_listen")
    await ActionClarifyIntent().run(dispatcher, in_call, {})
    message = dispatcher.messages[0]
    assert message["text"] == "这句我没把握，客户是什么意思？"
    assert [b["title"] for b in message["buttons"]] == ["客户在忙？", "客户没兴趣？", "打个招呼？",
                                                        "都不是，我重新输入"]
    assert message["buttons"][0]["payload"] == '/choose_reading{"reading": "objection_busy"}'
    assert message["custom"] == {"type": "clarify", "readings": ["objection_busy", "objection_not_interested", "greet"]}
    dispatcher = CollectingDispatcher()
    await ActionClarifyIntent().run(dispatcher, Tracker("c", {}, _unsure(), [], False, None, {}, "action_listen"), {})
    assert dispatcher.messages[0]["text"] == "我不太确定您的意思，您是想："


def _clarified_call(choice_text: str, reading: str | None, between: list | None = None):
    from rasa_sdk import Tracker

    from bot import clock

    metadata = {"login": "agent01", "ver": 0}
    original = {"event": "user", "text": "佢话唔得闲啊", "parse_data": _unsure(), "metadata": metadata,
                "timestamp": clock.timestamp(), "input_channel": "rest"}
    question = {"event": "bot", "text": "这句我没把握，客户是什么意思？",
                "data": {"custom": {"type": "clarify", "readings": ["objection_busy", "objection_not_interested"]}}}
    entities = [{"entity": "reading", "value": reading}] if reading else []
    choice = {"event": "user", "text": choice_text, "metadata": metadata, "timestamp": clock.timestamp()}
    latest = {"text": choice_text, "intent": {"name": "choose_reading", "confidence": 1.0}, "entities": entities,
              "metadata": metadata}
    events = [original, {"event": "action", "name": "action_clarify_intent"}, question, *(between or []), choice]
    return Tracker("call-clarify", {}, latest, events, False, None, {}, "action_listen")


async def test_a_chosen_reading_goes_on_as_that_intent_and_is_kept_for_a_supervisor(crm_url, frozen_clock):
    from rasa_sdk.executor import CollectingDispatcher

    from actions.session import ActionApplyReading
    from bot.models import NluCandidate

    dispatcher = CollectingDispatcher()
    events = await ActionApplyReading().run(
        dispatcher, _clarified_call('/choose_reading{"reading": "objection_busy"}', "objection_busy"), {})
    assert dispatcher.messages == []
    assert [e["event"] for e in events] == ["rewind", "rewind", "action", "user"]
    again = events[-1]
    assert again["text"] == "佢话唔得闲啊" and again["parse_data"]["intent"] == {"name": "objection_busy",
                                                                                   "confidence": 1.0}
    assert again["metadata"]["login"] == "agent01" and again["metadata"]["clarified"] is True
    # Typed instead of clicked: 第二个 is the second reading offered.
    await ActionApplyReading().run(CollectingDispatcher(), _clarified_call("第二个吧", None), {})
    with sessions(crm_url).begin() as session:
        kept = session.scalars(select(NluCandidate).order_by(NluCandidate.id)).all()
        assert [(c.text, c.intent, c.source, c.user.login, c.at) for c in kept] == [
            ("佢话唔得闲啊", "objection_busy", "clarify", "agent01", WORKDAY_MORNING),
            ("佢话唔得闲啊", "objection_not_interested", "clarify", "agent01", WORKDAY_MORNING)]
        assert kept[0].predicted == "objection_busy" and kept[0].confidence == 0.3


async def test_none_of_them_asks_to_retype_and_a_late_choice_changes_nothing(crm_url, frozen_clock):
    from rasa_sdk.executor import CollectingDispatcher

    from actions.session import ActionApplyReading
    from bot.models import NluCandidate

    dispatcher = CollectingDispatcher()
    assert await ActionApplyReading().run(
        dispatcher, _clarified_call('/choose_reading{"reading": "none"}', "none"), {}) == []
    assert "换个说法" in dispatcher.messages[0]["text"]
    typed_since = [{"event": "user", "text": "客户说在开会", "metadata": {"login": "agent01", "ver": 0}}]
    dispatcher = CollectingDispatcher()
    late = _clarified_call('/choose_reading{"reading": "objection_busy"}', "objection_busy", between=typed_since)
    assert await ActionApplyReading().run(dispatcher, late, {}) == []
    assert "过期" in dispatcher.messages[0]["text"]
    with sessions(crm_url).begin() as session:
        assert session.scalars(select(NluCandidate)).all() == []


async def test_do_not_call_end_to_end(crm_url, frozen_clock):
    from actions.guidance import ActionHandleDoNotCall

    conversation = await _looked_up("赵敏")
    with sessions(crm_url).begin() as session:
        zhao = session.scalars(select(Client).where(Client.name == "赵敏")).one()
        agent = session.scalars(select(User).where(User.login == "agent01")).one()
        session.add(FollowUp(client_id=zhao.id, agent_id=agent.id, due_at=WORKDAY_MORNING + timedelta(days=1),
                             reason="上次约的回访"))
    asked = await conversation.run(ActionHandleDoNotCall(), "客户说我在开会，你们以后别打了", "objection_do_not_call")
    assert "抱歉" in asked[0]["text"] and "登记为勿扰" in asked[0]["text"]
    assert [b["payload"] for b in asked[0]["buttons"]] == ['/log_outcome{"outcome": "do_not_call"}']
    assert not _one(crm_url, select(Client.do_not_call).where(Client.name == "赵敏"))[0]  # not before confirming

    confirmed = await conversation.run(ActionLogOutcome(), '/log_outcome{"outcome": "do_not_call"}', "log_outcome",
                                       outcome="do_not_call")
    assert "勿扰" in texts(confirmed) and "取消1个待办回访" in texts(confirmed)
    assert _one(crm_url, select(Client.do_not_call).where(Client.name == "赵敏")) == [True]
    assert [c.disposition for c in _one(crm_url, select(Call))] == ["do_not_call"]
    assert _one(crm_url, select(FollowUp.status)) == ["cancelled"]

    refused = await conversation.run(ActionScheduleCallback(), "约她明天下午三点再打", "schedule_callback",
                                     time="明天下午三点")
    assert "勿扰" in texts(refused) and "不得" in texts(refused)
    assert len(_one(crm_url, select(FollowUp))) == 1  # nothing new booked
    sales = ((ActionSuggestOpening(), "request_opening"), (ActionNextAdvantage(), "request_next_advantage"),
             (ActionHandleObjection(), "objection_busy"))
    for action, intent in sales:
        messages = await conversation.run(action, "再试试", intent)
        assert "勿扰" in texts(messages) and not messages[0].get("custom")  # a warning, no script
    assert len(_one(crm_url, select(FollowUp))) == 1


async def test_the_customer_ok_follows_the_call(crm_url, frozen_clock):
    """Opening -> 好的 -> selling point -> 好的 -> closing question -> 好的 -> deal for that product."""
    from actions.guidance import ActionCustomerAgrees

    conversation = await _looked_up("李四")
    await conversation.run(ActionProductPitch(), "白金信用卡怎么介绍", "request_product_pitch", product="白金信用卡")
    assert conversation.slots["call_phase"] == "pitching"
    signal = await conversation.run(ActionCustomerAgrees(), "客户说嗯嗯可以", "customer_agrees")
    assert signal[0]["custom"]["key"] == "customer_interested" and conversation.slots["call_phase"] == "closing"
    deal = await conversation.run(ActionCustomerAgrees(), "客户说行，办吧", "customer_agrees")
    assert "白金信用卡" in deal[0]["text"] and "成交" in texts(deal)
    call = _one(crm_url, select(Call))[0]
    assert call.disposition == "deal" and call.client.name == "李四"
    held = _one(crm_url, select(Client).where(Client.name == "李四"))[0]
    with sessions(crm_url).begin() as session:
        codes = {h.product.code for h in session.get(Client, held.id).holdings}
    assert "PLATINUM_CARD" in codes and conversation.slots["call_phase"] == "ended"


async def test_the_next_call_opens_with_the_agreed_callback_and_closes_it(crm_url, frozen_clock):
    """Seed 001: call back at the agreed time "你叫我1小时后来电话的", then that follow-up is done."""
    first = await _looked_up("张三", sender_id="call-busy")
    await first.run(ActionHandleObjection(), "客户说在开会", "objection_busy")
    frozen_clock(WORKDAY_MORNING + timedelta(hours=1))
    second = await _looked_up("张三", sender_id="call-back")
    opening = await second.run(ActionSuggestOpening(), "开场白怎么说", "request_opening")
    script = opening[0]["custom"]
    assert script["key"] == "callback" and script["technique"] == "约定回电" and "11:00" in script["text"]
    again = await second.run(ActionSuggestOpening(), "换一个", "request_opening")
    assert again[0]["custom"]["key"] != "callback"  # once is enough
    await second.run(ActionLogOutcome(), "记一下，客户有意向", "log_outcome", outcome="interested")
    assert _one(crm_url, select(FollowUp.status)) == ["done"]


async def test_the_callback_opening_reads_the_follow_up_cause_not_its_note(crm_url, frozen_clock):
    """Issue 21, point 6: a follow-up stores why it exists (objection, product, promise) in its own fields,
    so renaming a playbook technique between the two calls cannot break the callback opening."""
    from dataclasses import replace

    from bot.playbook import playbook

    first = await _looked_up("张三", sender_id="call-busy-cause")
    await first.run(ActionProductPitch(), "稳享理财怎么介绍", "request_product_pitch", product="稳享理财")
    await first.run(ActionHandleObjection(), "客户说在开会", "objection_busy")
    booked = _one(crm_url, select(FollowUp))[0]
    assert (booked.objection, booked.product_code, booked.promise) == ("objection_busy", "STEADY_WEALTH", "call_back")
    # A supervisor renames the technique: the note of the booked follow-up no longer starts with it.
    pb = playbook()
    original = pb.objections
    renamed = {**original, "objection_busy": replace(original["objection_busy"], name="客户忙碌改约")}
    object.__setattr__(pb, "objections", renamed)  # the playbook is frozen: loaded once per process
    try:
        frozen_clock(WORKDAY_MORNING + timedelta(hours=1))
        second = await _looked_up("张三", sender_id="call-back-cause")
        opening = await second.run(ActionSuggestOpening(), "开场白怎么说", "request_opening")
    finally:
        object.__setattr__(pb, "objections", original)
    assert opening[0]["custom"]["key"] == "callback" and "11:00" in opening[0]["custom"]["text"]


async def test_an_agreed_time_is_stored_as_the_promise(crm_url, frozen_clock):
    conversation = await _looked_up("张三", sender_id="call-agreed-cause")
    await conversation.run(ActionHandleObjection(), "客户说在开会", "objection_busy")
    await conversation.run(ActionScheduleCallback(), "约他明天下午三点再打", "schedule_callback", time="明天下午三点")
    booked = _one(crm_url, select(FollowUp))[0]
    assert booked.promise == "agreed_time" and booked.objection == "objection_busy"
    assert booked.due_at == datetime(2026, 11, 24, 15, 0)


async def test_a_busy_client_relayed_again_is_one_callback(crm_url, frozen_clock):
    conversation = await _looked_up("张三")
    for _ in range(3):
        await conversation.run(ActionHandleObjection(), "客户说他在开会", "objection_busy")
        frozen_clock(WORKDAY_MORNING + timedelta(minutes=20))
    rows = _one(crm_url, select(FollowUp))
    assert len(rows) == 1 and rows[0].due_at == datetime(2026, 11, 23, 11, 30)  # moved, not repeated


@pytest.mark.parametrize(("said", "kind", "asks"), [
    ("那边声音断断续续的", "bad_line", "能听清"),  # a bad line: check they hear, offer to call back
    ("客户那边有杂音，听不清", "bad_line", "能听清"),
    ("接通了没人说话", "silence", "能听到"),  # silence: ask once more whether they hear
])
async def test_a_line_problem_gets_a_line_for_the_line_and_no_sales_line(crm_url, frozen_clock, said, kind, asks):
    from actions.guidance import ActionCallProblem

    conversation = await _looked_up("张三")
    await conversation.run(ActionSuggestOpening(), "开场白怎么说", "request_opening")
    reply = await conversation.run(ActionCallProblem(), said, "call_problem")
    script = reply[0]["custom"]
    assert script["key"] == f"call_problem_{kind}" and asks in script["text"]
    assert "proposal" not in script and "稳享理财" not in script["text"]  # no product, nothing to log yet


@pytest.mark.parametrize(("before", "proposed"), [
    ([], "no_answer"),  # hung up at the opening, before a word: 无人接听
    ([(ActionHandleObjection, "客户说没兴趣", "objection_not_interested")], "refused"),  # after saying no: 拒绝
])
async def test_a_hang_up_proposes_the_outcome_to_log(crm_url, frozen_clock, before, proposed):
    from actions.guidance import ActionCallProblem

    conversation = await _looked_up("张三")
    await conversation.run(ActionSuggestOpening(), "开场白怎么说", "request_opening")
    for action, text, intent in before:
        await conversation.run(action(), text, intent)
    reply = await conversation.run(ActionCallProblem(), "他直接挂了", "call_problem")
    custom = reply[0]["custom"]
    assert custom["type"] == "call_problem" and custom["kind"] == "hung_up"
    assert custom["proposal"]["outcome"] == proposed
    assert custom["proposal"]["payload"] == f'/log_outcome{{"outcome": "{proposed}"}}'
    assert [json.loads(b["payload"].removeprefix("/log_outcome"))["outcome"] for b in reply[0]["buttons"]] \
        == [proposed, "refused" if proposed == "no_answer" else "no_answer"]
    assert _one(crm_url, select(Call)) == []  # proposed, not logged: the agent decides
