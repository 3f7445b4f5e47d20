"""The run handle the SDK gives an agent: the seeds' API (002/004), as events.

Each call builds one event (validated by its `schemas` model), stamps `id`, `seq`,
`time`, `source` and the current W3C `traceparent`, and hands it to the recorder. The
seeds' rules: decision ids `dec_{n}`, problem ids `prob_{n}`, the node defaults to the
current node, `quick_decision` is one "execute" option, `decide_and_execute` times the
call and records its outcome (and re-raises). Telemetry never breaks the agent: misuse
(a call after `end_run`, an invalid value) logs a warning and returns "" — unless the
recorder is strict, then it raises `RecorderError`.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from schemas.envelope import envelope
from schemas.errors import AgentfoldError
from schemas.events import MODELS_BY_TYPE, DecisionType, Event
from streams.clock import SYSTEM_CLOCK

log = logging.getLogger("agentfold.sdk")

# Set it (or use `trace_context`) and every event recorded in that context carries it.
current_traceparent: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "agentfold_traceparent", default=None
)


class RecorderError(AgentfoldError):
    """Misuse of the SDK in strict mode (in lenient mode: a warning and "")."""


class Run:
    def __init__(
        self,
        emit: Callable[[Event], bool],
        agent_id: str,
        execution_id: str,
        goal_id: str,
        strict: bool = False,
        clock_ms: Callable[[], int] = SYSTEM_CLOCK.now_ms,
    ) -> None:
        self._emit = emit
        self.agent_id = agent_id
        self.execution_id = execution_id
        self.goal_id = goal_id
        self.strict = strict
        self._clock_ms = clock_ms
        self._seq = 0
        self._decisions = 0
        self._problems = 0
        self._actions = 0
        self._node: str | None = None
        self.ended = False

    # ─── plumbing ──────────────────────────────────────────────────────────────────

    def _misuse(self, message: str) -> str:
        if self.strict:
            raise RecorderError(f"{self.execution_id}: {message}")
        log.warning("agentfold: %s: %s", self.execution_id, message)
        return ""

    def _record(self, kind: str, data: dict[str, Any], result: str = "ok") -> str:
        if self.ended:
            return self._misuse(f"{kind} after end_run is ignored")
        self._seq += 1
        doc = envelope(
            kind,
            id=f"{self.execution_id}-{self._seq}",
            source=self.agent_id,
            time_ms=self._clock_ms(),
            subject=self.execution_id,
            seq=self._seq,
            goal_id=self.goal_id or None,
            traceparent=current_traceparent.get(),
            data=data,
        )
        try:
            event = MODELS_BY_TYPE[doc["type"]].model_validate(doc)
        except ValidationError as exc:
            self._seq -= 1
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            return self._misuse(f"{kind} not recorded: {where}: {first['msg']}")
        self._emit(event)  # type: ignore[arg-type]
        return result

    # ─── the seeds' API ────────────────────────────────────────────────────────────

    def set_node(self, node_id: str) -> None:
        self._node = node_id

    def decide(
        self,
        intent: str,
        options: list[dict[str, Any]],
        chosen: str,
        reasoning: str,
        node_id: str | None = None,
        decision_type: DecisionType | str = DecisionType.CUSTOM,
        constraints: list[str] | None = None,
        context: dict[str, Any] | None = None,
    ) -> str:
        decision_id = f"dec_{self._decisions}"
        done = self._record(
            "decision",
            {
                "decision_id": decision_id,
                "node_id": node_id or self._node or "unknown",
                "intent": intent,
                "decision_type": str(decision_type),
                "options": options,
                "chosen_option_id": chosen,
                "reasoning": reasoning,
                "active_constraints": constraints or [],
                "input_context": context or {},
            },
            decision_id,
        )
        if done:
            self._decisions += 1
        return done

    def quick_decision(
        self, intent: str, action: str, reasoning: str, node_id: str | None = None
    ) -> str:
        option = {"id": "action", "description": action, "action_type": "execute"}
        return self.decide(intent, [option], "action", reasoning, node_id=node_id)

    def record_outcome(
        self,
        decision_id: str,
        success: bool,
        result: Any = None,
        error: str | None = None,
        summary: str = "",
        state_changes: dict[str, Any] | None = None,
        tokens_used: int = 0,
        latency_ms: int = 0,
    ) -> str:
        if not decision_id:
            return self._misuse("record_outcome needs the decision_id that decide returned")
        return self._record(
            "outcome",
            {
                "decision_id": decision_id,
                "success": success,
                "result": result,
                "error": error,
                "summary": summary,
                "state_changes": state_changes or {},
                "tokens_used": tokens_used,
                "latency_ms": latency_ms,
            },
            decision_id,
        )

    def decide_and_execute(
        self,
        intent: str,
        options: list[dict[str, Any]],
        chosen: str,
        reasoning: str,
        executor: Callable[[], Any],
        **kwargs: Any,
    ) -> tuple[str, Any]:
        """Record the decision (`kwargs` go to `decide`: node_id, decision_type,
        constraints, context — as the seed's runtime), run `executor()`, and record its
        outcome with the latency; an exception is recorded as a failed outcome and
        re-raised. Bind the executor's own arguments with a lambda or functools.partial."""
        decision_id = self.decide(intent, options, chosen, reasoning, **kwargs)
        started = time.perf_counter()
        try:
            result = executor()
        except Exception as exc:
            latency = int((time.perf_counter() - started) * 1000)
            if decision_id:
                self.record_outcome(decision_id, False, error=str(exc), latency_ms=latency)
            raise
        latency = int((time.perf_counter() - started) * 1000)
        if decision_id:
            self.record_outcome(decision_id, True, result=result, latency_ms=latency)
        return decision_id, result

    def report_problem(
        self,
        severity: str,
        description: str,
        decision_id: str | None = None,
        root_cause: str | None = None,
        suggested_fix: str | None = None,
        constraint_id: str | None = None,
    ) -> str:
        """Report a problem; `constraint_id` names the constraint of the run's goal it
        violates (a violation in the goal's progress, docs/goals.md)."""
        problem_id = f"prob_{self._problems}"
        done = self._record(
            "problem",
            {
                "problem_id": problem_id,
                "severity": severity,
                "description": description,
                "decision_id": decision_id,
                "root_cause": root_cause,
                "suggested_fix": suggested_fix,
                **({"constraint_id": constraint_id} if constraint_id is not None else {}),
            },
            problem_id,
        )
        if done:
            self._problems += 1
        return done

    def begin_action(
        self,
        action_type: str,
        action_id: str | None = None,
        parent_action_id: str | None = None,
        expected_outcome: dict[str, Any] | None = None,
        acceptance_criteria: list[str] | None = None,
    ) -> str:
        action_id = action_id or f"{self.execution_id}-act_{self._actions}"
        done = self._record(
            "action_started",
            {
                "action_id": action_id,
                "action_type": action_type,
                "parent_action_id": parent_action_id,
                "expected_outcome": expected_outcome or {},
                "acceptance_criteria": acceptance_criteria or [],
            },
            action_id,
        )
        if done:
            self._actions += 1
        return done

    def record_step(
        self,
        action_id: str,
        description: str = "",
        state: dict[str, Any] | None = None,
        decision: str = "",
        confidence: float = 0.5,
    ) -> str:
        data = {
            "action_id": action_id,
            "description": description,
            "state": state or {},
            "decision": decision,
            "confidence": confidence,
        }
        return self._record("step", data)

    def record_observation(
        self,
        action_id: str,
        observation_type: str,
        data: dict[str, Any] | None = None,
        source: str = "",
        confidence: float = 1.0,
    ) -> str:
        body = {
            "action_id": action_id,
            "observation_type": observation_type,
            "data": data or {},
            "source": source,
            "confidence": confidence,
        }
        return self._record("observation", body)

    def complete_action(self, action_id: str, outcome: dict[str, Any] | None = None) -> str:
        return self._record("action_completed", {"action_id": action_id, "outcome": outcome or {}})

    def metric(self, name: str, value: float, unit: str = "") -> str:
        return self._record("metric", {"name": name, "value": value, "unit": unit})

    def end_run(
        self, success: bool, narrative: str = "", output_data: dict[str, Any] | None = None
    ) -> str:
        if self.ended:
            return self._misuse("end_run called but the run already ended")
        done = self._record(
            "run_ended",
            {"success": success, "narrative": narrative, "output_data": output_data or {}},
        )
        if done:
            self.ended = True
        return done

    def start(self, goal_description: str, input_data: dict[str, Any] | None) -> str:
        data = {"goal_id": self.goal_id, "goal_description": goal_description}
        return self._record("run_started", {**data, "input_data": input_data or {}})
