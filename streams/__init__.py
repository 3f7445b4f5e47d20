"""Everything with I/O, one subpackage per role: `sdk` (agents record runs), `worker`
(the live Faust app), `folding` (the per-partition driver shared by worker and replay),
`replay`, `healing` (the executor), `kafka` (broker, topics, clients), `views`, `demo`,
`cli`, `native` (the compiled fold).

Importing `streams` or any subpackage does no work: the compiled fold is put in place
by the entry points (`streams.native.activate`), never by an import.
"""
