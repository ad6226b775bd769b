"""Dispositions from outcome phrases, and how they move the client through the funnel."""

from __future__ import annotations

import pytest

from bot.outcomes import disposition_for, next_stage


@pytest.mark.parametrize(
    ("phrase", "code"),
    [
        ("deal", "deal"),
        ("客户同意办理了", "deal"),
        ("没接电话", "no_answer"),  # not a listed synonym, but contains one
        ("是空号", "invalid_number"),
        ("別再打了", "do_not_call"),  # Traditional
        ("约回访", "callback"),
        ("随便写写", None),
        (None, None),
    ],
)
def test_disposition_for(phrase, code):
    assert disposition_for(phrase) == code


@pytest.mark.parametrize(
    ("stage", "disposition", "previous_deals", "expected"),
    [
        ("general", "deal", 0, "deal"),
        ("deal", "deal", 1, "loyal"),  # a second deal
        ("unknown", "interested", 0, "potential"),
        ("loyal", "interested", 3, "loyal"),  # never moves a client backwards
        ("unknown", "refused", 0, "general"),
        ("potential", "refused", 0, "potential"),
        ("general", "no_answer", 0, "general"),
        ("general", "do_not_call", 0, "general"),  # the flag is set instead
    ],
)
def test_next_stage(stage, disposition, previous_deals, expected):
    assert next_stage(stage, disposition, previous_deals) == expected
