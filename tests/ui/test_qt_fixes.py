"""The PySide6 None-refcount bug must not be able to abort the app on Python 3.11."""

from __future__ import annotations

import sys

from explorer.ui import qt_fixes


def test_many_void_qt_calls_do_not_exhaust_none(qapp):
    from PySide6.QtWidgets import QLabel

    lab = QLabel()
    start = sys.getrefcount(None)
    for i in range(20_000):  # more than None's whole count at start-up on 3.11
        lab.setText(str(i & 7))
    assert qt_fixes._APPLIED or not qt_fixes.none_refcount_leaks()
    # The leak takes one reference per call: 20,000 calls would show; a few stray ones would not.
    assert sys.getrefcount(None) > start - 1000
