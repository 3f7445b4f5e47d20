"""processors/limits.py: the fold reads its settings from a compiled copy of the config;
the copy must carry every field, or a new setting would silently not reach the fold."""

from __future__ import annotations

import pytest

from processors.config import SEED_PARITY, FoldConfig
from processors.fold import PartitionFold
from processors.limits import Limits


@pytest.mark.parametrize(
    "cfg",
    [FoldConfig(), FoldConfig(**SEED_PARITY), FoldConfig(window_s=60, grace_s=5, min_samples=2)],
)
def test_limits_carry_every_field_of_the_config(cfg: FoldConfig) -> None:
    limits = Limits(cfg)
    for name in FoldConfig.model_fields:
        assert getattr(limits, name) == getattr(cfg, name), name
    assert (limits.window_ms, limits.grace_ms) == (cfg.window_ms, cfg.grace_ms)
    assert limits.config is cfg


def test_the_fold_reads_the_config_it_was_given() -> None:
    cfg = FoldConfig(max_open_actions=7)
    fold = PartitionFold(cfg)
    assert fold.cfg.max_open_actions == 7 and fold.cfg.config is cfg
