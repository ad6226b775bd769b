"""The team's earlier calls, for the demo (issue 24): clients of past campaigns, each called once or twice in
the last 80 days by agent01 or agent02, so the 话术效果 page has evidence to show and the learner's
recommendation visibly moves where the team's results differ from the playbook's ranking.

What the calls say is made up but consistent: each call's opening style is one the rules allow for that
client and the product pitched (``bot.profile.rank_openings``), its segment is the client's, and the client's
stage is what the outcomes leave (``bot.outcomes.next_stage``). The story they tell: for 公职人员 the team's
制造忧虑 opening converts about three times as often as the playbook's first choice 同类借故; elsewhere the
playbook's order holds. Calls stay within the last 80 days, so no client turns up as dormant on a call list,
and no follow-up is left open.

Deterministic (a seeded generator, times relative to ``now``); conversation ids start with ``demo-team-``;
loading again adds nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import call_counts, clock
from bot.models import Call, Client, Product, User
from bot.outcomes import REACHED, next_stage
from bot.profile import ProductInfo, Profile, rank_openings, recommend_products

SEED = 20261207
PREFIX = "demo-team-"
DAYS = 80
AGENTS = ("agent01", "agent02")
SURNAMES = ("赵钱孙周吴郑冯陈褚卫蒋沈韩杨朱秦尤许何吕施孔曹严华金魏陶姜戚谢邹喻柏水窦章云"
            "苏潘葛范彭郎鲁韦马苗凤方俞任袁柳")
GIVEN = ("建国", "秀英", "志强", "丽华", "海燕", "立新", "红梅", "国庆", "春燕", "文斌", "晓东", "玉兰", "明辉", "静怡",
         "振华", "桂芳", "永刚", "雪梅", "德明", "慧敏")


@dataclass(frozen=True)
class Group:
    """Clients of one kind: how many, what they do, their age range, income and assets."""

    count: int
    occupations: tuple[str, ...]
    ages: tuple[int, int]
    income: tuple[int, int]
    assets: tuple[int, int]


GROUPS = (
    Group(64, ("区政府办公室科员", "市税务局科长", "法院书记员", "市公安局民警", "区政府财政局科员", "检察院干部"),
          (32, 55), (120000, 300000), (100000, 1200000)),
    Group(44, ("个体店主", "餐馆老板", "贸易公司企业主", "装修公司创始人"), (35, 58), (200000, 1500000),
          (300000, 4000000)),
    Group(30, ("程序员", "设计师", "销售主管", "外企职员"), (24, 36), (100000, 400000), (20000, 300000)),
)
# The good-outcome rate of a reached call, by (segment, style); DEFAULT_RATE for the rest.
RATES = {("civil_servant", "worry"): 0.46, ("civil_servant", "peer_reference"): 0.14,
         ("business_owner", "direct"): 0.32, ("business_owner", "peer_reference"): 0.2,
         ("business_owner", "worry"): 0.04, ("young", "direct"): 0.3, ("young", "worry"): 0.04}
DEFAULT_RATE = 0.14
# How the team chose styles: mostly the playbook's first, often 制造忧虑 where it is allowed (the team tried it
# on its own), now and then another allowed style.
FIRST_SHARE, WORRY_SHARE = 0.5, 0.3


def _profile(spec: dict[str, Any]) -> Profile:
    return Profile(id=0, name=spec["name"], phone=spec["phone"], gender=spec["gender"], age=spec["age"],
                   occupation=spec["occupation"], company=None, annual_income=spec["annual_income"],
                   assets=spec["assets"], card_spend=None, stage="unknown", do_not_call=False, agent_login=None,
                   agent_name=None, referrer=None, note=None, contact_source="existing_customer")


def _clients(rng: random.Random) -> list[dict[str, Any]]:
    specs, number = [], 0
    for group in GROUPS:
        for _ in range(group.count):
            name = SURNAMES[number % len(SURNAMES)] + GIVEN[number // len(SURNAMES) % len(GIVEN)]
            specs.append({"name": name, "phone": f"1370000{number:04d}", "gender": rng.choice("男女"),
                          "age": rng.randint(*group.ages), "occupation": rng.choice(group.occupations),
                          "annual_income": rng.randrange(group.income[0], group.income[1], 10000),
                          "assets": rng.randrange(group.assets[0], group.assets[1], 10000),
                          "agent": AGENTS[number % len(AGENTS)]})
            number += 1
    return specs


def _disposition(rng: random.Random, rate: float) -> str:
    if rng.random() < 0.2:
        return "no_answer"
    if rng.random() < rate:
        return "deal" if rng.random() < 0.3 else "interested"
    return "refused" if rng.random() < 0.75 else "thinking"


def _style(rng: random.Random, allowed: list[str]) -> str:
    draw = rng.random()
    if draw < FIRST_SHARE:
        return allowed[0]
    if draw < FIRST_SHARE + WORRY_SHARE and "worry" in allowed:
        return "worry"
    return rng.choice(allowed)


def load_demo_team(session: Session, now: datetime | None = None) -> dict[str, int]:
    """Add the team's earlier clients and their calls (once); returns how many of each were added."""
    if session.scalar(select(Call.id).where(Call.conversation_id.startswith(PREFIX)).limit(1)) is not None:
        return {"team_clients": 0, "team_calls": 0}
    now = now or clock.now()
    rng = random.Random(SEED)
    users = {u.login: u for u in session.scalars(select(User).where(User.login.in_(AGENTS)))}
    catalogue = tuple(ProductInfo.from_row(p) for p in session.scalars(select(Product).where(Product.active)))
    taken = set(session.scalars(select(Client.phone)))
    added = {"team_clients": 0, "team_calls": 0}
    for spec in _clients(rng):
        agent = users.get(spec["agent"])
        if agent is None or spec["phone"] in taken:
            continue
        profile = _profile(spec)
        products = [product for product, _why in recommend_products(profile, catalogue)]
        if not products:
            continue
        client = Client(name=spec["name"], phone=spec["phone"], gender=spec["gender"], age=spec["age"],
                        occupation=spec["occupation"], annual_income=spec["annual_income"], assets=spec["assets"],
                        stage="unknown", agent=agent, contact_source="existing_customer",
                        note="往期营销活动客户")
        session.add(client)
        session.flush()
        stage, deals = "unknown", 0
        first_day = rng.randint(12, DAYS)
        for number in range(rng.choice((1, 1, 2))):
            product = products[0] if number == 0 else rng.choice(products[:3])
            allowed = [style for style, _why in rank_openings(profile, product)]
            style = _style(rng, allowed)
            disposition = _disposition(rng, RATES.get((profile.main_segment, style), DEFAULT_RATE))
            day = now - timedelta(days=first_day if number == 0 else first_day - rng.randint(4, 10))
            started = datetime.combine(day.date(), time(rng.choice((9, 10, 11, 14, 15, 16)), rng.randrange(0, 60, 5)))
            reached = disposition in REACHED
            call = Call(
                conversation_id=f"{PREFIX}{spec['phone']}-{number + 1:02d}", agent_id=agent.id, client_id=client.id,
                started_at=started, ended_at=started + timedelta(minutes=rng.randint(4, 12) if reached else 1),
                disposition=disposition, objections=[], opening_style=style if reached else None,
                segment=profile.main_segment if reached else None, opening_explored=False if reached else None,
                products=[product.code] if reached else [], updated_at=started, stage_before=stage)
            # No product choice is kept for the learner: these outcomes follow the opening style only, so
            # they would teach the learner noise about products.
            session.add(call)
            stage = next_stage(stage, disposition, deals)
            deals += disposition == "deal"
            added["team_calls"] += 1
        client.stage = stage
        added["team_clients"] += 1
    session.flush()
    call_counts.rebuild(session)  # the rows were written here, not through bot.outcomes
    return added
