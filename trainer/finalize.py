"""After training: encode the data set and calibrate the classifier.

`Run.finish` uses these to store what the explorer needs without the data set: the encoded
faces feed the mean-difference directions and the atlas (the direction fits themselves live in
`facegan.directions`); the classifier gets a per-attribute temperature (calibrated probabilities).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from facegan.models import images_to_tensor
from trainer.data import FaceDataset


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
