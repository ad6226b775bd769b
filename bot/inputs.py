"""What a message must be before the bot reads it: a conversation id the URLs can carry and text a
person could have typed. Every channel checks this (bot/rasa_ext/channels.py); the reasons are Chinese."""

from __future__ import annotations

import re
from typing import Any

from bot.playbook import playbook
from bot.text import blank, unreadable_chars

MAX_MESSAGE_CHARS = 2000
MAX_SENDER_CHARS = 128
# Conversation ids the channels accept: what the widget (uuid hex), the rehearsal page, REST
# clients and the tests use. No space, slash, '%' or non-ASCII letter, so the id is the same
# string in every URL that opens it (/api/conversations/<id>, /review/conversations/<id>).
CONVERSATION_ID = re.compile(rf"[A-Za-z0-9_.:-]{{1,{MAX_SENDER_CHARS}}}")


def check_conversation_id(sender: Any) -> str | None:
    """A Chinese error for a missing conversation id or one outside CONVERSATION_ID, else None."""
    if isinstance(sender, str) and CONVERSATION_ID.fullmatch(sender):
        return None
    return playbook().messages.message_no_sender.format(limit=MAX_SENDER_CHARS)


def check_message(sender: Any, text: Any) -> str | None:
    """A Chinese error for a malformed message, else None (the message then goes to the bot).

    Refused: a missing conversation id or one outside CONVERSATION_ID; nothing visible to read
    (whitespace, zero-width characters); longer than MAX_MESSAGE_CHARS; control characters or lone
    surrogates, which no one types and which the tracker store cannot keep (PostgreSQL refuses NUL,
    UTF-8 refuses surrogates).
    """
    messages = playbook().messages
    if problem := check_conversation_id(sender):
        return problem
    if not isinstance(text, str) or blank(text):
        return messages["message_empty"]
    if len(text) > MAX_MESSAGE_CHARS:
        return messages["message_too_long"].format(limit=MAX_MESSAGE_CHARS)
    if unreadable_chars(text):
        return messages["message_unreadable"]
    return None
