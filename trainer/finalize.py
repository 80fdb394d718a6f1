"""After training: encode the data set and calibrate the classifier.

`Run.finish` uses these to store what the explorer needs without the data set: the encoded
faces feed the mean-difference directions and the atlas (the direction fits themselves live in
`facegan.directions`); the classifier gets a per-attribute temperature (calibrated probabilities).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from facegan.models import map_images
from trainer.data import FaceDataset


def _device(net: nn.Module) -> torch.device:
    return next(net.parameters()).device


@torch.no_grad()
def encode_images(E: nn.Module, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """(n, res, res, 3) uint8 -> (n, nz) float32 latents."""
    E.eval()
    return map_images(E, images, batch, _device(E)).numpy()


@torch.no_grad()
def classifier_logits(C: nn.Module, images: np.ndarray) -> np.ndarray:
    C.eval()
    return map_images(C, images, device=_device(C)).numpy()


def fit_temperature(C: nn.Module, calib: FaceDataset, steps: int = 100) -> np.ndarray:
    """Per-attribute temperature that minimises the held-aside calibration set's log loss."""
    assert calib.labels is not None
    C.temperature.fill_(1.0)
    logits = torch.from_numpy(classifier_logits(C, calib.images))
    t = torch.from_numpy((calib.labels > 0).astype(np.float32))
    temp = temperatures(logits, t, steps)
    C.temperature.copy_(temp.to(C.temperature.device))
    return temp.numpy()


def temperatures(logits: torch.Tensor, targets: torch.Tensor, steps: int = 100) -> torch.Tensor:
    """(n_attr,) temperatures, in [0.05, 20], that minimise the log loss of logits / T against
    0/1 targets (n, n_attr): L-BFGS on log T."""
    logits, t = logits.detach().float().cpu(), targets.float().cpu()
    log_temp = torch.zeros(logits.shape[1], requires_grad=True)
    opt = torch.optim.LBFGS([log_temp], lr=0.1, max_iter=steps)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(logits / log_temp.exp(), t)
        loss.backward()
        return loss

    opt.step(closure)
    return log_temp.detach().exp().clamp(0.05, 20.0)
