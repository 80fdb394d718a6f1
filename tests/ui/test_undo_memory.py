"""Long sessions: the undo history must not grow with every slider change (issue 14, item 2).

A photo's detail used to be deep-copied into every change's undo command, merged commands were
never freed and the stack had no limit: 65 MB per 1,000 slider changes on the bundled model.
"""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np


def _state(qapp, bundle):
    from explorer.ui.state import ExplorerState

    st = ExplorerState(bundle)
    rng = np.random.default_rng(0)
    detail = rng.standard_normal(bundle.detail_shape).astype(np.float32)
    st.load_latent(rng.standard_normal(bundle.nz).astype(np.float32), "photo", detail=detail)
    return st, detail


def test_slider_changes_keep_memory_flat(qapp, tiny_bundle):
    st, detail = _state(qapp, tiny_bundle)
    names = st.slider_names[:2]
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        for drag in range(4):  # four drags of 300 changes: four undo steps
            for i in range(300):
                st.set_alpha(names[drag % 2], ((i * 7) % 300 - 150) / 100)
            st.end_drag()
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert st.undo_stack.count() == 1 + 4
    # Each change used to keep two copies of the detail (here 1,200 x 2 x detail.nbytes).
    assert grown < 20 * detail.nbytes + 200_000, f"{grown / 1e6:.1f} MB kept by 1,200 changes"
    # Undo still walks back through the drags and the photo load.
    for _ in range(4):
        st.undo_stack.undo()
    assert all(v == 0 for v in st.alphas.values())
    assert np.array_equal(st.custom_detail, detail)


def test_undo_history_is_limited_and_clear_frees_it(qapp, tiny_bundle):
    from explorer.ui.state import UNDO_LIMIT

    st, detail = _state(qapp, tiny_bundle)
    rng = np.random.default_rng(1)
    gc.collect()
    tracemalloc.start()
    try:
        for i in range(UNDO_LIMIT + 50):  # photo loads: each its own step with a new detail
            st.load_latent(rng.standard_normal(tiny_bundle.nz).astype(np.float32), f"p{i}",
                           detail=rng.standard_normal(tiny_bundle.detail_shape)
                           .astype(np.float32))
        assert st.undo_stack.count() == UNDO_LIMIT
        gc.collect()
        held = tracemalloc.get_traced_memory()[0]
        st.undo_stack.clear()
        gc.collect()
        freed = held - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert st.undo_stack.count() == 0
    # The cleared history held about UNDO_LIMIT details; most of that must come back.
    assert freed > 0.8 * (UNDO_LIMIT - 1) * detail.nbytes, f"clear() freed {freed} bytes"


def test_merged_drag_changes_are_freed(qapp, tiny_bundle):
    """A command merged by QUndoStack itself keeps no payload (PySide keeps its wrapper)."""
    from explorer.ui.state import StateCommand

    st, _ = _state(qapp, tiny_bundle)
    a = StateCommand(st, {"psi": 1.0}, {"psi": 0.9}, "psi", merge_id=99)
    b = StateCommand(st, {"psi": 0.9}, {"psi": 0.8}, "psi", merge_id=99)
    assert a.mergeWith(b)
    assert a.after == {"psi": 0.8} and a.before == {"psi": 1.0}
    assert b.before == {} and b.after == {}
