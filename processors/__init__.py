"""Pure, deterministic folds: no clock, no randomness, no I/O, no Faust."""
