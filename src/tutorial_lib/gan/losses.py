r"""The GAN's losses, on the discriminator's logit :math:`f = \log D - \log(1 - D)`.

The minimax game (Goodfellow et al. 2014, arXiv:1406.2661)

.. math::

    \min_G \max_D V(D, G) = \mathbb E_{p_\text{data}} \log D(x)
        + \mathbb E_{p_z} \log\bigl(1 - D(G(z))\bigr),

with :math:`\log D = -\operatorname{softplus}(-f)` and :math:`\log(1 - D) =
-\operatorname{softplus}(f)` evaluated stably, and the zero-centred gradient penalty
:math:`R_1` (Mescheder et al. 2018, arXiv:1801.04406).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["GENERATOR_LOSSES", "discriminator_loss", "generator_loss", "r1_penalty"]

#: The generator's losses: non-saturating (the default) and the saturating minimax loss.
GENERATOR_LOSSES = ("non_saturating", "saturating")


def _check_logits(logits: Tensor, name: str) -> Tensor:
    if not isinstance(logits, Tensor) or logits.dim() != 1 or logits.numel() == 0:
        shape = (
            tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        )
        raise ValueError(
            f"{name} must be a non-empty 1-D tensor of logits, got {shape}"
        )
    return logits


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    r"""Minus the value function,
    :math:`-\mathbb E \log D(x) - \mathbb E \log(1 - D(G(z)))`, that is
    :math:`\mathbb E\operatorname{softplus}(-f(x))
    + \mathbb E\operatorname{softplus}(f(G(z)))`
    (the binary cross-entropy with real = 1, fake = 0); logits of shape ``(B,)``.
    """
    _check_logits(real_logits, "real_logits")
    _check_logits(fake_logits, "fake_logits")
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: Tensor, kind: str = "non_saturating") -> Tensor:
    r"""The generator's loss on the logits :math:`f(G(z))` of generated samples.

    ``"saturating"``: the minimax loss :math:`\mathbb E \log(1 - D(G(z))) =
    -\mathbb E\operatorname{softplus}(f)`, whose gradient vanishes where :math:`D(G(z))
    \approx 0` (early training). ``"non_saturating"``: :math:`-\mathbb E \log D(G(z)) =
    \mathbb E\operatorname{softplus}(-f)`, same fixed point, strong gradients where the
    generator is bad (Goodfellow et al. 2014, arXiv:1406.2661, section 3).
    """
    _check_logits(fake_logits, "fake_logits")
    if kind == "non_saturating":
        return F.softplus(-fake_logits).mean()
    if kind == "saturating":
        return -F.softplus(fake_logits).mean()
    raise ValueError(f"kind must be one of {GENERATOR_LOSSES}, got {kind!r}")


def r1_penalty(discriminator: nn.Module, real: Tensor) -> Tensor:
    r""":math:`R_1 = \mathbb E_{p_\text{data}} \lVert \nabla_x f(x) \rVert^2` on real
    data (Mescheder et al. 2018, arXiv:1801.04406), differentiable w.r.t. the
    discriminator.

    With packing, the gradient is taken w.r.t. all samples of a pack and summed per
    pack.
    ``real``: ``(B, d)``; ``discriminator`` maps it to ``(B / pack,)`` logits.
    """
    if not isinstance(real, Tensor) or real.dim() != 2:
        shape = tuple(real.shape) if isinstance(real, Tensor) else type(real).__name__
        raise ValueError(f"real must be a (B, d) tensor, got {shape}")
    real = real.detach().requires_grad_(True)
    logits = discriminator(real)  # (B,)
    (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)  # (B*pack, d)
    per_pack = grad.pow(2).sum(1).reshape(logits.shape[0], -1).sum(1)  # (B,)
    return per_pack.mean()
