"""opsconsole: a terminal operations console."""

__version__ = "0.1.0"
