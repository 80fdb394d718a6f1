"""Discovered directions: SeFa is the eigen-decomposition of the first layer's Gram matrix (DCGAN
and the style kind), GANSpace follows the features' principal axes, and each is named by the
classifier."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.core.discovered import discover, first_layer_weight, ganspace, sefa


def test_a_sefa_direction_is_an_eigenvector_of_the_first_layer_gram_matrix(bundle):
    G = bundle.network("G")
    conv = G.project[0]
    w = first_layer_weight(G)
    nz = bundle.nz
    assert w.shape == (nz, conv.weight.shape[1] * 16)
    np.testing.assert_array_equal(w, conv.weight.detach()[:nz].reshape(nz, -1).numpy())
    wn = w / np.linalg.norm(w, axis=0, keepdims=True)
    gram = wn @ wn.T
    vecs, vals = sefa(w, k=nz)
    assert np.all(np.diff(vals) <= 1e-5)  # largest first
    for v, lam in zip(vecs, vals, strict=True):
        np.testing.assert_allclose(gram @ v, lam * v, atol=1e-4 * max(1.0, float(lam)))
        assert abs(np.linalg.norm(v) - 1) < 1e-5
    np.testing.assert_allclose(vecs @ vecs.T, np.eye(nz), atol=1e-5)
    # The top direction is the one the layer amplifies most: more than a random direction.
    rnd = np.random.default_rng(0).standard_normal((20, nz))
    rnd /= np.linalg.norm(rnd, axis=1, keepdims=True)
    assert np.linalg.norm(vecs[0] @ wn) >= np.linalg.norm(rnd @ wn, axis=1).max()


def test_sefa_and_ganspace_on_the_style_kind():
    from facegan.models import ModelConfig, build

    torch.manual_seed(0)
    G = build(ModelConfig(kind="style", resolution=16, nz=8, ngf=8, ndf=8, nef=8), "G").eval()
    affine = G.layers[0].affine
    w = first_layer_weight(G)
    assert w.shape == (8, affine.weight.shape[0])
    np.testing.assert_allclose(w, (affine.weight.detach() * affine.scale).T.numpy(), rtol=1e-6)
    vecs, vals = sefa(w, k=3)
    wn = w / np.linalg.norm(w, axis=0, keepdims=True)
    np.testing.assert_allclose(wn @ wn.T @ vecs[0], vals[0] * vecs[0], atol=1e-4)
    dirs, ratio = ganspace(G, 8, k=3, n=500)
    assert dirs.shape == (3, 8) and np.all(np.diff(ratio) <= 0)
    with torch.no_grad():
        ws = G.map(torch.randn(500, 8)).numpy()
    var = np.var((ws - ws.mean(0)) @ dirs.T, axis=0)
    assert var[0] >= var[1] >= var[2]  # components of w in order of spread


def test_ganspace_directions_move_the_features_along_their_component(bundle):
    G = bundle.network("G")
    dirs, ratio = ganspace(G, bundle.nz, k=3, n=1000)
    assert np.all(np.diff(ratio) <= 0) and ratio[0] > 1.0 / 64
    with torch.no_grad():
        z = torch.from_numpy(np.random.default_rng(1).standard_normal((1000, bundle.nz))
                             .astype(np.float32))
        f = G.project(z[:, :, None, None]).flatten(1)
        f = f - f.mean(0)
        comps = torch.linalg.svd(f.double(), full_matrices=False)[2][:3].float()
        step = torch.from_numpy(dirs[0])[None]
        moved = G.project((z[:8] + 0.5 * step)[:, :, None, None]).flatten(1)
        base = G.project(z[:8, :, None, None]).flatten(1)
    along = ((moved - base) @ comps.T).abs().mean(0)
    assert along[0] > along[1] and along[0] > along[2]


@pytest.mark.parametrize("method,label", [("sefa", "SeFa"), ("ganspace", "PC")])
def test_discovered_directions_are_named_by_what_the_classifier_sees(bundle, method, label):
    d = discover(bundle, method, k=3)
    assert d.vectors.shape == (3, bundle.nz)
    for i, (name, eff) in enumerate(zip(d.names, d.effects, strict=True)):
        assert name.startswith(f"{label} {i + 1}: ")
        (top, change), (second, change2) = eff
        assert top.replace("_", " ") in name and f"{change:+.2f}" in name
        assert change > 0 and abs(change) >= abs(change2)
        assert top in bundle.attribute_names
