"""The demo's simulated fleet: the personas of examples/fleet.jsonl as live agents that
publish through the SDK on wall-clock time, and read the executor's messages from
their inbox (streams.demo.inbox.Inbox) — some act on them, one never answers.

Each agent runs until `Timeline.end_ms`, a window boundary, so its last events fall in
a window that closes soon after; rates are per second, so scores do not depend on where
in a window the demo happened to start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from streams.clock import SYSTEM_CLOCK
from streams.demo.inbox import Inbox
from streams.sdk.run import Run


def now_ms() -> int:
    return SYSTEM_CLOCK.now_ms()


@dataclass(frozen=True, slots=True)
class Timeline:
    """Agents start at `start_ms` and end their runs just before `end_ms`, the end of
    the `windows`-th whole window after the start."""

    start_ms: int
    window_ms: int
    end_ms: int

    @classmethod
    def plan(cls, start_ms: int, window_ms: int, windows: int = 3) -> Timeline:
        first_boundary = -(-start_ms // window_ms) * window_ms
        return cls(start_ms, window_ms, first_boundary + windows * window_ms)

    def running(self, margin_ms: int = 400) -> bool:
        return now_ms() < self.end_ms - margin_ms

    async def sleep(self, seconds: float, margin_ms: int = 300) -> None:
        """Sleep `seconds`, but wake up before the end: an overshoot would put the
        agent's last events into the next window."""
        left = (self.end_ms - margin_ms - now_ms()) / 1000
        await asyncio.sleep(max(0.0, min(seconds, left)))

    async def finish(self) -> None:
        """Sleep until just before the end, so `end_run` lands in the last window."""
        delay = (self.end_ms - 300 - now_ms()) / 1000
        if delay > 0:
            await asyncio.sleep(delay)


Act = Callable[[Run, Inbox, Timeline], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Persona:
    execution_id: str
    agent_id: str
    goal_id: str
    goal: str
    story: str  # what it does, for the summary
    act: Act


def _metrics(run: Run, impressions: int, engagements: int) -> None:
    run.metric("impressions", impressions, "count")
    run.metric("engagements", engagements, "count")


async def healthy(run: Run, inbox: Inbox, tl: Timeline) -> None:
    imp = eng = tick = 0
    while tl.running():
        imp, eng = imp + 100, eng + 10  # 10 % engagement: score 0
        _metrics(run, imp, eng)
        if tick % 3 == 0:
            d = run.decide("pick next post", [{"id": "post"}], "post", "audience is growing")
            post = {"post": tick // 3 + 1, "likes": eng}  # each result differs: no loop
            run.record_outcome(d, True, post, tokens_used=350, latency_ms=800)
        tick += 1
        await tl.sleep(1)
    await tl.finish()
    run.end_run(True, output_data={"posts": (tick + 2) // 3})


async def stagnant(run: Run, inbox: Inbox, tl: Timeline) -> None:
    imp, eng = 1000, 10
    while tl.running():
        imp, eng = imp + 100, eng + 2  # 2 % engagement: score 1 − 20·0.02 = 0.6 (revise)
        _metrics(run, imp, eng)
        for message in inbox.read(run.execution_id):
            # It takes the advice, says so — and stays stuck: the healer must not repeat it.
            d = run.quick_decision("apply healing advice", str(message["instruction"]), "asked")
            run.record_outcome(d, True, {"acknowledged": message["action_type"]})
            inbox.ack(run.execution_id)
        await tl.sleep(1)
    await tl.finish()
    run.end_run(True, narrative="Amplified the post; engagement never took off.")


async def silent(run: Run, inbox: Inbox, tl: Timeline) -> None:
    d = run.decide("read inbox", [{"id": "fetch"}], "fetch", "start with the mail")
    run.record_outcome(d, True, {"messages": 12}, tokens_used=120, latency_ms=900)
    run.report_problem("warning", "mail server slow", root_cause="latency")
    # ...and then nothing: it never ends its run and never reads its inbox, so its
    # windows are silent, its escalations time out, and inactivity times the run out.


async def looping(run: Run, inbox: Inbox, tl: Timeline) -> None:
    while tl.running():
        messages = inbox.read(run.execution_id)
        if messages:
            inbox.ack(run.execution_id, len(messages))
            run.report_problem(
                "error",
                "kept re-running the same failing test",
                suggested_fix="a human takes over",
            )
            run.end_run(False, narrative="Handed over to a human after looping.")
            return
        d = run.decide("retry the failing test", [{"id": "rerun"}], "rerun", "maybe flaky")
        run.record_outcome(d, True, {"tests": "1 failed"}, tokens_used=200, latency_ms=700)
        await tl.sleep(2)
    await tl.finish()
    run.end_run(False, narrative="Still looping at the end.")


async def failing(run: Run, inbox: Inbox, tl: Timeline) -> None:
    n = 0
    nudged = False
    while tl.running():
        if inbox.read(run.execution_id):
            inbox.ack(run.execution_id)
            nudged = True  # it backs off as told, and the pushes go through
        d = run.decide("push contact batch", [{"id": "push"}], "push", "next batch")
        ok = nudged or n % 3 == 2  # fail, fail, ok: a streak of 2 → 0.4 (nudge)
        result = {"batch": n + 1}  # a new batch each time: failing, but not looping
        run.record_outcome(d, ok, result, error=None if ok else "HTTP 503", tokens_used=90)
        n += 1
        await tl.sleep(1.5)
    await tl.finish()
    run.end_run(True, narrative="Synced after backing off." if nudged else "Synced, slowly.")


async def researcher(run: Run, inbox: Inbox, tl: Timeline) -> None:
    research = run.begin_action(
        "research",
        expected_outcome={"sources": 3, "quality": 0.9},
        acceptance_criteria=["three sources", "quality above 0.8"],
    )
    await asyncio.sleep(0.5)
    search = run.begin_action("web_search", parent_action_id=research)
    for i, confidence in enumerate([0.4, 0.7, 0.9]):
        decision = "refine" if i < 2 else "accept"
        run.record_step(search, f"query {i + 1}", {"results": 10 * (i + 1)}, decision, confidence)
        await asyncio.sleep(0.4)
    run.record_observation(search, "world_state", {"http_status": 200}, "search-api")
    run.complete_action(search, {"hits": 30})
    for i in range(3):
        run.record_step(research, f"read source {i + 1}", confidence=0.6 + i * 0.1)
        await asyncio.sleep(0.4)
    run.record_observation(research, "user_feedback", {"rating": 4}, "analyst", 0.8)
    run.complete_action(research, {"sources": 3, "quality": 0.85})
    # Started, stepped once, then forgotten: the action TTL closes it as a timeout.
    draft = run.begin_action("draft_report")
    run.record_step(draft, "outline", confidence=0.3)
    imp = eng = 0
    while tl.running():
        imp, eng = imp + 80, eng + 8
        _metrics(run, imp, eng)
        await tl.sleep(1)
    await tl.finish()
    run.end_run(True, output_data={"answer": "42"})


# Goals the demo defines before its agents start (`agentfold goals define` does the same
# from a file): each agent's decisions are scored against its goal's criteria.
GOALS: tuple[dict[str, object], ...] = (
    {
        "goal_id": "grow-audience",
        "version": 1,
        "name": "Grow the audience",
        "success_criteria": [
            {"id": "sc-post", "description": "pick the next post", "target": "90%"}
        ],
    },
    {
        "goal_id": "fix-build",
        "version": 1,
        "name": "Make CI green",
        "success_criteria": [
            {"id": "sc-retry", "description": "retry the failing test", "target": "90%"}
        ],
    },
    {
        "goal_id": "sync-contacts",
        "version": 1,
        "name": "Sync contacts",
        "success_criteria": [
            {"id": "sc-push", "description": "push each contact batch", "target": "80%"}
        ],
        # a budget the fold checks: the syncer spends 90 tokens a push and pushes 20+
        # times, and the constraint is hard (the recommendation becomes `adjust`)
        "constraints": [
            {
                "id": "c-cost",
                "description": "at most 1,200 tokens per sync",
                "check": "tokens <= 1200",
                "constraint_type": "hard",
            }
        ],
    },
)


PERSONAS: tuple[Persona, ...] = (
    Persona(
        "exec-healthy",
        "agent-healthy",
        "grow-audience",
        "Post and engage",
        "engagement keeps up with impressions",
        healthy,
    ),
    Persona(
        "exec-stagnant",
        "agent-social",
        "grow-audience",
        "Amplify a post",
        "impressions grow, engagement stalls; takes the advice, stays stuck",
        stagnant,
    ),
    Persona(
        "exec-silent",
        "agent-quiet",
        "summarise-inbox",
        "Summarise the inbox",
        "goes quiet and never answers",
        silent,
    ),
    Persona(
        "exec-looping",
        "agent-loop",
        "fix-build",
        "Make CI green",
        "repeats the same decision until escalated",
        looping,
    ),
    Persona(
        "exec-failing",
        "agent-crm",
        "sync-contacts",
        "Sync contacts",
        "fails in streaks until nudged",
        failing,
    ),
    Persona(
        "exec-actions",
        "agent-research",
        "answer-question",
        "Answer a question",
        "actions, steps and observations; one action forgotten",
        researcher,
    ),
)
