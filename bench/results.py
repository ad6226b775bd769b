"""What one benchmark run is asked to do (Settings) and what it measured per bot (BotResult)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from bench import load


@dataclass
class Settings:
    seconds: float = 30
    capacity_seconds: float = 30
    rates: tuple[float, ...] = (2, 10, 30)
    concurrency: int = 16
    warmup_seconds: float = 10
    nlu_rounds: int = 5
    train: bool = False
    keep: bool = False
    profile: bool = False
    bots: tuple[str, ...] = ("salesbot", "minimal")
    sides: bool = True  # the call list, import, learning and growth benchmarks beside serving

    @classmethod
    def from_env(cls, profile_flag: bool) -> Settings:
        seconds = float(os.environ.get("BENCH_SECONDS", 30))
        return cls(
            seconds=seconds,
            capacity_seconds=float(os.environ.get("BENCH_CAPACITY_SECONDS", seconds)),
            rates=tuple(float(r) for r in os.environ.get("BENCH_RATES", "2,10,30").split(",") if r.strip()),
            concurrency=int(os.environ.get("BENCH_CONCURRENCY", 16)),
            warmup_seconds=float(os.environ.get("BENCH_WARMUP_SECONDS", 10)),
            nlu_rounds=int(os.environ.get("BENCH_NLU_ROUNDS", 5)),
            train=os.environ.get("BENCH_TRAIN") == "1",
            keep=os.environ.get("BENCH_KEEP") == "1",
            profile=profile_flag or os.environ.get("PROFILE") == "1",
            bots=tuple(b.strip() for b in os.environ.get("BENCH_BOTS", "salesbot,minimal").split(",") if b.strip()),
            sides=os.environ.get("BENCH_SIDES", "1") != "0",
        )


@dataclass
class BotResult:
    name: str
    training_seconds: float | None = None
    startup_seconds: float | None = None
    nlu: dict = field(default_factory=dict)
    phases: list[load.PhaseResult] = field(default_factory=list)
    capacity: load.PhaseResult | None = None
    rss: dict[str, int] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)
