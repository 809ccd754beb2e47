"""A resumed or repeated run gives the fresh run's numbers (issue 19), for every training loop
of the book: :func:`roadlite.training.fit` as chapters 03 and 10 use it, chapter 11's training
phases and chapter 02's WGAN-GP, all on the one protocol of :mod:`roadlite.training.resume`.

Each case trains a fresh reference; then, in a folder holding an older result of another
length, a run is killed (a real SIGKILL of a subprocess, in the middle of an epoch or
iteration) and rerun; the rerun's weights and test numbers must equal the reference's exactly.
"""

from __future__ import annotations

import ast
import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import roadlite
from roadlite.gan import WGANGP, Critic
from roadlite.models import load_model
from roadlite.segmentation import dmia, networks, train
from roadlite.segmentation.discriminator import AttentionDiscriminator
from roadlite.training import TrainConfig, accuracy, fit, predict_logits
from roadlite.training.resume import Checkpoints, capture_rng, restore_rng, seed_everything

HERE = Path(__file__).resolve().parent


def quiet(_msg: str) -> None:
    pass


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def no_times(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if "seconds" not in k and "per_s" not in k}
            for row in history]


# ----------------------------------------------------------------------------- the killed child

def kill_at_call(of: type[nn.Module], n: int, where=lambda m: True) -> None:
    """SIGKILL this process at the ``n``-th forward call of a module of type ``of`` (for which
    ``where`` holds), in the middle of an epoch or iteration."""
    calls = {"k": 0}

    def hook(module, *_):
        if type(module) is of and where(module):
            calls["k"] += 1
            if calls["k"] == n:
                os.kill(os.getpid(), signal.SIGKILL)

    nn.modules.module.register_module_forward_hook(hook)


def run_killed(child: str, **kw) -> None:
    """Run ``child_<child>(**kw)`` of this module in a subprocess that SIGKILLs itself."""
    code = (f"import sys; sys.path.insert(0, {str(HERE)!r}); import torch; "
            f"torch.set_num_threads({torch.get_num_threads()}); import test_resume as t; "
            f"t.child_{child}(**{json.dumps(kw)})")
    env = {**os.environ, "PYTHONPATH": str(Path(roadlite.__file__).parents[1])}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, (
        f"the {child} run was to be killed mid-run but ended with {proc.returncode}:\n"
        f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")


# ----------------------------------------------------------------------------- fit

def tiny_data(n=48, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randint(0, 120, (n, 3, 16, 16), generator=g, dtype=torch.uint8)
    x[y == 1, 0] += 100  # class 1 is redder: learnable
    return x, y


def tiny_model():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(8, 2))


def jitter(xb: torch.Tensor) -> torch.Tensor:
    """A chapter-10-like augmentation: per-image flips and brightness from torch's generator."""
    flip = torch.rand(len(xb)) < 0.5
    xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
    gain = 0.8 + 0.4 * torch.rand(len(xb), 1, 1, 1)
    return (xb.float() * gain).clamp(0, 255).to(torch.uint8)


def np_py_jitter(xb: torch.Tensor) -> torch.Tensor:
    """An augmentation that draws from numpy's and Python's global generators, as many
    third-party augmentation libraries do."""
    gain = float(np.random.uniform(0.7, 1.3)) * random.uniform(0.9, 1.1)
    return (xb.float() * gain).clamp(0, 255).to(torch.uint8)


def soft_dice(logits: torch.Tensor, y: torch.Tensor, x: torch.Tensor | None = None):
    p = torch.softmax(logits, 1)[:, 1]
    t = y.float()
    return 1 - (2 * (p * t).sum() + 1) / (p.sum() + t.sum() + 1)


FIT_CASES = {
    # chapter 03_eca: torch.manual_seed(seed) before each fit, plain cross-entropy
    "ch03": dict(cfg=dict(batch_size=8, optimizer="adam", lr=0.01, weight_decay=0.0,
                          scheduler="cosine", augment=True, channels_last=True),
                 reseed=True, transform=None, dice=False),
    # chapter 10_crack_classifier: models built (seeded) before, no reseed before fit; an
    # augmentation, a Dice loss, plateau on the validation loss, early stopping
    "ch10": dict(cfg=dict(batch_size=8, optimizer="adam", lr=0.01, weight_decay=0.0,
                          scheduler="plateau", plateau_patience=0, monitor="val_loss",
                          early_stopping_patience=3, augment=False, channels_last=True,
                          extra={"loss": "dice"}),
                 reseed=False, transform="jitter", dice=True),
    # an augmentation drawing from numpy's and Python's generators
    "np_py": dict(cfg=dict(batch_size=8, optimizer="sgd", lr=0.05, augment=False,
                           channels_last=False, extra={"aug": "np_py"}),
                  reseed=True, transform="np_py_jitter", dice=False),
}


def fit_like_a_chapter(case: str, epochs: int, folder: str | Path,
                       kill_call: int | None = None):
    c = FIT_CASES[case]
    torch.manual_seed(0)
    model = tiny_model()
    if kill_call is not None:
        kill_at_call(nn.Sequential, kill_call)
    if c["reseed"]:
        torch.manual_seed(0)
    loss = soft_dice if c["dice"] else None
    transform = {"jitter": jitter, "np_py_jitter": np_py_jitter, None: None}[c["transform"]]
    x, y = tiny_data()
    res = fit(model, (x, y), tiny_data(16, seed=1), TrainConfig(epochs=epochs, **c["cfg"]),
              folder, criterion=loss, log=quiet, transform=transform, name="m",
              val_criterion=(lambda lg, t: soft_dice(lg, t)) if c["dice"] else None)
    return model, res


def child_fit(case: str, epochs: int, folder: str, kill_call: int) -> None:
    fit_like_a_chapter(case, epochs, folder, kill_call)


@pytest.mark.parametrize("case", sorted(FIT_CASES))
def test_fit_killed_mid_epoch_over_an_older_result_resumes_to_the_fresh_run(tmp_path, case):
    # random draws before the call, as a notebook's earlier cells would make
    np.random.seed(123), random.seed(123), torch.manual_seed(123)
    ref, ref_res = fit_like_a_chapter(case, 4, tmp_path / "fresh")
    # an older result (2 epochs) in the folder, then a 4-epoch run killed in its 2nd epoch
    # (7 forward calls per epoch: 6 batches and the validation)
    fit_like_a_chapter(case, 2, tmp_path / "used")
    run_killed("fit", case=case, epochs=4, folder=str(tmp_path / "used"), kill_call=10)
    last = torch.load(tmp_path / "used" / "last.pt", weights_only=True)
    assert last["epoch"] == 0  # the killed run wrote its first epoch, not its second
    np.random.seed(7), random.seed(7), torch.manual_seed(7)  # other draws before the rerun
    model, res = fit_like_a_chapter(case, 4, tmp_path / "used")
    assert res.resumed_from_epoch == 1
    assert same_weights(model, ref)
    assert no_times(res.history) == no_times(ref_res.history)
    x_te, y_te = tiny_data(32, seed=2)
    assert accuracy(predict_logits(model, x_te), y_te) == accuracy(predict_logits(ref, x_te),
                                                                   y_te)


def test_fit_over_a_finished_older_result_equals_a_fresh_run(tmp_path):
    """Chapter 10 into a folder holding an EPOCHS=1 result: starting afresh seeds as a fresh
    run does (issue 19, case 2)."""
    ref, ref_res = fit_like_a_chapter("ch10", 3, tmp_path / "fresh")
    fit_like_a_chapter("ch10", 1, tmp_path / "used")
    model, res = fit_like_a_chapter("ch10", 3, tmp_path / "used")
    assert res.resumed_from_epoch == 0
    assert same_weights(model, ref) and no_times(res.history) == no_times(ref_res.history)


# ----------------------------------------------------------------------------- chapter 11

def seg_data(n=8, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 60, (n, 3, size, size), generator=g, dtype=torch.uint8)
    m = torch.zeros(n, 1, size, size, dtype=torch.uint8)
    for i in range(n):
        c = 4 + 3 * i % (size - 8)
        m[i, 0, :, c:c + 3] = 1
        x[i, :, :, c:c + 3] = 220
    return train.SegData(x, m, dmia.dmia_batch(m))


def student_phase(epochs: int, folder: str | Path, kill_call: int | None = None):
    """Chapter 11's student phase as the notebook runs it (teacher, discriminator, dropout in
    the Fast-Transformer), on a toy set."""
    data = seg_data()
    torch.manual_seed(0)
    teacher = networks.LRCrackNet(4, boundary_input=True)
    torch.manual_seed(0)
    student = networks.LRCrackNet(4)
    disc = AttentionDiscriminator(4)
    if kill_call is not None:
        kill_at_call(networks.LRCrackNet, kill_call, lambda m: not m.boundary_input)
    cfg = TrainConfig(epochs=epochs, batch_size=4, optimizer="adam", lr=2e-3, weight_decay=0.0,
                      scheduler="cosine", seed=0, augment=True, channels_last=False)
    res = train.train_phase(student, data, data, cfg, folder, "student", crop=16,
                            teacher=teacher, discriminator=disc, name="student", log=quiet)
    return student, res


def child_phase(epochs: int, folder: str, kill_call: int) -> None:
    student_phase(epochs, folder, kill_call)


def test_chapter11_phase_killed_mid_epoch_resumes_to_the_fresh_run(tmp_path):
    """Issue 19, case 1 (SIGKILL in the middle of the student phase, F1 8.22 vs 7.77)."""
    ref, ref_res = student_phase(4, tmp_path / "fresh")
    student_phase(2, tmp_path / "used")  # an older result of another length
    # the student: 2 batches per epoch + 1 validation call; call 5 is epoch 2's 2nd batch
    run_killed("phase", epochs=4, folder=str(tmp_path / "used"), kill_call=5)
    assert torch.load(tmp_path / "used" / "last.pt", weights_only=True)["epoch"] == 0
    torch.manual_seed(7)
    model, res = student_phase(4, tmp_path / "used")
    assert res.resumed_from_epoch == 1
    assert same_weights(model, ref)
    assert no_times(res.history) == no_times(ref_res.history)
    test = seg_data(6, seed=3)
    assert train.evaluate(model, test)[0] == train.evaluate(ref, test)[0]


def test_chapter11_networks_are_saved_as_book_models(tmp_path):
    """Chapter 11's networks go through roadlite.models.save_model / load_model."""
    for net in (networks.LRCrackNet(4, boundary_input=True),
                networks.LRCrackNet(6, rdldc=False, bottleneck="none"), networks.UNet(4)):
        path = train.save_network(net, tmp_path / "net.pt", meta={"img_size": 32})
        back = load_model(path)
        assert type(back) is type(net) and same_weights(back, net)
        assert back.roadlite_meta == {"img_size": 32}
    with pytest.raises(ValueError, match="not a 'lr_cracknet' built with"):
        from roadlite.models import save_model
        save_model(networks.LRCrackNet(4), tmp_path / "bad.pt", "lr_cracknet",
                   config={"width": 6})


# ----------------------------------------------------------------------------- the GAN

GAN_CLASSES = ["a", "b"]
GAN_SMALL = dict(z_dim=8, base_channels=8, embed_dim=4, snapshot_per_class=2, n_critic=2)


def gan_data():
    g = torch.Generator().manual_seed(0)
    y = torch.arange(16) % 2
    x = torch.randint(0, 255, (16, 3, 16, 16), generator=g, dtype=torch.uint8)
    x[y == 1, 1] //= 3
    return x, y


def gan_run(iterations: int, ckpt: str | Path | None, kill_call: int | None = None):
    gan = WGANGP(GAN_CLASSES, 16, **GAN_SMALL)
    if kill_call is not None:
        kill_at_call(Critic, kill_call)
    gan.train(*gan_data(), iterations=iterations, batch_size=4, ckpt_path=ckpt, seed=3,
              progress=False, checkpoint_every=1, log=quiet)
    return gan


def child_gan(iterations: int, ckpt: str, kill_call: int) -> None:
    gan_run(iterations, ckpt, kill_call)


def test_gan_killed_mid_iteration_over_a_longer_older_result_gives_the_fresh_run(tmp_path):
    ref = gan_run(4, None)
    ckpt = tmp_path / "wgan_gp.pt"
    gan_run(6, ckpt)  # an older, longer result: a rerun for 4 iterations must not keep it
    # 2 critic calls per critic step (real + fake, penalty) x 2 + 1 in the generator step = 5
    # per iteration; call 12 lies in the third iteration
    run_killed("gan", iterations=4, ckpt=str(ckpt), kill_call=12)
    assert torch.load(ckpt, weights_only=True)["iteration"] == 2
    gan = gan_run(4, ckpt)
    assert gan.iteration == 4
    assert same_weights(gan.generator, ref.generator) and same_weights(gan.critic, ref.critic)
    assert no_times(gan.history) == no_times(ref.history)
    assert torch.equal(gan.sample(2, seed=1)[0], ref.sample(2, seed=1)[0])


def test_gan_training_leaves_the_callers_random_numbers_alone():
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    gan_run(1, None)
    assert torch.equal(torch.rand(3), expected)


# ----------------------------------------------------------------------------- the protocol

def test_rng_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    g = torch.Generator().manual_seed(5)
    seed_everything(1)
    ck = Checkpoints.in_folder(tmp_path, "fp", log=quiet)
    ck.save({"epoch": 0}, generators={"crops": g})
    expected = (torch.rand(2), np.random.rand(2), random.random(), torch.rand(2, generator=g))
    seed_everything(99)
    g.manual_seed(0)
    state = Checkpoints.in_folder(tmp_path, "fp", log=quiet).start(0, generators={"crops": g})
    assert state is not None and state["epoch"] == 0
    got = (torch.rand(2), np.random.rand(2), random.random(), torch.rand(2, generator=g))
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert got[2] == expected[2] and torch.equal(got[3], expected[3])
    restore_rng(capture_rng())  # and a bare capture restores too


def test_a_checkpoint_of_another_fingerprint_is_removed_and_the_start_seeded(tmp_path):
    logs: list[str] = []
    Checkpoints.in_folder(tmp_path, "old", log=logs.append).save({"epoch": 3})
    (tmp_path / "best.pt").write_bytes(b"x")
    torch.manual_seed(42)
    assert Checkpoints.in_folder(tmp_path, "new", log=logs.append).start(5) is None
    assert not (tmp_path / "last.pt").exists() and not (tmp_path / "best.pt").exists()
    assert any("another configuration; starting afresh" in m for m in logs)
    drawn = torch.rand(2)
    torch.manual_seed(5)
    assert torch.equal(drawn, torch.rand(2))
    (tmp_path / "last.pt").write_bytes(b"truncated")
    assert Checkpoints.in_folder(tmp_path, "new", log=logs.append).start(5) is None
    assert "cannot be read" in logs[-1]


def _torch_io_calls(tree: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
               and n.func.attr in ("save", "load") and isinstance(n.func.value, ast.Name)
               and n.func.value.id == "torch" for n in ast.walk(tree))


def test_one_resume_implementation_and_one_model_format():
    """torch.save / torch.load are called in two places only: the resume protocol (training
    checkpoints) and roadlite.models.checkpoint (saved models); no notebook calls them."""
    lib = Path(roadlite.__file__).parent
    callers = sorted(str(p.relative_to(lib)) for p in lib.rglob("*.py")
                     if _torch_io_calls(ast.parse(p.read_text())))
    assert set(callers) == {"models/checkpoint.py", "training/resume.py"}
    for nb in sorted((lib.parents[1] / "notebooks").glob("*.ipynb")):
        for cell in json.loads(nb.read_text())["cells"]:
            if cell["cell_type"] == "code":
                src = "".join(cell["source"])
                assert "torch.save(" not in src and "torch.load(" not in src, nb.name
