r"""Every published number the book quotes, with where it was measured.

A :class:`Reference` holds a value with its unit, the task and split it was measured on,
the bibliography key of ``book/references.bib``, and the table or figure it comes from. A
number read off a plot, not printed in a table, says so (``read_off_plot=True``), and a
number that needs a unit conversion before it can be compared with the book's says how in
``note``. Chapters, benchmarks and tests read published numbers from here, never type them.

>>> ref("pacgan4_ring_modes").value
7.8
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Reference", "REFERENCES", "ref", "by_task"]


@dataclass(frozen=True)
class Reference:
    """One published number: ``value`` in ``unit`` for ``model`` on ``task`` (``split``),
    from ``source`` (a table, or a figure read off a plot) of the work ``bib``."""

    value: float
    unit: str
    model: str
    task: str
    split: str
    bib: str
    source: str
    read_off_plot: bool = False
    note: str = ""

    def __post_init__(self) -> None:
        for name in ("unit", "model", "task", "split", "bib", "source"):
            if not getattr(self, name):
                raise ValueError(f"{name} must be a non-empty string")

    @property
    def label(self) -> str:
        """A short provenance label for tables: the model, the work and the source."""
        how = f"{self.source}, read off a plot" if self.read_off_plot else self.source
        return f"{self.model} ({self.bib}, {how}, {self.split})"


def _pacgan(model: str, task: str, modes: float, hq: float, bib: str, source: str) -> dict[str, Reference]:
    k = 8 if task == "ring" else 25
    prefix = model.lower().replace(" ", "_").replace("-", "")
    return {
        f"{prefix}_{task}_modes": Reference(modes, f"modes captured (of {k})", model, f"2-D {task}, {k} Gaussians",
                                            "2,500 samples", bib, source),
        f"{prefix}_{task}_hq": Reference(hq, "% high-quality samples (within 3 sigma)", model,
                                         f"2-D {task}, {k} Gaussians", "2,500 samples", bib, source),
    }


_TOMCZAK_NOTE = (
    "Tomczak's code uses the book's split (first 1000 / next 350 / last 447 images); his "
    "repository (github.com/jmtomczak/intro_dgm) prints no table, so the value is the "
    "minimum of the validation curve in its figure (the model his training keeps), read "
    "off the figure's vector path."
)

#: The registry, by key.
REFERENCES: dict[str, Reference] = {
    # Mode collapse on the PacGAN mixtures (DESIGN.md's metric definitions).
    **_pacgan("GAN", "ring", 6.3, 98.2, "lin2018pacgan", "table 1"),
    **_pacgan("PacGAN4", "ring", 7.8, 95.9, "lin2018pacgan", "table 1"),
    **_pacgan("VEEGAN", "ring", 8.0, 52.9, "srivastava2017veegan", "table 1"),
    **_pacgan("Unrolled GAN", "ring", 7.6, 35.6, "srivastava2017veegan", "table 1"),
    **_pacgan("GDPP", "ring", 8.0, 71.7, "elfeki2019gdpp", "table 1"),
    **_pacgan("GAN", "grid", 17.3, 94.8, "lin2018pacgan", "table 1"),
    **_pacgan("PacGAN4", "grid", 24.8, 93.6, "lin2018pacgan", "table 1"),
    **_pacgan("VEEGAN", "grid", 24.6, 40.0, "srivastava2017veegan", "table 1"),
    **_pacgan("GDPP", "grid", 24.8, 68.5, "elfeki2019gdpp", "table 1"),
    # MNIST likelihoods quoted in the text (not comparable with the digits numbers).
    "iwae_mnist_vae": Reference(86.76, "nats per image (test NLL, k = 5000 estimate)", "VAE, 2 stochastic layers",
                                "MNIST (dynamically binarised)", "test", "burda2016iwae", "table 1"),
    "iwae_mnist_iwae50": Reference(84.78, "nats per image (test NLL, k = 5000 estimate)", "IWAE, k = 50, 2 layers",
                                   "MNIST (dynamically binarised)", "test", "burda2016iwae", "table 1"),
    # Tomczak's "intro_dgm" code on the book's digits split.
    "tomczak_vae": Reference(100.5, "nats per image (-ELBO, one sample)", "VAE", "digits (8x8, 17 levels)",
                             "validation", "tomczak2022dgm",
                             "vaes/vae_example.ipynb, figure teaching/figures/lvm/vae_nll_val_curve.pdf "
                             "(minimum 100.54 at epoch 116)", read_off_plot=True, note=_TOMCZAK_NOTE),
    "tomczak_arm": Reference(88.7, "nats per image (exact NLL)", "autoregressive model (causal convolutions)",
                             "digits (8x8, 17 levels)", "validation", "tomczak2022dgm",
                             "arms/arm_example.ipynb, figure teaching/figures/arms/arm_nll_val_curve.pdf "
                             "(minimum 88.72 at epoch 49)", read_off_plot=True, note=_TOMCZAK_NOTE),
    "tomczak_realnvp": Reference(168.4, "nats per image (discrete-equivalent bound, converted)", "RealNVP",
                                 "digits (8x8, 17 levels)", "validation", "tomczak2022dgm",
                                 "flows/realnvp_example.ipynb, figure "
                                 "teaching/figures/flows/realnvp_nll_val_curve.pdf (minimum 124.06 at "
                                 "epoch 175)", read_off_plot=True,
                                 note=_TOMCZAK_NOTE + " The plotted 124.06 is the continuous NLL of x + u with "
                                 "u ~ U(0, 1/2]^64 on the raw pixel scale (noise half a level wide); then "
                                 "P(x) = 2^-64 E_u q(x + u), so the discrete-equivalent bound adds "
                                 "64 ln 2 = 44.36 nats: 124.06 + 44.36 = 168.4."),
    # A published hybrid: a VAE with an inverse autoregressive flow posterior.
    "iaf_cifar10": Reference(3.11, "bits per dimension (test NLL bound)",
                             "ResNet VAE with IAF posterior", "CIFAR-10 (32x32 RGB)", "test",
                             "kingma2016iaf", "table 3"),
}


def ref(key: str) -> Reference:
    """The reference called ``key`` (a key of :data:`REFERENCES`)."""
    if key not in REFERENCES:
        raise ValueError(f"unknown reference {key!r}; valid keys are {', '.join(sorted(REFERENCES))}")
    return REFERENCES[key]


def by_task(task_contains: str) -> dict[str, Reference]:
    """Every reference whose task contains ``task_contains`` (case-insensitive)."""
    if not task_contains:
        raise ValueError("task_contains must be a non-empty string")
    return {k: r for k, r in REFERENCES.items() if task_contains.lower() in r.task.lower()}
