"""Table values: what the worker's in-memory table keeps, per execution."""

from __future__ import annotations

import tracemalloc

from processors.state import PartitionMeta
from streams.folding.changelog import encode_commit, encode_exec_record, encode_tombstone, meta_dict


def test_kept_values_cost_their_size_not_the_encoders_buffer() -> None:
    """orjson's output keeps a 4 KiB+ buffer; the table holds one value per execution
    for a day after it ends (closed_cap of them per partition), so that would add up."""
    meta = meta_dict(PartitionMeta(3))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [encode_tombstone(3, (1_795_305_600_000, n, n, 1)) for n in range(2000)]
        kept += [encode_commit(meta, {"0123456789abcdef": n}) for n in range(2000)]
        kept += [
            encode_exec_record(3, "0123456789abcdef", n, kept[n], kept[n + 1]) for n in range(1000)
        ]
        per_value = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert max(len(v) for v in kept) < 250
    assert per_value < 400  # was > 4096
