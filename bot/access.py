"""The access policy: who may read, see the phone of, and write which CRM records.

One module decides for every surface (chat actions, JSON API, review pages, CSV export):

| role        | own clients                    | other agents' clients      | real CRM at all |
|-------------|--------------------------------|----------------------------|-----------------|
| agent       | read, full phone, write        | name, stage, owner only    | yes             |
| supervisor  | read all, phone masked until "show number" (audited), no call writes | same | yes |
| trainee     | nothing: rehearsal data only   | nothing                    | no              |
| no user     | nothing                        | nothing                    | no              |

Callers pass the verified identity (from a signed token or session, never from data a
client could set); ``None`` means no verified user and gets nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot import crm
from bot.auth import Identity
from bot.models import STAGE_LABELS, Client, ConversationOwner, PhoneReveal, User
from bot.text import MIN_PHONE_DIGITS, PHONE_DIGITS

NOBODY = -1  # a user id that matches no row: "filter to nothing"


class Level(enum.IntEnum):
    """How much of a client a user may read."""

    NONE = 0  # not even that the client exists
    LIMITED = 1  # name, stage and owner
    FULL = 2  # the whole profile (phone subject to ``phone_for``)


def is_supervisor(identity: Identity | None) -> bool:
    return identity is not None and identity.role == "supervisor"


def reads_real_crm(identity: Identity | None) -> bool:
    """Agents and supervisors work with real clients; trainees and strangers never do."""
    return identity is not None and identity.role in ("agent", "supervisor")


def owns(identity: Identity | None, client: Client) -> bool:
    return (identity is not None and identity.role == "agent" and client.agent is not None
            and client.agent.login == identity.login)


def client_level(identity: Identity | None, client: Client) -> Level:
    if not reads_real_crm(identity):
        return Level.NONE
    if is_supervisor(identity) or owns(identity, client):
        return Level.FULL
    return Level.LIMITED


def may_read_client(identity: Identity | None, client: Client) -> bool:
    """The whole profile: assets, income, notes, holdings, history."""
    return client_level(identity, client) is Level.FULL


def may_write_client(identity: Identity | None, client: Client) -> bool:
    """Log calls and book follow-ups: only the client's own agent (the one on the phone)."""
    return owns(identity, client)


def may_see_full_phone(identity: Identity | None, client: Client) -> bool:
    """Without pressing "show number": the client's own agent only."""
    return owns(identity, client)


def may_reveal_phone(identity: Identity | None, client: Client) -> bool:
    """Supervisors may reveal any client's number; the reveal is audited."""
    return is_supervisor(identity)


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"


def phone_for(identity: Identity | None, client: Client) -> str | None:
    """The number as this user may see it: full, masked, or None (not even masked)."""
    if may_see_full_phone(identity, client):
        return client.phone
    if may_read_client(identity, client):
        return mask_phone(client.phone)
    return None


def limited_view(client: Client) -> dict[str, Any]:
    """What an agent may know of another agent's client."""
    return {
        "id": client.id, "name": client.name, "stage": client.stage,
        "stage_label": STAGE_LABELS.get(client.stage, client.stage),
        "agent": client.agent.login if client.agent else None,
        "agent_name": client.agent.name if client.agent else None,
        "limited": True,
    }


def scope_user_id(session: Session, identity: Identity | None) -> int | None:
    """For lists of calls and follow-ups: None = everyone (supervisors), else the one user id
    whose rows may be listed (``NOBODY`` for users who may list none)."""
    if is_supervisor(identity):
        return None
    if not reads_real_crm(identity):
        return NOBODY
    user = session.scalars(select(User).where(User.login == identity.login)).first()
    return user.id if user is not None else NOBODY


def record_phone_reveal(session: Session, identity: Identity | None, client: Client,
                        kind: str = "reveal") -> str | None:
    """A supervisor pressed "show number" (``kind`` 'reveal') or found the client by the whole
    number ('lookup'): audit it and return the number; None if not allowed."""
    if not may_reveal_phone(identity, client):
        return None
    user = session.scalars(select(User).where(User.login == identity.login)).first()
    if user is None:
        return None
    session.add(PhoneReveal(user_id=user.id, client_id=client.id, kind=kind))
    session.flush()
    return client.phone


def may_list_phone_reveals(identity: Identity | None) -> bool:
    return is_supervisor(identity)


def may_handle_complaints(identity: Identity | None) -> bool:
    """Supervisors read, answer and resolve complaints (agents record them from the call)."""
    return is_supervisor(identity)


def may_assign_clients(identity: Identity | None) -> bool:
    """Supervisors list clients for assignment, assign them and see the unassigned pool."""
    return is_supervisor(identity)


def may_read_changes(identity: Identity | None) -> bool:
    """Supervisors read the change log (imports, edits, assignments, accounts, products)."""
    return is_supervisor(identity)


def may_import(identity: Identity | None) -> bool:
    """Supervisors import client sheets and the opt-out register, and read past imports and their reports."""
    return is_supervisor(identity)


def may_manage_accounts(identity: Identity | None) -> bool:
    """Supervisors list, create, disable, enable and reset the team's accounts."""
    return is_supervisor(identity)


def may_manage_products(identity: Identity | None) -> bool:
    """Supervisors add, edit and deactivate products."""
    return is_supervisor(identity)


def may_teach_model(identity: Identity | None) -> bool:
    """Supervisors decide which lines from the floor (clarification choices, outcome corrections)
    become training data; agents create candidates only by working."""
    return is_supervisor(identity)


def may_tune_playbook(identity: Identity | None) -> bool:
    """Supervisors read how each opening style does per segment (话术效果) and pin, exclude or stop
    what the learner recommends; agents only work with its recommendations."""
    return is_supervisor(identity)


def may_read_call_list(identity: Identity | None, agent_login: str) -> bool:
    """An agent reads their own daily call list (工作台); a supervisor any agent's."""
    return is_supervisor(identity) or (reads_real_crm(identity) and identity.login == agent_login)


# --- conversations ---------------------------------------------------------------------------

def conversation_owner(session: Session, conversation_id: str) -> str | None:
    """The login that owns a conversation: its owner row, else the agent of its call row."""
    return crm.conversation_owners(session, [conversation_id]).get(conversation_id)


def readable_conversations(session: Session, identity: Identity | None,
                           conversation_ids: Iterable[str]) -> set[str]:
    """The conversations among ``conversation_ids`` that ``identity`` may read: the owner's, and
    every one for a supervisor."""
    if identity is None:
        return set()
    if is_supervisor(identity):
        return set(conversation_ids)
    return {c for c, login in crm.conversation_owners(session, conversation_ids).items() if login == identity.login}


def may_read_conversation(session: Session, identity: Identity | None, conversation_id: str) -> bool:
    return conversation_id in readable_conversations(session, identity, [conversation_id])


def claim_conversation(session: Session, conversation_id: str, identity: Identity | None,
                       history_owner: Callable[[str], str | None] = lambda _id: None) -> bool:
    """May ``identity`` write into this conversation? Binds an unowned, new one to them.

    ``history_owner`` tells whether the conversation already has history (tracker events):
    None for none, else the login its first message was attributed to ("" if unknown). A
    conversation with history but no owner goes to that login only, never to whoever asks first.
    """
    if identity is None:
        return False
    owner = conversation_owner(session, conversation_id)
    if owner is None:
        owner = history_owner(conversation_id)
        if owner == "":
            return False
    if owner is not None and owner != identity.login:
        return False
    if session.get(ConversationOwner, conversation_id) is None:
        return _bind(session, conversation_id, identity.login)
    return True


def _bind(session: Session, conversation_id: str, login: str) -> bool:
    user = session.scalars(select(User).where(User.login == login)).first()
    if user is None:
        return False
    try:
        # A savepoint: two first messages of one conversation may arrive at once (two Rasa
        # servers, a double click); the loser's insert fails and the winner's row decides.
        with session.begin_nested():
            session.add(ConversationOwner(conversation_id=conversation_id, user_id=user.id))
    except IntegrityError:
        owner = session.get(ConversationOwner, conversation_id, populate_existing=True)
        return owner is not None and owner.user_id == user.id
    return True


# --- lookups: the one access-checked way to find a client -------------------------------------

# Client ids are database integers: a longer "id" (a forged button payload) is no client.
MAX_CLIENT_ID_DIGITS = 18


@dataclass(frozen=True)
class Lookup:
    """What a lookup may tell its user: the clients (each to be shown at ``client_level``), or that
    a phone suffix was refused (only agents search by 尾号, and only their own clients)."""

    clients: list[Client]
    suffix_refused: bool = False


def lookup_clients(session: Session, identity: Identity | None, kind: str, value: str,
                   limit: int = 10) -> Lookup:
    """Find clients for ``identity``, whatever path the lookup came by (typed text, a button
    payload, the JSON API), so that no path is an oracle.

    ``kind`` is 'client_id', 'client_name' or 'phone' (digits only, already normalised):

    - an id or a name: the client at whatever level the user may read (another agent's client:
      name, stage and owner); digits in a name are part of the name, never a phone number;
    - the whole number (11 digits): only a client the user may read in full; another agent's
      client is not found. A supervisor's hit is audited as a lookup, like "show number";
    - 4 to 10 digits (尾号): the agent's own clients only; refused for everyone else.
    """
    if not reads_real_crm(identity):
        return Lookup([])
    if kind == "client_id":
        valid = value.isascii() and value.isdigit() and len(value) <= MAX_CLIENT_ID_DIGITS
        client = session.get(Client, int(value)) if valid else None
        return Lookup([client] if client is not None and client_level(identity, client) is not Level.NONE else [])
    if kind == "client_name":
        return Lookup([c for c in crm.clients_by_name(session, value, limit)
                       if client_level(identity, c) is not Level.NONE])
    if kind != "phone" or not (value.isascii() and value.isdigit()):
        return Lookup([])
    if len(value) == PHONE_DIGITS:
        found = [c for c in crm.clients_by_phone(session, value) if may_read_client(identity, c)]
        if not found or not is_supervisor(identity):
            return Lookup(found)
        # The number typed in full ties it to a client: audited like pressing "show number".
        return Lookup([c for c in found if record_phone_reveal(session, identity, c, kind="lookup")])
    if not MIN_PHONE_DIGITS <= len(value) < PHONE_DIGITS:
        return Lookup([])
    if identity.role != "agent":
        return Lookup([], suffix_refused=True)
    user = crm.get_user(session, identity.login)
    return Lookup(crm.clients_by_phone_suffix(session, value, user.id, limit) if user is not None else [])
