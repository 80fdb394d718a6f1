"""The face-explorer window (PySide6 + pyqtgraph). The only package that imports Qt.

Panels live one per module and talk to an :class:`~explorer.ui.state.ExplorerState`; the main window
only assembles them. Compute goes through :mod:`explorer.core`; no torch is imported here.
"""
