"""The per-partition fold: `PartitionFold.apply(event) -> outputs`.

One `PartitionFold` owns one `PartitionState` and nothing else: no clock, no
randomness, no I/O. Time is event time: stream time is the largest event time seen
in the partition and never goes back; timers whose deadline it passes fire, in
deadline order, *before* the event that moved it is applied.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from processors import attribution, goalfacts, healing, runs
from processors.budget import EVENT_BYTES, enforce
from processors.config import FoldConfig
from processors.dedup import seen_before
from processors.limits import Limits
from processors.stagnation import score_window
from processors.state import (
    NO_TIME,
    RUNNING,
    ExecState,
    PartitionMeta,
    PartitionState,
    RunState,
    WindowAcc,
    run_key,
)
from processors.timers import ACK, IDLE, RETRY, TTL, WINDOW, cancel_timer, pop_due, set_timer
from schemas.errors import RejectReason
from schemas.outputs import STAGNATION, OutputRecord
from schemas.records import (
    ActionCompleted,
    ActionStarted,
    Decision,
    Event,
    GoalDefined,
    HealingAttempt,
    Metric,
    Observation,
    Outcome,
    Problem,
    RunEnded,
    RunStarted,
    Step,
    Tick,
)
from schemas.timefmt import format_ms

Out = list[OutputRecord]
NO_LIMIT: Final = -1  # PartitionFold.limit_ms when the message has no timestamp
WINDOW_BYTES: Final = 320  # an empty window and its timer, encoded
E = TypeVar("E")
Handler = Callable[["PartitionFold", ExecState, E, WindowAcc | None, Out], None]
# A valid event the fold refuses to apply, with the reason and a message for the
# operator; the driver dead-letters it with the message's coordinates.
Refusal = tuple[Event, RejectReason, str]
TimerKey = tuple[str, str, int]  # (execution id, timer id, deadline): one firing
_HANDLERS: dict[type, Handler[Any]] = {}


def _handles(event_type: type[E]) -> Callable[[Handler[E]], Handler[E]]:
    """Register the handler of one event type (dispatch is one dict lookup per event)."""

    def register(fn: Handler[E]) -> Handler[E]:
        _HANDLERS[event_type] = fn
        return fn

    return register


class PartitionFold:
    """Folds the events of one partition, in log order, into outputs."""

    __slots__ = (
        "_grace",
        "_idle",
        "_jump",
        "_skew",
        "_state_max",
        "_window",
        "cfg",
        "firing",
        "limit_ms",
        "refused",
        "skip_timers",
        "state",
    )

    def __init__(self, cfg: FoldConfig, partition: int = 0, state: PartitionState | None = None):
        self.cfg = Limits(cfg)  # read on the hot path: native attributes (processors/limits.py)
        self.state = state if state is not None else PartitionState(PartitionMeta(partition))
        self._window = cfg.window_ms
        self._grace = cfg.grace_ms
        self._idle = cfg.run_inactivity_s * 1000
        self._state_max = cfg.state_max_bytes
        self.refused: list[Refusal] = []  # taken by the driver after each message
        self._skew = cfg.max_future_skew_s * 1000
        self._jump = cfg.max_time_jump_s * 1000
        # The latest event time the message being folded may carry: its Kafka timestamp
        # plus the allowed skew (`set_message_time`); NO_LIMIT: no timestamp (a log
        # file). A plain int, not Optional: it is compared on the hot path.
        self.limit_ms: int = NO_LIMIT
        # The exception net (streams/folding/net.py): the timer being fired, so that a
        # driver can tell an exception in a timer from one in the event's own handler,
        # and the timers (execution, timer, deadline) a refold must leave out.
        self.firing: TimerKey | None = None
        self.skip_timers: set[TimerKey] = set()

    def set_message_time(self, timestamp_ms: int | None) -> None:
        """The Kafka timestamp of the message whose events come next (None or negative:
        unknown). Events stamped later than it by more than max_future_skew_s are
        refused (clock_skew): a producer's wrong clock must not move stream time."""
        self.limit_ms = (
            NO_LIMIT if timestamp_ms is None or timestamp_ms < 0 else timestamp_ms + self._skew
        )

    # ─── entry point ───────────────────────────────────────────────────────────────

    def apply(self, ev: Event) -> Out:
        """Fold a message of one event."""
        out: Out = []
        self.apply_into(ev, out)
        self.end_message(out)
        return out

    def apply_all(self, events: list[Event], out: Out) -> None:
        """Fold one message's events in order, appending their outputs to `out` (the
        loop runs compiled)."""
        for ev in events:
            self.apply_into(ev, out)
        self.end_message(out)

    def end_message(self, out: Out) -> None:
        """Close the message being folded: what it did to each goal is emitted, summed
        (processors/goalfacts.py). A driver folding a message event by event
        (`apply_into`) calls it after the last one, before any snapshot."""
        if self.state.tallies:
            goalfacts.end_message(self.state, out)

    def apply_into(self, ev: Event, out: Out) -> None:
        """Fold one event of the message being folded, appending its outputs to `out`
        (`end_message` closes the message)."""
        ps = self.state
        meta = ps.meta
        t = ev.time
        if t > meta.stream_ms:
            limit = self.limit_ms
            if limit == NO_LIMIT:  # no message timestamp: the jump from stream time is bounded
                limit = meta.stream_ms + self._jump if meta.stream_ms != NO_TIME else t
            if t > limit:
                self.refused.append((ev, "clock_skew", self._skew_error(t, limit)))
                return
            meta.stream_ms = t
            heap = ps.heap
            if heap and heap[0][0] <= t:
                self._fire_due(t, out)
        cls = type(ev)
        if cls is Tick:
            meta.ticks += 1
            return
        if cls is GoalDefined:
            refusal = goalfacts.on_goal_defined(ps, ev, self.cfg, out)  # type: ignore[arg-type]
            if refusal is not None:
                self.refused.append((ev, "goal_limit", refusal))
            return
        subject: str = ev.subject  # type: ignore[assignment]  # only a Tick has none
        ex = ps.execs.get(subject)
        if ex is None:
            closed = meta.closed.get(subject)
            if closed is not None and not (cls is RunStarted and t > closed[0]):
                if ev.seq is not None and ev.seq <= closed[1]:
                    meta.duplicates += 1
                else:
                    meta.after_close += 1
                return
            if cls is HealingAttempt:
                # Executor reports are not agent activity: state made for one would have
                # no run, no timer, and never be released.
                self.refused.append(
                    (ev, "unknown_execution", f"healing_attempt for execution {subject!r}, "
                     "which has no run in this partition (was it produced with another key?)")
                )  # fmt: skip
                return
            ex = ExecState(subject, RunState(agent_id=ev.source, started_ms=t), last_event_ms=t)
            if closed is not None:
                # A new run under an id whose earlier run was released (its start is
                # later than the release): folded as a run of its own.
                del meta.closed[subject]
                ex.incarnation, ex.born_ms = closed[3] + 1, closed[0]
            ps.execs[subject] = ex
        elif t <= ex.born_ms:  # an earlier run's event, redelivered
            meta.duplicates += 1
            return
        seq = ev.seq
        if seq is not None and seq == ex.max_seq + 1:
            ex.max_seq = seq  # the common case: the next event of the execution
        elif seen_before(ex, ev, self.cfg):
            meta.duplicates += 1
            return
        meta.events += 1
        ps.touched.add(subject)
        acc: WindowAcc | None = None
        if cls is not HealingAttempt:  # executor reports are not agent activity
            # Inlined _activity's common case (a hot path): event in its open window.
            if t > ex.last_event_ms:
                ex.last_event_ms = t
            acc = ex.windows.get(t - t % self._window)
            if acc is None or IDLE not in ex.timers:
                acc = self._activity(ex, t)
            else:
                acc.events += 1
        _HANDLERS[cls](self, ex, ev, acc, out)
        ex.unmeasured += EVENT_BYTES
        if ex.size + ex.unmeasured > self._state_max:
            enforce(ps, ex, self.cfg, out)
        if ex.run.status != RUNNING:
            self._maybe_release(ex)

    def _skew_error(self, t: int, limit: int) -> str:
        if self.limit_ms != NO_LIMIT:
            return (
                f"event time {format_ms(t)} is more than max_future_skew_s "
                f"({self._skew // 1000} s) past its message's timestamp "
                f"({format_ms(limit - self._skew)}): is the producer's clock right?"
            )
        return (
            f"event time {format_ms(t)} would move stream time more than max_time_jump_s "
            f"({self._jump // 1000} s) at once, past {format_ms(limit)}"
        )

    def drain_touched(self) -> set[str]:
        """Executions changed since the last call (a missing one was released)."""
        touched = self.state.touched
        self.state.touched = set()
        return touched

    # ─── time ──────────────────────────────────────────────────────────────────────

    def _fire_due(self, now: int, out: Out) -> None:
        ps = self.state
        skip = self.skip_timers
        for deadline, ex, timer_id in pop_due(ps, now):
            key = (ex.execution_id, timer_id, deadline)
            if skip and key in skip:
                continue  # it raised when the log was first folded: dead-lettered then
            self.firing = key
            ps.touched.add(ex.execution_id)
            self._fire(ex, timer_id, deadline, out)
            self._maybe_release(ex)
        self.firing = None

    def _fire(self, ex: ExecState, timer_id: str, now: int, out: Out) -> None:
        cfg = self.cfg
        if timer_id.startswith(WINDOW):
            self._close_window(ex, int(timer_id[len(WINDOW) :]), now, out)
        elif timer_id.startswith(ACK):
            lost = healing.on_ack_due(self.state, ex, timer_id[len(ACK) :], now, cfg)
            if lost is not None:
                out.append(lost)
        elif timer_id.startswith(RETRY):
            plan = healing.on_retry_due(self.state, ex, timer_id[len(RETRY) :], now, cfg)
            if plan is not None:
                out.append(plan)
        elif timer_id.startswith(TTL):
            action_id = timer_id[len(TTL) :]
            out.append(
                attribution.close_action(
                    self.state,
                    ex,
                    action_id,
                    dict(attribution.TIMEOUT_OUTCOME),
                    "timeout",
                    now,
                    cfg,
                )
            )
        elif timer_id == IDLE:
            self._check_idle(ex, now, out)

    def _check_idle(self, ex: ExecState, now: int, out: Out) -> None:
        if not ex.run.is_open:
            return
        due = ex.last_event_ms + self._idle
        if due > now:
            set_timer(self.state, ex, IDLE, due)
            return
        out.append(runs.on_inactive(ex, now, self.cfg))
        healing.stop_all(self.state, ex)

    def _activity(self, ex: ExecState, t: int) -> WindowAcc | None:
        """Note agent activity at event time t; return the open window it counts in."""
        run = ex.run
        is_open = run.status == RUNNING
        if t > ex.last_event_ms:
            ex.last_event_ms = t
        if is_open and IDLE not in ex.timers:
            set_timer(self.state, ex, IDLE, ex.last_event_ms + self._idle)
        start = t - t % self._window
        acc = ex.windows.get(start)
        if acc is None:
            # Late: the execution closed this window already — or stream time has, for
            # an execution that never had it (a backlog delivered behind the others):
            # opened now, it would close at once and score its silence.
            if start < ex.closed_through or start + self._window + self._grace <= (
                self.state.meta.stream_ms
            ):
                ex.late_pending += 1
                run.late_events += 1
                self.state.meta.late_events += 1
                return None
            if not is_open:
                return None
            if len(ex.windows) >= self.cfg.max_open_windows:
                runs.ignore(run, "too_far_ahead")
                return None
            acc = self._open_window(ex, start)
        acc.events += 1
        return acc

    def _open_window(self, ex: ExecState, start: int) -> WindowAcc:
        acc = WindowAcc(start)
        ex.windows[start] = acc
        ex.unmeasured += WINDOW_BYTES
        set_timer(self.state, ex, f"{WINDOW}{start}", start + self._window + self._grace)
        return acc

    def _close_window(self, ex: ExecState, start: int, now: int, out: Out) -> None:
        acc = ex.windows.pop(start)
        end = start + self._window
        if end > ex.closed_through:
            ex.closed_through = end
        sc = score_window(acc, self.cfg)
        late, ex.late_pending = ex.late_pending, 0
        value = {
            "id": f"stag:{run_key(ex)}:{start}",
            "execution_id": ex.execution_id,
            "window_start": format_ms(start),
            "window_end": format_ms(end),
            "score": sc.score,
            "signal": sc.signal,
            "signals": {
                "metric_ratio": sc.metric_ratio,
                "silence": sc.silence,
                "failure_streak": sc.failure_streak,
                "repetition": sc.repetition,
            },
            "sample_count": sc.sample_count,
            "event_count": acc.events,
            "late_events": late,
        }
        out.append(OutputRecord(STAGNATION, ex.execution_id, value))
        if not ex.run.is_open:
            return
        # A window no signal scored (too few metric samples, no agent signal) asks for
        # nothing, whatever healthy_below says: the seed's insufficient_samples.
        if sc.signal != "none":
            plan = healing.plan_for_window(self.state, ex, sc.score, start, end, now, self.cfg)
            if plan is not None:
                out.append(plan)
        if end not in ex.windows:
            # The next window exists while the run is open, events or not: silence counts.
            self._open_window(ex, end)

    # ─── lifetime ──────────────────────────────────────────────────────────────────

    def _maybe_release(self, ex: ExecState) -> None:
        """Delete an execution once its run is over and nothing is pending for it."""
        if ex.run.is_open or ex.timers or ex.actions:
            return
        ps = self.state
        meta = ps.meta
        del ps.execs[ex.execution_id]
        closed = meta.closed
        closed[ex.execution_id] = (meta.stream_ms, ex.max_seq, meta.released, ex.incarnation)
        meta.released += 1
        horizon = meta.stream_ms - self.cfg.closed_retention_s * 1000
        while closed and (
            len(closed) > self.cfg.closed_cap or next(iter(closed.values()))[0] < horizon
        ):
            forgotten = next(iter(closed))
            del closed[forgotten]
            ps.touched.add(forgotten)  # the driver drops its tombstone too


# ─── event handlers, one per type ───────────────────────────────────────────────────


@_handles(RunStarted)
def _run_started(
    f: PartitionFold, ex: ExecState, ev: RunStarted, acc: WindowAcc | None, out: Out
) -> None:
    record = runs.on_run_started(ex, ev, f.cfg)
    if record is not None:
        out.append(record)


@_handles(Decision)
def _decision(
    f: PartitionFold, ex: ExecState, ev: Decision, acc: WindowAcc | None, out: Out
) -> None:
    run = ex.run
    index = run.total_decisions
    definition = goalfacts.goal_of(f.state, run)
    before = goalfacts.totals(run) if definition and definition.constraints else None
    runs.on_decision(ex, ev, f.cfg)
    if run.total_decisions > index and run.goal_id:  # taken (not a repeated id)
        facts = run.pending[ev.data.decision_id][4]
        goalfacts.on_decision(f.state, ex, ev, index, facts, f.cfg)
    if definition is not None and before is not None:
        goalfacts.check_budgets(f.state, ex, definition, before, ev.time, out)


@_handles(Outcome)
def _outcome(f: PartitionFold, ex: ExecState, ev: Outcome, acc: WindowAcc | None, out: Out) -> None:
    pending = ex.run.pending.get(ev.data.decision_id)
    definition = goalfacts.goal_of(f.state, ex.run)
    before = goalfacts.totals(ex.run) if definition and definition.constraints else None
    runs.on_outcome(ex, ev, acc, f.cfg)
    if pending is not None and pending[4].goal_version:
        goalfacts.on_outcome(f.state, ex, ev, pending[0], pending[4])
    if definition is not None and before is not None:
        goalfacts.check_budgets(f.state, ex, definition, before, ev.time, out)


@_handles(Problem)
def _problem(f: PartitionFold, ex: ExecState, ev: Problem, acc: WindowAcc | None, out: Out) -> None:
    runs.on_problem(ex, ev, f.cfg)
    goalfacts.on_problem(f.state, ex, ev, f.cfg, out)


@_handles(RunEnded)
def _run_ended(
    f: PartitionFold, ex: ExecState, ev: RunEnded, acc: WindowAcc | None, out: Out
) -> None:
    definition = goalfacts.goal_of(f.state, ex.run)
    before = goalfacts.totals(ex.run) if definition and definition.constraints else None
    record = runs.on_run_ended(ex, ev, f.cfg)
    if definition is not None and before is not None:
        goalfacts.check_budgets(f.state, ex, definition, before, ev.time, out)
    if record is not None:
        cancel_timer(f.state, ex, IDLE)
        healing.stop_all(f.state, ex)
        out.append(record)


@_handles(Metric)
def _metric(f: PartitionFold, ex: ExecState, ev: Metric, acc: WindowAcc | None, out: Out) -> None:
    if acc is None:
        return
    name = ev.data.name
    if name == f.cfg.progress_metric:
        acc.progress.add(ev.time, ev.data.value)
    elif name == f.cfg.exposure_metric:
        acc.exposure.add(ev.time, ev.data.value)


@_handles(ActionStarted)
def _action_started(
    f: PartitionFold, ex: ExecState, ev: ActionStarted, acc: WindowAcc | None, out: Out
) -> None:
    ps = f.state
    if ev.data.action_id not in ps.open_actions:
        while len(ps.open_actions) >= f.cfg.max_open_actions:
            owner = attribution.evict_oldest(ps, f.cfg, out)
            if owner is not ex:
                f._maybe_release(owner)
    reason = attribution.on_action_started(ps, ex, ev, f.cfg)
    if reason is not None:
        runs.ignore(ex.run, reason)


@_handles(Step)
def _step(f: PartitionFold, ex: ExecState, ev: Step, acc: WindowAcc | None, out: Out) -> None:
    reason = attribution.on_step(ex, ev, f.cfg)
    if reason is not None:
        runs.ignore(ex.run, reason)


@_handles(Observation)
def _observation(
    f: PartitionFold, ex: ExecState, ev: Observation, acc: WindowAcc | None, out: Out
) -> None:
    reason = attribution.on_observation(ex, ev, f.cfg)
    if reason is not None:
        runs.ignore(ex.run, reason)


@_handles(ActionCompleted)
def _action_completed(
    f: PartitionFold, ex: ExecState, ev: ActionCompleted, acc: WindowAcc | None, out: Out
) -> None:
    action_id = ev.data.action_id
    if action_id not in ex.actions:
        runs.ignore(ex.run, "completion_unknown_action")
        return
    out.append(
        attribution.close_action(
            f.state, ex, action_id, dict(ev.data.outcome), "completed", ev.time, f.cfg
        )
    )


@_handles(HealingAttempt)
def _healing_attempt(
    f: PartitionFold, ex: ExecState, ev: HealingAttempt, acc: WindowAcc | None, out: Out
) -> None:
    reported = healing.on_attempt(f.state, ex, ev, f.cfg)
    if isinstance(reported, str):
        runs.ignore(ex.run, reported)
    else:
        out.append(reported)
