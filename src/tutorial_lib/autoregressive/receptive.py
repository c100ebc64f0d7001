r"""Which input pixels each output depends on, computed by autograd.

:func:`dependencies` returns the boolean matrix :math:`M_{ij} = [\partial \ell_i /
\partial x_j \neq 0]` for the logits :math:`\ell_i` of pixel :math:`i`. For an
autoregressive model, :math:`M_{ij}` must be false whenever pixel :math:`j` does not
come before pixel :math:`i` in the order (the autoregressive property); reshaped to the
image, row :math:`i` is the receptive field of pixel :math:`i`, where the plain
PixelCNN's blind spot shows.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .base import AutoregressiveModel

__all__ = ["dependencies", "receptive_field"]


def dependencies(
    model: AutoregressiveModel, points: int = 4, seed: int = 0
) -> Tensor:
    r"""The ``(D, D)`` boolean matrix: ``[i, j]`` is true when some logit of pixel ``i``
    has a nonzero derivative with respect to input pixel ``j`` at one of ``points``
    random inputs (uniform in ``[0, levels - 1]``; seed ``seed``).

    Each pixel's logits are projected on a random vector, so a true dependence has a
    nonzero derivative with probability one; a masked (absent) one is exactly zero.
    Runs in float64 on a copy-free eval-mode pass (dropout off).
    """
    if not isinstance(model, AutoregressiveModel):
        raise ValueError(
            f"model must be an AutoregressiveModel, got {type(model).__name__}"
        )
    if not isinstance(points, int) or points < 1:
        raise ValueError(f"points must be an int >= 1, got {points!r}")
    gen = torch.Generator().manual_seed(seed)
    device = model.order.device
    x = torch.rand(points, model.dim, generator=gen) * (model.levels - 1)
    w = torch.randn(model.levels, generator=gen).to(device)
    was_training = model.training
    model.eval()
    found = torch.zeros(model.dim, model.dim, dtype=torch.bool)
    for xi in x.to(device):

        def projected(v: Tensor) -> Tensor:
            return model.logits(v[None])[0] @ w  # (D,)

        jac = torch.autograd.functional.jacobian(projected, xi, vectorize=True)
        # jac: (D, D)
        found |= (jac != 0).cpu()
    model.train(was_training)
    return found


def receptive_field(model: AutoregressiveModel, pixel: int, **kwargs) -> Tensor:
    """Row ``pixel`` of :func:`dependencies`: the ``(D,)`` boolean mask of the input
    pixels that pixel ``pixel``'s conditional depends on (reshape it to the image)."""
    if not isinstance(pixel, int) or not 0 <= pixel < getattr(model, "dim", 0):
        raise ValueError(f"pixel must be an int in 0..dim-1, got {pixel!r}")
    return dependencies(model, **kwargs)[pixel]
