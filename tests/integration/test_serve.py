"""``opsconsole serve``: a real server subprocess; 401 without the token on a non-local
bind, 200 with it; the token kept out of its output; and a real headless Chromium that
opens the wall and sees the incident."""

from __future__ import annotations

import re

import httpx
import pytest

from eventually import eventually_sync
from servehelpers import Served, browser, chromium_missing, received
from wallhelpers import TITLE, filled_store

TOKEN = "tok-Zq8mN3wVx1-test"


@pytest.fixture
def data(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    filled_store(d).close()
    return d


@pytest.fixture
def served(data):
    s = Served(data, "--wall", host="127.0.0.2", env={"OPSCONSOLE_SERVE_TOKEN": TOKEN})
    yield s
    s.stop()


def test_a_non_local_bind_wants_the_token(served):
    base = served.base
    assert httpx.get(f"{base}/", timeout=10).status_code == 401
    assert httpx.get(f"{base}/?token=wrong", timeout=10).status_code == 401
    assert httpx.get(f"{base}/static/js/textual.js", timeout=10).status_code == 401
    assert httpx.get(f"{base}/ws", timeout=10).status_code == 401
    ok = httpx.get(f"{base}/?token={TOKEN}", timeout=10)
    assert ok.status_code == 200 and "opsconsole wall" in ok.text
    cookie = ok.cookies.get("opsconsole_token")
    assert cookie == TOKEN  # the page's static files and websocket carry it
    assert httpx.get(f"{base}/static/js/textual.js", cookies={"opsconsole_token": TOKEN},
                     timeout=10).status_code == 200
    assert httpx.get(f"{base}/", headers={"Authorization": f"Bearer {TOKEN}"},
                     timeout=10).status_code == 200
    # the access log says a request with a token came, never the token
    eventually_sync(lambda: "token=***" in served.output(), 10, what="the access log",
                    last=served.output)
    assert TOKEN not in served.output()


def test_a_bind_on_all_addresses_without_a_token_makes_one_and_says_it_once(data):
    s = Served(data, host="0.0.0.0")
    try:
        found = eventually_sync(lambda: re.search(r"token \(shown once\): (\S+)", s.output()),
                                10, what="the generated token", last=s.output)
        token = found.group(1)
        assert httpx.get(f"{s.base}/", timeout=10).status_code == 401
        assert httpx.get(f"{s.base}/?token={token}", timeout=10).status_code == 200
        eventually_sync(lambda: "token=***" in s.output(), 10, what="the access log")
        assert s.output().count(token) == 2  # the one announcement (token, and its URL)
    finally:
        s.stop()


def test_loopback_needs_no_token(data):
    s = Served(data, "--wall", host="127.0.0.1")
    try:
        assert httpx.get(f"{s.base}/", timeout=10).status_code == 200
    finally:
        s.stop()


def test_the_served_command_is_read_only_whatever_the_flags(tmp_path):
    import argparse

    from opsconsole.cli.serve import is_loopback, served_command

    console = served_command(argparse.Namespace(wall=False, config=None), "/d d")
    assert "--read-only" in console and "'/d d'" in console  # quoted, not shell syntax
    assert served_command(argparse.Namespace(wall=True, config=None), "/d").split()[-3] \
        == "wall"
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5")
    assert not is_loopback("ops.example.com")


def test_without_textual_serve_it_says_how_to_install_it(run_cli, tmp_path):
    import subprocess
    import sys

    from conftest import cli_env

    code = ("import sys; sys.modules['textual_serve'] = None; "
            "from opsconsole.cli.main import main; sys.exit(main(['serve']))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, env=cli_env({"OPSCONSOLE_DATA_DIR": str(tmp_path)}))
    assert done.returncode == 2
    assert "pip install 'opsconsole[web]'" in done.stderr


@pytest.mark.skipif(chromium_missing() is not None, reason=str(chromium_missing()))
def test_a_real_browser_shows_the_wall_and_its_keys_change_nothing(served, data, tmp_path):
    from opsconsole.incidents.store import open_store

    before = open_store(data, read_only=True)
    seq = before.last_seq()
    before.close()
    driver = browser()
    try:
        driver.get(f"{served.base}/?token={TOKEN}")
        eventually_sync(lambda: TITLE in re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "",
                                                received(driver)),
                        60, what="the incident title in the browser",
                        last=lambda: received(driver)[-2000:])
        text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", received(driver))
        assert "RESPONSE OVERDUE BY" in text and "LIVE" in text
        from selenium.webdriver.common.action_chains import ActionChains

        driver.save_screenshot(str(tmp_path / "wall-in-chromium.png"))  # the artifact
        assert (tmp_path / "wall-in-chromium.png").stat().st_size > 10_000
        driver.find_element("tag name", "body").click()  # the terminal takes the keys
        for key in "inKaSrtx12345W":
            ActionChains(driver).send_keys(key).perform()
        # keys do reach the app (q asks), so the ones before were refused, not lost
        ActionChains(driver).send_keys("q").perform()
        eventually_sync(lambda: "Quit" in received(driver), 30,
                        what="the quit question in the browser")
    finally:
        driver.quit()
    after = open_store(data, read_only=True)
    try:
        assert after.last_seq() == seq  # nothing recorded by any key
    finally:
        after.close()
