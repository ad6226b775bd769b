"""Chinese callback-time phrases (明天下午三点, 一个小时后, 下周一 ...) to concrete datetimes.

jionlp does the parsing and returns a range; choosing the moment inside the range
(and the tele-sales reading of a bare "3点" as 15:00) is ours.
"""

from __future__ import annotations

import calendar
import contextlib
import io
import math
import re
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from bot.text import to_halfwidth

# How far ahead a callback may be booked. A callback continues this conversation; a year on, the
# products, rates and the client's risk assessment (valid one year) have all changed and the call
# is a new campaign, not a follow-up. It also keeps typos such as 9999年 out of the follow-up list.
MAX_CALLBACK_AHEAD = timedelta(days=365)
# Only the start of a long message is searched for a time: jionlp's time grows faster than
# linearly with the number of time words (6,000 characters of them took minutes), and a
# callback phrase is a few words.
MAX_TIME_TEXT = 100
# An amount phrase is a few characters (五十万, 1,000,000元); longer text is no amount.
MAX_AMOUNT_TEXT = 40

# Spoken contractions jionlp misreads (明早 -> today).
_CONTRACTIONS = [
    ("明早", "明天早上"),
    ("明晚", "明天晚上"),
    ("今早", "今天早上"),
    ("今晚", "今天晚上"),
    ("后早", "后天早上"),
]
_PERIOD_MARKERS = re.compile(r"上午|早|凌晨|中午|下午|傍晚|晚|夜|午")
# Calls are made in office hours: a bare 1-7 o'clock means the afternoon.
_AFTERNOON_HOURS = range(1, 8)

# Dates the agent spelled out, checked by us: jionlp quietly reads 2月30日 as "the 30th of this
# month" and 9999年1月1日 as "1 January" (this year).
_CN_NUM = "零〇一二两三四五六七八九十百"
_NUM = rf"[0-9]{{1,5}}|[{_CN_NUM}]{{1,5}}"
_SPELLED_DATE = re.compile(
    rf"(?<![0-9{_CN_NUM}])(?:(?P<year>[0-9]{{2,}}|[零〇一二三四五六七八九]{{2,}}|[今明后去])年)?"
    rf"(?P<month>{_NUM})月份?(?:(?P<day>{_NUM})[日号])?"
)
_NUMERIC_DATE = re.compile(
    r"(?<![0-9])(?P<year>[0-9]{4,})[-/.](?P<month>[0-9]{1,2})[-/.](?P<day>[0-9]{1,2})"
    r"(?:[T ](?P<hour>[0-9]{1,2}):(?P<minute>[0-9]{2}))?(?![0-9])"
)
# A year on its own (约他2035年再打): jionlp has no reading for years it cannot place (9999年).
_YEAR = re.compile(r"(?<![0-9])(?P<year>[0-9]{4,})年(?![0-9后前以内底初])")
_CLOCK = re.compile(rf"(?<![0-9{_CN_NUM}])(?P<hour>{_NUM})[点點时時](?:(?P<minute>{_NUM})分)?")
_RELATIVE_YEARS = {"今": 0, "明": 1, "后": 2, "去": -1}
_CN_DIGITS = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"〇": 0, "两": 2}


@dataclass(frozen=True)
class ParsedTime:
    when: datetime | None
    text: str  # the phrase that was understood
    # "unparsed", "past", "invalid" (no such date or hour) or "too_far" (beyond MAX_CALLBACK_AHEAD)
    problem: str | None = None
    # For "invalid": which part is impossible ("month", "day", "hour", "minute") and its numbers.
    detail: dict[str, int] | None = field(default=None, compare=False, hash=False)


_jio_loading = threading.Lock()


@lru_cache(maxsize=1)
def _jio():
    """jionlp, imported and warmed up once. Its time parser loads its tables on first use, and
    concurrent first calls returned nothing (3 of 4 callbacks booked at one moment right after
    start-up were "not understood"): the first use happens here, under a lock, once."""
    with _jio_loading:
        # jionlp prints a banner on import; keep it out of the servers' output (redirect_stdout
        # swaps the process's stdout: only ever under this lock).
        with contextlib.redirect_stdout(io.StringIO()):
            import jionlp

            jionlp.ner.extract_time("明天下午三点", time_base=1_700_000_000, with_parsing=True)
            jionlp.parse_money("五万元")
        return jionlp


def warm_up() -> None:
    """Load the time parser now (the action server calls this at start-up, off the event loop)."""
    _jio()


def _expand(text: str) -> str:
    for short, full in _CONTRACTIONS:
        text = text.replace(short, full)
    return text


def spoken_int(text: str | None) -> int | None:
    """12 / 十二 / 三十一 / 一百零五 / 二〇三〇 to an int (None if absent or malformed)."""
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return int(text)
    if "十" not in text and "百" not in text:
        if not all(c in _CN_DIGITS for c in text):
            return None
        return int("".join(str(_CN_DIGITS[c]) for c in text))  # read digit by digit: 二〇三〇
    total, current = 0, 0
    for char in text:
        if char in _CN_DIGITS:
            current = _CN_DIGITS[char]
        elif char == "十":
            total += (current or 1) * 10
            current = 0
        elif char == "百":
            total += (current or 1) * 100
            current = 0
        else:
            return None
    return total + current


def _stamp(text: str) -> datetime | None:
    """jionlp's "YYYY-MM-DD HH:MM:SS"; None for the out-of-range years it invents on odd input."""
    try:
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return moment if moment.year >= 1900 else None


class _TooFar(Exception):
    """A time beyond what datetime can hold (一万年以后)."""


def _pick(phrase: str, detail: dict, now: datetime) -> datetime | None:
    kind = detail.get("type")
    if kind == "time_delta":
        span = detail["time"]
        if not isinstance(span, dict):
            return None
        try:
            days = (span.get("day", 0) + 7 * span.get("week", 0) + 30 * span.get("month", 0)
                    + 365 * span.get("year", 0))
            return now + timedelta(days=days, hours=span.get("hour", 0), minutes=span.get("minute", 0))
        except (OverflowError, TypeError, ValueError) as error:
            raise _TooFar from error
    if kind not in ("time_point", "time_span"):
        return None
    times = detail["time"]
    if not isinstance(times, list) or len(times) != 2 or not all(isinstance(t, str) for t in times):
        return None
    start, end = _stamp(times[0]), _stamp(times[1])
    if start is None or end is None:
        return None
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


@dataclass(frozen=True)
class _Spelled:
    """A date or hour the agent spelled out, checked: ``day`` is the date when a month and a day
    were given (without a year: the next such day), ``problem`` why it cannot be booked."""

    span: tuple[int, int]
    text: str
    day: date | None = None
    moment: datetime | None = None  # a numeric date with its time (the widget's time picker)
    problem: ParsedTime | None = None


def _invalid(text: str, reason: str, **numbers: int) -> ParsedTime:
    return ParsedTime(None, text, "invalid", {"reason": reason, **numbers})


def _check_date(text: str, span: tuple[int, int], year: int | None, month: int | None, day: int | None,
                now: datetime, *, hour: int | None = None, minute: int | None = None) -> _Spelled:
    if month is None or not 1 <= month <= 12:
        return _Spelled(span, text, problem=_invalid(text, "month", month=month or 0))
    if day is None:
        return _Spelled(span, text)
    explicit_year = year is not None
    if year is None:
        # No year: the next such day (in November, 1月5日 is January next year).
        year = now.year if (month, day) >= (now.month, now.day) else now.year + 1
    if not 1 <= year <= 9999:
        return _Spelled(span, text, problem=ParsedTime(None, text, "too_far" if year > now.year else "past"))
    days = calendar.monthrange(year, month)[1]
    if not 1 <= day <= days:
        return _Spelled(span, text, problem=_invalid(text, "day", year=year, month=month, day=day, days=days,
                                                     explicit_year=int(explicit_year)))
    moment = None
    if hour is not None:
        if not 0 <= hour <= 23 or minute is None or not 0 <= minute <= 59:
            return _Spelled(span, text, problem=_invalid(text, "hour" if not 0 <= hour <= 23 else "minute",
                                                         hour=hour, minute=minute or 0))
        moment = datetime(year, month, day, hour, minute)
    return _Spelled(span, text, date(year, month, day), moment)


def _spelled_dates(text: str, now: datetime) -> list[_Spelled]:
    found = []
    for match in _NUMERIC_DATE.finditer(text):
        found.append(_check_date(match.group(0), match.span(), int(match["year"]), int(match["month"]),
                                 int(match["day"]), now, hour=spoken_int(match["hour"]),
                                 minute=spoken_int(match["minute"])))
    for match in _SPELLED_DATE.finditer(text):
        if any(s.span[0] <= match.start() < s.span[1] for s in found):
            continue
        year_text = match["year"]
        if year_text in _RELATIVE_YEARS:
            year = now.year + _RELATIVE_YEARS[year_text]
        else:
            year = spoken_int(year_text)
            if year is not None and year < 100:
                year += 2000  # 27年3月5日
        found.append(_check_date(match.group(0), match.span(), year, spoken_int(match["month"]),
                                 spoken_int(match["day"]), now))
    for match in _YEAR.finditer(text):
        if not any(s.span[0] <= match.start() < s.span[1] for s in found):
            year = int(match["year"])
            if year > (now + MAX_CALLBACK_AHEAD).year:
                far = ParsedTime(None, match.group(0), "too_far")
                found.append(_Spelled(match.span(), match.group(0), problem=far))
    for match in _CLOCK.finditer(text):
        hour, minute = spoken_int(match["hour"]), spoken_int(match["minute"])
        if hour is not None and hour > 24:
            found.append(_Spelled(match.span(), match.group(0), problem=_invalid(match.group(0), "hour", hour=hour)))
        elif minute is not None and minute > 59:
            found.append(_Spelled(match.span(), match.group(0),
                                  problem=_invalid(match.group(0), "minute", hour=hour or 0, minute=minute)))
    return found


def _judge(when: datetime, text: str, now: datetime) -> ParsedTime:
    """Past, too far ahead, or fine."""
    if when < now - timedelta(minutes=1):
        return ParsedTime(when, text, "past")
    if when > now + MAX_CALLBACK_AHEAD:
        return ParsedTime(when, text, "too_far")
    return ParsedTime(when, text)


def _problem(spelled: list[_Spelled], now: datetime) -> ParsedTime | None:
    for found in spelled:
        if found.problem is not None:
            return found.problem
        if found.day is not None:
            if found.day < now.date():
                return ParsedTime(datetime.combine(found.day, time(10, 0)), found.text, "past")
            if datetime.combine(found.day, time()) > now + MAX_CALLBACK_AHEAD:
                return ParsedTime(datetime.combine(found.day, time(10, 0)), found.text, "too_far")
    return None


def _clean(text: str, mask: tuple[str, ...]) -> str:
    cleaned = to_halfwidth(text or "")
    for word in mask:
        if word:
            cleaned = cleaned.replace(word, "，")
    return _expand(cleaned)[:MAX_TIME_TEXT]


def time_problem(text: str, now: datetime, *, mask: tuple[str, ...] = ()) -> ParsedTime | None:
    """An impossible (2月30日, 25点), past or too distant date spelled out in ``text``, else None.
    Cheap (no jionlp): a message holding a good time phrase and a bad date is still refused."""
    return _problem(_spelled_dates(_clean(text, mask), now), now)


def parse_callback_time(text: str, now: datetime, *, mask: tuple[str, ...] = ()) -> ParsedTime:
    """The callback moment in ``text`` relative to ``now`` (naive local time).

    Never raises. ``problem``: "unparsed" (no time found), "invalid" (no such date or hour: 2月30日,
    25点), "past", or "too_far" (beyond MAX_CALLBACK_AHEAD); ``when`` is set for a good time and
    for "past" and "too_far" when it exists.

    ``mask``: words (client names) to blank out first, so 张三一小时后 is not read as 三一.
    """
    cleaned = _clean(text, mask)
    spelled = _spelled_dates(cleaned, now)
    problem = _problem(spelled, now)
    if problem is not None:
        return problem
    picked = next((s for s in spelled if s.moment is not None), None)
    if picked is not None:  # the widget's time picker sends ISO times
        return _judge(picked.moment, picked.text, now)
    days = [s for s in spelled if s.day is not None]
    jio = _jio()
    try:
        found = jio.ner.extract_time(cleaned, time_base=now.timestamp(), with_parsing=True)
    except Exception:  # noqa: BLE001 - jionlp raises bare errors on odd input
        found = []
    if days:
        # The phrase holding the spelled-out date first: its date is ours, its hour jionlp's.
        start, end = days[0].span
        found = sorted(found, key=lambda item: not _overlaps(item.get("offset"), start, end))
    for item in found:
        try:
            when = _pick(item["text"], item.get("detail") or {}, now)
        except _TooFar:
            return ParsedTime(None, item["text"], "too_far")
        except (KeyError, TypeError, ValueError):
            continue
        if when is None:
            continue
        when = when.replace(second=0, microsecond=0)
        phrase = item["text"]
        if days and when.date() != days[0].day:
            when = datetime.combine(days[0].day, when.time() if _has_clock(phrase) else time(10, 0))
            phrase = days[0].text if days[0].text not in phrase else phrase
        return _judge(when, phrase, now)
    if days:
        return _judge(datetime.combine(days[0].day, time(10, 0)), days[0].text, now)
    return ParsedTime(None, text, "unparsed")


def _overlaps(offset, start: int, end: int) -> bool:
    return isinstance(offset, list) and len(offset) == 2 and offset[0] < end and start < offset[1]


def _has_clock(phrase: str) -> bool:
    return bool(_CLOCK.search(phrase) or _PERIOD_MARKERS.search(phrase) or ":" in phrase)


_SIGNS = ("-", "−", "负")
_PLAIN_NUMBER = re.compile(r"\+?[0-9]+(?:,[0-9]{3})*(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
# Shorthand agents type: 50w = 50万, 5k = 5千.
_SHORTHAND = re.compile(r"\+?([0-9]+(?:\.[0-9]+)?)\s*([wWkK])\s*(?:元|块|块钱)?")


def parse_amount(text: str) -> float | None:
    """Money phrases (五十万, 20万, 3千块, 50w, 1,000,000) to yuan; negative amounts keep their sign
    (the caller refuses them). None if ``text`` is no single amount (没钱, 几千块, a whole sentence)."""
    text = to_halfwidth(str(text or "")).strip()
    if not text or len(text) > MAX_AMOUNT_TEXT:
        return None
    sign = 1.0
    if text.startswith(_SIGNS):
        sign, text = -1.0, text[1:].strip()
    value: float | None = None
    if _PLAIN_NUMBER.fullmatch(text):
        value = float(text.lstrip("+").replace(",", ""))
    elif shorthand := _SHORTHAND.fullmatch(text):
        value = float(shorthand.group(1)) * (10_000 if shorthand.group(2) in "wW" else 1_000)
    else:
        try:
            parsed = _jio().parse_money(text)
            value = float(parsed["num"])  # a range (几千块) is a list: no single amount
        except Exception:  # noqa: BLE001 - jionlp raises bare errors on odd input
            return None
    if not math.isfinite(value):
        return None
    return sign * value


WEEKDAYS = "一二三四五六日"


def describe(when: datetime, now: datetime) -> str:
    """Readable Chinese time: 今天15:30 / 明天10:00 / 11月30日(周一)10:00 / 2027年1月4日(周一)10:00."""
    days = (when.date() - now.date()).days
    prefix = {0: "今天", 1: "明天", 2: "后天"}.get(days)
    if prefix is None:
        year = f"{when.year}年" if when.year != now.year else ""
        prefix = f"{year}{when.month}月{when.day}日(周{WEEKDAYS[when.weekday()]})"
    return f"{prefix}{when:%H:%M}"


# ---- recognising a time in a line (no parsing) ----------------------------------------------------
# Whether a line names a time to call again or to meet (一个小时后、下午三点、明天、周五...), and
# where, without jionlp: the rehearsal reads every trainee line with it (the scoring's cues and the
# customer repeating the proposed time). Not "一分钟" (a duration) and not "三点好处" (a count).
_SPOKEN_NUM = r"\d一二两三四五六七八九十半"
TIME_MENTION_RE = re.compile(
    rf"(?:\d{{1,2}}|[两三四五六七八九十]|十[一二])\s*点(?!(?:好处|优势|卖点|特点|需要|要求|建议|注意|想法))"
    r"|\d{1,2}[:：]\d{2}"
    rf"|(?:上午|下午|晚上|中午|明天|今天)\s*一点"
    rf"|[{_SPOKEN_NUM}]+\s*个?\s*(?:小时|钟头)\s*(?:后|以后|之后)"
    rf"|[{_SPOKEN_NUM}]+\s*分钟\s*(?:后|以后|之后)"
    r"|明天|后天|今晚|今天(?:下午|晚上|上午)|上午|下午|晚上|中午|傍晚|周[一二三四五六日末]|星期[一二三四五六日天]"
    r"|下周|下个?星期|稍后|晚点|晚些|改天|过两天|过几天|回头"
)


def mentions_time(text: str) -> bool:
    """Whether ``text`` names a time (TIME_MENTION_RE)."""
    return bool(TIME_MENTION_RE.search(text))


def time_phrase(text: str) -> str | None:
    """The first time ``text`` names ("明天下午三点", "一个小时后"), adjacent pieces joined."""
    spans: list[list[int]] = []
    for match in TIME_MENTION_RE.finditer(text):
        if spans and match.start() - spans[-1][1] <= 1:
            spans[-1][1] = match.end()
        else:
            spans.append([match.start(), match.end()])
    return text[spans[0][0]:spans[0][1]] if spans else None
