"""The user-facing messages (messages.yml), typed: every key the code uses is a field here, so a
missing or misspelt key fails loading the playbook (`salesbot prepare`, service start-up), not a call."""

from __future__ import annotations

import string
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

# The YAML kind each field type is read from (a list becomes a tuple: messages are read-only).
FIELD_KINDS = {"str": str, "tuple[str, ...]": list, "dict[str, str]": dict}


class MessagesError(ValueError):
    """messages.yml does not match the fields below."""


@dataclass(frozen=True)
class Messages:
    client_summary: str
    holdings_none: str
    last_call_none: str
    called_today: str
    contact_outside_hours: str
    contact_day_limit: str
    contact_week_limit: str
    contact_blocked: str
    contact_blocked_agreed_callback: str
    contact_no_script: str
    contact_card_ok: str
    contact_unlimited: str
    contact_times: str
    cooling_off_line: str
    cooling_off_card: str
    cooling_off_refused: str
    cooling_off_instead: str
    cooling_off_none_left: str
    callback_outside_hours: str
    callback_propose_button: str
    do_not_call: str
    recommended_products: str
    opening_why: str
    all_openings_used: str
    pitch_intro: str
    ask_feeling: str
    all_points_used: str
    risk_notice: str
    callback_created: str
    no_client_for_followup: str
    no_products: str
    no_client_opening: str
    other_agents_client: str
    not_signed_in: str
    trainee_no_clients: str
    no_write_access: str
    phone_hidden: str
    actions_unavailable: str
    crm_unavailable_channel: str
    crm_unavailable_web: str
    crm_unavailable: str
    write_deferred: str
    deferred_written: str
    deferred_failed: str
    internal_error_short: str
    deferred_incomplete: str
    deal_agreed: str
    callback_agreed: str
    call_already_ended: str
    dnc_confirm_prompt: str
    dnc_no_client: str
    dnc_refuse_callback: str
    followups_cancelled: str
    callback_opening_why: str
    contact_sources: dict[str, str]
    last_said: dict[str, str]
    last_call_note: str
    last_call_interested: str
    last_call_refused: str
    followup_overdue: str
    followup_later: str
    style_requested: str
    style_needs_relationship: str
    unsuitable_requested: str
    unsuitable_none_left: str
    style_not_applicable: str
    pricing_unknown: str
    eligibility_unknown: str
    signup_unknown: str
    risk_spoken: str
    risk_spoken_matched: str
    suitability_spoken: str
    care_spoken: str
    care_note: str
    no_money_note: str
    wrong_number_note: str
    contact_source_labels: dict[str, str]
    client_facts: str
    risk_not_assessed: str
    decision_phrases: tuple[str, ...]
    unsuitable_no_assessment: str
    unsuitable_expired: str
    unsuitable_above_tolerance: str
    deal_ask_product: str
    deal_unknown_product: str
    deal_product_logged: str
    deal_below_minimum: str
    deal_refused: str
    outcome_refused: str
    followups_done: str
    callback_moved: str
    rehearsal_started: str
    rehearsal_unmet: str
    rehearsal_customer: str
    rehearsal_call_ended: str
    rehearsal_abandoned: str
    rehearsal_nothing_said: str
    rehearsal_not_saved: str
    rehearsal_save_failed: str
    rehearsal_broken: str
    rehearsal_own_screen: str
    rehearsal_not_started: str
    callback_time_invalid: str
    callback_time_invalid_reasons: dict[str, str]
    callback_time_too_far: str
    amount_not_positive: str
    amount_too_large: str
    amount_unparsed: str
    phone_too_short: str
    phone_too_long: str
    phone_letters: str
    phone_not_mobile: str
    message_no_token: str
    message_not_json: str
    conversation_of_another_user: str
    token_expired: str
    message_no_sender: str
    message_empty: str
    message_too_long: str
    message_unreadable: str
    request_too_large: str
    phone_suffix_own_clients_only: str
    deferred_rights_changed: str
    api_no_real_crm: str
    api_page_expired: str
    api_no_such_client: str
    api_reveal_supervisors_only: str
    api_reveals_supervisors_only: str
    api_other_agents_conversation: str
    api_no_such_conversation: str
    api_bad_date: str
    api_unknown_outcome: str
    api_page_not_integers: str
    api_page_out_of_range: str
    api_bad_due: str
    segment_other: str
    agent_unknown: str
    # Complaints (bot/complaints.py, actions/complaints.py).
    complaint_stop_selling: str
    complaint_recorded: str
    complaint_already_recorded: str
    complaint_no_client: str
    complaint_no_words: str
    complaint_unknown_category: str
    complaint_note_missing: str
    complaint_note_too_long: str
    complaint_not_found: str
    complaint_already_resolved: str
    complaint_unknown_status: str
    complaint_selling_held: str
    complaint_selling_resumed: str
    complaint_open_on_card: str
    api_complaints_supervisors_only: str
    api_floor_supervisors_only: str
    # Assignment, the unassigned pool and the change log (bot/book/assignment.py, bot/book/change_text.py).
    api_book_supervisors_only: str
    api_changes_supervisors_only: str
    book_filter_unknown_segment: str
    book_filter_unknown_tier: str
    book_filter_unknown_stage: str
    book_filter_bad_flag: str
    book_filter_not_object: str
    assign_no_agents: str
    assign_unknown_agent: str
    assign_not_an_agent: str
    assign_agent_disabled: str
    assign_no_clients: str
    assign_bad_client_ids: str
    assign_ids_and_filter: str
    assign_unknown_clients: str
    assign_filter_changed: str
    assign_done: str
    assign_done_agent: str
    assign_unchanged: str
    assign_do_not_call: str
    pool_returned: str
    pool_reason_agent_disabled: str
    pool_reason_unassigned: str
    pool_reason_imported: str
    pool_reason_never: str
    pool_followup_agent_disabled: str
    pool_followup: str
    changes_unknown_kind: str
    changes_unknown_entity: str
    changes_bad_entity_id: str
    change_by_system: str
    change_no_agent: str
    change_empty: str
    change_yes: str
    change_no: str
    # Imports of client sheets and the opt-out register (bot/book/sheets.py, bot/book/importer.py).
    import_columns: dict[str, str]
    import_values: dict[str, str]
    import_sources: dict[str, str]
    import_problems: dict[str, str]
    import_texts: dict[str, str]
    # The daily call list, the unfinished-call note at a lookup, the proposed outcome (bot/book/call_list.py).
    call_list_texts: dict[str, str]
    # The line, not the customer (intent call_problem, bot/guidance/line.py).
    call_problems: dict[str, str]
    # Accounts and products on the supervisor's pages and the CLI (bot/book/people.py, bot/book/products.py).
    account_texts: dict[str, str]
    product_texts: dict[str, str]
    # Asking instead of guessing and learning from the floor (actions/session.py, bot/floor.py).
    clarify_texts: dict[str, str]
    # The reason that cites the team's own calls (bot/learning/bandit.py), per kind of choice.
    learning_texts: dict[str, str]

    @classmethod
    def load(cls, raw: dict[str, Any]) -> Messages:
        """Check ``raw`` (messages.yml) against the fields: all present, no stranger, the right kind,
        and every text a valid str.format template."""
        names = {f.name: f.type for f in fields(cls)}
        missing, unknown = sorted(set(names) - set(raw)), sorted(set(raw) - set(names))
        if missing or unknown:
            raise MessagesError(f"messages.yml: missing {missing}, not used by the code {unknown}")
        values = {}
        for name, kind in names.items():
            value = raw[name]
            if not isinstance(value, FIELD_KINDS[kind]):
                raise MessagesError(f"messages.yml: {name} must be a {kind}")
            texts = value.values() if isinstance(value, dict) else value if isinstance(value, list) else [value]
            for text in texts:
                if not isinstance(text, str):
                    raise MessagesError(f"messages.yml: {name} holds a non-text value: {text!r}")
                try:
                    list(string.Formatter().parse(text))
                except ValueError as error:
                    raise MessagesError(f"messages.yml: {name}: {error}: {text[:30]}") from error
            values[name] = tuple(value) if isinstance(value, list) else value
        return cls(**values)

    def __getitem__(self, key: str) -> Any:
        """For keys chosen at run time (``messages[f"phone_{problem}"]``)."""
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key) if key in self.__dataclass_fields__ else default

    def __contains__(self, key: object) -> bool:
        return key in self.__dataclass_fields__

    def keys(self) -> Iterator[str]:
        return iter(self.__dataclass_fields__)

    def values(self) -> Iterator[Any]:
        return (getattr(self, name) for name in self.__dataclass_fields__)
