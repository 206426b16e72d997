"""The SLO view: `L` opens it, figures come from the store's history (read in a thread)."""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from opsconsole.checks.engine import CheckResult
from opsconsole.config import parse_config
from opsconsole.incidents.store import open_store
from opsconsole.slo.history import HistoryDB
from opsconsole.slo.runner import SloRunner
from opsconsole.ui.screens.slo import SloScreen, slo_text
from uihelpers import make_app, wait_for

CFG = """
checks:
  - {name: api, kind: tcp, address: "127.0.0.1:9", interval: 1h}
slos:
  - {name: api-availability, objective: 99.9%, window: 30d, indicator: {check: api}}
  - {name: quiet, objective: 99%, window: month, indicator: {check: api, latency_below: 1ms}}
"""


def test_slo_text_says_no_data_for_a_window_without_events():
    f = {"name": "x", "objective": 0.99, "window": "30d", "attainment": None,
         "budget_remaining": None, "burn_rates": {"5m": None, "1h": None},
         "events": {"good": 0, "total": 0}}
    text = slo_text([f], {"x": [0.0] * 24}, {"x": "firing"}).plain
    assert "actual   no data" in text and "budget left  no data" in text
    assert "alerts: firing" in text and "5m -" in text


async def test_l_opens_the_slo_view_with_figures_from_the_history():
    cfg = parse_config(CFG)
    data = Path(tempfile.mkdtemp(prefix="opsconsole-test-data-"))
    store = open_store(data)
    t = [time.time() - 1800]
    r = SloRunner([], list(cfg.slos), HistoryDB(store.path), clock=lambda: t[0])
    for i in range(30):
        r.recorder.add_result(CheckResult("api", "CRITICAL" if i == 0 else "OK", "", 0.01,
                                          checked_at=datetime.fromtimestamp(t[0], UTC)))
        t[0] += 60
    r.flush()
    store.close()
    app = make_app(cfg, data_dir=data)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.incident_store is not None, what="the store")
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, SloScreen), what="the SLO view")

        def shown() -> str:
            return str(app.screen.query_one("#slo-text").render())

        await wait_for(pilot, lambda: "events 29/30" in shown(), what="the figures")
        assert "96.667%" in shown() and "budget left" in shown()
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, SloScreen), what="closed")


async def test_the_slo_view_shows_the_burn_rate_rules_state_the_evaluator_recorded():
    from opsconsole.alerts.core import EVALUATOR_STATE
    from opsconsole.alerts.rules import Evaluator
    from opsconsole.alerts.signals import SignalSet
    from opsconsole.slo.engine import slo_rules

    cfg = parse_config(CFG)
    data = Path(tempfile.mkdtemp(prefix="opsconsole-test-data-"))
    store = open_store(data)
    # a real evaluator over the generated rules: api-availability burning fast, quiet not
    ev = Evaluator(slo_rules(cfg.slos))
    burning = {f"slo.api-availability.burn_{w}": 100.0 for w in ("5m", "30m", "1h", "6h")}
    calm = {f"slo.quiet.burn_{w}": 0.0 for w in ("5m", "30m", "1h", "6h", "3d")}
    ev.evaluate(SignalSet(values={**burning, "slo.api-availability.burn_3d": 0.5, **calm}),
                time.time())
    assert ev.states["slo-api-availability-page-fast"].state == "firing"
    store.append(EVALUATOR_STATE, ev.to_dict(), incident_id=None)
    store.close()
    app = make_app(cfg, data_dir=data)
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(pilot, lambda: app.incident_store is not None, what="the store")
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, SloScreen), what="the SLO view")

        def shown() -> str:
            return str(app.screen.query_one("#slo-text").render())

        await wait_for(pilot, lambda: "events" in shown(), what="the figures")
        text = shown()
        avail = text[text.index("api-availability"):text.index("quiet")]
        assert "alerts: page-fast firing, page-slow firing" in avail, avail
        assert "ticket" not in avail
        assert "alerts: inactive" in text[text.index("quiet"):]


async def test_the_incident_screen_shows_the_error_budget_the_incident_burned():
    from opsconsole.ui.flows import open_incident
    from opsconsole.ui.screens.incident import IncidentScreen

    cfg = parse_config("""
checks:
  - {name: api, kind: tcp, address: "127.0.0.1:9", interval: 1h}
slos:
  - {name: api-availability, objective: 99%, window: 30d, indicator: {check: api}}
""")
    data = Path(tempfile.mkdtemp(prefix="opsconsole-test-data-"))
    store = open_store(data)
    from uihelpers import FIXED_NOW

    t = [FIXED_NOW.timestamp() - 7200]  # the app's clock is fixed
    r = SloRunner([], list(cfg.slos), HistoryDB(store.path), clock=lambda: t[0])
    declared = None
    for i in range(100):  # 100 runs; the 10 failures happen during the incident
        if i == 50:
            declared = store.declare("api down", "SEV2", ["api"],
                                     ts=datetime.fromtimestamp(t[0], UTC))
        r.recorder.add_result(CheckResult("api", "CRITICAL" if 50 <= i < 60 else "OK", "",
                                          0.01, checked_at=datetime.fromtimestamp(t[0], UTC)))
        t[0] += 60
    r.flush()
    store.close()
    app = make_app(cfg, data_dir=data)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.incident_store is not None, what="the store")
        open_incident(app, declared.incident_id)
        await wait_for(pilot, lambda: isinstance(app.screen, IncidentScreen), what="opened")

        await wait_for(pilot, lambda: app.screen.budget is not None, what="the budget line",
                       timeout=30)
        line = app.screen.budget.plain
        assert "SLO budget burned:" in line and "api-availability 1000.0%" in line, line
        assert "(10 bad of 50)" in line, line
        shown = [k[0] for k in app.screen.query_one("#incident-summary")._keys]
        assert any("SLO budget burned:" in k for k in shown), shown
