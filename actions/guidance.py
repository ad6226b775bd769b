"""During the call: openings, selling points, objections, buying signals, "don't call me again"."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import CrmAction, send_script
from actions.complaints import held_buttons
from actions.outcome import deal_buttons, record_outcome
from actions.scope import CallScope
from actions.slots import call_state
from bot import contact_policy, crm, guidance, labels
from bot.book import proposals
from bot.playbook import playbook
from bot.timeparse import describe

OBJECTION_BUTTONS = [
    {"title": labels.button("next_point"), "payload": "/request_next_advantage"},
    {"title": labels.button("next_opening"), "payload": "/request_opening"},
]
OPENING_BUTTONS = [
    {"title": labels.button("next_opening"), "payload": "/request_opening"},
    {"title": labels.button("first_point"), "payload": "/request_next_advantage"},
]
CLOSED_BUTTONS = [
    {"title": labels.button("callback_next_week"), "payload": "/schedule_callback"},
    {"title": labels.button("log_refused"), "payload": '/log_outcome{"outcome": "refused"}'},
]
INTERESTED = {"title": labels.disposition("interested"), "payload": '/log_outcome{"outcome": "interested"}'}
LOG_INVALID_NUMBER = {"title": labels.disposition("invalid_number"),
                      "payload": '/log_outcome{"outcome": "invalid_number"}'}
CONFIRM_DO_NOT_CALL = {"title": labels.button("confirm_do_not_call"),
                       "payload": '/log_outcome{"outcome": "do_not_call"}'}


def closing_buttons(scope: CallScope) -> list[dict[str, str]]:
    """At the closing question: a deal for one of the products discussed (the agent picks), or interest."""
    return [*deal_buttons(scope), INTERESTED]


def _blocked(dispatcher: CollectingDispatcher, scope: CallScope) -> bool:
    """Do-not-call clients get a warning instead of any sales line; so does a call in which the
    customer complained (until the agent continues on purpose)."""
    if scope.profile is not None and scope.profile.do_not_call:
        dispatcher.utter_message(text=playbook().messages["do_not_call"].format(name=scope.profile.name))
        return True
    held = guidance.selling_held(scope.context, scope.state)
    if held is not None:
        send_script(dispatcher, held.script, held_buttons(scope))
        return True
    return False


def _contact_refused(dispatcher: CollectingDispatcher, scope: CallScope) -> bool:
    """Outside the calling hours or over a contact limit (bot/contact_policy.py): a warning with the
    reason and the next allowed moment, and no opening or pitch. Checked only before this call's
    first line: the call in progress never counts against itself and goes on."""
    state = scope.state
    if scope.client is None or state.opening_styles or state.products_pitched or state.phase != "none":
        return False
    decision = contact_policy.decide(scope.session, scope.client, now=scope.context.now,
                                     conversation_id=scope.conversation_id,
                                     agreed_callback=scope.context.pending_callback)
    if decision.allowed:
        return False
    dispatcher.utter_message(
        text=f"{decision.reason}\n{playbook().messages['contact_no_script']}",
        json_message={"type": "contact_blocked", "rules": list(decision.rules), "reason": decision.reason,
                      "next_allowed": decision.next_allowed.isoformat(timespec="minutes")})
    return True


def _requested_product(scope: CallScope) -> str | None:
    value = next(scope.tracker.get_latest_entity_values("product"), None)
    return str(value) if value else None


def book_follow_up(scope: CallScope, reply: guidance.Reply) -> str:
    """Book the callback an objection answer proposed; returns the note for the agent."""
    pb = playbook()
    if scope.client is None:
        return pb.messages["no_client_for_followup"]
    if not scope.may_write():
        return pb.messages["no_write_access"].format(name=scope.client.name)
    now = scope.context.now
    cause = crm.FollowUpCause(objection=reply.objection, product_code=reply.product.code if reply.product else None,
                              promise="call_back")
    booking = crm.add_followup(scope.session, client_id=scope.client.id, agent_id=scope.user.id,
                               due_at=reply.follow_up_at, reason=reply.follow_up_reason or "",
                               conversation_id=scope.conversation_id, now=now, cause=cause)
    scope.wrote("followup")
    new = describe(reply.follow_up_at, now)
    if booking.moved:
        # One open callback per client: the agent learns the earlier time is gone.
        return pb.messages["callback_moved"].format(
            name=scope.client.name, old=describe(booking.moved_from, now), new=new,
            title=scope.profile.title if scope.profile else "您").split("\n")[0]
    return pb.messages["callback_created"].format(name=scope.client.name, time=new)


class ActionSuggestOpening(CrmAction):
    """Recommend the opening style that fits the client best (the next one when asked again)."""

    def name(self) -> str:
        return "action_suggest_opening"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        if _blocked(dispatcher, scope) or _contact_refused(dispatcher, scope):
            return []
        said = scope.tracker.latest_message.get("text") or ""
        # "用他人引荐的方式开场": the style asked for by name (given when it is true for this client).
        requested = guidance.style_named(said) if not said.startswith("/") else None
        reply = guidance.opening(scope.context, scope.state, requested_style=requested)
        scope.apply(reply)
        script = reply.script
        if scope.profile is None:
            script = script.with_notes(script.notes + (playbook().messages["no_client_opening"],))
        send_script(dispatcher, script, OPENING_BUTTONS)
        return []


class ActionNextAdvantage(CrmAction):
    """Give the next selling point of the product under discussion, one at a time."""

    def name(self) -> str:
        return "action_next_advantage"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        if _blocked(dispatcher, scope) or _contact_refused(dispatcher, scope):
            return []
        reply = guidance.pitch(scope.context, scope.state, _requested_product(scope))
        scope.apply(reply)
        send_script(dispatcher, reply.script, OBJECTION_BUTTONS[:1])
        return []


class ActionProductPitch(ActionNextAdvantage):
    """Pitch a named product: its selling points in order, one at a time."""

    def name(self) -> str:
        return "action_product_pitch"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        requested = _requested_product(scope)
        if requested and scope.context.product(requested) is None:
            dispatcher.utter_message(response="utter_unknown_product", product=requested,
                                     products="、".join(p.name for p in scope.context.catalogue))
            return []
        if requested is None and not scope.state.products_pitched and scope.profile is None:
            buttons = [{"title": p.name, "payload": f'/request_product_pitch{{"product": "{p.name}"}}'}
                       for p in scope.context.catalogue[:6]]
            dispatcher.utter_message(response="utter_ask_product", buttons=buttons)
            return []
        return super().handle(dispatcher, scope, domain)


class ActionHandleObjection(CrmAction):
    """Answer the customer's objection with the playbook's technique for it."""

    def name(self) -> str:
        return "action_handle_objection"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        intent = (scope.tracker.latest_message.get("intent") or {}).get("name") or ""
        if intent == playbook().do_not_call:
            return ActionHandleDoNotCall().handle(dispatcher, scope, domain)
        if intent not in playbook().objections:
            dispatcher.utter_message(response="utter_default")
            return []
        if _blocked(dispatcher, scope):
            return []
        reply = guidance.handle_objection(intent, scope.context, scope.state,
                                          requested_product=_requested_product(scope),
                                          said=scope.tracker.latest_message.get("text") or "")
        scope.apply(reply)
        notes = list(reply.script.notes)
        proposal = None
        if reply.follow_up_at is not None:
            notes.append(book_follow_up(scope, reply))
            if "followup" in scope.writes:  # booked: the call ends as 约回访 (the widget proposes it)
                proposal = proposals.callback(reply.follow_up_at, scope.context.now)
        script = reply.script.with_notes(tuple(notes))
        buttons = OBJECTION_BUTTONS
        if reply.closed:
            buttons = CLOSED_BUTTONS
        elif reply.objection == "objection_wrong_number":
            buttons = [LOG_INVALID_NUMBER, *OBJECTION_BUTTONS]  # the customer confirms it is not the client
        send_script(dispatcher, script, buttons, proposal)
        return []


class ActionHandleDoNotCall(CrmAction):
    """The customer asked not to be called again: the line to end politely, then one button to
    confirm 勿扰 (which logs the call, sets the flag and cancels the follow-ups)."""

    def name(self) -> str:
        return "action_handle_do_not_call"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        pb = playbook()
        reply = guidance.do_not_call(scope.context, scope.state)
        scope.apply(reply)
        if scope.client is None:
            notes = (pb.messages["dnc_no_client"],)
            buttons = []
        elif scope.client.do_not_call:
            notes = (pb.messages["do_not_call"].format(name=scope.client.name),)
            buttons = []
        elif not scope.may_write():
            notes = (pb.messages["no_write_access"].format(name=scope.client.name),)
            buttons = []
        else:
            notes = (pb.messages["dnc_confirm_prompt"].format(name=scope.client.name),)
            buttons = [CONFIRM_DO_NOT_CALL]
        script = reply.script.with_notes(notes)
        # The customer asked: the widget proposes 勿扰, the same confirmation as the button.
        send_script(dispatcher, script, buttons,
                    proposals.do_not_call(CONFIRM_DO_NOT_CALL["payload"]) if buttons else None)
        return []


class ActionCustomerInterested(CrmAction):
    """A buying signal: one more point and the next step towards signing up."""

    def name(self) -> str:
        return "action_customer_interested"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        if _blocked(dispatcher, scope) or _contact_refused(dispatcher, scope):
            return []
        said = scope.tracker.latest_message.get("text") or ""
        if guidance.decided(said) and scope.state.current_product and scope.state.phase != "none":
            # "行，办吧" is a decision, not only interest: the deal for the product discussed.
            return ActionCustomerAgrees().handle(dispatcher, scope, domain)
        reply = guidance.interested(scope.context, scope.state)
        scope.apply(reply)
        send_script(dispatcher, reply.script, closing_buttons(scope))
        return []


class ActionCustomerAgrees(CrmAction):
    """The customer said OK: after an opening, the next point; after a point, the next step;
    after the closing question, the deal is logged for the product discussed."""

    def name(self) -> str:
        return "action_customer_agrees"

    def durable(self, tracker: Tracker) -> bool:
        # Only a yes to the deal writes (the deal's call row); any other "OK" only guides.
        return super().durable(tracker) and guidance.confirms_deal(
            call_state(tracker), tracker.latest_message.get("text") or "")

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        if _blocked(dispatcher, scope) or _contact_refused(dispatcher, scope):
            return []
        reply = guidance.agrees(scope.context, scope.state, said=scope.tracker.latest_message.get("text") or "")
        scope.apply(reply)
        if not reply.confirm_deal:
            send_script(dispatcher, reply.script,
                        closing_buttons(scope) if reply.phase == "closing" else OBJECTION_BUTTONS)
            return []
        send_script(dispatcher, reply.script)
        if not scope.can_write(dispatcher, "utter_ask_client_for_outcome"):
            return []
        return record_outcome(dispatcher, scope, "deal", deal_product=reply.product.code if reply.product else None)


class ActionCallProblem(CrmAction):
    """The line, not the customer (bad signal, silence, a hang-up): what to say to the line, no sales
    line; after a hang-up, the outcome to log proposed with one click (无人接听 or 拒绝)."""

    def name(self) -> str:
        return "action_call_problem"

    def handle(self, dispatcher: CollectingDispatcher, scope: CallScope,
               domain: dict[str, Any]) -> list[dict[str, Any]]:
        problem = guidance.line_problem(scope.state, scope.tracker.latest_message.get("text") or "")
        if problem.outcome is None:
            send_script(dispatcher, problem.reply.script)
            return []
        # A hang-up: nothing to say; the call's outcome, the likelier one proposed.
        note = "\n".join(problem.reply.script.notes)
        if scope.client is None or not scope.may_write():
            dispatcher.utter_message(text=note)
            return []
        buttons = [{"title": labels.disposition(outcome), "payload": proposals.log_outcome_payload(outcome)}
                   for outcome in (problem.outcome, *(o for o in ("no_answer", "refused") if o != problem.outcome))]
        proposal = proposals.proposal(problem.outcome, None, proposals.log_outcome_payload(problem.outcome))
        dispatcher.utter_message(text=note, buttons=buttons,
                                 json_message={"type": "call_problem", "kind": problem.kind, "proposal": proposal})
        return []
