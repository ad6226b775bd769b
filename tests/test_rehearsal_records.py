"""Rehearsal records and coaching comments in the real (SQLite) CRM: who saves, sees and comments."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.auth import Identity
from bot.models import Call, Client, CoachingComment, ConversationOwner, Rehearsal, User
from bot.rehearsal import records
from bot.rehearsal.turns import ItemScore, ScoreCard

AGENT = Identity("agent01", "agent", "李明")
TRAINEE = Identity("trainee01", "trainee", "吴昊")
OTHER_TRAINEE = Identity("trainee02", "trainee", "陈学")
SUPERVISOR = Identity("super01", "supervisor", "郑主管")
DAY = datetime(2026, 11, 23, 10, 0)
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def card(total: int, flags: tuple[str, ...] = ()) -> ScoreCard:
    return ScoreCard(total=total, flags=flags, items=(
        ItemScore("opening", "30秒开场白", 20, 20, "开场完整。", None),
        ItemScore("compliance", "合规与风险提示", 0, 20, "说了禁用语：保本保收益。",
                  "理财非存款，产品有风险，投资须谨慎。"),
    ))


def save(session, who: Identity, conversation_id: str | None, total: int = 70, when: datetime = DAY,
         **kwargs) -> Rehearsal:
    return records.save_rehearsal(
        session, user=who, scenario_id=kwargs.pop("scenario_id", "busy_teacher"), conversation_id=conversation_id,
        started_at=when, ended_at=when + timedelta(minutes=5), outcome=kwargs.pop("outcome", "callback_agreed"),
        card=kwargs.pop("card", card(total)),
    )


def counts(session) -> tuple[int, int, int]:
    return tuple(session.scalar(select(func.count()).select_from(model))
                 for model in (Rehearsal, CoachingComment, ConversationOwner))


@pytest.fixture()
def db(session):
    """The demo CRM plus a second trainee (the demo data has one)."""
    session.add(User(login="trainee02", name="陈学", role="trainee", password_hash="x"))
    session.flush()
    return session


def live_call(session, conversation_id: str = "live-1") -> str:
    """A real call of agent01's, as the live widget logs it."""
    agent = session.scalars(select(User).where(User.login == "agent01")).one()
    client = session.scalars(select(Client).where(Client.agent_id == agent.id)).first()
    session.add(Call(conversation_id=conversation_id, agent_id=agent.id, client_id=client.id, started_at=DAY))
    session.flush()
    return conversation_id


# --- saving ----------------------------------------------------------------------------------

def test_a_trainee_saves_their_rehearsal_with_the_score_card(db):
    rehearsal = save(db, TRAINEE, "r-1", card=card(35, ("保本保收益",)))
    db.expire_all()
    row = db.get(Rehearsal, rehearsal.id)
    assert row.user.login == "trainee01"
    assert (row.scenario_id, row.conversation_id, row.outcome, row.total) == ("busy_teacher", "r-1",
                                                                              "callback_agreed", 35)
    assert row.started_at == DAY and row.ended_at == DAY + timedelta(minutes=5)
    assert row.flags == ["保本保收益"]
    assert row.items[1] == {"key": "compliance", "title": "合规与风险提示", "points": 0, "max_points": 20,
                            "feedback": "说了禁用语：保本保收益。",
                            "model_line": "理财非存款，产品有风险，投资须谨慎。", "checks": []}
    assert db.get(ConversationOwner, "r-1").user.login == "trainee01"  # the transcript is theirs


@pytest.mark.parametrize("who", [AGENT, SUPERVISOR])
def test_agents_and_supervisors_may_practise_too(db, who):
    assert save(db, who, f"practice-{who.login}").user.login == who.login


@pytest.mark.parametrize("who", [None, Identity("ghost", "trainee", "无名"), Identity("trainee01", "agent", "吴昊")])
def test_no_verified_user_saves_nothing(db, who):
    before = counts(db)
    with pytest.raises(PermissionError) as refused:
        save(db, who, "r-x")
    assert CHINESE.search(str(refused.value))
    assert counts(db) == before


def test_a_deactivated_trainee_saves_nothing(db):
    db.scalars(select(User).where(User.login == "trainee01")).one().active = False
    db.flush()
    before = counts(db)
    with pytest.raises(PermissionError):
        save(db, TRAINEE, "r-x")
    assert counts(db) == before


def test_nobody_files_a_rehearsal_on_someone_elses_transcript(db):
    live = live_call(db)
    save(db, TRAINEE, "r-1")
    before = counts(db)
    for who, conversation_id in ((TRAINEE, live), (OTHER_TRAINEE, "r-1"), (AGENT, "r-1")):
        with pytest.raises(PermissionError) as refused:
            save(db, who, conversation_id)
        assert CHINESE.search(str(refused.value))
    assert counts(db) == before


@pytest.mark.parametrize("kwargs", [{"outcome": "won"}, {"scenario_id": " "}, {"scenario_id": "x" * 65}])
def test_bad_records_are_refused(db, kwargs):
    before = counts(db)
    with pytest.raises(ValueError) as refused:
        save(db, TRAINEE, "r-1", **kwargs)
    assert CHINESE.search(str(refused.value))
    assert counts(db) == before


def test_a_rehearsal_without_a_transcript_or_outcome_is_kept(db):
    row = save(db, TRAINEE, None, outcome=None)
    assert row.conversation_id is None and row.outcome is None


# --- listing ---------------------------------------------------------------------------------

def test_each_sees_their_own_and_the_supervisor_sees_all_newest_first(db):
    first = save(db, TRAINEE, "t-1", when=DAY)
    later = save(db, TRAINEE, "t-2", when=DAY + timedelta(days=1))
    other = save(db, OTHER_TRAINEE, "o-1", when=DAY + timedelta(hours=1))
    agent = save(db, AGENT, "a-1", when=DAY + timedelta(hours=2))
    assert records.rehearsals_for(db, TRAINEE) == [later, first]
    assert records.rehearsals_for(db, OTHER_TRAINEE) == [other]
    assert records.rehearsals_for(db, AGENT) == [agent]
    assert records.rehearsals_for(db, SUPERVISOR) == [later, agent, other, first]
    assert records.rehearsals_for(db, None) == []
    assert records.rehearsals_for(db, Identity("ghost", "trainee", "无名")) == []


def test_the_supervisor_gets_each_trainees_daily_averages(db):
    save(db, TRAINEE, "t-1", total=40, when=DAY)
    save(db, TRAINEE, "t-2", total=61, when=DAY + timedelta(hours=3))
    save(db, TRAINEE, "t-3", total=85, when=DAY + timedelta(days=2))
    save(db, OTHER_TRAINEE, "o-1", total=90, when=DAY)
    save(db, OTHER_TRAINEE, None, total=10).total = None  # no score (e.g. abandoned): left out
    db.flush()
    assert records.average_by_trainee(db, SUPERVISOR) == {
        "trainee01": [(date(2026, 11, 23), 50.5), (date(2026, 11, 25), 85.0)],
        "trainee02": [(date(2026, 11, 23), 90.0)],
    }


def test_others_get_only_their_own_averages(db):
    save(db, TRAINEE, "t-1", total=40, when=DAY)
    save(db, OTHER_TRAINEE, "o-1", total=90, when=DAY)
    assert records.average_by_trainee(db, TRAINEE) == {"trainee01": [(date(2026, 11, 23), 40.0)]}
    assert records.average_by_trainee(db, AGENT) == {}
    assert records.average_by_trainee(db, None) == {}


def test_filing_the_same_rehearsal_again_keeps_one_record(db):
    first = save(db, TRAINEE, "t-1", when=DAY)
    again = save(db, TRAINEE, "t-1", when=DAY)
    assert again.id == first.id and len(records.rehearsals_for(db, TRAINEE)) == 1


def test_a_rehearsal_is_read_by_its_trainee_and_supervisors_only(db):
    row = save(db, TRAINEE, "t-1")
    assert records.rehearsal_for(db, TRAINEE, row.id) is row
    assert records.rehearsal_for(db, SUPERVISOR, row.id) is row
    for who in (OTHER_TRAINEE, AGENT, None):
        with pytest.raises(PermissionError) as refused:
            records.rehearsal_for(db, who, row.id)
        assert CHINESE.search(str(refused.value))
    with pytest.raises(LookupError):
        records.rehearsal_for(db, SUPERVISOR, row.id + 1)


# --- coaching comments -----------------------------------------------------------------------

@pytest.mark.parametrize("who", [None, TRAINEE, AGENT])
def test_only_supervisors_comment(db, who):
    save(db, TRAINEE, "r-1")
    before = counts(db)
    with pytest.raises(PermissionError) as refused:
        records.add_comment(db, who, "r-1", "开场很好。")
    assert CHINESE.search(str(refused.value))
    assert counts(db) == before


def test_the_trainee_reads_the_supervisors_comment_on_their_rehearsal_and_others_do_not(db):
    save(db, TRAINEE, "r-1")
    comment = records.add_comment(db, SUPERVISOR, "r-1", "  开场很好；异议处理要先认同再说明。\n")
    assert comment.body == "开场很好；异议处理要先认同再说明。"
    assert comment.author.login == "super01"
    assert records.comments_for(db, TRAINEE, "r-1") == [comment]
    assert records.comments_for(db, SUPERVISOR, "r-1") == [comment]
    for who in (OTHER_TRAINEE, AGENT, None):
        with pytest.raises(PermissionError) as refused:
            records.comments_for(db, who, "r-1")
        assert CHINESE.search(str(refused.value))


def test_a_rehearsal_transcript_without_an_owner_row_still_belongs_to_its_trainee(db):
    rehearsal = save(db, TRAINEE, "r-1")
    db.delete(db.get(ConversationOwner, "r-1"))  # recorded before the owner row existed
    db.flush()
    assert rehearsal.conversation_id == "r-1"
    comment = records.add_comment(db, SUPERVISOR, "r-1", "下一步要约具体时间。")
    assert records.comments_for(db, TRAINEE, "r-1") == [comment]
    with pytest.raises(PermissionError):
        records.comments_for(db, OTHER_TRAINEE, "r-1")


def test_comments_on_a_live_call_go_to_its_agent_only(db):
    live = live_call(db)
    first = records.add_comment(db, SUPERVISOR, live, "客户说忙时要约回电时间。")
    second = records.add_comment(db, SUPERVISOR, live, "风险提示说得很完整。")
    assert records.comments_for(db, AGENT, live) == [first, second]
    for who in (TRAINEE, Identity("agent02", "agent", "周婷")):
        with pytest.raises(PermissionError):
            records.comments_for(db, who, live)


@pytest.mark.parametrize("body", ["", "   \n\t", "好" * 2001, None])
def test_bad_comment_bodies_are_refused_in_chinese(db, body):
    save(db, TRAINEE, "r-1")
    before = counts(db)
    with pytest.raises(ValueError) as refused:
        records.add_comment(db, SUPERVISOR, "r-1", body)
    assert CHINESE.search(str(refused.value))
    assert counts(db) == before


def test_a_comment_of_2000_characters_is_kept(db):
    save(db, TRAINEE, "r-1")
    assert len(records.add_comment(db, SUPERVISOR, "r-1", " " + "好" * 2000 + " ").body) == 2000


def test_no_comment_on_a_transcript_that_does_not_exist(db):
    before = counts(db)
    with pytest.raises(LookupError) as refused:
        records.add_comment(db, SUPERVISOR, "nowhere", "点评。")
    assert CHINESE.search(str(refused.value))
    assert counts(db) == before
    assert records.comments_for(db, SUPERVISOR, "nowhere") == []
