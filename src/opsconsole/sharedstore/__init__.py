"""The shared PostgreSQL incident store (issue 17): one incident across many hosts.

:mod:`.store` (:class:`~.store.PgStore`, the same ``Store`` protocol as the SQLite store),
:mod:`.schema` (versioned migrations, the GRANT a role lacks), :mod:`.outbox` (the local
SQLite journal every event is written to first), :mod:`.forward` (outbox → PostgreSQL, in
order, exactly once), :mod:`.loop` (the store's own asyncio thread: no PostgreSQL I/O on
the caller's loop), :mod:`.mirror` and :mod:`.localview` (reads from this host's copy
while PostgreSQL is down, and what the seqs mean then), :mod:`.lease` (the evaluator lease
in PostgreSQL), :mod:`.migrate` (``opsconsole store migrate``), :mod:`.choose` (which
store the config selects).

A package of its own because it sits above both ``incidents`` (the event model) and
``postgres`` (``conn.py``, the one way to connect), which the layering keeps independent.
Never imports Textual.
"""
