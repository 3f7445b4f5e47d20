"""The fast lane of decoding: parsed JSON straight to records, for the clean common case.

`decode(obj)` returns the record of one event, or None when it is not sure: a type
it does not cover (problems, run ends, healing reports and ticks are rare), a value
in a form pydantic would coerce ("5" for an int), a timestamp not in the canonical
form, or anything invalid. None sends the message down the pydantic path, which
decides and explains (schemas/codec.py). So this lane only ever accepts a subset of
what the models accept, and must build exactly the record that `from_model` would:
tests/schemas/test_fastdecode.py checks both properties on generated events.

Compiled with the fold by mypyc (streams/native.py); in pure Python it is still
about as fast as pydantic, and gives the same records.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, Final

from schemas.events import INT64_MAX, DecisionType
from schemas.records import (
    ActionCompleted,
    ActionCompletedData,
    ActionStarted,
    ActionStartedData,
    Decision,
    DecisionData,
    Event,
    GoalDefined,
    Metric,
    MetricData,
    Observation,
    ObservationData,
    Option,
    Outcome,
    OutcomeData,
    RunStarted,
    RunStartedData,
    Step,
    StepData,
    Tick,
)
from schemas.timefmt import parse_rfc3339_ms

ID_MAX: Final = 256
_EXACT_FLOAT: Final = 2**53  # ints converted to float beyond this could round
_TRACEPARENT: Final = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")
_DECISION_TYPES: Final = {t.value: t for t in DecisionType}
_MISSING: Final = object()
MINUTES_CACHED: Final = 4096
_MINUTES: Final[dict[str, int]] = {}  # "YYYY-MM-DDTHH:MM" -> epoch ms
_DAYS_BEFORE_MONTH: Final = (0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)


class NotFast(Exception):
    """Internal: this event is left to the pydantic path."""


_NOT_FAST: Final = NotFast()


def decode(obj: object) -> Event | None:
    """The record of one parsed event, or None to let the pydantic path decide."""
    if type(obj) is not dict:
        return None
    try:
        return _decode(obj)
    except NotFast:
        return None


def decode_all(items: list[Any], declined: Callable[[object], Event]) -> list[Event]:
    """The records of the items; `declined` decodes those this lane leaves to pydantic
    (and may raise, which ends the call)."""
    events: list[Event] = []
    for item in items:
        event = decode(item)
        events.append(event if event is not None else declined(item))
    return events


def subjects_agree(events: list[Event], expected: str | None, check: bool) -> bool:
    """All events but ticks have one subject, equal to `expected` if `check`."""
    subject: str | None = None
    for event in events:
        if type(event) is Tick or type(event) is GoalDefined:
            continue
        if subject is None:
            subject = event.subject
            if check and subject != expected:
                return False
        elif event.subject != subject:
            return False
    return True


def _decode(d: dict[str, Any]) -> Event | None:
    kind = d.get("type")
    sv = d.get("specversion", "1.0")
    version = d.get("schema_version", 1)
    if sv != "1.0" or type(sv) is not str or type(version) is not int or version != 1:
        return None
    data = d.get("data")
    if type(data) is not dict:
        return None
    event_id = _id(d, "id")
    source = _id(d, "source")
    subject = _id(d, "subject")
    t = _time(d.get("time"))
    seq = d.get("seq")
    if seq is not None and (type(seq) is not int or seq < 1 or seq > INT64_MAX):
        return None
    goal_id = _opt_text(d, "goal_id")
    trace = _opt_text(d, "traceparent")
    if trace is not None and _TRACEPARENT.fullmatch(trace) is None:
        return None
    # Most frequent first.
    if kind == "agentfold.metric":
        name = _id(data, "name")
        metric = MetricData(name, _float(data, "value", _MISSING), _text(data, "unit", ""))
        return Metric(event_id, source, subject, t, seq, goal_id, trace, metric)
    if kind == "agentfold.step":
        step = StepData(
            _id(data, "action_id"),
            _text(data, "description", ""),
            _obj(data, "state"),
            _text(data, "decision", ""),
            _float(data, "confidence", 0.5),
        )
        return Step(event_id, source, subject, t, seq, goal_id, trace, step)
    if kind == "agentfold.observation":
        obs = ObservationData(
            _id(data, "action_id"),
            _text(data, "observation_type", None),
            _obj(data, "data"),
            _text(data, "source", ""),
            _float(data, "confidence", 1.0),
        )
        return Observation(event_id, source, subject, t, seq, goal_id, trace, obs)
    if kind == "agentfold.decision":
        decision_type = _DECISION_TYPES.get(_text(data, "decision_type", "custom"))
        if decision_type is None:
            return None
        decision = DecisionData(
            _id(data, "decision_id"),
            _text(data, "intent", None),
            _text(data, "node_id", "unknown"),
            decision_type,
            _options(data),
            _text(data, "chosen_option_id", ""),
            _text(data, "reasoning", ""),
            _texts(data, "active_constraints"),
            _obj(data, "input_context"),
        )
        return Decision(event_id, source, subject, t, seq, goal_id, trace, decision)
    if kind == "agentfold.outcome":
        success = data.get("success")
        if type(success) is not bool:
            return None
        outcome = OutcomeData(
            _id(data, "decision_id"),
            success,
            data.get("result"),
            _opt_text(data, "error"),
            _text(data, "summary", ""),
            _obj(data, "state_changes"),
            _count(data, "tokens_used"),
            _count(data, "latency_ms"),
        )
        return Outcome(event_id, source, subject, t, seq, goal_id, trace, outcome)
    if kind == "agentfold.action_started":
        started = ActionStartedData(
            _id(data, "action_id"),
            _text(data, "action_type", None),
            _opt_text(data, "parent_action_id"),
            _obj(data, "expected_outcome"),
            _texts(data, "acceptance_criteria"),
        )
        return ActionStarted(event_id, source, subject, t, seq, goal_id, trace, started)
    if kind == "agentfold.action_completed":
        completed = ActionCompletedData(_id(data, "action_id"), _obj(data, "outcome"))
        return ActionCompleted(event_id, source, subject, t, seq, goal_id, trace, completed)
    if kind == "agentfold.run_started":
        run = RunStartedData(
            _text(data, "goal_id", ""),
            _text(data, "goal_description", ""),
            _obj(data, "input_data"),
            _text(data, "stream_id", ""),
        )
        return RunStarted(event_id, source, subject, t, seq, goal_id, trace, run)
    return None


# ─── fields: each returns the value the model would hold, or raises NotFast ─────────


def _id(d: dict[str, Any], key: str) -> str:
    v = d.get(key)
    if type(v) is not str or not 0 < len(v) <= ID_MAX:
        raise _NOT_FAST
    return v


def _text(d: dict[str, Any], key: str, default: str | None) -> str:
    """A str field; `default` None means required."""
    v = d.get(key, default)
    if type(v) is not str:
        raise _NOT_FAST
    return v


def _opt_text(d: dict[str, Any], key: str) -> str | None:
    v = d.get(key)
    if v is not None and type(v) is not str:
        raise _NOT_FAST
    return v


def _texts(d: dict[str, Any], key: str) -> list[str]:
    v = d.get(key, _MISSING)
    if v is _MISSING:
        return []
    if type(v) is not list:
        raise _NOT_FAST
    for item in v:
        if type(item) is not str:
            raise _NOT_FAST
    return v


def _obj(d: dict[str, Any], key: str) -> dict[str, Any]:
    v = d.get(key, _MISSING)
    if v is _MISSING:
        return {}
    if type(v) is not dict:
        raise _NOT_FAST
    return v


def _float(d: dict[str, Any], key: str, default: object) -> float:
    v = d.get(key, default)
    if type(v) is float:
        if not math.isfinite(v):
            raise _NOT_FAST
        return v
    if type(v) is int and -_EXACT_FLOAT <= v <= _EXACT_FLOAT:
        return float(v)
    raise _NOT_FAST


def _count(d: dict[str, Any], key: str) -> int:
    v = d.get(key, 0)
    if type(v) is not int or v < 0 or v > INT64_MAX:
        raise _NOT_FAST
    return v


def _options(d: dict[str, Any]) -> list[Option]:
    v = d.get("options", _MISSING)
    if v is _MISSING:
        return []
    if type(v) is not list:
        raise _NOT_FAST
    options: list[Option] = []
    for o in v:
        if type(o) is not dict:
            raise _NOT_FAST
        options.append(
            Option(
                _text(o, "id", None),
                _text(o, "description", ""),
                _text(o, "action_type", "unknown"),
                _obj(o, "action_params"),
                _texts(o, "pros"),
                _texts(o, "cons"),
                _float(o, "confidence", 0.5),
            )
        )
    return options


# ─── time ───────────────────────────────────────────────────────────────────────────


def _time(v: object) -> int:
    """`parse_rfc3339_ms`, with the canonical form (what the SDK writes) done inline."""
    if not isinstance(v, str):
        raise _NOT_FAST
    text = v
    ms = canonical_ms(text)
    if ms is not None:
        return ms
    try:
        return parse_rfc3339_ms(text)
    except ValueError:
        raise _NOT_FAST from None


def _digits(s: str, start: int, end: int) -> int:
    n = 0
    for i in range(start, end):
        c = ord(s[i]) - 48
        if c < 0 or c > 9:
            return -1
        n = n * 10 + c
    return n


def canonical_ms(s: str) -> int | None:
    """Epoch ms of `YYYY-MM-DDTHH:MM:SS[.f…]Z` (1–9 fraction digits, truncated to
    the millisecond as `parse_rfc3339_ms` does), or None for any other form.

    The date, hour and minute are parsed once per distinct minute and remembered
    (a bounded memo: the same text always gives the same value)."""
    n = len(s)
    if n < 20 or n > 30 or s[n - 1] != "Z" or s[16] != ":":
        return None
    head = s[:16]
    base = _MINUTES.get(head)
    if base is None:
        base = _minute_ms(head)
        if base is None:
            return None
        if len(_MINUTES) >= MINUTES_CACHED:
            _MINUTES.clear()
        _MINUTES[head] = base
    second = _digits(s, 17, 19)
    if not 0 <= second <= 59:
        return None
    milli = 0
    if n > 20:
        if s[19] != "." or n == 21:
            return None
        frac = _digits(s, 20, n - 1)
        if frac < 0:
            return None
        width = n - 21
        milli = frac // 10 ** (width - 3) if width >= 3 else frac * 10 ** (3 - width)
    return base + second * 1000 + milli


def _minute_ms(s: str) -> int | None:
    """Epoch ms of `YYYY-MM-DDTHH:MM`, or None if it is not a valid one."""
    if s[4] != "-" or s[7] != "-" or s[10] != "T" or s[13] != ":":
        return None
    year = _digits(s, 0, 4)
    month = _digits(s, 5, 7)
    day = _digits(s, 8, 10)
    hour = _digits(s, 11, 13)
    minute = _digits(s, 14, 16)
    if year < 1 or not 1 <= month <= 12 or day < 1 or not 0 <= hour <= 23:
        return None
    if not 0 <= minute <= 59:
        return None
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    if day > (29 if month == 2 and leap else _month_days(month)):
        return None
    y = year - 1
    days = y * 365 + y // 4 - y // 100 + y // 400 + _DAYS_BEFORE_MONTH[month - 1] + day - 1 - 719162
    if month > 2 and leap:
        days += 1
    return ((days * 24 + hour) * 60 + minute) * 60_000


def _month_days(month: int) -> int:
    if month == 2:
        return 28
    return 30 if month in (4, 6, 9, 11) else 31
