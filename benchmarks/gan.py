"""Benchmarks of the GAN part.

``gan2d``: the plain GAN and the remedy (the R1 penalty, momentum-free Adam, uniform noise
and a learning-rate decay) on the PacGAN ring and grid mixtures, each over 5 seeds, with
the metrics of DESIGN.md (2,500 samples, 3-sigma high quality): modes captured, % high-quality samples and KL(mode histogram ||
uniform), as mean and standard error, plus seconds per run, beside the published numbers.

``gan_digits``: the chapter's convolutional GAN on the digits, Fréchet distance to the test
split in the feature space of the chapter's classifier, beside the train-vs-test floor and
the independent-pixel baseline.

Both use the chapters' configurations, imported from the library.
"""

from __future__ import annotations

import dataclasses
import math
import time

import torch

from benchmarks import make_record
from tutorial_lib.data import get_density, load_digits_split
from tutorial_lib.baselines import IndependentPixels
from tutorial_lib.chapters.gan_digits import DIGITS_GAN_CONFIG
from tutorial_lib.chapters.mode_collapse import GAN2D_CONFIGS
from tutorial_lib.data import to_pixels, to_unit
from tutorial_lib.gan import generate, train_gan
from tutorial_lib.metrics import CLASSIFIER_TRAIN, train_classifier

SEEDS = (0, 1, 2, 3, 4)
N_EVAL = 2500

# Published (modes captured, % high quality) from PacGAN table 1 (arXiv:1712.04086) and
# GDPP (arXiv:1812.00068), as listed in DESIGN.md.
PUBLISHED = {
    "ring": {"GAN": (6.3, 98.2), "PacGAN4": (7.8, 95.9), "GDPP": (8.0, 71.7)},
    "grid": {"GAN": (17.3, 94.8), "PacGAN4": (24.8, 93.6), "GDPP": (24.8, 68.5)},
}


def _record(suite, task, model, metric, value, reference, reference_value, seconds, seeds, lower):
    return make_record(suite=suite, task=task, model=model, metric=metric, value=value, lower_is_better=lower,
                       reference=reference, reference_value=reference_value, seconds=seconds, seeds=int(seeds))


def _mean_se(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, math.sqrt(var / n)


def run_one_2d(dataset: str, method: str, seed: int, steps: int | None = None) -> tuple[dict[str, float], float]:
    """Train one GAN of the chapter on ``dataset`` with ``seed``; return its metrics and seconds."""
    from tutorial_lib.metrics import mode_metrics

    density = get_density(dataset)
    config = GAN2D_CONFIGS[(dataset, method)]
    if steps is not None:
        config = dataclasses.replace(config, steps=steps)
    torch.manual_seed(seed)
    g, d = config.build()
    start = time.perf_counter()
    train_gan(g, d, density.sample, config, seed=seed, progress=False)
    seconds = time.perf_counter() - start
    stats = mode_metrics(generate(g, N_EVAL, seed=10_000 + seed), density.means, density.std)
    return {"modes": stats.modes, "hq": 100 * stats.high_quality, "kl": stats.kl_uniform}, seconds


def gan2d(quick: bool, datasets: tuple[str, ...] = ("ring", "grid")) -> list[dict]:
    """Plain GAN and remedy on each of ``datasets``: 5 seeds (1 seed of 20 steps if ``quick``)."""
    seeds = SEEDS[:1] if quick else SEEDS
    records = []
    for dataset, method in GAN2D_CONFIGS:
        if dataset not in datasets:
            continue
        runs = [run_one_2d(dataset, method, s, steps=20 if quick else None) for s in seeds]
        secs = [t for _, t in runs]
        ref_name = "PacGAN4" if method != "GAN" else "GAN"
        ref_modes, ref_hq = PUBLISHED[dataset][ref_name]
        ref = f"{ref_name}, PacGAN table 1 (arXiv:1712.04086)"
        sec = sum(secs) / len(secs)
        for metric, key, rv, lower in (
            ("modes captured", "modes", ref_modes, False),
            ("% high quality", "hq", ref_hq, False),
            ("KL(modes || uniform)", "kl", None, True),
        ):
            mean, se = _mean_se([r[key] for r, _ in runs])
            records.append(_record("gan2d", dataset, method, metric, mean, ref, rv, sec, len(seeds), lower))
            records.append(
                _record("gan2d", dataset, method, f"{metric} (standard error)", se, "none", None, sec, len(seeds), True)
            )
        records.append(_record("gan2d", dataset, method, "seconds per run", sec, "limit 60 s", 60.0, sec, len(seeds), True))
    return records


def gan_digits(quick: bool) -> list[dict]:
    from tutorial_lib.metrics import frechet_distance_features

    torch.manual_seed(0)
    split = load_digits_split()
    start = time.perf_counter()
    clf_config = dataclasses.replace(CLASSIFIER_TRAIN, progress=False)
    if quick:
        clf_config = dataclasses.replace(clf_config, steps=20, val_every=10)
    clf, _ = train_classifier(split.train, split.train_labels, split.val, split.val_labels, clf_config)
    clf.eval()
    config = DIGITS_GAN_CONFIG
    train_cfg = dataclasses.replace(config.train, steps=20) if quick else config.train
    torch.manual_seed(0)
    g, d = config.build()
    data = to_unit(split.train)

    def sample_real(n: int, rng: torch.Generator) -> torch.Tensor:
        return data[torch.randint(len(data), (n,), generator=rng)]

    train_gan(g, d, sample_real, train_cfg, seed=0, progress=False)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        f_test = clf.features(split.test).double()
        f_train = clf.features(split.train).double()
        fake = to_pixels(g.sample(1000, torch.Generator().manual_seed(1)))
        f_gan = clf.features(fake).double()
        f_ind = clf.features(IndependentPixels(split.train).sample_images(1000, torch.Generator().manual_seed(2))).double()
    floor = frechet_distance_features(f_train, f_test)
    fd_gan = frechet_distance_features(f_gan, f_test)
    fd_ind = frechet_distance_features(f_ind, f_test)
    common = dict(suite="gan_digits", task="digits (test split)", metric="Frechet distance (classifier features)")
    return [
        _record(model="conv GAN", value=fd_gan, reference="train vs test split (floor)", reference_value=floor,
                seconds=seconds, seeds=1, lower=True, **common),
        _record(model="independent pixels", value=fd_ind, reference="train vs test split (floor)",
                reference_value=floor, seconds=0.0, seeds=1, lower=True, **common),
    ]


SUITES = {"gan2d": gan2d, "gan_digits": gan_digits}
