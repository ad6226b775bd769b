"""Text normalisation shared by the NLU pipeline, the CRM lookups and the web app."""

from __future__ import annotations

import threading
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


def to_simplified(text: str) -> str:
    with _lock:  # the OpenCC converter is not documented as thread-safe
        converted = _t2s().convert(text)
        if len(converted) != len(text):
            # Entity offsets must survive normalisation: fall back to char-by-char.
            converted = "".join(_t2s().convert(char) or char for char in text)
    return converted if len(converted) == len(text) else text


def normalize(text: str) -> str:
    """Half-width, Simplified Chinese, same length as the input (offsets stay valid)."""
    if not text:
        return text
    return to_simplified(to_halfwidth(text))
