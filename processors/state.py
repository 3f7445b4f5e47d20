"""Fold state: one `ExecState` per execution, one `PartitionState` per partition.

Plain slotted dataclasses because they sit on the hot path; every collection in them
has a cap from `FoldConfig`, so state never grows with the length of the log. All
times are integer epoch milliseconds of *event* time.

A partition's state is (a) the execution states, which a live worker keeps in a
changelog-backed table keyed by execution_id, and (b) `PartitionMeta`, a few small
fields kept under one key per partition. The timer heap and the open-action index are
derived data, rebuilt from (a) by `PartitionState.reindex` after a restore.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

from processors.goals import GoalDefinition

NO_TIME = -(2**62)  # stream time before the first event; below any real event time
RUNNING = "running"


@dataclass(slots=True)
class Sample:
    """First and last value of one metric in one window, by event time (ties: log order)."""

    n: int = 0
    first_t: int = 0
    first_v: float = 0.0
    last_t: int = 0
    last_v: float = 0.0

    # Written out, here and in every class below made per run, window, action, decision
    # or message: mypyc compiles an __init__ of the class body, while the one `dataclass`
    # generates runs interpreted (≈ 5,000–20,000 instructions a call).
    # tests/processors/test_state.py pins each to its fields' defaults.
    def __init__(
        self,
        n: int = 0,
        first_t: int = 0,
        first_v: float = 0.0,
        last_t: int = 0,
        last_v: float = 0.0,
    ) -> None:
        self.n = n
        self.first_t = first_t
        self.first_v = first_v
        self.last_t = last_t
        self.last_v = last_v

    def add(self, t: int, v: float) -> None:
        if self.n == 0 or t < self.first_t:
            self.first_t, self.first_v = t, v
        if self.n == 0 or t >= self.last_t:
            self.last_t, self.last_v = t, v
        self.n += 1


@dataclass(slots=True)
class WindowAcc:
    """What one execution did in one open tumbling window."""

    start: int
    events: int = 0
    progress: Sample = field(default_factory=Sample)
    exposure: Sample = field(default_factory=Sample)
    max_streak: int = 0
    repeats: dict[str, int] = field(default_factory=dict)

    def __init__(
        self,
        start: int,
        events: int = 0,
        progress: Sample | None = None,
        exposure: Sample | None = None,
        max_streak: int = 0,
        repeats: dict[str, int] | None = None,
    ) -> None:
        self.start = start
        self.events = events
        self.progress = progress if progress is not None else Sample()
        self.exposure = exposure if exposure is not None else Sample()
        self.max_streak = max_streak
        self.repeats = repeats if repeats is not None else {}


@dataclass(slots=True)
class HealRec:
    """History of one idempotency key (seed 000's ActionRecord, in event time)."""

    key: str
    action_type: str
    tier: str
    status: str  # running | success | failed | skipped | expired
    attempts: int
    initiated_ms: int
    reported: int = 0
    error_code: str | None = None
    score: float = 0.0
    window_start: int = 0
    window_end: int = 0


@dataclass(slots=True)
class OpenAction:
    """An action between action_started and its close (seed 001's AgentAction, bounded)."""

    action_id: str
    action_type: str
    agent_id: str
    goal_id: str | None
    parent_action_id: str | None
    expected_outcome: dict[str, Any]
    acceptance_criteria: list[str]
    started_ms: int
    confidences: list[float] = field(default_factory=list)
    steps: list[tuple[str, str, float]] = field(default_factory=list)  # last N summaries
    # last N: (time ms, observation_type, data, source, confidence)
    observations: list[tuple[int, str, dict[str, Any], str, float]] = field(default_factory=list)
    n_steps: int = 0
    n_obs: int = 0

    def __init__(
        self,
        action_id: str,
        action_type: str,
        agent_id: str,
        goal_id: str | None,
        parent_action_id: str | None,
        expected_outcome: dict[str, Any],
        acceptance_criteria: list[str],
        started_ms: int,
        confidences: list[float] | None = None,
        steps: list[tuple[str, str, float]] | None = None,
        observations: list[tuple[int, str, dict[str, Any], str, float]] | None = None,
        n_steps: int = 0,
        n_obs: int = 0,
    ) -> None:
        self.action_id = action_id
        self.action_type = action_type
        self.agent_id = agent_id
        self.goal_id = goal_id
        self.parent_action_id = parent_action_id
        self.expected_outcome = expected_outcome
        self.acceptance_criteria = acceptance_criteria
        self.started_ms = started_ms
        self.confidences = confidences if confidences is not None else []
        self.steps = steps if steps is not None else []
        self.observations = observations if observations is not None else []
        self.n_steps = n_steps
        self.n_obs = n_obs


@dataclass(slots=True)
class DecisionFacts:
    """What a decision's failure analysis needs beyond node and intent (processors/
    summary.py), kept while it waits for its outcome and for the first unsuccessful
    decisions of a run."""

    chosen_desc: str  # the chosen option's description ("" when none resolves)
    alternative: str | None  # the first other option's description, if there are options
    context_empty: bool  # input_context was empty
    # Tuples, not lists: a decision's facts are never changed in place, and a tuple of
    # strings is one object the garbage collector stops tracking (an execution keeps a
    # few of these waiting for their outcomes).
    constraints: tuple[str, ...]  # active_constraints, capped
    decision_type: str
    goal_version: int = 0  # the goal definition it was scored under (0: none defined)
    goal_relevant: tuple[str, ...] = ()  # criteria it bears on
    goal_time_ms: int = 0  # the decision's event time (orders the goal's evidence)
    # the criteria it may be evidence for: among the partition's first EVIDENCE relevant
    # decisions of each when it was folded (processors/goalfacts.py); only their outcomes
    # travel one by one
    goal_evidence: tuple[str, ...] = ()

    def __init__(
        self,
        chosen_desc: str,
        alternative: str | None,
        context_empty: bool,
        constraints: tuple[str, ...],
        decision_type: str,
        goal_version: int = 0,
        goal_relevant: tuple[str, ...] = (),
        goal_time_ms: int = 0,
        goal_evidence: tuple[str, ...] = (),
    ) -> None:
        self.chosen_desc = chosen_desc
        self.alternative = alternative
        self.context_empty = context_empty
        self.constraints = constraints
        self.decision_type = decision_type
        self.goal_version = goal_version
        self.goal_relevant = goal_relevant
        self.goal_time_ms = goal_time_ms
        self.goal_evidence = goal_evidence


# A decision waiting for its outcome: (index, node_id, intent, chosen_option_id, facts).
Pending = tuple[int, str, str, str, DecisionFacts]
# One of a run's first decisions: (index, node, intent, chosen description, status
# (processors/summary.py: PENDING, SUCCEEDED, FAILED), chosen option id).
Early = tuple[int, str, str, str, int, str]


@dataclass(slots=True)
class Tally:
    """What one message did to one goal, summed (processors/goalfacts.py): emitted as
    one `tally` fact when the message is folded, never kept in the state."""

    version: int
    decisions: int = 0
    succeeded: int = 0
    failed: int = 0
    runs: list[str] = field(default_factory=list)  # executions deciding for the first time
    streams: dict[str, None] = field(default_factory=dict)
    criteria: dict[str, list[int]] = field(default_factory=dict)  # [relevant, resolved, ok]
    # evidence candidates: [*order, intent, criteria], and the outcomes of candidates:
    # [*order, success, criteria]
    decided: list[list[Any]] = field(default_factory=list)
    resolved: list[list[Any]] = field(default_factory=list)

    def __init__(self, version: int) -> None:
        self.version = version
        self.decisions = 0
        self.succeeded = 0
        self.failed = 0
        self.runs = []
        self.streams = {}
        self.criteria = {}
        self.decided = []
        self.resolved = []


@dataclass(slots=True)
class RunState:
    """hive's Run, reduced to counters and bounded lists."""

    agent_id: str
    started_ms: int
    status: str = RUNNING
    started_seen: bool = False
    goal_id: str = ""
    goal_description: str = ""
    stream_id: str = ""
    input_data: dict[str, Any] = field(default_factory=dict)
    output_data: dict[str, Any] = field(default_factory=dict)
    completed_ms: int | None = None
    narrative: str = ""
    total_decisions: int = 0
    successful: int = 0
    failed: int = 0
    tokens: int = 0
    latency_ms: int = 0
    nodes: list[str] = field(default_factory=list)
    # decision_id -> (index, node_id, intent, chosen_option_id, facts), oldest first
    pending: dict[str, Pending] = field(default_factory=dict)
    # first few (index, intent) of decisions that failed or lost their pending slot
    unsuccessful: list[tuple[int, str]] = field(default_factory=list)
    streak: int = 0
    problems: list[dict[str, Any]] = field(default_factory=list)
    problem_count: int = 0
    critical: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    critical_count: int = 0
    warning_count: int = 0
    late_events: int = 0
    ignored: dict[str, int] = field(default_factory=dict)
    shed: dict[str, int] = field(default_factory=dict)  # dropped to keep state_max_bytes
    # The summary's and analysis' facts (processors/summary.py), each capped:
    # the first decisions: [index, node, intent, chosen description, status 0/1/2, chosen id]
    # (tuples: an entry is replaced, never changed, so the collector stops tracking it)
    early: list[Early] = field(default_factory=list)
    # the first unsuccessful ones with an outcome: [index, node, intent, facts, error, True]
    failures: list[list[Any]] = field(default_factory=list)
    successes: list[list[Any]] = field(default_factory=list)  # first [index, outcome summary]
    # node -> [decisions, succeeded, latency ms, tokens] (latency and tokens of outcomes)
    node_stats: dict[str, list[int]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)  # failed outcomes by error ("" none)
    decision_types: dict[str, int] = field(default_factory=dict)
    choices: dict[str, dict[str, int]] = field(default_factory=dict)  # intent[:50] -> choice
    goal_seen: bool = False  # a goal fact was emitted for this run (processors/goalfacts.py)

    def __init__(
        self,
        agent_id: str,
        started_ms: int,
        status: str = RUNNING,
        started_seen: bool = False,
        goal_id: str = "",
        goal_description: str = "",
        stream_id: str = "",
        input_data: dict[str, Any] | None = None,
        output_data: dict[str, Any] | None = None,
        completed_ms: int | None = None,
        narrative: str = "",
        total_decisions: int = 0,
        successful: int = 0,
        failed: int = 0,
        tokens: int = 0,
        latency_ms: int = 0,
        nodes: list[str] | None = None,
        pending: dict[str, Pending] | None = None,
        unsuccessful: list[tuple[int, str]] | None = None,
        streak: int = 0,
        problems: list[dict[str, Any]] | None = None,
        problem_count: int = 0,
        critical: list[str] | None = None,
        warnings: list[str] | None = None,
        critical_count: int = 0,
        warning_count: int = 0,
        late_events: int = 0,
        ignored: dict[str, int] | None = None,
        shed: dict[str, int] | None = None,
        early: list[Early] | None = None,
        failures: list[list[Any]] | None = None,
        successes: list[list[Any]] | None = None,
        node_stats: dict[str, list[int]] | None = None,
        errors: dict[str, int] | None = None,
        decision_types: dict[str, int] | None = None,
        choices: dict[str, dict[str, int]] | None = None,
        goal_seen: bool = False,
    ) -> None:
        self.agent_id = agent_id
        self.started_ms = started_ms
        self.status = status
        self.started_seen = started_seen
        self.goal_id = goal_id
        self.goal_description = goal_description
        self.stream_id = stream_id
        self.input_data = input_data if input_data is not None else {}
        self.output_data = output_data if output_data is not None else {}
        self.completed_ms = completed_ms
        self.narrative = narrative
        self.total_decisions = total_decisions
        self.successful = successful
        self.failed = failed
        self.tokens = tokens
        self.latency_ms = latency_ms
        self.nodes = nodes if nodes is not None else []
        self.pending = pending if pending is not None else {}
        self.unsuccessful = unsuccessful if unsuccessful is not None else []
        self.streak = streak
        self.problems = problems if problems is not None else []
        self.problem_count = problem_count
        self.critical = critical if critical is not None else []
        self.warnings = warnings if warnings is not None else []
        self.critical_count = critical_count
        self.warning_count = warning_count
        self.late_events = late_events
        self.ignored = ignored if ignored is not None else {}
        self.shed = shed if shed is not None else {}
        self.early = early if early is not None else []
        self.failures = failures if failures is not None else []
        self.successes = successes if successes is not None else []
        self.node_stats = node_stats if node_stats is not None else {}
        self.errors = errors if errors is not None else {}
        self.decision_types = decision_types if decision_types is not None else {}
        self.choices = choices if choices is not None else {}
        self.goal_seen = goal_seen

    @property
    def is_open(self) -> bool:
        return self.status == RUNNING


@dataclass(slots=True)
class ExecState:
    """Everything the fold keeps for one execution."""

    execution_id: str
    run: RunState
    last_event_ms: int
    windows: dict[int, WindowAcc] = field(default_factory=dict)
    closed_through: int = NO_TIME  # windows starting before this have emitted
    late_pending: int = 0  # late events not yet reported on a window
    healing: dict[str, HealRec] = field(default_factory=dict)
    actions: dict[str, OpenAction] = field(default_factory=dict)
    timers: dict[str, int] = field(default_factory=dict)  # timer id -> deadline
    max_seq: int = 0
    missing: list[int] = field(default_factory=list)  # seqs skipped below max_seq
    seq_overflow: int = 0  # skipped seqs beyond the gap cap (never waited for)
    seen_ids: dict[str, None] = field(default_factory=dict)  # recent source+id, FIFO
    # The state-size budget (processors/budget.py): the encoded size at the last
    # measurement, and an over-estimate of what was added since. Kept in the state so
    # that measurements, and hence shedding, happen at the same events after a restore.
    size: int = 0
    unmeasured: int = 0
    # A run started under an execution id whose earlier run was released: its number,
    # and the time up to which events belong to the earlier runs (they are duplicates).
    incarnation: int = 1
    born_ms: int = NO_TIME

    def __init__(
        self,
        execution_id: str,
        run: RunState,
        last_event_ms: int,
        windows: dict[int, WindowAcc] | None = None,
        closed_through: int = NO_TIME,
        late_pending: int = 0,
        healing: dict[str, HealRec] | None = None,
        actions: dict[str, OpenAction] | None = None,
        timers: dict[str, int] | None = None,
        max_seq: int = 0,
        missing: list[int] | None = None,
        seq_overflow: int = 0,
        seen_ids: dict[str, None] | None = None,
        size: int = 0,
        unmeasured: int = 0,
        incarnation: int = 1,
        born_ms: int = NO_TIME,
    ) -> None:
        self.execution_id = execution_id
        self.run = run
        self.last_event_ms = last_event_ms
        self.windows = windows if windows is not None else {}
        self.closed_through = closed_through
        self.late_pending = late_pending
        self.healing = healing if healing is not None else {}
        self.actions = actions if actions is not None else {}
        self.timers = timers if timers is not None else {}
        self.max_seq = max_seq
        self.missing = missing if missing is not None else []
        self.seq_overflow = seq_overflow
        self.seen_ids = seen_ids if seen_ids is not None else {}
        self.size = size
        self.unmeasured = unmeasured
        self.incarnation = incarnation
        self.born_ms = born_ms


def run_key(ex: ExecState) -> str:
    """What output ids and idempotency keys name the run by: the execution id, with
    `#n` for the n-th run under a reused id (so that they never collide)."""
    if ex.incarnation == 1:
        return ex.execution_id
    return f"{ex.execution_id}#{ex.incarnation}"


@dataclass(slots=True)
class PartitionMeta:
    """Partition-wide fields that are not derivable from the executions."""

    partition: int
    stream_ms: int = NO_TIME
    # released executions, oldest first:
    # id -> (released at ms, max_seq, release number, runs under the id so far)
    closed: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    released: int = 0  # releases so far: orders `closed` identically after a restore
    # The next input offset to fold. Kept by the driver (worker, replay), never read by
    # the fold: it lets a driver skip what it already applied and notice a gap.
    next_offset: int = 0
    # counters (plain ints: they are bumped on the hot path)
    events: int = 0
    ticks: int = 0
    duplicates: int = 0
    after_close: int = 0
    late_events: int = 0
    # goal definitions by goal id (processors/goalfacts.py), and the goal facts emitted
    goals: dict[str, GoalDefinition] = field(default_factory=dict)
    facts: int = 0
    # per goal, per criterion: the event times of this partition's first EVIDENCE
    # relevant decisions under the goal's version in force, ascending. A decision later
    # than all of them has EVIDENCE earlier ones in the goal's order of decisions, so it
    # is none of the goal's evidence: its facts travel summed (processors/goalfacts.py).
    evidence: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    def stats(self) -> dict[str, int]:
        return {
            "events": self.events,
            "ticks": self.ticks,
            "duplicates": self.duplicates,
            "after_close": self.after_close,
            "late_events": self.late_events,
        }


@dataclass(slots=True)
class PartitionState:
    meta: PartitionMeta
    execs: dict[str, ExecState] = field(default_factory=dict)
    heap: list[tuple[int, str, str]] = field(default_factory=list)
    stale: int = 0
    open_actions: dict[str, tuple[int, str]] = field(default_factory=dict)  # id -> (ms, exec)
    # (started ms, action id) of open actions, a lazy min-heap: entries of closed actions
    # stay until they surface (see `oldest_action`), so eviction is O(log n), not O(n).
    action_heap: list[tuple[int, str]] = field(default_factory=list)
    touched: set[str] = field(default_factory=set)
    # the goal tallies of the message being folded (PartitionFold.end_message); empty
    # between messages, which is where drivers take snapshots
    tallies: dict[str, Tally] = field(default_factory=dict)

    def add_open_action(self, action_id: str, started_ms: int, exec_id: str) -> None:
        self.open_actions[action_id] = (started_ms, exec_id)
        heap = self.action_heap
        if len(heap) > 2 * len(self.open_actions) + 64:
            self._rebuild_action_heap()  # too many closed entries: bound the heap
        else:
            heapq.heappush(heap, (started_ms, action_id))

    def oldest_action(self) -> str:
        """The open action started first (ties: smallest id). There must be one."""
        heap, live = self.action_heap, self.open_actions
        while True:
            ms, action_id = heap[0]
            current = live.get(action_id)
            if current is not None and current[0] == ms:
                return action_id
            heapq.heappop(heap)  # closed (or reopened later): stale

    def _rebuild_action_heap(self) -> None:
        self.action_heap = [(ms, aid) for aid, (ms, _) in self.open_actions.items()]
        heapq.heapify(self.action_heap)

    def rebuild_heap(self) -> None:
        self.heap = [
            (deadline, ex.execution_id, tid)
            for ex in self.execs.values()
            for tid, deadline in ex.timers.items()
        ]
        heapq.heapify(self.heap)
        self.stale = 0

    def reindex(self) -> None:
        """Rebuild the timer heap and open-action index from the execution states.

        The heap order is a total order on (deadline, execution_id, timer_id), so the
        rebuilt heap fires timers in exactly the order the original would have.
        """
        self.rebuild_heap()
        self.open_actions = {
            aid: (action.started_ms, ex.execution_id)
            for ex in self.execs.values()
            for aid, action in ex.actions.items()
        }
        self._rebuild_action_heap()
