"""The exception net: an event whose fold raises is dead-lettered, never a crash.

The fold is deterministic, so an exception it raises on one event would come back on
every restart and on every replay: a poison pill. Each driver — the worker and replay
(`LivePartition`), the offline fold (`OfflineFold`) — therefore folds a partition behind
a *checkpoint*: the partition's state at a point of its input, encoded, plus the inputs
folded since (the *journal*). When folding a message raises, the driver restores the
checkpoint, refolds the journal (its outputs were emitted already and are dropped) and
folds the message again event by event:

- an event whose own handling raises is left out and dead-lettered (`fold_error`, with
  the exception): the partition's state is exactly as if it had never arrived;
- an exception while a *timer* fires — the event moved stream time past another
  deadline — is charged to that timer, not to the event: the timer is dropped and
  dead-lettered under its execution, and the event is folded. Charging the event would
  dead-letter every later event that moves time past the same deadline.

Each such mark is kept with its message in the journal, so a later recovery refolds it
the same way. The result is a function of the input alone, so worker, replay and the
offline fold agree and `replay --verify` holds.

Costs nothing per event: the worker's checkpoint is its flush (the encodings it writes
anyway) and the journal holds references to the messages since; replay and the offline
fold encode the executions changed since their last checkpoint every
`journal_max_bytes` of input. A recovery restores the partition and refolds the journal
once per poison event: slow, but a poison event is a bug in agentfold, to be reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from processors.fold import Out, PartitionFold, TimerKey
from processors.state import PartitionState
from schemas.records import Event
from schemas.timefmt import format_ms
from streams.folding.changelog import (
    MetaDict,
    encode_commit,
    encode_exec,
    encode_tombstone,
    exec_key,
    meta_dict,
    meta_key,
    restore,
)

ERROR_MAX = 400  # characters of the exception's text kept in the dead letter
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")

T = TypeVar("T")


def error_text(exc: BaseException) -> str:
    """The exception as a dead letter states it: type and message, without memory
    addresses (they differ between the worker and a replay of its log)."""
    text = _ADDRESS.sub("0x…", f"{type(exc).__name__}: {exc}")
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"


@dataclass(frozen=True, slots=True)
class Poison:
    """One event of a message the fold leaves out, or one timer it drops at that event."""

    position: int  # the event's place among the message's valid events
    error: str  # error_text of the exception
    timer: TimerKey | None = None  # None: the event itself is left out

    def message(self) -> str:
        """The dead letter's error: what raised, and what was done about it."""
        if self.timer is None:
            return f"folding this event raised {self.error}; it was left out"
        exec_id, timer_id, deadline = self.timer
        return (
            f"timer {timer_id!r} of execution {exec_id!r} (due {format_ms(deadline)}) "
            f"raised {self.error} when this event moved stream time; the timer was dropped"
        )

    def subject(self, event: Event) -> str | None:
        return event.subject if self.timer is None else self.timer[0]


class EventFailed(Exception):
    """Folding one event raised: what to mark before the message is folded again."""

    def __init__(self, poison: Poison) -> None:
        super().__init__(poison.message())
        self.poison = poison


Marks = Mapping[int, Sequence[Poison]]  # position -> the marks at that event
DeadLetterFn = Callable[[Poison, Event], None]


def apply_marked(
    fold: PartitionFold, position: int, event: Event, out: Out, marks: Marks, dead: DeadLetterFn
) -> None:
    """Fold one event the guarded way: honour its marks (`dead` writes the dead letter
    of each, in place), and turn an exception into EventFailed with the next mark."""
    skip = fold.skip_timers
    for poison in marks.get(position, ()):
        dead(poison, event)
        if poison.timer is None:
            return
        skip.add(poison.timer)
    fold.firing = None
    try:
        fold.apply_into(event, out)
    except Exception as exc:
        raise EventFailed(Poison(position, error_text(exc), fold.firing)) from exc
    finally:
        fold.firing = None
        skip.clear()


Change = tuple[str, bytes | None, bytes | None]  # execution id, new value, value it replaces


class Checkpoint(Generic[T]):
    """A partition's state at one point of its input, encoded, and the inputs since.

    `values` maps each execution id to its encoded state or tombstone, `meta` is the
    partition's position and counters; `restore` decodes them into a fresh state — the
    same decoding a restarted worker does, so the state is the one that was encoded.
    """

    def __init__(
        self, partition: int, values: dict[str, bytes], meta: MetaDict, max_bytes: int
    ) -> None:
        self.partition = partition
        self.values = values
        self.meta = meta
        self.max_bytes = max_bytes
        # Drivers append to these directly: one entry per message or event.
        self.journal: list[T] = []
        self.journal_bytes = 0

    @property
    def full(self) -> bool:
        """The journal holds `max_bytes` of input: take a checkpoint."""
        return self.journal_bytes >= self.max_bytes

    def take(self, state: PartitionState, touched: Iterable[str]) -> list[Change]:
        """Move the checkpoint to `state`, encoding the `touched` executions (every one
        changed since the last checkpoint); empties the journal. Returns each touched
        id's change in id order (a value of None: forgotten)."""
        p, values = self.partition, self.values
        closed, execs = state.meta.closed, state.execs
        changes: list[Change] = []
        for exec_id in sorted(touched):
            ex = execs.get(exec_id)
            if ex is not None:
                value: bytes | None = encode_exec(p, ex)
            else:
                tomb = closed.get(exec_id)
                value = encode_tombstone(p, tomb) if tomb is not None else None
            if value is None:
                previous = values.pop(exec_id, None)
            else:
                previous = values.get(exec_id)
                values[exec_id] = value
            changes.append((exec_id, value, previous))
        self.meta = meta_dict(state.meta)
        self.journal = []
        self.journal_bytes = 0
        return changes

    def restore(self) -> PartitionState:
        items = [(exec_key(exec_id), value) for exec_id, value in self.values.items()]
        items.append((meta_key(self.partition), encode_commit(self.meta, {})))
        return restore(self.partition, items).state
