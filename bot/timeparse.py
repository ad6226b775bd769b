"""Chinese callback-time phrases (明天下午三点, 一个小时后, 下周一 ...) to concrete datetimes.

jionlp does the parsing and returns a range; choosing the moment inside the range
(and the tele-sales reading of a bare "3点" as 15:00) is ours.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

# Spoken contractions jionlp misreads (明早 -> today).
_CONTRACTIONS = [
    ("明早", "明天早上"),
    ("明晚", "明天晚上"),
    ("今早", "今天早上"),
    ("今晚", "今天晚上"),
    ("后早", "后天早上"),
]
_PERIOD_MARKERS = re.compile(r"上午|早|凌晨|中午|下午|傍晚|晚|夜|午")
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
# Calls are made in office hours: a bare 1-7 o'clock means the afternoon.
_AFTERNOON_HOURS = range(1, 8)


@dataclass(frozen=True)
class ParsedTime:
    when: datetime | None
    text: str  # the phrase that was understood
    problem: str | None = None  # "unparsed" or "past"


@lru_cache(maxsize=1)
def _jio():
    # jionlp prints a banner on import; keep it out of the servers' output.
    with contextlib.redirect_stdout(io.StringIO()):
        import jionlp

    return jionlp


def _expand(text: str) -> str:
    for short, full in _CONTRACTIONS:
        text = text.replace(short, full)
    return text


def _pick(phrase: str, detail: dict, now: datetime) -> datetime | None:
    kind = detail.get("type")
    if kind == "time_delta":
        span = detail["time"]
        if not isinstance(span, dict):
            return None
        return now + timedelta(
            days=span.get("day", 0) + 7 * span.get("week", 0) + 30 * span.get("month", 0),
            hours=span.get("hour", 0),
            minutes=span.get("minute", 0),
        )
    if kind not in ("time_point", "time_span"):
        return None
    times = detail["time"]
    if not isinstance(times, list) or len(times) != 2 or not isinstance(times[0], str):
        return None
    start, end = (datetime.strptime(t, "%Y-%m-%d %H:%M:%S") for t in times)
    duration = end - start
    if duration >= timedelta(hours=20):
        # A whole day (下周一) or several: the first morning of it.
        candidate = start.replace(hour=10, minute=0)
        if candidate < now < end:
            candidate = (now + timedelta(hours=1)).replace(minute=0, second=0)
        return candidate
    if duration > timedelta(hours=2):
        # Part of a day (后天上午, 星期四下午): two hours into it.
        return min(start + timedelta(hours=2), end)
    if start.hour in _AFTERNOON_HOURS and not _PERIOD_MARKERS.search(phrase):
        start += timedelta(hours=12)
    return start


def parse_callback_time(text: str, now: datetime, *, mask: tuple[str, ...] = ()) -> ParsedTime:
    """The callback moment in ``text`` relative to ``now`` (naive local time).

    ``mask``: words (client names) to blank out first, so 张三一小时后 is not read as 三一.
    """
    iso = _ISO.search(text)
    if iso:  # the widget's time picker sends ISO times
        when = datetime.fromisoformat(iso.group(0).replace(" ", "T"))
        return ParsedTime(when, iso.group(0), "past" if when < now - timedelta(minutes=1) else None)
    jio = _jio()
    cleaned = text
    for word in mask:
        if word:
            cleaned = cleaned.replace(word, "，")
    cleaned = _expand(cleaned)
    try:
        found = jio.ner.extract_time(cleaned, time_base=now.timestamp(), with_parsing=True)
    except Exception:  # noqa: BLE001 - jionlp raises bare errors on odd input
        found = []
    for item in found:
        when = _pick(item["text"], item.get("detail") or {}, now)
        if when is None:
            continue
        when = when.replace(second=0, microsecond=0)
        if when < now - timedelta(minutes=1):
            return ParsedTime(when, item["text"], "past")
        return ParsedTime(when, item["text"])
    return ParsedTime(None, text, "unparsed")


def parse_amount(text: str) -> float | None:
    """Money phrases (五十万, 20万, 3千块) to yuan."""
    jio = _jio()
    try:
        parsed = jio.parse_money(text)
    except Exception:  # noqa: BLE001
        return None
    try:
        return float(parsed["num"])
    except (KeyError, TypeError, ValueError):
        return None


WEEKDAYS = "一二三四五六日"


def describe(when: datetime, now: datetime) -> str:
    """Readable Chinese time: 今天15:30 / 明天10:00 / 11月30日(周一)10:00."""
    days = (when.date() - now.date()).days
    prefix = {0: "今天", 1: "明天", 2: "后天"}.get(days)
    if prefix is None:
        prefix = f"{when.month}月{when.day}日(周{WEEKDAYS[when.weekday()]})"
    return f"{prefix}{when:%H:%M}"
