"""Profiling the servers under load with py-spy, and summarising what it sampled.

``py-spy record --format raw`` writes collapsed stacks ("frame;frame;... count"); the summary
gives, per area of interest, the share of busy samples whose stack passes through it
(inclusive: a stack counts for every area it touches), the top functions by own time, and
milliseconds of busy Python time per message.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bot.settings import PROJECT_ROOT

SAMPLE_RATE = 100  # Hz
PROJECT_FRAME = re.compile(r"\((?:" + re.escape(str(PROJECT_ROOT)) + r"/)?(bot|actions)/")

# (label, regex on a frame "function (path:line)"). Ordered as printed when equal.
RASA_AREAS = [
    ("NLU: ChineseNormalizer (bot/nlu/normalizer.py)", r"bot/nlu/normalizer\.py"),
    ("NLU: PhoneTalkFeaturizer (bot/nlu/phone_features.py)", r"bot/nlu/phone_features\.py"),
    ("NLU: CatalogueEntityExtractor, spaCy entity ruler (bot/nlu/catalogue_extractor.py)",
     r"bot/nlu/catalogue_extractor\.py"),
    ("NLU: PriorityIntents (bot/nlu/priority.py)", r"bot/nlu/priority\.py"),
    ("NLU: JiebaTokenizer", r"jieba_tokenizer\.py"),
    ("NLU: CountVectorsFeaturizer", r"count_vectors_featurizer\.py"),
    ("NLU: RegexFeaturizer", r"regex_featurizer\.py"),
    ("NLU: DIETClassifier (incl. TensorFlow)", r"diet_classifier\.py"),
    ("NLU: RegexEntityExtractor", r"regex_entity_extractor\.py"),
    ("NLU: whole graph (rasa/engine)", r"rasa/engine/runner/dask\.py|rasa/engine/graph\.py"),
    ("Core: policies (rasa/core/policies)", r"rasa/core/policies/"),
    ("Core: RehearsalPolicy (bot/rasa_ext/rehearsal_policy.py)", r"bot/rasa_ext/rehearsal_policy\.py"),
    ("Tracker store (rasa/core/tracker_store.py)", r"rasa/core/tracker_store\.py"),
    ("Lock store (rasa/core/lock_store.py)", r"rasa/core/lock_store\.py"),
    ("Action calls to the action server (rasa/core/actions/action.py RemoteAction)",
     r"RemoteAction|rasa/utils/endpoints\.py"),
    ("Channel: token check (bot/auth.py identity_from_token)", r"identity_from_token|bot/auth\.py"),
    ("Channel: conversation owner (bot/rasa_ext/channels.py _owns)", r"_owns \(|bot/access\.py|bot/transcripts\.py"),
    ("Tracker serialisation (rasa/shared/core/trackers.py, events.py)",
     r"rasa/shared/core/trackers\.py|rasa/shared/core/events\.py"),
    ("SQLAlchemy (any caller)", r"\(sqlalchemy/"),
    ("JSON (de)serialisation", r"json/(encoder|decoder)\.py|ujson|orjson"),
    ("SQLite connect/close + PRAGMAs (a new connection per session)",
     r"DefaultDialect\.connect|_sqlite_pragmas|DefaultDialect\.do_close"),
    ("SQLite commit", r"DefaultDialect\.do_commit"),
    ("Validating the action server's reply (jsonschema)", r"\(jsonschema/"),
]
ACTION_AREAS = [
    ("rasa_sdk executor and endpoint", r"rasa_sdk/executor\.py|rasa_sdk/endpoint\.py"),
    ("CrmAction._run_in_session (whole action, actions/common.py)", r"_run_in_session"),
    ("build_scope (actions/scope.py)", r"build_scope"),
    ("acting_user (actions/identity.py)", r"acting_user"),
    ("crm.catalogue + ProductInfo.from_row (per message)", r"catalogue \(bot/crm\.py|ProductInfo|from_row"),
    ("crm.pending_callbacks / last_call / open_followups / call_for",
     r"pending_callbacks|last_call \(bot/crm|open_followups|call_for"),
    ("Tracker.from_dict (rasa_sdk/interfaces.py)", r"from_dict \(.*rasa_sdk"),
    ("handle(): the action's own work", r" handle \(actions/"),
    ("bot/guidance/", r"bot/guidance/"),
    ("bot/playbook", r"bot/playbook/"),
    ("SQLAlchemy (any caller)", r"\(sqlalchemy/"),
    ("SQLite driver (execute/commit)", r"sqlite3|do_execute|do_commit"),
    ("ORM loading/flush", r"sqlalchemy/orm/(loading|unitofwork|persistence)\.py"),
    ("JSON (de)serialisation", r"json/(encoder|decoder)\.py|ujson|orjson"),
    ("SQLite connect/close + PRAGMAs (a new connection per session)",
     r"DefaultDialect\.connect|_sqlite_pragmas|DefaultDialect\.do_close"),
    ("SQLite commit", r"DefaultDialect\.do_commit"),
]
# Leaf frames that are waiting, not working, though py-spy did not mark them idle: a thread
# pool worker blocked on its queue, and the event loop inside uvloop's C code (epoll).
IDLE_LEAVES = re.compile(r"^_worker \(concurrent/futures/thread\.py:81\)$|^serve \(sanic/server/runners\.py:155\)$")


def record(pid: int, seconds: int, output: Path, log: Path) -> subprocess.Popen:
    """Start ``py-spy record`` on ``pid`` for ``seconds`` (raw collapsed stacks, all threads)."""
    py_spy = str(Path(sys.executable).with_name("py-spy"))
    cmd = [py_spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", str(SAMPLE_RATE),
           "--format", "raw", "--output", str(output)]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)


def dump(pid: int, output: Path) -> None:
    """One ``py-spy dump`` snapshot of every thread's stack, appended to ``output``."""
    py_spy = str(Path(sys.executable).with_name("py-spy"))
    result = subprocess.run([py_spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=60)
    with open(output, "a", encoding="utf-8") as out:
        out.write(result.stdout + result.stderr + "\n" + "=" * 80 + "\n")


def read_stacks(path: Path) -> Counter:
    stacks: Counter = Counter()
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _sep, count = line.rpartition(" ")
        if stack and count.isdigit() and not IDLE_LEAVES.match(stack.split(";")[-1]):
            stacks[stack] += int(count)
    return stacks


def _short(frame: str) -> str:
    # "run (/work/main/.venv/lib/python3.11/site-packages/rasa/x.py:12)" -> "run (rasa/x.py:12)"
    return re.sub(r"\((?:.*/site-packages/|" + re.escape(str(PROJECT_ROOT)) + r"/|.*/lib/python3\.\d+/)", "(", frame)


def summarise(path: Path, areas: list[tuple[str, str]], messages: int, title: str, top: int = 15) -> str:
    """A markdown summary of one profile."""
    stacks = read_stacks(path)
    total = sum(stacks.values())
    if not total:
        return f"### {title}\n\nno samples recorded ({path})\n"
    per_message = (lambda n: f"{n / SAMPLE_RATE * 1000 / messages:.1f}") if messages else (lambda n: "-")
    lines = [f"### {title}", "",
             f"{total} busy samples at {SAMPLE_RATE} Hz over {messages} messages "
             f"({total / SAMPLE_RATE * 1000 / max(messages, 1):.1f} ms of busy Python thread time per message; "
             "idle threads not counted). Inclusive: a stack counts for every area it passes through.", "",
             "| area | share of busy samples | ms per message |", "|---|---:|---:|"]
    rows = []
    for label, pattern in areas:
        regex = re.compile(pattern)
        hits = sum(n for stack, n in stacks.items() if any(regex.search(f) for f in stack.split(";")))
        rows.append((hits, label))
    for hits, label in sorted(rows, key=lambda r: -r[0]):
        lines.append(f"| {label} | {100 * hits / total:.1f} % | {per_message(hits)} |")
    own: Counter = Counter()
    for stack, n in stacks.items():
        own[_short(stack.split(";")[-1])] += n
    lines += ["", f"Top {top} functions by own time:", "", "| function | own share |", "|---|---:|"]
    for frame, n in own.most_common(top):
        lines.append(f"| `{frame}` | {100 * n / total:.1f} % |")
    inclusive: Counter = Counter()
    for stack, n in stacks.items():
        for frame in {_short(f) for f in stack.split(";") if PROJECT_FRAME.search(f)}:
            inclusive[frame] += n
    lines += ["", f"Top {top} project functions by inclusive time:", "", "| function | inclusive share |",
              "|---|---:|"]
    for frame, n in inclusive.most_common(top):
        lines.append(f"| `{frame}` | {100 * n / total:.1f} % |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """``python -m bench.profile FILE rasa|actions MESSAGES``: summarise an earlier recording."""
    path, kind, messages = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    areas = RASA_AREAS if kind == "rasa" else ACTION_AREAS
    print(summarise(path, areas, messages, f"{kind}: {path.name}"))


if __name__ == "__main__":
    main()
