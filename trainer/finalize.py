"""After training: encode the data set and store what the explorer needs without the data set.

- attribute vectors (seed 001): mean latent of faces with an attribute minus mean of faces without;
- attribute boundaries on samples (InterFaceGAN): logistic-regression normals fitted on latents of
  generated faces labelled by the bundled classifier;
- an atlas of encoded faces with their labels (for the scatter plot);
- the classifier's per-attribute temperature (calibrated probabilities).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainer.data import FaceDataset
from trainer.models import images_to_tensor, prior_latents


def _device(net: nn.Module) -> torch.device:
    return next(net.parameters()).device


def _batches(images: np.ndarray, batch: int = 256,
             device: torch.device | str = "cpu") -> Iterator[torch.Tensor]:
    for i in range(0, len(images), batch):
        yield images_to_tensor(images[i : i + batch]).to(device)


@torch.no_grad()
def encode_images(E: nn.Module, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """(n, res, res, 3) uint8 -> (n, nz) float32 latents."""
    E.eval()
    out = [E(x).float().cpu() for x in _batches(images, batch, _device(E))]
    return torch.cat(out).numpy().astype(np.float32)


def attribute_directions(z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(n_attr, nz): mean z of faces with each attribute minus mean z of faces without it."""
    dirs = np.zeros((labels.shape[1], z.shape[1]), dtype=np.float32)
    for a in range(labels.shape[1]):
        pos, neg = labels[:, a] > 0, labels[:, a] <= 0
        if pos.any() and neg.any():
            dirs[a] = z[pos].mean(0) - z[neg].mean(0)
    return dirs


@torch.no_grad()
def sampled_directions(G: nn.Module, C: nn.Module, nz: int, n: int = 10_000,
                       seed: int = 0) -> np.ndarray:
    """(n_attr, nz) InterFaceGAN normals: G draws n faces, C labels them, one logistic regression
    per attribute separates the latents. They follow what G actually draws, where the mean
    difference of encoded photos also carries the encoder's errors. An attribute G never draws
    (or always draws) gets a zero row."""
    from explorer.core.directions import fit_normals

    G.eval()
    C.eval()
    dev = _device(G)
    z = torch.randn(n, nz, generator=torch.Generator().manual_seed(seed)).to(dev)
    lat = prior_latents(G, z)  # w for a style G: the boundaries live where the edits act
    logits = torch.cat([C(G(lat[i : i + 256])).float().cpu() for i in range(0, n, 256)]).numpy()
    return fit_normals(lat.cpu().numpy(), logits > 0,
                       np.zeros((logits.shape[1], nz), np.float32), min_per_class=10)


@torch.no_grad()
def classifier_logits(C: nn.Module, images: np.ndarray) -> np.ndarray:
    C.eval()
    return torch.cat([C(x).float().cpu() for x in _batches(images, device=_device(C))]).numpy()


def fit_temperature(C: nn.Module, calib: FaceDataset, steps: int = 100) -> np.ndarray:
    """Per-attribute temperature that minimises the held-aside calibration set's log loss."""
    assert calib.labels is not None
    C.temperature.fill_(1.0)
    logits = torch.from_numpy(classifier_logits(C, calib.images))
    t = torch.from_numpy((calib.labels > 0).astype(np.float32))
    log_temp = torch.zeros(logits.shape[1], requires_grad=True)
    opt = torch.optim.LBFGS([log_temp], lr=0.1, max_iter=steps)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(logits / log_temp.exp(), t)
        loss.backward()
        return loss

    opt.step(closure)
    temp = log_temp.detach().exp().clamp(0.05, 20.0)
    C.temperature.copy_(temp.to(C.temperature.device))
    return temp.numpy()


def classifier_accuracy(C: nn.Module, data: FaceDataset) -> np.ndarray:
    """Per-attribute accuracy (n_attr,) on a labelled set."""
    assert data.labels is not None
    pred = classifier_logits(C, data.images) > 0
    return (pred == (data.labels > 0)).mean(0)
