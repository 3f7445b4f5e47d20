"""PartitionState's derived indexes agree with the data they index."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from processors.state import PartitionMeta, PartitionState

# (open?, action id, started ms): small domains so that ids are reopened and times tie.
OPS = st.lists(
    st.tuples(st.booleans(), st.sampled_from("abcdefgh"), st.integers(0, 5)), max_size=300
)


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_oldest_action_is_the_minimum_by_start_then_id(ops: list[tuple[bool, str, int]]) -> None:
    ps = PartitionState(PartitionMeta(0))
    for opening, action_id, ms in ops:
        if opening and action_id not in ps.open_actions:
            ps.add_open_action(action_id, ms, "exec")
        elif not opening and action_id in ps.open_actions:
            del ps.open_actions[action_id]
        if ps.open_actions:
            want = min(ps.open_actions, key=lambda aid: (ps.open_actions[aid][0], aid))
            assert ps.oldest_action() == want
        # Closed actions' entries are dropped on the way, so the heap stays bounded by
        # the number of actions open at once (here at most 8 ids).
        assert len(ps.action_heap) <= 2 * 8 + 65


def test_reindex_rebuilds_the_action_heap() -> None:
    ps = PartitionState(PartitionMeta(0))
    ps.add_open_action("b", 5, "exec")
    ps.add_open_action("a", 9, "exec")
    ps.reindex()  # no executions: the index is rebuilt from them, so it empties
    assert ps.open_actions == {} and ps.action_heap == []


def test_written_out_inits_match_the_declared_fields() -> None:
    """The state classes made per run, window, action, decision or message have their
    __init__ written out (mypyc compiles it; the generated one runs interpreted): it
    must set every declared field, to the declared default where none is given."""
    import dataclasses

    from processors.state import (
        DecisionFacts,
        ExecState,
        OpenAction,
        RunState,
        Sample,
        Tally,
        WindowAcc,
    )

    run = RunState("a", 5)
    action = ("x", "t", "a", None, None, {}, [], 4)
    made: list[tuple[object, tuple[object, ...]]] = [
        (Sample(), ()),
        (WindowAcc(7), (7,)),
        (DecisionFacts("c", None, True, ("x",), "custom"), ("c", None, True, ("x",), "custom")),
        (Tally(3), (3,)),
        (run, ("a", 5)),
        (ExecState("e", run, 9), ("e", run, 9)),
        (OpenAction(*action), action),
    ]
    for obj, args in made:
        for i, f in enumerate(dataclasses.fields(obj)):
            if i < len(args):
                want = args[i]
            elif f.default is not dataclasses.MISSING:
                want = f.default
            else:
                assert f.default_factory is not dataclasses.MISSING, (obj, f.name)
                want = f.default_factory()
            assert getattr(obj, f.name) == want, (type(obj).__name__, f.name)
    a, b = WindowAcc(0), WindowAcc(0)
    assert a.progress is not b.progress and a.repeats is not b.repeats  # fresh per instance
    assert RunState("a", 0).nodes is not RunState("a", 0).nodes
