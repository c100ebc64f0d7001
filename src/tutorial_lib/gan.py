r"""Generative adversarial networks on low-dimensional data.

A generator :math:`G_\theta` maps noise :math:`z \sim \mathcal N(0, I)` to a sample and a
discriminator :math:`D_\phi(x) = \sigma(f_\phi(x))` tells real from generated samples;
they play the minimax game (Goodfellow et al. 2014, arXiv:1406.2661)

.. math::

    \min_G \max_D V(D, G) = \mathbb E_{p_\text{data}} \log D(x)
        + \mathbb E_{p_z} \log\bigl(1 - D(G(z))\bigr).

Everything works on the discriminator's *logit* :math:`f = \log D - \log(1 - D)`, so
that :math:`\log D = -\operatorname{softplus}(-f)` and :math:`\log(1 - D) =
-\operatorname{softplus}(f)` are evaluated stably.

The library offers two published remedies for mode collapse. Minibatch *packing*
(PacGAN, Lin et al. 2018, arXiv:1712.04086): the discriminator judges ``pack`` samples at
once, concatenated, so that a generator that puts too much mass on a few modes produces
packs that are visibly less diverse than real packs. And the zero-centred gradient
penalty :math:`R_1` on real data (Mescheder et al. 2018, arXiv:1801.04406), which keeps
the discriminator smooth and the game locally convergent; the chapter's remedy combines it
with Adam without momentum (the two players' gradient steps rotate around the
equilibrium, and momentum widens the orbit; Gidel et al. 2019, arXiv:1807.04740), a bounded noise prior and a learning-rate
decay. :data:`GAN2D_CONFIGS` holds the chapter's settings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .train import History, run_loop

__all__ = [
    "MLPGenerator",
    "MLPDiscriminator",
    "discriminator_loss",
    "generator_loss",
    "r1_penalty",
    "GANConfig",
    "PLAIN_RING",
    "PLAIN_GRID",
    "R1_RING",
    "R1_GRID",
    "GAN2D_CONFIGS",
    "REMEDY",
    "train_gan",
    "generate",
]

GENERATOR_LOSSES = ("non_saturating", "saturating")
PRIORS = ("normal", "uniform")


def _mlp(sizes: list[int], activation: type[nn.Module] = nn.LeakyReLU) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(0.2) if activation is nn.LeakyReLU else activation())
    return nn.Sequential(*layers)


class MLPGenerator(nn.Module):
    r"""Fully connected generator :math:`G: \mathbb R^{d_z} \to \mathbb R^{d}` with ReLU
    activations (as DCGAN's generator, arXiv:1511.06434): ReLU units can switch off and
    leave flat regions, which a generator needs to squeeze noise into narrow modes.
    The output is multiplied by ``out_scale`` (the spread of the data) so that the
    network itself works at unit scale.

    ``forward(z)`` maps ``(B, latent_dim)`` to ``(B, out_dim)``; :meth:`noise` draws
    :math:`z` from the prior, ``"normal"`` (:math:`\mathcal N(0, I)`) or ``"uniform"``
    (uniform on :math:`[-1, 1]^{d_z}`, as in DCGAN); :meth:`sample` does both. A bounded
    prior has no rare far-out :math:`z` on which the network was hardly trained and
    which it maps, by linear extrapolation, far from the data.
    """

    def __init__(
        self,
        latent_dim: int = 2,
        hidden: int = 128,
        layers: int = 3,
        out_dim: int = 2,
        out_scale: float = 1.0,
        prior: str = "normal",
    ):
        super().__init__()
        if prior not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
        self.prior = prior
        for name, value in (("latent_dim", latent_dim), ("hidden", hidden), ("layers", layers), ("out_dim", out_dim)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if not out_scale > 0:
            raise ValueError(f"out_scale must be > 0, got {out_scale}")
        self.latent_dim, self.out_scale = latent_dim, out_scale
        self.net = _mlp([latent_dim] + [hidden] * layers + [out_dim], nn.ReLU)

    def forward(self, z: Tensor) -> Tensor:
        if z.dim() != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"z must have shape (B, {self.latent_dim}), got {tuple(z.shape)}")
        return self.out_scale * self.net(z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` samples, shape ``(n, out_dim)``, on the generator's device."""
        device = next(self.parameters()).device
        return self(self.noise(n, generator).to(device))

    def noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` draws of the prior, shape ``(n, latent_dim)``, on the CPU."""
        if self.prior == "uniform":
            return 2.0 * torch.rand(n, self.latent_dim, generator=generator) - 1.0
        return torch.randn(n, self.latent_dim, generator=generator)


class MLPDiscriminator(nn.Module):
    r"""Fully connected discriminator returning the logit :math:`f(x)`.

    With ``pack = m > 1`` it is a PacGAN discriminator: the input ``(B·m, in_dim)`` is
    regrouped into ``(B, m·in_dim)`` (``m`` consecutive rows form one pack) and one logit
    per pack is returned, shape ``(B,)``. ``spectral_norm`` divides every weight matrix by
    its largest singular value (Miyato et al. 2018, arXiv:1802.05957). The input is first
    multiplied by ``in_scale``: data whose modes are narrow (width 0.01) need first-layer
    weights of order 1/width to be resolved, and Adam moves a weight by about the
    learning rate per step, so a fixed rescaling saves thousands of steps.
    """

    def __init__(
        self,
        in_dim: int = 2,
        hidden: int = 128,
        layers: int = 3,
        pack: int = 1,
        spectral_norm: bool = False,
        in_scale: float = 1.0,
    ):
        super().__init__()
        for name, value in (("in_dim", in_dim), ("hidden", hidden), ("layers", layers), ("pack", pack)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        if not in_scale > 0:
            raise ValueError(f"in_scale must be > 0, got {in_scale}")
        self.in_dim, self.pack, self.in_scale = in_dim, pack, in_scale
        self.net = _mlp([in_dim * pack] + [hidden] * layers + [1])
        if spectral_norm:
            for m in self.net:
                if isinstance(m, nn.Linear):
                    nn.utils.parametrizations.spectral_norm(m)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_dim or x.shape[0] % self.pack:
            raise ValueError(
                f"x must have shape (B*{self.pack}, {self.in_dim}) with pack={self.pack}, got {tuple(x.shape)}"
            )
        packed = self.in_scale * x.reshape(x.shape[0] // self.pack, self.pack * self.in_dim)  # (B, pack*in_dim)
        return self.net(packed).squeeze(-1)  # (B,)


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    r"""Minus the value function, :math:`-\mathbb E \log D(x) - \mathbb E \log(1 - D(G(z)))`,

    i.e. :math:`\mathbb E\operatorname{softplus}(-f(x)) + \mathbb E\operatorname{softplus}(f(G(z)))`
    (the binary cross-entropy with real = 1, fake = 0).
    """
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: Tensor, kind: str = "non_saturating") -> Tensor:
    r"""The generator's loss on the logits :math:`f(G(z))` of generated samples.

    ``"saturating"``: the minimax loss :math:`\mathbb E \log(1 - D(G(z))) =
    -\mathbb E\operatorname{softplus}(f)`, whose gradient vanishes where :math:`D(G(z))
    \approx 0` (early training). ``"non_saturating"``: :math:`-\mathbb E \log D(G(z)) =
    \mathbb E\operatorname{softplus}(-f)`, same fixed point, strong gradients where the
    generator is bad (Goodfellow et al. 2014, arXiv:1406.2661, section 3).
    """
    if kind == "non_saturating":
        return F.softplus(-fake_logits).mean()
    if kind == "saturating":
        return -F.softplus(fake_logits).mean()
    raise ValueError(f"kind must be one of {GENERATOR_LOSSES}, got {kind!r}")


def r1_penalty(discriminator: nn.Module, real: Tensor) -> Tensor:
    r""":math:`R_1 = \mathbb E_{p_\text{data}} \lVert \nabla_x f(x) \rVert^2` on real data
    (Mescheder et al. 2018, arXiv:1801.04406), differentiable w.r.t. the discriminator.

    With packing, the gradient is taken w.r.t. all samples of a pack and summed per pack.
    """
    real = real.detach().requires_grad_(True)
    logits = discriminator(real)  # (B,)
    (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)  # (B*pack, d)
    per_pack = grad.pow(2).sum(1).reshape(logits.shape[0], -1).sum(1)  # (B,)
    return per_pack.mean()


@dataclass(frozen=True)
class GANConfig:
    """Architecture and training settings of a GAN on 2-D data.

    ``batch_size`` real and ``batch_size`` generated samples per step (with ``pack = m``
    the discriminator sees ``batch_size / m`` packs of each). Adam with ``lr`` and
    ``betas`` for both players, decayed linearly to ``lr * lr_final`` over the last
    ``decay_fraction`` of the ``steps``; ``r1`` is the weight :math:`\\gamma/2` of the
    :math:`R_1` penalty (0: none). With ``r1_every = k > 1`` the penalty is *lazy*: it is
    added on every ``k``-th discriminator step only, with weight ``k * r1``, so that its
    average pull is unchanged while its cost (a second backward pass) is paid ``k`` times
    less often (StyleGAN2, Karras et al. 2020, arXiv:1912.04958, section 3.1).
    ``prior`` is the generator's noise distribution (see :class:`MLPGenerator`).
    """

    steps: int = 4000
    batch_size: int = 256
    latent_dim: int = 2
    prior: str = "normal"
    hidden: int = 128
    layers: int = 3
    pack: int = 1
    r1: float = 0.0
    r1_every: int = 1
    spectral_norm: bool = False
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
        if self.loss not in GENERATOR_LOSSES:
            raise ValueError(f"loss must be one of {GENERATOR_LOSSES}, got {self.loss!r}")
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps and batch_size must be >= 1, got {self.steps}, {self.batch_size}")
        if self.pack < 1 or self.batch_size % self.pack:
            raise ValueError(f"pack must be >= 1 and divide batch_size={self.batch_size}, got {self.pack}")
        if self.r1 < 0:
            raise ValueError(f"r1 must be >= 0, got {self.r1}")
        if self.r1_every < 1:
            raise ValueError(f"r1_every must be >= 1, got {self.r1_every}")
        if not 0.0 <= self.decay_fraction <= 1.0:
            raise ValueError(f"decay_fraction must be in [0, 1], got {self.decay_fraction}")

    def build(self, data_dim: int = 2) -> tuple[MLPGenerator, MLPDiscriminator]:
        """A fresh generator and discriminator with this architecture."""
        g = MLPGenerator(self.latent_dim, self.hidden, self.layers, data_dim, self.out_scale, self.prior)
        d = MLPDiscriminator(data_dim, self.hidden, self.layers, self.pack, self.spectral_norm, self.in_scale)
        return g, d

    def lr_factor(self, step: int) -> float:
        """Multiplier of ``lr`` at ``step``: 1, then linear to ``lr_final`` at the end."""
        start = self.steps * (1.0 - self.decay_fraction)
        if step < start or self.decay_fraction == 0.0:
            return 1.0
        t = (step - start) / max(self.steps - start, 1.0)
        return 1.0 + t * (self.lr_final - 1.0)


#: Plain non-saturating GANs: Gaussian noise, Adam with the DCGAN betas (0.5, 0.999),
#: constant learning rate, no remedy.
PLAIN_RING = GANConfig(steps=8000)
PLAIN_GRID = GANConfig(steps=10000)
#: The remedy on the ring: the (lazy) R1 penalty, Adam without momentum (betas (0, 0.99)
#: as in StyleGAN2; the R1 paper trains with RMSProp, which has no momentum either), uniform
#: noise and a learning-rate decay over the last 60 % of training.
R1_RING = GANConfig(
    steps=8000, r1=0.01, r1_every=4, prior="uniform", betas=(0.0, 0.99), lr_final=0.003, decay_fraction=0.6
)
#: The same remedy on the grid, with the output scaled to the grid's spread.
R1_GRID = GANConfig(
    steps=10000, r1=0.01, r1_every=4, prior="uniform", betas=(0.0, 0.99), out_scale=4.0, lr_final=0.01,
    decay_fraction=0.5,
)

#: The chapter's configurations, by (dataset, method).
GAN2D_CONFIGS: dict[tuple[str, str], GANConfig] = {
    ("ring", "GAN"): PLAIN_RING,
    ("grid", "GAN"): PLAIN_GRID,
    ("ring", "R1"): R1_RING,
    ("grid", "R1"): R1_GRID,
}
#: The remedy's name on each dataset.
REMEDY = {"ring": "R1", "grid": "R1"}


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

    ``sample_real(n, generator) -> (n, d)`` draws data. The discriminator minimises
    :func:`discriminator_loss` (plus ``config.r1`` times :func:`r1_penalty`), the
    generator :func:`generator_loss` of kind ``config.loss``. Training runs through
    :func:`tutorial_lib.train.run_loop` (progress bar, history of ``d_loss``, ``g_loss``,
    ``d_real`` = mean :math:`D(x)`, ``d_fake`` = mean :math:`D(G(z))`, and a
    non-finite-loss error naming the step). ``callback(step)`` runs every
    ``callback_every`` steps (e.g. to snapshot samples).
    """
    device = next(generator.parameters()).device
    discriminator.to(device)
    rng = torch.Generator().manual_seed(seed)
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=config.betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr, betas=config.betas)
    n = config.batch_size
    d_params = [p for p in discriminator.parameters() if p.requires_grad]

    def step(i: int) -> dict[str, Tensor]:
        for opt in (opt_g, opt_d):
            for group in opt.param_groups:
                group["lr"] = config.lr * config.lr_factor(i)
        generator.train()
        discriminator.train()
        real = sample_real(n, rng).to(device)  # (n, d)
        z = generator.noise(n, rng).to(device)
        fake = generator(z)  # (n, d)
        real_logits, fake_logits = discriminator(real), discriminator(fake.detach())
        d_loss = discriminator_loss(real_logits, fake_logits)
        loss = d_loss
        if config.r1 > 0 and i % config.r1_every == 0:
            loss = d_loss + config.r1 * config.r1_every * r1_penalty(discriminator, real)
        opt_d.zero_grad(set_to_none=True)
        loss.backward()
        opt_d.step()
        for p in d_params:  # the generator's step needs no weight gradients of D
            p.requires_grad_(False)
        g_logits = discriminator(fake)
        g_loss = generator_loss(g_logits, config.loss)
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        for p in d_params:
            p.requires_grad_(True)
        if callback is not None and callback_every and (i + 1) % callback_every == 0:
            callback(i + 1)
        return {
            "d_loss": d_loss.detach(),
            "g_loss": g_loss.detach(),
            "d_real": torch.sigmoid(real_logits).mean().detach(),
            "d_fake": torch.sigmoid(fake_logits).mean().detach(),
        }

    history = run_loop(step, config.steps, progress=progress, desc=desc)
    generator.eval()
    discriminator.eval()
    return history


@torch.no_grad()
def generate(generator: MLPGenerator, n: int, seed: int = 0) -> Tensor:
    """``n`` samples of ``generator`` from a fixed noise seed, on the CPU, shape ``(n, d)``."""
    generator.eval()
    return generator.sample(n, torch.Generator().manual_seed(seed)).cpu()

