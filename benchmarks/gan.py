"""Benchmarks of the GAN part, run with the chapters' own configurations and recipes.

``gan2d``: on the PacGAN ring and grid mixtures, over the seeds of
``tutorial_lib.chapters.mode_collapse.CONFIG``: the plain GAN and the remedy at the
chapter's budget, the remedy with a PacGAN discriminator (packs of 4), and the chapter's
ablation (the remedy, then the remedy with each of its four changes removed, at the
shorter ablation budget, stated in the model name). Metrics of DESIGN.md (2,500 samples,
3-sigma high quality): modes captured, % high-quality samples and KL(mode histogram ||
uniform), as mean and standard error, plus CPU seconds per run, beside the published
numbers of ``tutorial_lib.references``. ``gan2d(quick, workers=k)`` trains the runs in
``k`` single-threaded processes (the same records; the command line runs one process).

``gan_digits``: the chapter's fully connected GAN and the convolutional GAN with a
spectrally normalised discriminator, over the seeds of
``tutorial_lib.chapters.gan_digits.CONFIG``: Fréchet distance to the test split in the
chapter's classifier features (mean and standard error, and per seed), the smallest
class count of the samples, CPU seconds of training; beside the train-vs-test floor, independent
pixels, and the samples of the VAE part's and the flow part's digits models.
"""

from __future__ import annotations

import dataclasses
import math
import time

import torch

from benchmarks import make_record
from tutorial_lib.baselines import IndependentPixels
from tutorial_lib.chapters import gan_digits as gd
from tutorial_lib.chapters import mode_collapse as mc
from tutorial_lib.data import load_digits_split
from tutorial_lib.references import ref


def _mean_se(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    var = sum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, math.sqrt(var / n)


def _mean_and_se(metric, values, lower, reference, reference_value, **common):
    """Two records: the mean of ``values`` and its standard error."""
    mean, se = _mean_se(values)
    return [
        make_record(
            metric=metric,
            value=mean,
            lower_is_better=lower,
            reference=reference,
            reference_value=reference_value,
            **common,
        ),
        make_record(
            metric=f"{metric} (standard error)",
            value=se,
            lower_is_better=True,
            reference=None,
            reference_value=None,
            **common,
        ),
    ]


def _published(dataset: str, method: str) -> tuple[str, float | None, float | None]:
    key = "gan" if method == "GAN" else "pacgan4"
    modes, hq = ref(f"{key}_{dataset}_modes"), ref(f"{key}_{dataset}_hq")
    return modes.label, modes.value, hq.value


def _run_2d_job(job: tuple) -> tuple:
    """One run of :func:`mode_collapse.run_2d`, single-threaded (a pool job)."""
    dataset, method, seed, steps = job
    torch.set_num_threads(1)
    stats, seconds = mc.run_2d(dataset, method, seed, steps=steps)
    return stats, seconds


def _rows_2d(dataset: str, model: str, method: str, runs: list, seeds) -> list[dict]:
    """The records of one row; ``runs``: the ``(ModeStats, seconds)`` of the seeds."""
    sec = sum(t for _, t in runs) / len(runs)
    label, ref_modes, ref_hq = _published(dataset, method)
    values = {
        "modes captured": ([float(r.modes) for r, _ in runs], ref_modes, False),
        "% high quality": ([100 * r.high_quality for r, _ in runs], ref_hq, False),
        "KL(modes || uniform)": ([r.kl_uniform for r, _ in runs], None, True),
    }
    common = dict(
        suite="gan2d", task=dataset, model=model, seconds=sec, seeds=list(seeds)
    )
    records = []
    for metric, (vals, rv, lower) in values.items():
        reference = label if rv is not None else None
        records += _mean_and_se(metric, vals, lower, reference, rv, **common)
    records.append(
        make_record(
            metric="CPU seconds per run",
            value=sec,
            lower_is_better=True,
            reference="limit 60 s",
            reference_value=60.0,
            **common,
        )
    )
    return records


def gan2d(quick: bool, workers: int = 1) -> list[dict]:
    """The chapter's runs, the packed remedy and the ablation on both mixtures.

    ``workers > 1`` trains the runs in that many single-threaded processes (the same
    runs and records; CPU seconds are still those of each run's own process)."""
    config = mc.CONFIG
    seeds = config.seeds[:1] if quick else config.seeds
    rows = []  # (dataset, model, method, steps)
    for i, dataset in enumerate(mc.DATASETS):
        for method in ("GAN", "remedy", "remedy + PacGAN4"):
            rows.append((dataset, method, method, 20 if quick else None))
        short = 20 if quick else config.ablation_steps[i]
        for method in ("remedy", *(f"remedy without {c}" for c, _ in mc.CHANGES)):
            model = f"{method} ({short} steps, ablation)"
            rows.append((dataset, model, method, short))
    jobs = [(d, method, s, steps) for d, _, method, steps in rows for s in seeds]
    if workers > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # the longest runs first, so that no long run is left alone at the end
        jobs.sort(key=lambda j: -(j[3] or mc.gan_config(j[0], j[1]).steps))
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            results = dict(zip(jobs, pool.map(_run_2d_job, jobs), strict=True))
    else:
        results = {job: _run_2d_job(job) for job in jobs}
    records = []
    for dataset, model, method, steps in rows:
        runs = [results[(dataset, method, s, steps)] for s in seeds]
        records += _rows_2d(dataset, model, method, runs, seeds)
    return records


def _other_families(split, n: int, seed: int, quick: bool):
    """Samples of the digits models of the VAE part and the flow part, trained with
    their chapters' own recipes and configurations (shrunk to a few steps if
    ``quick``): ``[(model name, (n, 64) pixels, CPU seconds of training)]``."""
    from tutorial_lib.chapters import flow_digits, vae_digits

    def short(config):
        if not quick:
            return config
        train = dataclasses.replace(
            config.train, steps=20, val_every=10, progress=False
        )
        return dataclasses.replace(config, train=train)

    rows = []
    start = time.process_time()
    vae, _ = vae_digits.train_digits_vae(
        split.train, split.val, short(vae_digits.CONFIG)
    )
    seconds = time.process_time() - start
    x_vae = vae.sample(n, torch.Generator().manual_seed(seed))  # sampled pixel levels
    rows.append(("VAE (vae_digits chapter), samples", x_vae, seconds))
    start = time.process_time()
    flow_config = short(flow_digits.CONFIG)
    flow, _ = flow_digits.train_digits_flow(flow_config, split.train, split.val)
    seconds = time.process_time() - start
    with torch.no_grad():
        x_flow = (
            flow.sample(n, torch.Generator().manual_seed(seed)).floor().clamp(0, 16)
        )
    rows.append(("spline flow (flow_digits chapter), samples", x_flow, seconds))
    return rows


def gan_digits(quick: bool) -> list[dict]:
    """Fréchet distances of the GANs, the floor, independent pixels, VAE and flow."""
    config = gd.CONFIG
    if quick:
        config = dataclasses.replace(
            config,
            mlp=dataclasses.replace(config.mlp, steps=20),
            conv=dataclasses.replace(config.conv, steps=20),
            classifier=dataclasses.replace(config.classifier, steps=20, val_every=10),
            n_samples=100,
        )
    config = dataclasses.replace(
        config, classifier=dataclasses.replace(config.classifier, progress=False)
    )
    seeds = config.seeds[:1] if quick else config.seeds
    split = load_digits_split()
    clf = gd.digits_classifier(split, config)
    floor = gd.frechet_to_test(clf, split.train, split)
    floor_label = "train vs test split (floor)"
    metric = "Frechet distance to the test split (classifier features)"
    common = dict(suite="gan_digits", task="digits (test split)")
    ind = IndependentPixels(split.train).sample_images(
        config.n_samples, torch.Generator().manual_seed(config.baseline_seed)
    )
    records = [
        make_record(
            model="independent pixels",
            metric=metric,
            value=gd.frechet_to_test(clf, ind, split),
            lower_is_better=True,
            reference=floor_label,
            reference_value=floor,
            seconds=0.0,
            seeds=[0],
            **common,
        ),
    ]
    names = {
        "mlp": "fully connected GAN (chapter)",
        "conv": "convolutional GAN, spectral norm",
    }
    for model in gd.MODELS:
        runs = [gd.run_digits_gan(split, clf, model, s, config) for s in seeds]
        sec = sum(t for _, _, t in runs) / len(runs)
        least = min(int(c.min()) for _, c, _ in runs)
        row = dict(model=names[model], seconds=sec, seeds=list(seeds), **common)
        fds = [fd for fd, _, _ in runs]
        records += _mean_and_se(metric, fds, True, floor_label, floor, **row)
        for seed, (fd, counts, seconds) in zip(seeds, runs, strict=True):
            one = dict(row, model=f"{names[model]}, seed {seed}", seconds=seconds)
            one["seeds"] = [seed]
            records += [
                make_record(
                    metric=metric,
                    value=fd,
                    lower_is_better=True,
                    reference=floor_label,
                    reference_value=floor,
                    **one,
                ),
                make_record(
                    metric="fewest samples in one class",
                    value=int(counts.min()),
                    lower_is_better=False,
                    reference="every class present",
                    reference_value=1.0,
                    **one,
                ),
            ]
        records += [
            make_record(
                metric="fewest samples in one class (of the seeds)",
                value=least,
                lower_is_better=False,
                reference="every class present",
                reference_value=1.0,
                **row,
            ),
            make_record(
                metric="CPU seconds of training",
                value=sec,
                lower_is_better=True,
                reference="limit 60 s",
                reference_value=60.0,
                **row,
            ),
        ]
    for name, pixels, seconds in _other_families(split, config.n_samples, 0, quick):
        records.append(
            make_record(
                model=name,
                metric=metric,
                value=gd.frechet_to_test(clf, pixels, split),
                lower_is_better=True,
                reference=floor_label,
                reference_value=floor,
                seconds=seconds,
                seeds=[0],
                **common,
            )
        )
    return records


SUITES = {"gan2d": gan2d, "gan_digits": gan_digits}
