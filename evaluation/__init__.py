"""The quality report of a model file (`face-train evaluate`): the top layer, free to use both the
trainer (data loading, sample grids) and the explorer core (edits, encoding, interpolation)."""
