"""Chinese callback phrases to datetimes, relative to a fixed 'now' (Monday 2026-11-23 10:00)."""

from __future__ import annotations

from datetime import datetime

import pytest

from bot.timeparse import describe, parse_amount, parse_callback_time

NOW = datetime(2026, 11, 23, 10, 0)


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("一个小时后", datetime(2026, 11, 23, 11, 0)),
        ("半小时后", datetime(2026, 11, 23, 10, 30)),
        ("约他明天下午三点再打", datetime(2026, 11, 24, 15, 0)),
        ("后天上午", datetime(2026, 11, 25, 9, 0)),  # part of a day: two hours in
        ("下周一", datetime(2026, 11, 30, 10, 0)),  # a whole day: 10:00
        ("周五上午十点", datetime(2026, 11, 27, 10, 0)),
        ("晚上八点", datetime(2026, 11, 23, 20, 0)),
        ("3点再打给她", datetime(2026, 11, 23, 15, 0)),  # office hours: 3 o'clock is 15:00
        ("明早九点", datetime(2026, 11, 24, 9, 0)),  # contraction jionlp misreads on its own
        ("星期四下午", datetime(2026, 11, 26, 15, 0)),
        ("2026-11-24T15:30", datetime(2026, 11, 24, 15, 30)),  # the widget's time picker
        ("2026-11-24 15:30", datetime(2026, 11, 24, 15, 30)),
        ("過兩天再聯繫", datetime(2026, 11, 25, 10, 0)),  # Traditional, after normalisation
        ("1月5号下午三点", datetime(2027, 1, 5, 15, 0)),  # a day already gone this year: next year's
        ("明年3月1日", datetime(2027, 3, 1, 10, 0)),
    ],
)
def test_parse(phrase, expected):
    from bot.text import normalize

    parsed = parse_callback_time(normalize(phrase), NOW)
    assert parsed.problem is None
    assert parsed.when == expected


def test_client_name_does_not_eat_the_time():
    parsed = parse_callback_time("约张三一小时后回电", NOW, mask=("张三",))
    assert parsed.when == datetime(2026, 11, 23, 11, 0)


def test_past_time_is_flagged():
    parsed = parse_callback_time("昨天下午三点", NOW)
    assert parsed.problem == "past"


@pytest.mark.parametrize("phrase", ["改天吧", "随便", "有空再说", ""])
def test_unparseable(phrase):
    parsed = parse_callback_time(phrase, NOW)
    assert parsed.when is None and parsed.problem == "unparsed"


def test_describe():
    assert describe(datetime(2026, 11, 23, 15, 30), NOW) == "今天15:30"
    assert describe(datetime(2026, 11, 24, 9, 0), NOW) == "明天09:00"
    assert describe(datetime(2026, 11, 30, 10, 0), NOW) == "11月30日(周一)10:00"
    assert describe(datetime(2027, 1, 4, 10, 0), NOW) == "2027年1月4日(周一)10:00"  # another year: said


@pytest.mark.parametrize(("text", "yuan"), [("五十万", 500000), ("20万", 200000), ("3千块", 3000), ("50w", 500000),
                                           ("没钱", None)])
def test_amount(text, yuan):
    assert parse_amount(text) == yuan


def test_first_calls_at_the_same_moment_all_understand_the_time():
    """Right after start-up, callbacks booked at one moment: jionlp loads its tables on first use,
    and concurrent first calls used to return nothing (and lose the process's stdout)."""
    import subprocess
    import sys

    script = (
        "import threading\n"
        "from datetime import datetime\n"
        "from bot.timeparse import parse_callback_time\n"
        "now, found = datetime(2026, 11, 23, 10, 0), []\n"
        "book = lambda: found.append(parse_callback_time('约他明天下午三点再打', now).when)\n"
        "threads = [threading.Thread(target=book) for _ in range(4)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "print(sorted({w.isoformat() if w else 'none' for w in found}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == "['2026-11-24T15:00:00']"


def test_a_tracker_timestamp_reads_back_as_the_clock(frozen_clock):
    """Events stamped by the clock (tests/actions_helper.py) read back as the same moment: a call's
    start and end come from one clock."""
    from bot import clock

    assert clock.from_timestamp(clock.timestamp()) == clock.now()
    frozen_clock(datetime(2026, 12, 31, 23, 59, 30))
    assert clock.from_timestamp(clock.timestamp()) == datetime(2026, 12, 31, 23, 59, 30)
