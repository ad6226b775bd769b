"""Callbacks: booking them from Chinese time phrases and listing the ones due."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import CrmAction
from actions.scope import CallScope
from bot import access, contact_policy, crm, guidance, labels
from bot.book import proposals
from bot.playbook import playbook
from bot.settings import contact_limits
from bot.text import to_halfwidth
from bot.timeparse import MAX_CALLBACK_AHEAD, ParsedTime, describe, parse_callback_time, time_problem

# Quick answers when the time is missing or cannot be booked: what the agent can press instead.
QUICK_TIMES = {"callback_in_an_hour": "一个小时后", "callback_tomorrow_morning": "明天上午十点",
               "callback_tomorrow_afternoon": "明天下午三点"}


class ActionScheduleCallback(CrmAction):
    """Book a call back at the time the agent named (明天下午三点, 一个小时后 ...)."""

    def name(self) -> str:
        return "action_schedule_callback"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        tracker = scope.tracker
        if not scope.can_write(dispatcher, "utter_ask_client_for_callback"):
            return []
        if scope.client.do_not_call:
            # 勿扰 is final: no callback, whatever the time.
            dispatcher.utter_message(text=playbook().messages["dnc_refuse_callback"].format(name=scope.client.name))
            return [SlotSet("time", None)]
        phrase = next(tracker.get_latest_entity_values("time"), None)
        text = tracker.latest_message.get("text") or ""
        names = tuple(filter(None, [scope.client.name, *map(str, tracker.get_latest_entity_values("client_name"))]))
        now = scope.context.now
        # The model may tag only part of a time (下午三点, or 2030, of 2月30日下午三点): a date the
        # message spells out wrongly is named whatever the entity says.
        # Only a date next to the tagged time counts: "客户2035年退休，约他明天下午三点" is a good time.
        in_text = time_problem(text, now, mask=names)
        parsed = parse_callback_time(str(phrase), now, mask=names) if phrase else None
        if in_text is not None and (parsed is None or _beside(to_halfwidth(text), in_text.text, str(phrase))) \
                and (in_text.problem == "invalid" or parsed is None or parsed.problem is None):
            parsed = in_text
        elif parsed is None or parsed.problem == "unparsed":
            parsed = parse_callback_time(text, now, mask=names)
        if parsed.problem in ("past", "invalid", "too_far"):
            _refuse_time(dispatcher, parsed, now)
            return [SlotSet("time", None)]
        if parsed.when is None:
            dispatcher.utter_message(response="utter_ask_callback_time", buttons=_time_buttons())
            return [SlotSet("time", None)]
        if not contact_policy.in_calling_hours(parsed.when):
            _refuse_outside_hours(dispatcher, parsed, now)
            return [SlotSet("time", None)]
        readable = describe(parsed.when, now)
        # The time was agreed with the customer; the objection and product of this call say why.
        state = scope.state
        cause = crm.FollowUpCause(
            objection=state.last_objection if state.last_objection in playbook().callback_objections else None,
            product_code=state.current_product, promise="agreed_time")
        booking = crm.add_followup(scope.session, client_id=scope.client.id, agent_id=scope.user.id,
                                   due_at=parsed.when, reason=f"{guidance.AGREED_TIME_REASON}（{parsed.text}）",
                                   conversation_id=scope.conversation_id, now=now, cause=cause)
        scope.wrote("followup")
        followup = booking.followup
        payload = {"type": "followup", "id": followup.id, "client": scope.client.name,
                   "due_at": parsed.when.isoformat(timespec="minutes"), "reason": followup.reason,
                   "status": followup.status,
                   "moved_from": booking.moved_from.isoformat(timespec="minutes") if booking.moved else None,
                   "proposal": proposals.callback(parsed.when, now)}
        if booking.moved:
            # One open callback per client: say that the earlier time is gone.
            dispatcher.utter_message(
                text=playbook().messages["callback_moved"].format(
                    name=scope.client.name, old=describe(booking.moved_from, now), new=readable, title=_title(scope)),
                json_message=payload)
        else:
            dispatcher.utter_message(response="utter_callback_booked", name=scope.client.name, time=readable,
                                     title=_title(scope), json_message=payload)
        return [SlotSet("time", parsed.when.isoformat(timespec="minutes"))]


def _time_buttons() -> list[dict[str, str]]:
    return [{"title": labels.button(key), "payload": f'/schedule_callback{{"time": "{said}"}}'}
            for key, said in QUICK_TIMES.items()]


def _refuse_time(dispatcher: CollectingDispatcher, parsed: ParsedTime, now: datetime) -> None:
    """Say why this time cannot be booked (nothing is written), with times that can."""
    messages = playbook().messages
    if parsed.problem == "past":
        when = describe(parsed.when, now) if parsed.when else parsed.text
        dispatcher.utter_message(response="utter_callback_time_past", time=when, buttons=_time_buttons())
    elif parsed.problem == "invalid":
        detail = dict(parsed.detail or {})
        reason = detail.pop("reason", "day")
        if reason == "day" and not detail.get("explicit_year") and detail.get("month") != 2:
            reason = "day_no_year"  # 4月31日: the month says it all; February depends on the year
        text = messages["callback_time_invalid_reasons"][reason].format(**detail)
        dispatcher.utter_message(text=messages["callback_time_invalid"].format(phrase=parsed.text, reason=text),
                                 buttons=_time_buttons())
    else:
        limit = describe(now + MAX_CALLBACK_AHEAD, now)
        dispatcher.utter_message(text=messages["callback_time_too_far"].format(phrase=parsed.text, limit=limit),
                                 buttons=_time_buttons())


def _refuse_outside_hours(dispatcher: CollectingDispatcher, parsed: ParsedTime, now: datetime) -> None:
    """Callbacks are booked only inside the calling hours (bot/contact_policy.py): say so, nothing is
    written, and offer the nearest allowed times (ISO, as the widget's time picker sends them)."""
    limits = contact_limits()
    messages = playbook().messages
    nearest = contact_policy.nearest_calling_times(parsed.when, now, limits)
    dispatcher.utter_message(
        text=messages["callback_outside_hours"].format(
            phrase=parsed.text, time=describe(parsed.when, now), hours=contact_policy.hours_label(limits),
            nearest="、".join(describe(t, now) for t in nearest)),
        buttons=[{"title": messages["callback_propose_button"].format(time=describe(t, now)),
                  "payload": f'/schedule_callback{{"time": "{t.isoformat(timespec="minutes")}"}}'} for t in nearest],
        json_message={"type": "callback_outside_hours", "requested": parsed.when.isoformat(timespec="minutes"),
                      "proposed": [t.isoformat(timespec="minutes") for t in nearest]})


def _beside(text: str, first: str, second: str, gap: int = 2) -> bool:
    """Whether two phrases of ``text`` overlap or are at most ``gap`` characters apart."""
    i, j = text.find(first), text.find(second)
    if i < 0 or j < 0:
        return False
    return i <= j + len(second) + gap and j <= i + len(first) + gap


def _title(scope: CallScope) -> str:
    return scope.profile.title if scope.profile else "您"


class ActionListFollowups(CrmAction):
    """List the agent's open follow-ups due today (overdue ones included)."""

    def name(self) -> str:
        return "action_list_followups"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        now = scope.context.now
        until = datetime.combine(now.date(), time.max)
        if not access.reads_real_crm(scope.identity):
            dispatcher.utter_message(text=playbook().messages["trainee_no_clients"])
            return []
        # Agents see their own; supervisors everyone's (bot.access decides).
        agent_id = access.scope_user_id(scope.session, scope.identity)
        due = crm.due_followups(scope.session, agent_id=agent_id, until=until)
        if not due:
            dispatcher.utter_message(response="utter_no_followups")
            return []
        lines = []
        items = []
        for f in due:
            # due_followups returns open ones only: done and cancelled never show.
            overdue = crm.is_overdue(f, now)
            phone = access.phone_for(scope.identity, f.client)
            late = "（已逾期）" if overdue else ""
            lines.append(f"{describe(f.due_at, now)}{late} {f.client.name} {phone}：{f.reason}")
            items.append({"id": f.id, "client": f.client.name, "client_id": f.client_id,
                          "due_at": f.due_at.isoformat(timespec="minutes"), "reason": f.reason,
                          "status": f.status, "overdue": overdue})
        dispatcher.utter_message(
            response="utter_followups_due", count=len(due), items="\n".join(lines),
            json_message={"type": "followups", "items": items},
            buttons=[{"title": f"查{f.client.name}", "payload": f'/lookup_client{{"client_id": "{f.client_id}"}}'}
                     for f in due[:5]],
        )
        return []
