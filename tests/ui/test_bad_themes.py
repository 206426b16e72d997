"""A broken theme file never stops the console: it starts, says where the file is wrong,
and uses the shipped theme (a broken user theme named like a shipped one included)."""

from __future__ import annotations

import pytest

from opsconsole.ui.themes import load_themes, theme_dirs
from uihelpers import make_app

DEEP = "name: deep\nprimary: red\nvariables: " + "[" * 600 + "]" * 600 + "\n"

BAD_THEMES = {
    # file text, the theme it names, the located error the user is shown
    "deep": (DEEP, "deep", "deep.yaml:3:75: nested too deeply"),
    "colour": ("name: mine\nprimary: notacolour\n", "mine",
               "colour.yaml:2:10: primary: expected a colour"),
    "css-var": ("name: mine\nprimary: '#336699'\nvariables:\n  block-cursor-foreground: nocolour\n",
                "mine", "css-var.yaml:4:28: variables.block-cursor-foreground: expected a colour"),
    "css-syntax": ("name: mine\nprimary: '#336699'\nvariables:\n  my-var: '{;'\n", "mine",
                   "css-syntax.yaml:4:11: variables.my-var: not a valid CSS value"),
    "text-style": ("name: mine\nprimary: '#336699'\nvariables:\n  block-cursor-text-style: blod\n",
                   "mine", "text-style.yaml:4:28: variables.block-cursor-text-style: expected text styles"),
    "shipped-name": ("name: opsconsole-dark\nprimary: nope\n", "opsconsole-dark",
                     "shipped-name.yaml:2:10: primary: expected a colour"),
    "spread": ("name: mine\nprimary: red\nluminosity_spread: .inf\n", "mine",
               "spread.yaml:3:20: luminosity_spread: expected a finite number"),
}


def _user_theme(tmp_path, monkeypatch, name: str, text: str) -> None:
    themes = tmp_path / "xdg" / "opsconsole" / "themes"
    themes.mkdir(parents=True)
    (themes / f"{name}.yaml").write_text(text)
    (themes / "good.yaml").write_text("name: good-one\nprimary: '#2e8b57'\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))


@pytest.mark.parametrize("case", sorted(BAD_THEMES))
async def test_console_starts_with_a_bad_user_theme(case, tmp_path, monkeypatch):
    text, theme_name, located = BAD_THEMES[case]
    _user_theme(tmp_path, monkeypatch, case, text)
    app = make_app(theme=theme_name)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.is_running
        assert app.theme == "opsconsole-dark"
        shipped = app.get_theme("opsconsole-dark")
        assert shipped is not None and shipped.primary.lower() != "nope"
        assert "good-one" in app.available_themes  # the other user theme still loads
        message = "\n".join(str(n.message) for n in app._notifications)
        assert located in message
        # the header and panes are drawn with the shipped theme's colours
        assert "ops-01" in app.header_text().plain


def test_a_broken_theme_named_like_a_shipped_one_leaves_the_shipped_one(tmp_path, monkeypatch):
    _user_theme(tmp_path, monkeypatch, "dark", "name: opsconsole-dark\nprimary: '#336699'\n"
                "variables:\n  border: notacolour\n")
    themes, errors = load_themes(theme_dirs())
    assert themes["opsconsole-dark"].primary != "#336699"
    assert [str(e).split(": ", 1)[0].rsplit("/", 1)[-1] for e in errors] == ["dark.yaml:4:11"]
    assert "good-one" in themes


def test_theme_file_that_never_ends_is_refused(tmp_path, monkeypatch):
    themes = tmp_path / "xdg" / "opsconsole" / "themes"
    themes.mkdir(parents=True)
    (themes / "zero.yaml").symlink_to("/dev/zero")
    (themes / "big.yaml").write_text("name: big\nprimary: red\n# " + "x" * (1024 * 1024) + "\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    loaded, errors = load_themes(theme_dirs())
    text = "\n".join(map(str, errors))
    assert "zero.yaml" in text and "big.yaml" in text
    assert "opsconsole-dark" in loaded
