"""Evidence suites (issue 7): what production does to a collector, repeated on every test run.

- ``test_crash``: the daemon SIGKILLed 102 times into SQLite, JSONL and PostgreSQL — nothing
  lost, nothing duplicated, state always readable;
- ``test_faults``: 429 storms (never retried before Retry-After), 5xx, resets, read timeouts,
  malformed pages, expired cursors, OAuth tokens expiring mid-run, wall-clock jumps;
- ``test_upstream_down``: an open breaker keeps requests off a failing API, the source backs
  off, the other source keeps its schedule;
- ``test_bad_input``: hypothesis-generated configs and API pages — clear errors or dead letters;
- ``test_secrets``: debug runs with every auth kind leak no credential anywhere;
- ``test_storage_service``: schemathesis finds no 5xx; unauthenticated requests are refused.

``pytest -s tests/evidence`` prints the counts (kills, records, hits) for the report.
"""
