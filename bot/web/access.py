"""Who may see what: agents and trainees their own, supervisors everything."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.auth import Identity
from bot.crm import mask_phone
from bot.models import Call, Client, ConversationOwner, User


def is_supervisor(identity: Identity) -> bool:
    return identity.role == "supervisor"


def user_of(session: Session, identity: Identity) -> User | None:
    return session.scalars(select(User).where(User.login == identity.login)).first()


def scope_user_id(session: Session, identity: Identity) -> int | None:
    """The user id to filter by, or None for 'everyone' (supervisors). -1 matches nothing."""
    if is_supervisor(identity):
        return None
    user = user_of(session, identity)
    return user.id if user else -1


def can_see_client(session: Session, identity: Identity, client: Client) -> bool:
    return is_supervisor(identity) or client.agent_id == scope_user_id(session, identity)


def phone_for(identity: Identity, client: Client) -> str:
    """Full number for the client's own agent only; masked (138****0001) for everyone else."""
    own = client.agent is not None and client.agent.login == identity.login
    return client.phone if own else mask_phone(client.phone)


def can_see_conversation(session: Session, identity: Identity, conversation_id: str) -> bool:
    if is_supervisor(identity):
        return True
    owner = session.get(ConversationOwner, conversation_id)
    if owner is not None:
        return owner.user.login == identity.login
    call = session.scalars(select(Call).where(Call.conversation_id == conversation_id)).first()
    return call is not None and call.agent is not None and call.agent.login == identity.login
