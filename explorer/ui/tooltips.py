"""Long tooltips wrap instead of running off the window as one line.

Qt wraps a tooltip only when it is rich text, so a plain one longer than ``LONG`` characters is
turned into escaped rich text just before it shows (an application event filter, so tooltips set
later, on any widget, are covered too).
"""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QWidget

LONG = 70  # characters; shorter tooltips stay on one line


def wrapped(text: str) -> str:
    """``text`` as rich text Qt word-wraps; short or already rich text is returned unchanged."""
    if len(text) <= LONG or GuiQt.mightBeRichText(text):
        return text
    return "<p style='white-space:pre-wrap'>" + html.escape(text) + "</p>"


class TooltipWrapper(QObject):
    """Install on the QApplication: rewrites a widget's long plain tooltip as it is asked for."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.ToolTip and isinstance(obj, QWidget):
            tip = obj.toolTip()
            if tip and wrapped(tip) != tip:
                obj.setToolTip(wrapped(tip))
        return False
