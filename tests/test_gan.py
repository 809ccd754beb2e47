"""Tests of roadlite.gan (Chapter 02_gan): the gradient penalty against hand-worked cases, the
generator / critic shapes and rules, determinism and checkpoint/resume of WGAN-GP training,
the Fréchet distance against closed forms, classifier features and the augmented-set writer."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from roadlite.gan import (
    VALID_SIZES,
    WGANGP,
    Critic,
    Generator,
    check_size,
    classifier_features,
    frechet_distance,
    frechet_distance_gaussians,
    gradient_penalty,
    resize_uint8,
    train_arms,
    with_and_without_arms,
    write_augmented_set,
)

CLASSES = ["alligator", "marking", "longitudinal", "transverse"]
SMALL = {"base_channels": 8, "z_dim": 16, "embed_dim": 4, "snapshot_per_class": 2}


class LinearCritic(nn.Module):
    """f(x) = <w, x>: its gradient is w everywhere, so ||grad|| = ||w||."""

    def __init__(self, w: torch.Tensor):
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x, labels):
        return x.flatten(1) @ self.w.flatten()


class HalfSquareCritic(nn.Module):
    """f(x) = ||x||^2 / 2: its gradient at x^ is x^ itself."""

    def forward(self, x, labels):
        return 0.5 * (x.flatten(1) ** 2).sum(1)


# ---------------------------------------------------------------------------------------------
# gradient penalty


def test_gradient_penalty_linear_critic_is_norm_of_w_minus_one_squared():
    torch.manual_seed(0)
    w = torch.tensor([[3.0, 0.0], [0.0, 4.0]], dtype=torch.float64).expand(3, 2, 2)
    critic = LinearCritic(w)  # ||w|| = sqrt(3 * 25) = sqrt(75)
    real = torch.randn(5, 3, 2, 2, dtype=torch.float64)
    fake = torch.randn(5, 3, 2, 2, dtype=torch.float64)
    gp = gradient_penalty(critic, real, fake, torch.zeros(5, dtype=torch.long))
    expected = (math.sqrt(75.0) - 1.0) ** 2
    assert gp.item() == pytest.approx(expected, rel=1e-12)
    # differentiable in the critic's weights: d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    gp.backward()
    norm = math.sqrt(75.0)
    torch.testing.assert_close(critic.w.grad, 2 * (norm - 1) * critic.w.detach() / norm)


def test_gradient_penalty_unit_norm_critic_has_zero_penalty():
    w = torch.zeros(3, 4, 4, dtype=torch.float64)
    w[0, 0, 0] = 1.0
    gp = gradient_penalty(LinearCritic(w), torch.randn(2, 3, 4, 4, dtype=torch.float64),
                          torch.randn(2, 3, 4, 4, dtype=torch.float64), torch.zeros(2).long())
    assert gp.item() == pytest.approx(0.0, abs=1e-15)


def test_gradient_penalty_uses_random_interpolates_from_the_generator():
    real = torch.randn(4, 3, 2, 2, dtype=torch.float64)
    fake = torch.randn(4, 3, 2, 2, dtype=torch.float64)
    y = torch.zeros(4, dtype=torch.long)
    gp = gradient_penalty(HalfSquareCritic(), real, fake, y,
                          generator=torch.Generator().manual_seed(3))
    eps = torch.rand(4, 1, 1, 1, generator=torch.Generator().manual_seed(3)).double()
    x_hat = eps * real + (1 - eps) * fake  # grad of ||x||^2 / 2 at x^ is x^
    expected = ((x_hat.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert gp.item() == pytest.approx(expected.item(), rel=1e-12)
    assert torch.all((eps >= 0) & (eps <= 1))


# ---------------------------------------------------------------------------------------------
# networks


@pytest.mark.parametrize("size", VALID_SIZES)
def test_shapes_for_every_valid_size(size):
    torch.manual_seed(0)
    g = Generator(4, size, z_dim=16, base_channels=4, embed_dim=4)
    d = Critic(4, size, base_channels=4)
    y = torch.tensor([0, 1, 3])
    x = g(torch.randn(3, 16), y)
    assert x.shape == (3, 3, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert d(x, y).shape == (3,)


@pytest.mark.parametrize("bad", [8, 48, 100, 512, 0, -64, "64", 64.0, True])
def test_invalid_size_lists_the_valid_sizes(bad):
    with pytest.raises(ValueError, match="16, 32, 64, 128, 256"):
        check_size(bad)
    with pytest.raises(ValueError, match="16, 32, 64, 128, 256"):
        WGANGP(CLASSES, bad)


@pytest.mark.parametrize("size", VALID_SIZES)
@pytest.mark.parametrize("norm", ["layer", "none"])
def test_critic_has_no_batch_norm(size, norm):
    d = Critic(4, size, base_channels=4, norm=norm)
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in d.modules())
    gns = [m for m in d.modules() if isinstance(m, nn.GroupNorm)]
    if norm == "layer":
        assert gns and all(m.num_groups == 1 for m in gns)  # layer norm over (C, H, W)
    else:
        assert not gns
    assert not any(isinstance(m, (nn.Sigmoid, nn.Tanh)) for m in d.modules())
    with pytest.raises(ValueError, match="batch norm"):
        Critic(4, size, norm="batch")


def test_generator_is_conditional_and_critic_depends_on_label():
    torch.manual_seed(0)
    g, d = Generator(4, 16, z_dim=8, base_channels=4), Critic(4, 16, base_channels=4)
    g.eval()
    z = torch.randn(1, 8).repeat(4, 1)
    x = g(z, torch.arange(4))
    assert not torch.allclose(x[0], x[1])
    same = x[:1].repeat(4, 1, 1, 1)
    out = d(same, torch.arange(4))
    assert len(set(out.tolist())) == 4


# ---------------------------------------------------------------------------------------------
# training


def toy_data(per_class: int = 12, size: int = 20, seed: int = 0):
    """Random uint8 images at 20 px (the GAN resizes them) with class-dependent brightness."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(4).repeat_interleave(per_class)
    x = torch.randint(0, 128, (len(y), 3, size, size), generator=g, dtype=torch.uint8)
    x = x + (y * 40).to(torch.uint8).view(-1, 1, 1, 1)
    return x, y


def weights(gan: WGANGP) -> dict[str, torch.Tensor]:
    return {**{f"g.{k}": v for k, v in gan.generator.state_dict().items()},
            **{f"d.{k}": v for k, v in gan.critic.state_dict().items()}}


def assert_same_weights(a: WGANGP, b: WGANGP) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def strip_seconds(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


def quiet(msg: str) -> None:
    pass


def test_training_history_and_snapshots():
    x, y = toy_data()
    gan = WGANGP(CLASSES, 16, **SMALL)
    hist = gan.train(x, y, iterations=4, batch_size=8, seed=0, progress=False, sample_every=2,
                     log=quiet)
    assert [r["iteration"] for r in hist] == [1, 2, 3, 4]
    for r in hist:
        assert set(r) >= {"critic_loss", "generator_loss", "wasserstein", "gradient_penalty",
                          "seconds"}
        assert all(math.isfinite(v) for v in r.values())
        assert r["gradient_penalty"] >= 0
    assert [it for it, _ in gan.snapshots] == [0, 2, 4]
    grid = gan.snapshots[-1][1]
    assert grid.dtype == torch.uint8 and grid.shape[0] == 3
    assert grid.shape[1] == 4 * (16 + 2) + 2 and grid.shape[2] == 2 * (16 + 2) + 2


def test_training_is_deterministic_for_a_seed():
    x, y = toy_data()
    runs = []
    for seed in (1, 1, 2):
        gan = WGANGP(CLASSES, 16, **SMALL)
        gan.train(x, y, iterations=3, batch_size=8, seed=seed, progress=False, log=quiet)
        runs.append(gan)
    assert_same_weights(runs[0], runs[1])
    assert strip_seconds(runs[0].history) == strip_seconds(runs[1].history)
    assert not torch.equal(runs[0].generator.net[0].weight, runs[2].generator.net[0].weight)


def test_checkpoint_resume_equals_an_uninterrupted_run(tmp_path):
    x, y = toy_data()
    ref = WGANGP(CLASSES, 16, **SMALL)
    ref.train(x, y, iterations=5, batch_size=8, seed=0, progress=False, log=quiet)

    ckpt = tmp_path / "gan.pt"

    def crash_at_3(msg: str) -> None:
        if msg.startswith("[gan] it") and "3/5" in msg:
            raise KeyboardInterrupt  # as if the kernel were interrupted after iteration 3

    first = WGANGP(CLASSES, 16, **SMALL)
    with pytest.raises(KeyboardInterrupt):
        first.train(x, y, iterations=5, batch_size=8, ckpt_path=ckpt, seed=0, progress=False,
                    sample_every=1, checkpoint_every=2, log=crash_at_3)
    assert torch.load(ckpt, weights_only=True)["iteration"] == 2
    assert not list(tmp_path.glob(".gan.pt.*"))  # no temporary file left behind

    messages: list[str] = []
    second = WGANGP(CLASSES, 16, **SMALL)
    second.train(x, y, iterations=5, batch_size=8, ckpt_path=ckpt, seed=0, progress=False,
                 log=messages.append)
    assert any("resuming" in m and "iteration 2" in m for m in messages)
    assert_same_weights(ref, second)
    assert strip_seconds(second.history) == strip_seconds(ref.history)
    torch.testing.assert_close(second.opt_g.state_dict()["state"][0]["exp_avg"],
                               ref.opt_g.state_dict()["state"][0]["exp_avg"])

    # a finished run returns at once, from the checkpoint
    messages.clear()
    third = WGANGP(CLASSES, 16, **SMALL)
    hist = third.train(x, y, iterations=5, batch_size=8, ckpt_path=ckpt, seed=0,
                       progress=False, log=messages.append)
    assert len(hist) == 5 and third.iteration == 5
    assert_same_weights(ref, third)
    assert not any(m.startswith("[gan] it") for m in messages)

    # and a trained GAN can be rebuilt from the checkpoint for sampling
    loaded = WGANGP.from_checkpoint(ckpt)
    a, la = loaded.sample(2, seed=5)
    b, lb = ref.sample(2, seed=5)
    assert torch.equal(a, b) and torch.equal(la, lb)

    # another configuration (here: the seed) starts afresh, and says so
    messages.clear()
    other = WGANGP(CLASSES, 16, **SMALL)
    other.train(x, y, iterations=2, batch_size=8, ckpt_path=ckpt, seed=7, progress=False,
                log=messages.append)
    assert any("another configuration" in m for m in messages)
    assert other.iteration == 2
    assert torch.load(ckpt, weights_only=True)["iteration"] == 2


def test_more_iterations_continue_in_memory():
    x, y = toy_data()
    ref = WGANGP(CLASSES, 16, **SMALL)
    ref.train(x, y, iterations=4, batch_size=8, seed=0, progress=False, log=quiet)
    gan = WGANGP(CLASSES, 16, **SMALL)
    gan.train(x, y, iterations=2, batch_size=8, seed=0, progress=False, log=quiet)
    gan.train(x, y, iterations=4, batch_size=8, seed=0, progress=False, log=quiet)
    assert_same_weights(ref, gan)


def test_too_few_images_names_the_class_before_training(tmp_path):
    x, y = toy_data(per_class=12)
    keep = (y != 3) | (torch.arange(len(y)) % 12 < 3)  # 'transverse' keeps 3 images
    gan = WGANGP(CLASSES, 16, **SMALL)
    ckpt = tmp_path / "gan.pt"
    with pytest.raises(ValueError, match=r"'transverse' has 3 images") as err:
        gan.train(x[keep], y[keep], iterations=2, batch_size=8, ckpt_path=ckpt,
                  progress=False, log=quiet)
    assert "alligator" not in str(err.value)
    assert gan.iteration == 0 and not gan.history and not ckpt.exists()
    with pytest.raises(ValueError, match=r"'marking' has 0 images"):
        gan.train(x[y != 1], y[y != 1], iterations=1, batch_size=8, progress=False, log=quiet)


def test_sample_shapes_labels_and_seed():
    x, y = toy_data()
    gan = WGANGP(CLASSES, 16, **SMALL)
    gan.train(x, y, iterations=1, batch_size=8, seed=0, progress=False, log=quiet)
    imgs, labels = gan.sample(3, classes=["transverse", 0], seed=1)
    assert imgs.dtype == torch.uint8 and imgs.shape == (6, 3, 16, 16)
    assert labels.tolist() == [3, 3, 3, 0, 0, 0]
    again, _ = gan.sample(3, classes=[3, "alligator"], seed=1)
    assert torch.equal(imgs, again)
    assert not torch.equal(imgs, gan.sample(3, classes=[3, 0], seed=2)[0])
    # eval-mode batch norm: an image does not depend on the rest of its batch
    assert torch.equal(gan.sample(3, classes=[3], seed=1)[0], imgs[:3])
    with pytest.raises(ValueError, match="unknown class"):
        gan.sample(1, classes=["pothole"])


def test_resize_uint8():
    x = torch.full((2, 3, 40, 40), 200, dtype=torch.uint8)
    r = resize_uint8(x, 16)
    assert r.dtype == torch.uint8 and r.shape == (2, 3, 16, 16) and torch.all(r == 200)
    assert resize_uint8(r, 16) is r


# ---------------------------------------------------------------------------------------------
# Fréchet distance


def with_moments(n: int, mu: np.ndarray, sd: np.ndarray, seed: int) -> np.ndarray:
    """n samples whose *empirical* mean is exactly mu and covariance exactly diag(sd^2)."""
    z = np.random.default_rng(seed).standard_normal((n, len(mu)))
    z -= z.mean(0)
    cov = np.cov(z, rowvar=False)
    z = z @ np.linalg.inv(np.linalg.cholesky(cov)).T  # whiten: empirical covariance = I
    return z * sd + mu


def test_frechet_identical_sets_is_zero():
    a = np.random.default_rng(0).standard_normal((200, 16))
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(torch.from_numpy(a).float(), torch.from_numpy(a).float()) == \
        pytest.approx(0.0, abs=1e-4)


def test_frechet_diagonal_gaussians_closed_form():
    mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    s1, s2 = np.array([1.0, 4.0, 0.25]), np.array([2.0, 1.0, 0.25])  # variances
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert frechet_distance_gaussians(mu1, np.diag(s1), mu2, np.diag(s2)) == \
        pytest.approx(expected, rel=1e-10)
    # the same from feature sets with exactly those empirical moments
    a = with_moments(500, mu1, np.sqrt(s1), seed=1)
    b = with_moments(300, mu2, np.sqrt(s2), seed=2)
    assert frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)
    # one-dimensional: (mu1 - mu2)^2 + (sd1 - sd2)^2
    assert frechet_distance_gaussians(1.0, 4.0, 3.0, 1.0) == pytest.approx(4.0 + 1.0)


def test_frechet_full_covariance_is_symmetric_and_matches_eigen_form():
    rng = np.random.default_rng(3)
    m1, m2 = rng.standard_normal((5, 5)), rng.standard_normal((5, 5))
    s1, s2 = m1 @ m1.T + 0.1 * np.eye(5), m2 @ m2.T + 0.1 * np.eye(5)
    mu1, mu2 = rng.standard_normal(5), rng.standard_normal(5)
    # Tr((S1 S2)^1/2) = Tr((S1^1/2 S2 S1^1/2)^1/2), a symmetric PSD matrix's root by eigh
    w, v = np.linalg.eigh(s1)
    r1 = v @ np.diag(np.sqrt(w)) @ v.T
    inner = np.linalg.eigvalsh(r1 @ s2 @ r1)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2) - 2 * np.sum(np.sqrt(inner))
    d12 = frechet_distance_gaussians(mu1, s1, mu2, s2)
    assert d12 == pytest.approx(expected, rel=1e-8)
    assert frechet_distance_gaussians(mu2, s2, mu1, s1) == pytest.approx(d12, rel=1e-8)


def test_frechet_rejects_bad_shapes():
    with pytest.raises(ValueError, match="dimensions differ"):
        frechet_distance(np.zeros((4, 3)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="at least 2"):
        frechet_distance(np.zeros((1, 3)), np.zeros((4, 3)))


def test_classifier_features_are_pooled_penultimate_features():
    from roadlite.models import build_model
    from roadlite.training import normalize

    torch.manual_seed(0)
    model = build_model("refined_mobilenet_v2", num_classes=4)
    model.train()
    x = torch.randint(0, 256, (3, 3, 40, 40), dtype=torch.uint8)
    f = classifier_features(model, x, img_size=32)
    assert f.shape == (3, 640) and f.dtype == torch.float32
    assert model.training  # mode restored
    model.eval()
    with torch.no_grad():
        expected = model.features(normalize(resize_uint8(x, 32))).mean(dim=(2, 3))
    torch.testing.assert_close(f, expected)
    with pytest.raises(TypeError, match="features"):
        classifier_features(nn.Linear(3, 3), x, 32)


# ---------------------------------------------------------------------------------------------
# augmented set


def test_write_augmented_set_writes_pngs_and_manifest_rows(tmp_path):
    from PIL import Image

    from roadlite.data.manifest import COLUMNS, read_manifest, write_manifest

    real = pd.DataFrame({"path": ["/data/a.png", "/data/b.png"], "mask_path": ["", ""],
                         "class": ["alligator", "transverse"], "condition": ["", ""],
                         "split": ["train", "test"], "sha256": ["0" * 64, "1" * 64]})
    imgs = torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8)
    labels = torch.tensor([0, 0, 3, 3, 3])
    out = tmp_path / "synthetic"
    df = write_augmented_set(out, real, imgs, labels, CLASSES,
                             split=["train", "train", "train", "train", "val"])
    assert list(df.columns[:6]) == list(COLUMNS)
    assert len(df) == 7 and df.iloc[:2]["path"].tolist() == real["path"].tolist()
    synth = df[df["condition"] == "synthetic"]
    assert synth["class"].tolist() == ["alligator"] * 2 + ["transverse"] * 3
    assert synth["split"].tolist() == ["train"] * 4 + ["val"]
    assert (synth["mask_path"] == "").all()
    for i, row in enumerate(synth.itertuples()):
        with open(row.path, "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == row.sha256
        back = torch.from_numpy(np.array(Image.open(row.path))).permute(2, 0, 1)
        assert torch.equal(back, imgs[i])
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == [
        "train/alligator/gan_alligator_00000.png", "train/alligator/gan_alligator_00001.png",
        "train/transverse/gan_transverse_00000.png", "train/transverse/gan_transverse_00001.png",
        "val/transverse/gan_transverse_00000.png"]
    # the rows go through the manifest interface
    back = read_manifest(write_manifest(df, tmp_path / "manifest.csv"))
    assert back["path"].tolist()[2:] == synth["path"].tolist()
    # a rerun with fewer images leaves no stale files; None = synthetic rows only
    df2 = write_augmented_set(out, None, imgs[:1], labels[:1], CLASSES)
    assert len(df2) == 1 and len(list((out / "train" / "alligator").glob("*.png"))) == 1
    with pytest.raises(ValueError, match="marking"):
        write_augmented_set(out, real, imgs[:1], torch.tensor([1]), CLASSES)


def test_with_and_without_arms_loads_the_augmented_training_rows(tmp_path):
    imgs = torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(0))
    labels = torch.tensor([0, 3, 3, 0, 3])
    aug = write_augmented_set(tmp_path / "synthetic", None, imgs, labels, CLASSES,
                              split=["train", "train", "val", "train", "val"])
    real_train = (torch.zeros(2, 3, 16, 16, dtype=torch.uint8), torch.tensor([1, 2]))
    arms = with_and_without_arms(real_train, aug, 16, CLASSES)
    assert list(arms) == ["without_gan", "with_gan"]
    assert arms["without_gan"] is real_train
    x, y = arms["with_gan"]
    assert x.dtype == torch.uint8 and x.shape == (3, 3, 16, 16)  # the 3 training rows only
    assert sorted(y.tolist()) == [0, 0, 3]
    for xi, yi in zip(x, y, strict=True):  # each loaded image is one of the training images
        assert any(torch.equal(xi, imgs[i]) and yi == labels[i] for i in (0, 1, 3))


def test_train_arms_same_seed_same_recipe_one_model_per_arm(tmp_path):
    from roadlite.training import FitResult, TrainConfig

    g = torch.Generator().manual_seed(1)
    data = (torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8, generator=g),
            torch.arange(8) % 4)
    arms = {"a": data, "b": (data[0][:4], data[1][:4])}
    initial, seeds = [], []

    def build():
        seeds.append(torch.initial_seed())  # the seed train_arms set before building
        model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.AdaptiveAvgPool2d(1),
                              nn.Flatten(), nn.Linear(4, 4))
        initial.append([p.detach().clone() for p in model.parameters()])
        return model

    cfg = TrainConfig(epochs=1, batch_size=4, lr=0.01)
    models, fits = train_arms(arms, build, data, cfg, tmp_path / "ckpt", seed=5)
    assert list(models) == list(fits) == ["a", "b"]
    assert all(isinstance(f, FitResult) and len(f.history) == 1 for f in fits.values())
    assert seeds == [5, 5]
    assert all(torch.equal(p, q) for p, q in zip(initial[0], initial[1], strict=True))
    assert models["a"] is not models["b"]
    assert (tmp_path / "ckpt" / "a" / "last.pt").is_file()
    assert (tmp_path / "ckpt" / "b" / "last.pt").is_file()
    # trained: the weights moved away from the common start
    assert not all(torch.equal(p, q) for p, q in zip(initial[0], models["a"].parameters(),
                                                        strict=True))
