r"""Training a GAN: alternate one discriminator and one generator step.

:class:`GANConfig` holds the architecture of the fully connected players and the
training settings (Adam, a linear learning-rate decay, the optional and optionally lazy
:math:`R_1` penalty); :func:`gan_step` is one step of the game on a given batch, and
:func:`train_gan` repeats it through :func:`tutorial_lib.train.run_loop`. The chapters'
configurations live in :mod:`tutorial_lib.chapters`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..train import History, run_loop
from .losses import GENERATOR_LOSSES, discriminator_loss, generator_loss, r1_penalty
from .networks import OUTPUTS, PRIORS, MLPDiscriminator, MLPGenerator

__all__ = ["GANConfig", "gan_step", "train_gan", "generate"]


@dataclass(frozen=True)
class GANConfig:
    r"""Architecture and training settings of a GAN with fully connected players.

    ``batch_size`` real and ``batch_size`` generated samples per step (with ``pack = m``
    the discriminator sees ``batch_size / m`` packs of each). Adam with ``lr`` and
    ``betas`` for both players, decayed linearly to ``lr * lr_final`` over the last
    ``decay_fraction`` of the ``steps``; ``r1`` is the weight :math:`\gamma/2` of the
    :math:`R_1` penalty (0: none). With ``r1_every = k > 1`` the penalty is *lazy*: it
    is added on every ``k``-th discriminator step only, with weight ``k * r1``, so that
    its average pull is unchanged while its cost (a second backward pass) is paid ``k``
    times less often (StyleGAN2, Karras et al. 2020, arXiv:1912.04958, section 3.1).
    ``prior`` is the generator's noise distribution and ``output`` its output layer
    (see :class:`MLPGenerator`).
    """

    steps: int = 4000
    batch_size: int = 256
    latent_dim: int = 2
    prior: str = "normal"
    output: str = "linear"
    hidden: int = 128
    layers: int = 3
    pack: int = 1
    r1: float = 0.0
    r1_every: int = 1
    in_scale: float = 1.0
    out_scale: float = 1.0
    loss: str = "non_saturating"
    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    lr_final: float = 1.0
    decay_fraction: float = 0.0

    def __post_init__(self) -> None:
        if self.prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {self.prior!r}")
        if self.output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {self.output!r}")
        if self.loss not in GENERATOR_LOSSES:
            raise ValueError(
                f"loss must be one of {GENERATOR_LOSSES}, got {self.loss!r}"
            )
        for name in (
            "steps",
            "batch_size",
            "latent_dim",
            "hidden",
            "layers",
            "r1_every",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.pack < 1 or self.batch_size % self.pack:
            raise ValueError(
                f"pack must be >= 1 and divide batch_size={self.batch_size}, "
                f"got {self.pack}"
            )
        if self.r1 < 0:
            raise ValueError(f"r1 must be >= 0, got {self.r1}")
        for name in ("lr", "in_scale", "out_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas}")
        if not 0.0 < self.lr_final <= 1.0:
            raise ValueError(f"lr_final must be in (0, 1], got {self.lr_final}")
        if not 0.0 <= self.decay_fraction <= 1.0:
            raise ValueError(
                f"decay_fraction must be in [0, 1], got {self.decay_fraction}"
            )

    def build(self, data_dim: int = 2) -> tuple[MLPGenerator, MLPDiscriminator]:
        """A fresh generator and discriminator with this architecture for
        ``data_dim``-dimensional data (initialised from torch's global RNG)."""
        if not isinstance(data_dim, int) or data_dim < 1:
            raise ValueError(f"data_dim must be an int >= 1, got {data_dim!r}")
        g = MLPGenerator(
            self.latent_dim,
            self.hidden,
            self.layers,
            data_dim,
            self.out_scale,
            self.prior,
            self.output,
        )
        d = MLPDiscriminator(
            data_dim, self.hidden, self.layers, self.pack, self.in_scale
        )
        return g, d

    def lr_factor(self, step: int) -> float:
        """Multiplier of ``lr`` at ``step``: 1, then linear to ``lr_final`` at the
        end."""
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        start = self.steps * (1.0 - self.decay_fraction)
        if step < start or self.decay_fraction == 0.0:
            return 1.0
        t = (step - start) / max(self.steps - start, 1.0)
        return 1.0 + t * (self.lr_final - 1.0)


def gan_step(
    generator: nn.Module,
    discriminator: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    real: Tensor,
    z: Tensor,
    config: GANConfig,
    step: int = 0,
) -> dict[str, Tensor]:
    r"""One step of the game on the batch ``real`` ``(B, d)`` and the noise ``z``
    ``(B, d_z)``: the source article's steps 2, 4 and 5 once the batch is drawn.

    The discriminator takes one Adam step on :func:`discriminator_loss` of ``real`` and
    :math:`G(z)` (plus the lazy :math:`R_1` penalty of ``config`` when ``step`` is a
    multiple of ``config.r1_every``), then the generator one Adam step on
    :func:`generator_loss` of kind ``config.loss``, through the *updated*
    discriminator. Returns ``d_loss``, ``g_loss``, ``d_real`` (mean :math:`D(x)`) and
    ``d_fake`` (mean :math:`D(G(z))` before the discriminator's step), detached.
    """
    if real.dim() != 2 or z.dim() != 2 or real.shape[0] != z.shape[0]:
        raise ValueError(
            "real (B, d) and z (B, d_z) must be matrices with the same number of rows, "
            f"got {tuple(real.shape)} and {tuple(z.shape)}"
        )
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    fake = generator(z)  # (B, d)
    real_logits, fake_logits = discriminator(real), discriminator(fake.detach())
    d_loss = discriminator_loss(real_logits, fake_logits)
    loss = d_loss
    if config.r1 > 0 and step % config.r1_every == 0:
        loss = d_loss + config.r1 * config.r1_every * r1_penalty(discriminator, real)
    opt_d.zero_grad(set_to_none=True)
    loss.backward()
    opt_d.step()
    d_params = [p for p in discriminator.parameters() if p.requires_grad]
    for p in d_params:  # the generator's step needs no weight gradients of D
        p.requires_grad_(False)
    g_loss = generator_loss(discriminator(fake), config.loss)
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    opt_g.step()
    for p in d_params:
        p.requires_grad_(True)
    return {
        "d_loss": d_loss.detach(),
        "g_loss": g_loss.detach(),
        "d_real": torch.sigmoid(real_logits).mean().detach(),
        "d_fake": torch.sigmoid(fake_logits).mean().detach(),
    }


def train_gan(
    generator: nn.Module,
    discriminator: nn.Module,
    sample_real: Callable[[int, torch.Generator], Tensor],
    config: GANConfig,
    *,
    seed: int = 0,
    callback: Callable[[int], None] | None = None,
    callback_every: int = 0,
    progress: bool = True,
    desc: str = "GAN",
) -> History:
    r"""Alternate one discriminator and one generator Adam step, ``config.steps`` times.

    ``sample_real(n, generator) -> (n, d)`` draws data; each step draws ``batch_size``
    real samples, then ``batch_size`` noise vectors (both from one
    ``torch.Generator`` seeded with ``seed``), sets the learning rate of
    :meth:`GANConfig.lr_factor` and calls :func:`gan_step`. Training runs through
    :func:`tutorial_lib.train.run_loop` (progress bar, history of ``d_loss``,
    ``g_loss``, ``d_real``, ``d_fake``, and a non-finite-loss error naming the step).
    ``callback(step)`` runs every ``callback_every`` steps (e.g. to snapshot samples).
    """
    if not callable(sample_real):
        raise ValueError(f"sample_real must be callable, got {sample_real!r}")
    if not isinstance(config, GANConfig):
        raise ValueError(f"config must be a GANConfig, got {type(config).__name__}")
    if callback_every < 0:
        raise ValueError(f"callback_every must be >= 0, got {callback_every}")
    device = next(generator.parameters()).device
    discriminator.to(device)
    rng = torch.Generator().manual_seed(seed)
    # fused: Adam's update of all the weights in one kernel call per player (the same
    # arithmetic as the default loop; at 2-D sizes the per-call cost dominates a step)
    adam = dict(lr=config.lr, betas=config.betas, fused=True)
    opt_g = torch.optim.Adam(generator.parameters(), **adam)
    opt_d = torch.optim.Adam(discriminator.parameters(), **adam)
    n = config.batch_size

    def step(i: int) -> dict[str, Tensor]:
        for opt in (opt_g, opt_d):
            for group in opt.param_groups:
                group["lr"] = config.lr * config.lr_factor(i)
        generator.train()
        discriminator.train()
        real = sample_real(n, rng).to(device)  # (n, d)
        z = generator.noise(n, rng).to(device)  # (n, d_z)
        out = gan_step(generator, discriminator, opt_g, opt_d, real, z, config, i)
        if callback is not None and callback_every and (i + 1) % callback_every == 0:
            callback(i + 1)
        return out

    history = run_loop(step, config.steps, progress=progress, desc=desc)
    generator.eval()
    discriminator.eval()
    return history


@torch.no_grad()
def generate(generator: nn.Module, n: int, seed: int = 0) -> Tensor:
    """``n`` samples of ``generator`` from a fixed noise seed, on the CPU, shape
    ``(n, d)``."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    generator.eval()
    return generator.sample(n, torch.Generator().manual_seed(seed)).cpu()
