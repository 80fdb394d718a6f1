"""Directions, edits with locks, scores, interpolation and analogy."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.core.analogy import analogy, analogy_strip
from explorer.core.bundle import Bundle, BundleError
from explorer.core.directions import (
    METHODS,
    available_methods,
    custom_direction,
    default_method,
    get_directions,
)
from explorer.core.edits import apply_edits, attribute_scores, condition_vector, top_attributes
from explorer.core.interpolation import interpolate, interpolate_details, lerp, slerp
from explorer.core.latents import seed_latents


@pytest.mark.parametrize("method", METHODS)
def test_directions_are_unit_and_cached(bundle: Bundle, method: str) -> None:
    d = get_directions(bundle, method)
    assert d.names == bundle.attribute_names and d.method == method
    assert d.vectors.shape == (6, 8) and d.scale.shape == (6,) and (d.scale > 0).all()
    np.testing.assert_allclose(np.linalg.norm(d.vectors, axis=1), 1.0, atol=1e-5)
    assert get_directions(bundle, method) is d


def test_linear_directions_separate_the_atlas(bundle: Bundle) -> None:
    d = get_directions(bundle, "linear")
    assert bundle.atlas_z is not None and bundle.atlas_labels is not None
    s = attribute_scores(bundle.atlas_z, d)
    for a in range(len(d.names)):
        pos = bundle.atlas_labels[:, a] > 0
        if pos.any() and (~pos).any():
            assert s[pos, a].mean() > s[~pos, a].mean()


def test_sampled_directions_follow_what_the_generator_draws(bundle: Bundle) -> None:
    """Scores along the sampled boundaries are higher on generated faces the classifier says
    have the attribute; the best available method is the default."""
    from explorer.core.classify import attribute_probabilities

    d = get_directions(bundle, "sampled")
    z = seed_latents(list(range(400)), bundle.nz)
    has = attribute_probabilities(bundle, bundle.generate(z)) > 0.5
    s = attribute_scores(z, d)
    checked = 0
    for a in range(len(d.names)):
        if has[:, a].sum() >= 20 and (~has[:, a]).sum() >= 20:
            assert s[has[:, a], a].mean() > s[~has[:, a], a].mean(), d.names[a]
            checked += 1
    assert checked >= 1
    assert available_methods(bundle) == list(METHODS) and default_method(bundle) == "sampled"


def test_models_without_sampled_directions_fall_back(bundle: Bundle) -> None:
    from dataclasses import replace

    old = replace(bundle, sampled_directions=None, cache={})
    assert available_methods(old) == ["mean-diff", "linear"]
    assert default_method(old) == "mean-diff"
    with pytest.raises(BundleError, match="no directions fitted on samples"):
        get_directions(old, "sampled")


def test_cli_offers_the_core_direction_methods() -> None:
    from explorer.cli import DIRECTION_METHODS

    assert DIRECTION_METHODS == METHODS


def test_unknown_method_and_attribute(bundle: Bundle) -> None:
    with pytest.raises(ValueError, match="unknown direction method"):
        get_directions(bundle, "pca")
    d = get_directions(bundle)
    with pytest.raises(KeyError, match="unknown attribute 'Smilling'"):
        apply_edits(np.zeros(8), d, {"Smilling": 1.0})
    with pytest.raises(KeyError, match="unknown attribute"):
        apply_edits(np.zeros(8), d, {"Smiling": 1.0}, locks=["Bald"])


@pytest.mark.parametrize("method", METHODS)
def test_locked_attribute_score_stays_while_unlocked_changes(bundle: Bundle, method: str) -> None:
    d = get_directions(bundle, method)
    z = seed_latents([11, 12, 13], bundle.nz)
    before = attribute_scores(z, d)
    i_smile, i_male, i_young = (d.index(n) for n in ("Smiling", "Male", "Young"))
    # Unlocked: moving Smiling drags Male along when the directions are correlated.
    free = attribute_scores(apply_edits(z, d, {"Smiling": 2.0}), d)
    locked = attribute_scores(apply_edits(z, d, {"Smiling": 2.0}, locks=["Male", "Young"]), d)
    np.testing.assert_allclose(locked[:, i_male], before[:, i_male], atol=1e-4)
    np.testing.assert_allclose(locked[:, i_young], before[:, i_young], atol=1e-4)
    assert (locked[:, i_smile] - before[:, i_smile] > 0.1).all()  # the moved one still moves
    # Unlocked, Male moves by exactly its direction's share of the Smiling step.
    dot = float(d.vectors[i_smile] @ d.vectors[i_male])
    np.testing.assert_allclose(free[:, i_male] - before[:, i_male],
                               2.0 * float(d.scale[i_smile]) * dot, atol=1e-4)


def test_edit_moves_by_alpha_times_scale(bundle: Bundle) -> None:
    d = get_directions(bundle)
    z = seed_latents([1], bundle.nz)[0]
    out = apply_edits(z, d, {"Male": -1.5})
    np.testing.assert_allclose(out - z, -1.5 * d.scale[1] * d.vectors[1], atol=1e-5)
    np.testing.assert_array_equal(apply_edits(z, d, {}), z)


def test_custom_direction_from_two_groups(bundle: Bundle) -> None:
    rng = np.random.default_rng(0)
    axis = np.eye(8, dtype=np.float32)[3]
    has = rng.normal(size=(20, 8)).astype(np.float32) + 2 * axis
    hasnot = rng.normal(size=(20, 8)).astype(np.float32) - 2 * axis
    v = custom_direction(has, hasnot)
    assert v @ axis > 0.9
    d = get_directions(bundle).with_custom("Mine", v)
    assert d.names[-1] == "Mine" and d.vectors.shape == (7, 8)
    assert "Mine" not in get_directions(bundle).names  # the cached set is untouched
    with pytest.raises(ValueError, match="at least one face"):
        custom_direction(has, np.zeros((0, 8)))


def test_condition_vector_for_cgan() -> None:
    y = condition_vector(["Smiling", "Male"], {"Smiling": 1.0, "Young": 3.0, "Male": -5})
    np.testing.assert_array_equal(y, [1.0, -2.0])


def test_top_attributes() -> None:
    top = top_attributes(np.array([0.1, 2.0, -1.0, 0.5]), ["a", "b", "c", "d"], k=2)
    assert top == [("b", 2.0), ("d", 0.5)]


@pytest.mark.parametrize("mode", ["lerp", "slerp"])
@pytest.mark.parametrize("easing", ["linear", "ease-in-out"])
def test_interpolation_endpoints_equal_keyframes(mode: str, easing: str) -> None:
    kf = seed_latents([1, 2, 3], 16)
    path = interpolate(kf, 21, mode=mode, easing=easing)
    assert path.shape == (21, 16)
    np.testing.assert_array_equal(path[0], kf[0])
    np.testing.assert_array_equal(path[10], kf[1])  # middle keyframe at the middle frame
    np.testing.assert_array_equal(path[-1], kf[2])
    looped = interpolate(kf, 30, mode=mode, loop=True, easing=easing)
    np.testing.assert_array_equal(looped[0], kf[0])
    np.testing.assert_array_equal(looped[10], kf[1])
    # the last frame is one step before returning to the start: the loop is seamless
    step = np.linalg.norm(looped[1] - looped[0]) if easing == "linear" else None
    if step is not None:
        assert np.linalg.norm(looped[-1] - kf[0]) == pytest.approx(step, rel=0.2)


def test_photo_details_follow_the_walk() -> None:
    """A walk seed → photo → seed: the photo's keyframe has its whole detail, the seeds none,
    and in between it fades on the latents' clock."""
    d = np.random.default_rng(0).normal(size=(4, 2, 2)).astype(np.float32)
    assert interpolate_details([None, None], 5) is None
    path = interpolate_details([None, d, None], 21, easing="ease-in-out")
    assert path is not None and path.shape == (21, 4, 2, 2)
    np.testing.assert_array_equal(path[10], d)
    assert not path[0].any() and not path[-1].any()
    amount = [float(np.abs(f).sum() / np.abs(d).sum()) for f in path[:11]]
    assert amount == sorted(amount) and 0 < amount[5] < 1  # fades in toward the photo
    looped = interpolate_details([d, None], 10, loop=True)
    assert looped is not None
    np.testing.assert_array_equal(looped[0], d)
    with pytest.raises(ValueError, match="shapes"):
        interpolate_details([d, d[:2]], 5)


def test_slerp_keeps_norm_and_lerp_is_straight() -> None:
    a, b = seed_latents([5, 6], 128)
    mid = slerp(a, b, 0.5)
    assert abs(np.linalg.norm(mid) - (np.linalg.norm(a) + np.linalg.norm(b)) / 2) < 1.0
    assert np.linalg.norm(lerp(a, b, 0.5)) < np.linalg.norm(mid)
    np.testing.assert_allclose(lerp(a, b, 0.5), (a + b) / 2, atol=1e-6)
    ts = slerp(a, b, np.array([0.0, 1.0]))
    np.testing.assert_array_equal(ts, np.stack([a, b]))


def test_bad_interpolation_inputs() -> None:
    kf = seed_latents([1, 2], 4)
    with pytest.raises(ValueError, match="mode"):
        interpolate(kf, 5, mode="cubic")
    with pytest.raises(ValueError, match="easing"):
        interpolate(kf, 5, easing="bounce")
    with pytest.raises(ValueError, match="n_frames"):
        interpolate(kf, 0)


def test_analogy_is_exact_arithmetic() -> None:
    a, b, c = seed_latents([1, 2, 3], 8)
    np.testing.assert_array_equal(analogy(a, b, c, keep_norm=False), c + (a - b))
    np.testing.assert_allclose(analogy(a, b, c, 0.5, keep_norm=False), c + 0.5 * (a - b),
                               rtol=1e-6)
    strip = analogy_strip(a, b, c, [0.0, 1.0, 2.0])
    assert strip.shape == (3, 8)
    np.testing.assert_array_equal(strip[0], c)
    with pytest.raises(ValueError, match="one shape"):
        analogy(a, b, c[:4])


def test_analogy_stays_on_the_prior_shell() -> None:
    """A - B + C keeps C's length (three faces' sum would sit sqrt(3) further out, where G
    draws a washed-out blur) and points where the plain arithmetic points."""
    a, b, c = seed_latents([1, 2, 3], 128)
    for s in (0.5, 1.0, 2.0):
        out, raw = analogy(a, b, c, s), c + s * (a - b)
        assert np.linalg.norm(raw) > 1.1 * np.linalg.norm(c)
        np.testing.assert_allclose(np.linalg.norm(out), np.linalg.norm(c), rtol=1e-5)
        cos = out @ raw / (np.linalg.norm(out) * np.linalg.norm(raw))
        assert cos == pytest.approx(1.0, abs=1e-6)
