"""The blocking locks pane: a tree from each root blocker down to everything waiting on it
(``pg_blocking_pids()``, only for backends waiting on a lock). ``enter`` details, ``c``
cancel, ``K`` terminate — the cursor starts on the top root blocker."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text

from opsconsole.fmt import duration
from opsconsole.postgres.model import Backend, LockNode, LocksSnapshot
from opsconsole.postgres.view import LOCK_COLUMNS, backend_details, lock_rows, locks_summary
from opsconsole.ui.actions import ActionSpec, bindings
from opsconsole.ui.console import console_app
from opsconsole.ui.panes.pg_common import PgPane, preview_line
from opsconsole.ui.runbook_prefill import note_root_blocker


class LocksPane(PgPane):
    pane_id = "locks"
    number = 4
    title = "Blocking locks"
    COLUMNS = LOCK_COLUMNS
    ACTIONS: ClassVar[tuple[ActionSpec, ...]] = (
        ActionSpec("locks-details", "enter", "details", "details", "Details of the selected backend and what it waits for"),
        ActionSpec("locks-cancel", "c", "cancel", "cancel", "Cancel the selected backend's query (confirmed, re-checked)", dangerous=True),
        ActionSpec("locks-terminate", "K", "terminate", "terminate", "Terminate the selected backend's session (confirmed, re-checked)", dangerous=True),
        ActionSpec("locks-next-target", "T", "next_target", "next db", "Watch the next configured database target"),
    )
    # set in the class body: Textual merges BINDINGS when the class is created
    BINDINGS = bindings(ACTIONS)

    def __init__(self, source: Any = None, target_name: str = "", redact: bool = False) -> None:
        super().__init__(source, target_name, redact)
        self.lock_nodes: dict[str, LockNode] = {}

    async def fetch(self) -> Any:
        return await self.source.locks()

    def show(self, snap: LocksSnapshot) -> None:
        self.lock_nodes = {str(n.pid): n for n in snap.nodes}
        note_root_blocker(self, snap, console_app(self).services.clock())  # "(was 4242 at 03:12)"
        self.summary = f"{self.target_name} · {locks_summary(snap)}"
        hints = []
        if not snap.server.read_all_stats:
            hints = snap.server.activity_hints()
        if snap.server.major < 14 and snap.nodes:
            hints.append("wait times need PostgreSQL 14+ (pg_locks.waitstart)")
        self.set_hints(hints)
        self.fill(lock_rows(snap, self.filter_text, self.redact))
        self.update_header()

    def preview(self, key: str) -> Text | None:
        n = self.lock_nodes.get(key)
        if n is None:
            return None
        b = n.backend
        return preview_line(f"{b.pid} {b.user or ''}@{b.database or ''}", b.query, self.redact)

    def selected_node(self) -> LockNode | None:
        key = self.selected_key()
        return self.lock_nodes.get(key) if key else None

    def selected_backend(self) -> Backend | None:
        node = self.selected_node()
        return node.backend if node else None

    def runbook_context(self) -> dict[str, str]:
        """Pre-fills runbook parameters (``r``): the root blocker of the selected tree (the
        selected backend itself when it is the root) and the database target's name."""
        out: dict[str, str] = {}
        if self.target_name:
            out["database"] = self.target_name
        n = self.selected_node()
        if n is not None and n.root > 0:  # (0: a prepared transaction, no session to name)
            out["pid"] = str(n.root)
        return out

    def action_details(self) -> None:
        n = self.selected_node()
        if n is None:
            return
        named = ", ".join(map(str, n.blocked_by)) or "— (root blocker)"
        if n.n_blocked_by > len(n.blocked_by):  # the others are reached through these
            named += f" (+{n.n_blocked_by - len(n.blocked_by)} more, reached through these)"
        extra = [("blocked by", named),
                 ("waits for", n.lock_label() or "—"),
                 ("waited", duration(n.wait_age)),
                 ("blocks", f"{n.blocks} session(s), transitively"),
                 ("root blocker", str(n.root))]
        self.show_text(f"pid {n.pid} · {self.target_name}",
                       backend_details(n.backend, self.redact, extra))
