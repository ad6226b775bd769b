"""Text normalisation shared by the NLU pipeline, the CRM lookups and the web app."""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

_lock = threading.Lock()


@lru_cache(maxsize=1)
def _t2s():
    import opencc  # imported lazily: building the converter reads its dictionaries

    return opencc.OpenCC("t2s")


def to_halfwidth(text: str) -> str:
    """Full-width ASCII forms (ＡＢＣ１２３？) to their half-width twins; ideographic space to space."""
    out = []
    for char in text:
        code = ord(char)
        if code == 0x3000:
            out.append(" ")
        elif 0xFF01 <= code <= 0xFF5E:
            out.append(chr(code - 0xFEE0))
        else:
            out.append(char)
    return "".join(out)


def _convert_char(char: str) -> str:
    try:
        converted = _t2s().convert(char)
    except UnicodeError:  # a lone surrogate cannot go through OpenCC's UTF-8: keep it as it is
        return char
    return converted if len(converted) == 1 else char


def to_simplified(text: str) -> str:
    with _lock:  # the OpenCC converter is not documented as thread-safe
        try:
            converted = _t2s().convert(text)
        except UnicodeError:
            converted = ""  # lone surrogates (from JSON escapes): convert what can be, char by char
        if len(converted) != len(text):
            # Entity offsets must survive normalisation: fall back to char-by-char.
            converted = "".join(_convert_char(char) for char in text)
    return converted if len(converted) == len(text) else text


def normalize(text: str) -> str:
    """Half-width, Simplified Chinese, same length as the input (offsets stay valid)."""
    if not text:
        return text
    return to_simplified(to_halfwidth(text))


def unreadable_chars(text: str) -> bool:
    """Whether ``text`` holds characters no one typed: control characters other than whitespace
    (NUL, escape ...) or lone surrogates. PostgreSQL refuses NUL, UTF-8 refuses surrogates."""
    return any(unicodedata.category(char) in ("Cc", "Cs") and not char.isspace() for char in text)


def blank(text: str) -> bool:
    """Whether ``text`` shows nothing: whitespace and invisible format characters (zero-width space, BOM)."""
    return all(char.isspace() or unicodedata.category(char) == "Cf" for char in text)


# What a typed phone number may look like: digits, possibly grouped by spaces or dashes,
# possibly with letters stuck to it (a typo the agent should hear about).
_DIGIT_GROUPS = re.compile(r"(?<=[0-9])[ \-](?=[0-9])")
_PHONE_TOKEN = re.compile(r"[0-9A-Za-z]*[0-9][0-9A-Za-z]*")
MOBILE = re.compile(r"1[3-9][0-9]{9}")
# An agent finds an own client by the last four or more digits of the number (bot.access.lookup_clients).
MIN_PHONE_DIGITS = 4
PHONE_DIGITS = 11


@dataclass(frozen=True)
class PhoneQuery:
    """The phone-like part of a message: ``digits`` to look up, or the ``problem`` with it
    ("too_short", "too_long", "letters", "not_mobile") and what was typed."""

    typed: str
    digits: str | None
    problem: str | None = None


def phone_query(text: str) -> PhoneQuery | None:
    """The phone number (or its last 4+ digits) typed in ``text``, checked; None if there is none."""
    flat = _DIGIT_GROUPS.sub("", to_halfwidth(text or ""))
    tokens = _PHONE_TOKEN.findall(flat)
    if not tokens:
        return None
    typed = max(tokens, key=lambda t: sum(c.isdigit() for c in t))
    digits = "".join(c for c in typed if c.isdigit())
    if not typed.isdigit():
        # A letter or two next to a short number (A1, 3F) is no phone; three digits and up is a try.
        return PhoneQuery(typed, None, "letters") if len(digits) >= 3 else None
    if len(digits) == PHONE_DIGITS + 2 and digits.startswith("86") and MOBILE.fullmatch(digits[2:]):
        digits = digits[2:]  # country code
    if len(digits) < 2:
        return None  # a lone digit (3号, alert(1)) is no try at a number
    if len(digits) < MIN_PHONE_DIGITS:
        return PhoneQuery(typed, None, "too_short")
    if len(digits) > PHONE_DIGITS:
        return PhoneQuery(typed, None, "too_long")
    if len(digits) == PHONE_DIGITS and not MOBILE.fullmatch(digits):
        return PhoneQuery(typed, None, "not_mobile")
    return PhoneQuery(typed, digits)
