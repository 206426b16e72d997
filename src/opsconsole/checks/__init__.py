"""Health checks: configuration (``spec``), running them (``engine``, with one module per
kind under ``probes``), state over time (``tracker``, with each perfdata label's recent values), Nagios plugin
output (``perfdata``) and per-check intervals
(``scheduler``); ``opsconsole check`` is :mod:`opsconsole.cli.check`. Never imports Textual.

Configuration reference (``checks:`` in the config file). Every check has ``name``,
``kind``, ``interval`` (30s), ``timeout`` (5s), ``failures_before_critical`` (1: a CRITICAL
result shows as a soft WARNING "failure 1/3: ..." until that many in a row) and an optional
``description``.

- ``http``: ``url`` (required), ``method`` (GET), ``expect_status`` (200, "2xx",
  "200-299", "200,204"), ``body_contains``, ``body_regex``, ``headers``, ``warn_latency`` /
  ``crit_latency``, ``cert_warn_days`` (14) / ``cert_crit_days`` (7) for https,
  ``verify_tls`` (true), ``ca_file``, ``follow_redirects`` (false), ``max_body`` (1MB: the
  body is read at most this far). Proxies from the environment are not used.
- ``tcp``: ``address`` host:port or [v6]:port, ``warn_latency`` / ``crit_latency``.
- ``postgres``: ``database`` (the name of a ``databases:`` target), ``SELECT 1`` with
  latency thresholds; refused / authentication failed / timed out are told apart.
- ``process``: ``pattern`` (regex on the process name, or the whole command line with
  ``match: cmdline``), ``min_count`` (1), ``max_count``.
- ``command``: ``command`` (split like a shell would, or ``shell: true``), exit 0 OK,
  1 WARNING, 2 CRITICAL, else UNKNOWN; first line of output (before a ``|``) is the
  message, the perfdata is parsed (:mod:`~opsconsole.checks.perfdata`); the whole run
  (descendants, session, process group) is killed on timeout; ``max_output`` (64KB) kept.
- ``disk``: ``path`` (/), ``warn_free`` (20%) / ``crit_free`` (10%): a percentage or a size
  such as 5GB.
- ``file_age``: ``path`` glob, ``max_age`` (required), ``warn_age``, ``min_size``.
- ``log_errors``: ``path``, ``pattern`` (ERROR), ``window`` (5m), ``warning`` (1) /
  ``critical`` counts of matching lines appended within the window; follows rotation and
  truncation; ``opsconsole check`` keeps its read position in the data directory.
"""
