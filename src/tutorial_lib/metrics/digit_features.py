r"""The digit classifier whose features define the book's Fréchet distance on digits.

:class:`DigitClassifier` is a small convolutional network trained on the train split; its
penultimate layer is the feature space of the Fréchet distance, in the spirit of the FID
(Heusel et al. 2017, arXiv:1706.08500), which uses an Inception network instead.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.digits import to_unit
from ..train import History, TrainConfig, fit

__all__ = ["DigitClassifier", "CLASSIFIER_TRAIN", "train_classifier"]


def _check_rows(x: Tensor) -> Tensor:
    if x.dim() != 2 or x.shape[1] != 64:
        raise ValueError(f"x must have shape (B, 64) (flattened 8x8 images), got {tuple(x.shape)}")
    return x


class DigitClassifier(nn.Module):
    """Small CNN for the ten digit classes; :meth:`features` is its penultimate layer
    ``(B, feature_dim)``, the space where the Fréchet distance is measured.
    Input: pixel values in [0, 16], shape ``(B, 64)``."""

    def __init__(self, channels: int = 16, feature_dim: int = 32):
        super().__init__()
        for name, value in (("channels", channels), ("feature_dim", feature_dim)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, 2 * channels, 3, padding=1)
        self.fc = nn.Linear(2 * channels * 4, feature_dim)
        self.head = nn.Linear(feature_dim, 10)

    def features(self, pixels: Tensor) -> Tensor:
        h = to_unit(_check_rows(pixels)).view(-1, 1, 8, 8)  # (B, 1, 8, 8)
        h = F.max_pool2d(F.relu(self.conv1(h)), 2)  # (B, c, 4, 4)
        h = F.max_pool2d(F.relu(self.conv2(h)), 2)  # (B, 2c, 2, 2)
        return F.relu(self.fc(h.flatten(1)))  # (B, feature_dim)

    def forward(self, pixels: Tensor) -> Tensor:
        return self.head(self.features(pixels))  # (B, 10) class logits


CLASSIFIER_TRAIN = TrainConfig(steps=800, batch_size=100, lr=2e-3, val_every=100, desc="classifier")


def train_classifier(
    train_x: Tensor, train_y: Tensor, val_x: Tensor, val_y: Tensor, config: TrainConfig = CLASSIFIER_TRAIN
) -> tuple[DigitClassifier, History]:
    """Train a :class:`DigitClassifier` by cross-entropy with :func:`tutorial_lib.train.fit`,
    keeping the parameters with the lowest validation error rate."""
    for name, x, y in (("train_x", train_x, train_y), ("val_x", val_x, val_y)):
        if x.dim() != 2 or x.shape[1] != 64 or y.shape != x.shape[:1]:
            raise ValueError(f"{name} must be (N, 64) pixels with N labels, got {tuple(x.shape)}, {tuple(y.shape)}")
    with torch.random.fork_rng():  # initialise from config.seed without touching the global RNG
        torch.manual_seed(config.seed)
        model = DigitClassifier().to(train_x.device)
    data = torch.cat([train_x, train_y[:, None].to(train_x.dtype)], 1)  # (N, 65): pixels, label

    def loss_fn(m: nn.Module, batch: Tensor) -> Tensor:
        return F.cross_entropy(m(batch[:, :64]), batch[:, 64].long())

    def val_fn(m: nn.Module) -> float:
        return float((m(val_x).argmax(1) != val_y).float().mean())

    history = fit(model, loss_fn, data, config, val_fn=val_fn)
    return model, history
