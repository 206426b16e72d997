"""Small widgets that repaint only what changed (over SSH every byte counts)."""

from opsconsole.ui.widgets.lines import LineBlock
from opsconsole.ui.widgets.spark import ASCII_SPARK, SPARK, bar, sparkline
from opsconsole.ui.widgets.table import TableSync, selected_key, sync_table
from opsconsole.ui.widgets.timeline import PAGE, TimelineView, timeline_text, timeline_width

__all__ = [
    "ASCII_SPARK",
    "PAGE",
    "SPARK",
    "LineBlock",
    "TableSync",
    "TimelineView",
    "bar",
    "selected_key",
    "sparkline",
    "sync_table",
    "timeline_text",
    "timeline_width",
]
