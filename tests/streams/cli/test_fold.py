"""`agentfold fold`: determinism, routing, dead letters, exit codes, config sources."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from streams.cli import main
from streams.kafka.partitioner import partition_for

ROOT = Path(__file__).resolve().parents[3]
FLEET = ROOT / "examples" / "fleet.jsonl"


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args], cwd=ROOT, capture_output=True, env=env
    )


def records(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_fold_of_fleet_twice_is_byte_identical(tmp_path: Path) -> None:
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    assert main(["fold", str(FLEET), "--out", str(one), "-q"]) == 0
    assert main(["fold", str(FLEET), "--out", str(two), "-q"]) == 0
    assert one.read_bytes() == two.read_bytes()
    assert len(one.read_bytes()) > 10_000


def test_output_lines_are_canonical_records(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    main(["fold", str(FLEET), "--out", str(out), "-q"])
    for line in out.read_bytes().splitlines():
        rec = orjson.loads(line)
        assert list(rec) == ["key", "partition", "topic", "value"]
        assert orjson.dumps(rec, option=orjson.OPT_SORT_KEYS) == line
        assert rec["topic"].startswith("agentfold.")


@pytest.mark.parametrize("partitions", [1, 3, 8, 13])
def test_routing_matches_kafkas_default_partitioner(partitions: int) -> None:
    part = DefaultPartitioner()
    all_partitions = list(range(partitions))
    for i in range(300):
        key = f"exec-{i}-é"
        assert partition_for(key, partitions) == part(key.encode(), all_partitions, all_partitions)


def test_records_land_on_the_subjects_partition(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    main(["fold", str(FLEET), "--out", str(out), "--partitions", "4", "-q"])
    for rec in records(out):
        subject = rec["value"].get("execution_id")
        if subject:
            assert rec["partition"] == partition_for(subject, 4)


def test_bad_lines_become_dead_letters_with_line_numbers(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    good = (
        b'{"specversion":"1.0","id":"1","source":"a","type":"agentfold.run_started",'
        b'"subject":"e","time":"2026-11-22T10:00:00Z","data":{}}'
    )
    log.write_bytes(good + b"\n\nnot json\n" + b'{"type":"agentfold.nope"}\n')
    out = tmp_path / "o.jsonl"
    assert main(["fold", str(log), "--out", str(out), "-q"]) == 0
    dead = [r["value"] for r in records(out) if r["topic"] == "agentfold.deadletter"]
    assert [(d["origin"]["line"], d["reason"]) for d in dead] == [
        (3, "invalid_json"),
        (4, "unknown_type"),
    ]
    assert dead[0]["origin"]["file"] == str(log)
    assert main(["fold", str(log), "--out", str(out), "-q", "--strict"]) == 1


def test_report_mode_prints_a_readable_report() -> None:
    result = run_cli("fold", str(FLEET), "--report")
    assert result.returncode == 0, result.stderr
    text = result.stdout.decode()
    for needle in [
        "exec-stagnant",
        "duplicate_action",
        "chain act-research",
        "dead letters: 4",
        "silence",
        "repetition",
        "failure_streak",
        "timeout",
    ]:
        assert needle in text
    assert b"events/s" in result.stderr


def test_stdin_to_stdout() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "fold", "-", "-q"],
        cwd=ROOT,
        input=FLEET.read_bytes(),
        capture_output=True,
    )
    assert result.returncode == 0
    assert result.stdout.count(b"\n") > 50


def test_config_from_file_env_and_flags_with_precedence(tmp_path: Path) -> None:
    from streams.config import load_fold_config

    toml = tmp_path / "af.toml"
    toml.write_text("window_s = 600\nhealthy_below = 0.5\n[worker]\nignored = 1\n")
    cfg = load_fold_config(
        toml, {"AGENTFOLD_HEALTHY_BELOW": "0.1", "AGENTFOLD_BROKER": "x"}, {"grace_s": 5}
    )
    assert (cfg.window_s, cfg.healthy_below, cfg.grace_s) == (600, 0.1, 5)
    js = tmp_path / "af.json"
    js.write_text('{"tier_actions": {"tier_1": "comment", "tier_2": "edit", "tier_3": "thread"}}')
    assert load_fold_config(js).tier_actions["tier_3"] == "thread"


def test_invalid_config_names_the_setting_and_its_source(tmp_path: Path) -> None:
    from schemas.errors import ConfigError
    from streams.config import load_fold_config

    with pytest.raises(ConfigError, match=r"window_s \(from \$AGENTFOLD_WINDOW_S\)"):
        load_fold_config(None, {"AGENTFOLD_WINDOW_S": "-1"})
    config = tmp_path / "bad.toml"
    config.write_text("window_s = -5\n[worker]\npartitions = 0\n")
    with pytest.raises(ConfigError, match=r"window_s \(from .*bad.toml:window_s\)"):
        load_fold_config(config, {})
    from streams.config import load_worker_settings

    with pytest.raises(ConfigError, match=r"partitions \(from .*bad.toml:\[worker\]:partitions\)"):
        load_worker_settings(config, {})
    with pytest.raises(ConfigError, match=r"^invalid configuration:\n  grace_s \(9999\) must"):
        load_fold_config(None, {}, {"grace_s": 9999})
    with pytest.raises(ConfigError, match="cooldown_s has no entry"):
        load_fold_config(None, {}, {"tier_actions": {"tier_1": "a", "tier_2": "b", "tier_3": "c"}})
    typo = tmp_path / "typo.toml"
    typo.write_text("windw_s = 60\n[worker]\nflush_intervl_s = 2\n")
    with pytest.raises(ConfigError, match=r"windw_s \(from .*typo.toml:windw_s\): not a setting; "
                       r"did you mean window_s\?"):  # fmt: skip
        load_fold_config(typo, {})
    with pytest.raises(ConfigError, match=r"flush_intervl_s .*did you mean flush_interval_s\?"):
        load_worker_settings(typo, {})
    with pytest.raises(ConfigError, match=r"zzzq \(from flag\): not a setting \(`agentfold"):
        load_fold_config(None, {}, {"zzzq": 1})
    result = run_cli("fold", str(FLEET), "--set", "window_s=oops")
    assert result.returncode == 2
    assert b"window_s" in result.stderr and b"Traceback" not in result.stderr


def test_config_applies_to_the_fold(tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    main(["fold", str(FLEET), "--out", str(out), "-q", "--set", "window_s=1800"])
    starts = {
        r["value"]["window_start"][11:16]
        for r in records(out)
        if r["topic"] == "agentfold.stagnation"
    }
    assert "08:00" in starts  # 30-minute windows


def test_help_and_missing_input() -> None:
    assert b"--partitions" in run_cli("fold", "--help").stdout
    result = run_cli("fold", "/nonexistent/log.jsonl")
    assert result.returncode == 2 and b"cannot read" in result.stderr


def test_tick_naming_a_missing_partition_is_dead_lettered(tmp_path: Path) -> None:
    log = tmp_path / "t.jsonl"
    log.write_bytes(
        b'{"specversion":"1.0","id":"t","source":"w","type":"agentfold.tick",'
        b'"time":"2026-11-22T10:00:00Z","data":{"partition":9}}\n'
    )
    out = tmp_path / "o.jsonl"
    main(["fold", str(log), "--out", str(out), "--partitions", "2", "-q"])
    (rec,) = records(out)
    assert rec["value"]["reason"] == "schema_violation"
