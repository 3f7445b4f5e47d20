"""The state budget: per-item caps on what an execution keeps, and shedding once its
encoded state passes state_max_bytes — so one changelog record always holds it."""

from __future__ import annotations

import random

import orjson

from processors.budget import measure
from processors.config import FoldConfig
from processors.fold import PartitionFold
from processors.state_json import exec_from_json, exec_to_json
from schemas.outputs import OutputRecord
from schemas.records import Event
from tests.factory import Agent, fold_all, values

TIGHT = FoldConfig(state_max_bytes=16384, payload_max_bytes=2048, text_max=100)
TINY = FoldConfig(state_max_bytes=4096, payload_max_bytes=1024, text_max=100)


def fold_checked(
    events: list[Event], cfg: FoldConfig
) -> tuple[PartitionFold, list[OutputRecord], int]:
    """Fold, measuring every execution after every event; return the largest size seen."""
    fold = PartitionFold(cfg)
    out: list[OutputRecord] = []
    largest = 0
    for ev in events:
        out.extend(fold.apply(ev))
        for ex in fold.state.execs.values():
            largest = max(largest, measure(ex))
    return fold, out, largest


def chains(out: list[OutputRecord]) -> list[dict]:
    return [r.value for r in out if r.topic == "attribution"]


# ─── per-item caps ──────────────────────────────────────────────────────────────────


def test_free_texts_are_capped_at_text_max() -> None:
    a = Agent()
    long = "g" * 5000
    _, out = fold_all(
        [
            a.start(0, goal_description=long, stream_id=long),
            a("problem", 1, problem_id="p1", severity="critical", description=long),
            a.decide(2, intent=long, node=long)[1],
            a.end(3, narrative=long),
        ],
        TIGHT,
    )
    started, ended = values(out, "runs")
    capped = "g" * 100 + "..."
    assert started.goal_description == capped and started.stream_id == capped
    assert ended.problems[0].description == capped
    assert ended.metrics.nodes_executed == [capped]
    assert ended.narrative == capped


def test_a_payload_over_payload_max_becomes_a_marker_and_a_small_one_passes() -> None:
    a = Agent()
    many_keys = {f"k{i}": i for i in range(1000)}
    _, out = fold_all(
        [a.start(0, input_data=many_keys), a.end(1, output_data={"answer": 42})], TIGHT
    )
    started, ended = values(out, "runs")
    assert started.input_data == {"truncated": True, "bytes": len(orjson.dumps(many_keys))}
    assert ended.output_data == {"answer": 42}


def test_a_chain_bounds_the_outcome_but_scores_the_whole_of_it() -> None:
    a = Agent()
    blob = {"v": "y" * 700, "blob": "x" * 3000}
    criteria = [f"criterion {i} " + "c" * 200 for i in range(40)]
    _, out = fold_all(
        [
            a.start(0),
            a(
                "action_started",
                1,
                action_id="act",
                action_type="t",
                expected_outcome={"v": "y" * 700},  # kept whole: scoring compares it
                acceptance_criteria=criteria,
            ),
            a("action_completed", 2, action_id="act", outcome=blob),
        ],
        TIGHT,
    )
    (chain,) = values(out, "attribution")
    assert chain.success_score == 1.0
    assert chain.expected_outcome == {"v": "y" * 700}
    assert chain.outcome == {"truncated": True, "bytes": len(orjson.dumps(blob))}
    kept = chain.acceptance_criteria
    assert 0 < len(kept) < len(criteria)
    assert kept == [c[:100] + "..." for c in criteria[: len(kept)]]
    assert len(orjson.dumps(kept)) <= TIGHT.payload_max_bytes


# ─── shedding ───────────────────────────────────────────────────────────────────────


def test_summaries_go_first_and_counts_and_credits_stay_exact() -> None:
    a = Agent()
    page = {f"k{i}": "p" * 90 for i in range(10)}  # ≈ 1 KB kept per observation
    events = [a.start(0), a("action_started", 1, action_id="act", action_type="read")]
    for i in range(40):
        events.append(a("step", 2, action_id="act", description=f"s{i}", confidence=0.5))
        events.append(a("observation", 2, action_id="act", observation_type="page", data=page))
    events.append(a("action_completed", 3, action_id="act", outcome={}))
    events.append(a.end(4))
    _fold, out, largest = fold_checked(events, TIGHT)
    assert largest <= TIGHT.state_max_bytes
    (chain,) = values(out, "attribution")
    assert chain.closed_by == "completed"
    assert chain.step_count == 40 and chain.observation_count == 40
    assert len(chain.step_credits) == 40
    assert 0 < len(chain.observations) < 40
    # the summaries kept are the newest, still credited by their global index
    assert [s.index for s in chain.steps_summary] == list(range(40 - len(chain.steps_summary), 40))
    ended = values(out, "runs")[-1]
    assert ended.shed.get("summaries", 0) >= 1 and "actions" not in ended.shed


def test_then_the_oldest_open_actions_are_evicted_with_their_chain() -> None:
    a = Agent()
    events = [a.start(0)]
    for n in range(12):
        events.append(a("action_started", 1 + n, action_id=f"act-{n:02d}", action_type="t"))
        for i in range(60):  # confidences are all kept: ≈ 19 bytes each
            c = ((n * 60 + i) % 97) / 97
            events.append(a("step", 1 + n, action_id=f"act-{n:02d}", confidence=c))
    fold, out, largest = fold_checked(events, TIGHT)
    assert largest <= TIGHT.state_max_bytes
    evicted = chains(out)
    assert evicted, "nothing was evicted"
    assert all(c["outcome"] == {"status": "evicted", "reason": "state_bytes"} for c in evicted)
    assert all(c["closed_by"] == "evicted" for c in evicted)
    ids = [c["action_id"] for c in evicted]
    assert ids == sorted(ids) and ids[0] == "act-00"  # oldest first
    ex = fold.state.execs["exec-1"]
    assert ex.run.shed["actions"] == len(evicted)
    assert set(ex.actions).isdisjoint(ids)
    assert not set(fold.state.open_actions) & set(ids)


def test_then_waiting_decisions_count_as_unsuccessful() -> None:
    a = Agent()
    events = [a.start(0)]
    events += [a.decide(1, intent=f"intent {i:03d} " + "i" * 80)[1] for i in range(200)]
    events.append(a.end(2))
    _fold, out, largest = fold_checked(events, TIGHT)
    assert largest <= TIGHT.state_max_bytes
    ended = values(out, "runs")[-1]
    assert ended.shed["decisions"] > 0
    # the shed decisions are the oldest: they lead the narrative's failures
    assert "Failed on: intent 000" in ended.narrative


def test_then_problems_and_last_the_ids_of_events_without_seq() -> None:
    a = Agent(seq=False)
    events = [a.start(0)]
    events += [
        a("problem", 1, problem_id=f"p{i}", severity="minor", description="d" * 100)
        for i in range(20)
    ]
    events += [a.metric(2, "other", i) for i in range(300)]
    fold, _out, largest = fold_checked(events, TINY)
    assert largest <= TINY.state_max_bytes
    shed = fold.state.execs["exec-1"].run.shed
    assert shed["problems"] > 0 and shed["dedup_ids"] > 0
    assert fold.state.execs["exec-1"].run.problem_count == 20


def test_mixed_heavy_executions_stay_within_the_budget_after_every_event() -> None:
    rng = random.Random(7)
    agents = [Agent(f"exec-{i}", source=f"agent-{i}") for i in range(3)]
    events = [ag.start(0) for ag in agents]
    for n in range(1500):
        ag = rng.choice(agents)
        act = f"{ag.subject}-act{rng.randrange(6)}"
        roll = rng.random()
        if roll < 0.1:
            events.append(ag("action_started", 1 + n / 100, action_id=act, action_type="t"))
        elif roll < 0.5:
            text = "s" * rng.randrange(600)
            events.append(ag("step", 1 + n / 100, action_id=act, description=text))
        elif roll < 0.7:
            data = {f"k{i}": "o" * rng.randrange(300) for i in range(rng.randrange(12))}
            events.append(
                ag("observation", 1 + n / 100, action_id=act, observation_type="o", data=data)
            )
        elif roll < 0.9:
            events.append(ag.decide(1 + n / 100, intent="i" * rng.randrange(150))[1])
        else:
            events.append(ag("action_completed", 1 + n / 100, action_id=act, outcome={}))
    fold, _out, largest = fold_checked(events, TIGHT)
    assert largest <= TIGHT.state_max_bytes
    assert any(ex.run.shed for ex in fold.state.execs.values())


def test_the_budget_counters_survive_the_state_codec_and_old_states_restore() -> None:
    a = Agent()
    fold, _ = fold_all([a.start(0), a("problem", 1, problem_id="p", severity="x", description="d")])
    ex = fold.state.execs["exec-1"]
    ex.run.shed["actions"] = 2
    ex.size, ex.unmeasured = 1234, 56
    encoded = orjson.dumps(exec_to_json(ex), option=orjson.OPT_NON_STR_KEYS)
    assert exec_from_json(orjson.loads(encoded)) == ex
    old = orjson.loads(encoded)
    del old["size"], old["unmeasured"], old["run"]["shed"]
    restored = exec_from_json(old)
    assert (restored.size, restored.unmeasured, restored.run.shed) == (0, 0, {})


def test_analysis_facts_are_shed_before_open_actions() -> None:
    """Long texts in every decision fill the run's analysis facts; the budget drops them
    (counted as `analysis`) and keeps the counts."""
    from tests.factory import Agent, fold_all, values

    cfg = FoldConfig(state_max_bytes=70_000, summary_text_max=2_000, text_max=2_000)
    a = Agent("wordy")
    events = [a.start(0)]
    for i in range(30):
        options = [{"id": f"o{j}", "description": "x" * 1500 + str(j)} for j in range(3)]
        events.append(
            a(
                "decision",
                1,
                decision_id=f"d{i}",
                intent="i" * 1500 + str(i),
                options=options,
                chosen_option_id="o0",
                active_constraints=["c" * 1500],
            )
        )
        events.append(a("outcome", 1, decision_id=f"d{i}", success=False, error="e" * 1500))
    events.append(a.end(2, success=False))
    _, out = fold_all(events, cfg)
    run = values(out, "runs")[-1]
    assert run.shed.get("analysis", 0) >= 1
    assert run.metrics.total_decisions == 30 and run.metrics.failed_decisions == 30
    assert "actions" not in run.shed
