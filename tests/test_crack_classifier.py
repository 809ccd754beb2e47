"""Chapter 10_crack_classifier: Polat's head and loss, the augmentation, backbones, the binary
task, Özgenel's pair-aware split, crack patches from masks, metrics, the training core's
early stopping / monitor / transform options, and the INT8 export."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn import metrics as skm

from roadlite.crack_classifier import (
    CLASSES,
    VARIANTS,
    PolatClassifier,
    RandomRotateZoom,
    balance_patches,
    bce_loss,
    binary_manifest,
    binary_metrics,
    build_classifier,
    count_trainable,
    crack_probability,
    cut_patches,
    dice_loss,
    load_classifier,
    load_patch_sets,
    load_task,
    ozgenel_manifest,
    polat_augmentation,
    predict_proba,
    read_mask_checked,
    save_classifier,
    select_variant,
    torchvision_backbone,
    transferred_backbone,
)
from roadlite.data import DataError, normalize
from roadlite.models import CheckpointError, load_model, read_checkpoint
from roadlite.training import TrainConfig, _EarlyStopping, fit

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared(name: str) -> Path:
    path = SHARED / name
    if not path.is_dir():
        pytest.skip(f"../shared/data/{name} not present (a user's clone)")
    return path


def images(n=8, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)


# --------------------------------------------------------------------------- model and losses


def test_head_is_one_sigmoid_output_written_as_two_logits():
    torch.manual_seed(0)
    m = PolatClassifier(dropout=0.5, frozen=True).eval()
    m.head[1].weight.data.normal_(0, 1)  # a head that says something
    logits = m(normalize(images(6)))
    assert logits.shape == (6, 2) and torch.all(logits[:, 0] == 0)
    z = logits[:, 1]
    assert torch.allclose(torch.softmax(logits, 1)[:, 1], torch.sigmoid(z), atol=1e-6)
    assert torch.allclose(crack_probability(logits), torch.sigmoid(z))
    y = torch.tensor([0, 1, 1, 0, 1, 0])
    # cross-entropy on (0, z) is exactly binary cross-entropy on z
    assert torch.allclose(F.cross_entropy(logits, y), bce_loss(logits, y), atol=1e-6)
    assert torch.equal(logits.argmax(1), (z > 0).long())


def test_frozen_backbone_keeps_weights_and_batch_norm_statistics(tmp_path):
    m = PolatClassifier(frozen=True)
    trainable, total = count_trainable(m)
    assert trainable == 1281 and total > 2_000_000
    m.train()
    assert not m.features.training and m.head.training
    before = {k: v.clone() for k, v in m.state_dict().items()}
    x, y = images(16), torch.arange(16) % 2
    cfg = TrainConfig(epochs=1, batch_size=8, optimizer="adam", lr=1e-2, channels_last=False)
    fit(m, (x, y), (x, y), cfg, tmp_path, criterion=dice_loss, log=lambda s: 0)
    after = m.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed and all(k.startswith("head.") for k in changed)  # BN running stats too
    f = PolatClassifier(frozen=False).train()
    assert f.features.training and count_trainable(f)[0] == count_trainable(f)[1]


def test_dice_loss_is_one_minus_f1_on_confident_predictions():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 50)
    pred = rng.integers(0, 2, 50)
    z = torch.tensor(np.where(pred == 1, 30.0, -30.0))
    logits = torch.stack([torch.zeros_like(z), z], 1)
    loss = dice_loss(logits, torch.tensor(y), smooth=0.0)
    assert float(loss) == pytest.approx(1 - skm.f1_score(y, pred), abs=1e-6)
    # smoothing keeps an all-negative batch with all-negative predictions at zero loss
    assert float(dice_loss(torch.stack([torch.zeros(4), torch.full((4,), -30.0)], 1),
                           torch.zeros(4, dtype=torch.long))) == pytest.approx(0.0, abs=1e-6)


def test_binary_metrics_standard_definitions_against_scikit_learn():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    prob = np.clip(y * 0.6 + rng.normal(0.2, 0.3, 200), 0, 1)
    m = binary_metrics(y, prob)
    pred = (prob >= 0.5).astype(int)
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    fn = int(((pred == 0) & (y == 1)).sum())
    assert m["precision"] == pytest.approx(tp / (tp + fp))  # not the paper's Eq. 5
    assert m["recall"] == pytest.approx(tp / (tp + fn))
    assert m["precision"] != pytest.approx(m["recall"])  # the case where a swap would show
    assert m["f1"] == pytest.approx(2 * m["precision"] * m["recall"]
                                    / (m["precision"] + m["recall"]))
    assert m["dice"] == pytest.approx(skm.f1_score(y, pred))
    assert m["iou"] == pytest.approx(skm.jaccard_score(y, pred))
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, prob))
    assert m["confusion"] == skm.confusion_matrix(y, pred).tolist()
    hard = binary_metrics(y, pred.astype(float))
    assert hard["soft_dice"] == pytest.approx(hard["dice"])
    assert hard["soft_iou"] == pytest.approx(hard["iou"])


def test_select_variant_uses_validation_and_prefers_the_paper_set_up_on_ties():
    assert select_variant({"frozen_transfer": 0.9, "frozen_random": 0.6, "finetuned": 0.95}
                          ) == "finetuned"
    assert select_variant({"frozen_transfer": 0.95, "frozen_random": 0.6, "finetuned": 0.95}
                          ) == "frozen_transfer"
    with pytest.raises(ValueError):
        select_variant({})


# --------------------------------------------------------------------------- augmentation


def test_rotate_zoom_identity_and_edge_fill():
    x = images(4, 24)
    assert torch.equal(RandomRotateZoom(0, 0)(x), x)
    flat = torch.full((4, 3, 24, 24), 200, dtype=torch.uint8)
    torch.manual_seed(0)
    out = RandomRotateZoom(20, 0.2)(flat)
    # Keras' nearest fill: no black corners after a rotation or a zoom-out
    assert torch.all(out == 200)
    # a real rotation moves pixels, and each image gets its own draw
    torch.manual_seed(0)
    same = images(1, 24).repeat(4, 1, 1, 1)
    out = RandomRotateZoom(20, 0.2)(same)
    assert not torch.equal(out[0], same[0]) and not torch.equal(out[0], out[1])


def test_polat_augmentation_is_reproducible_and_per_image():
    aug = polat_augmentation()
    x = images(1, 32).repeat(6, 1, 1, 1)
    torch.manual_seed(3)
    a = aug(x)
    torch.manual_seed(3)
    b = aug(x)
    assert a.dtype == torch.uint8 and a.shape == x.shape and torch.equal(a, b)
    assert len({bytes(img.numpy()) for img in a}) > 1


# --------------------------------------------------------------------------- backbones


def test_torchvision_backbone_has_the_same_layout():
    from torchvision.models import mobilenet_v2 as tv_mobilenet_v2

    torch.manual_seed(0)
    tv = tv_mobilenet_v2(weights=None).eval()  # the ImageNet path, without the download
    m = build_classifier("frozen_transfer", torchvision_backbone(tv)).eval()
    x = normalize(images(2, 64))
    with torch.no_grad():
        assert torch.allclose(m.features(x), tv.features(x), atol=1e-5)


def test_chapter03_backbone_transfer(tmp_path):
    from roadlite.models import build_model
    from roadlite.models.checkpoint import save_model
    from roadlite.upstream import Upstream

    torch.manual_seed(1)
    src = build_model("mobilenet_v2", num_classes=4)
    ch03 = tmp_path / "smoke" / "03_eca"
    save_model(src, ch03 / "models" / "mobilenet_v2.pt", arch="mobilenet_v2")
    (ch03 / "metrics.json").write_text(json.dumps(
        {"classes": list("abcd"), "models": {"mobilenet_v2": {
            "checkpoint": "models/mobilenet_v2.pt", "architecture": "mobilenet_v2"}}}))
    up = Upstream.at(tmp_path, "smoke")
    state = transferred_backbone(up.load_model("mobilenet_v2", 4))
    m = build_classifier("frozen_transfer", state, seed=5)
    for k, v in src.features.state_dict().items():
        assert torch.equal(m.features.state_dict()[k], v)
    r = build_classifier("frozen_random", state, seed=5)
    assert not torch.equal(r.features[0][0].weight, m.features[0][0].weight)
    assert torch.equal(r.head[1].weight, m.head[1].weight)  # same head initialisation
    assert count_trainable(build_classifier("finetuned", state))[0] > 2_000_000
    with pytest.raises(ValueError, match="unknown variant"):
        build_classifier("frozen", state)
    with pytest.raises(TypeError, match="trained MobileNetV2"):
        transferred_backbone(state)


def test_save_and_load_classifier(tmp_path):
    m = build_classifier("finetuned", PolatClassifier().features.state_dict(), dropout=0.3)
    path = save_classifier(m, tmp_path / "c.pt", meta={"variant": "finetuned"})
    back = load_classifier(path)
    x = normalize(images(2))
    with torch.no_grad():
        assert torch.equal(m.eval()(x), back(x))
    assert back.head[0].p == 0.3 and not back.frozen
    # the book's one model format: roadlite.models reads it and names the file when it is not one
    saved = read_checkpoint(path)
    assert saved["arch"] == "polat_mobilenet_v2"
    assert saved["config"] == {"dropout": 0.3, "frozen": False}
    assert saved["meta"] == {"variant": "finetuned"}
    assert torch.equal(load_model(path)(x), back(x))
    torch.save({"state_dict": m.state_dict()}, tmp_path / "bare.pt")
    with pytest.raises(CheckpointError, match="bare.pt"):
        load_classifier(tmp_path / "bare.pt")


# --------------------------------------------------------------------------- data


def manifest(counts: dict[str, dict[str, int]]) -> pd.DataFrame:
    rows = []
    for split, per_class in counts.items():
        for cls, n in per_class.items():
            rows += [{"path": f"{split}/{cls}/{i}.png", "mask_path": "", "class": cls,
                      "condition": "", "split": split, "sha256": ""} for i in range(n)]
    return pd.DataFrame(rows)


def test_binary_manifest_maps_balances_and_leaves_markings_out():
    df = manifest({s: {"intact": 6, "alligator": 4, "longitudinal": 4, "transverse": 4,
                       "broken_marking": 4} for s in ("train", "val", "test")})
    out = binary_manifest(df, seed=0)
    assert set(out["class"]) == set(CLASSES)
    assert "broken_marking" not in set(out["source_class"])
    for split in ("train", "val", "test"):
        part = out[out["split"] == split]
        assert (part["class"] == "crack").sum() == (part["class"] == "intact").sum() == 6
        assert part[part["class"] == "crack"]["source_class"].value_counts().tolist() == [2, 2, 2]
    assert out.equals(binary_manifest(df, seed=0))
    with pytest.raises(DataError, match="no intact image"):
        binary_manifest(manifest({s: {"alligator": 2} for s in ("train", "val", "test")}))


def write_image(path: Path, mode: str = "RGB", size=(40, 40), value=0):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    arr = rng.integers(0, 256, (size[1], size[0], len(mode) if mode != "L" else 1),
                       dtype=np.uint8)
    Image.fromarray(arr.squeeze(-1) if mode == "L" else arr, mode).save(path)


def ozgenel_folder(root: Path, n=10) -> Path:
    for cls in ("Positive", "Negative"):
        for i in range(n):
            write_image(root / cls / f"{i:05d}.jpg" if i else root / cls / f"{i:05d}.png",
                        value=i + (100 if cls == "Positive" else 0))
    return root


def test_ozgenel_bad_layouts_name_what_was_expected(tmp_path):
    (tmp_path / "Positive").mkdir()
    write_image(tmp_path / "Positive" / "a.jpg")
    with pytest.raises(DataError, match=r"no Negative/ folder.*expected .*Positive/.*Negative/"):
        ozgenel_manifest(tmp_path)
    (tmp_path / "Negative").mkdir()
    with pytest.raises(DataError, match=r"(?s)empty class folder.*Negative.*expected"):
        ozgenel_manifest(tmp_path)
    with pytest.raises(DataError, match="is not a folder"):
        ozgenel_manifest(tmp_path / "missing")


def test_ozgenel_split_keeps_copies_together_and_converts_modes(tmp_path):
    root = ozgenel_folder(tmp_path / "oz", n=20)
    # three copies of one crack image, a re-saved copy (same pixels) of a no-crack one
    src = root / "Positive" / "00003.jpg"
    for k in (1, 2):
        (root / "Positive" / f"copy{k}.jpg").write_bytes(src.read_bytes())
    Image.open(root / "Negative" / "00004.jpg").save(root / "Negative" / "resaved.png")
    write_image(root / "Negative" / "gray.png", mode="L", value=7)
    write_image(root / "Positive" / "rgba.png", mode="RGBA", value=8)
    for seed in range(5):
        oz = ozgenel_manifest(root, seed=seed, val_frac=0.2, test_frac=0.2)
        assert len(oz.duplicate_groups) == 2 and sorted(map(len, oz.duplicate_groups)) == [2, 3]
        for group in oz.duplicate_groups:
            assert oz.manifest.set_index("path").loc[group, "split"].nunique() == 1
    task = load_task(None, str(root), 32, seed=0, val_frac=0.2, test_frac=0.2)
    total = sum(len(getattr(task, s)[1]) for s in ("train", "val", "test"))
    assert total == 45 and task.train[0].shape[1:] == (3, 32, 32)
    assert task.test_masks is None and task.sizes().loc["train"].sum() > 0


def test_mask_of_another_size_is_an_error_naming_the_file(tmp_path):
    write_image(tmp_path / "img.jpg", size=(40, 30))
    mask = tmp_path / "img_mask.png"
    Image.fromarray(np.zeros((20, 40), np.uint8)).save(mask)
    with pytest.raises(DataError, match=r"img_mask\.png is 40x20.*img\.jpg is 40x30"):
        read_mask_checked(tmp_path / "img.jpg", mask)
    with pytest.raises(DataError, match="img_mask.png"):
        cut_patches([(str(tmp_path / "img.jpg"), str(mask))], 10)


def test_cut_patches_labels_and_leaves_ambiguous_tiles_out(tmp_path):
    img = tmp_path / "a.png"
    write_image(img, mode="L", size=(64, 32))  # grayscale: converted to RGB
    mask = np.zeros((32, 64), np.uint8)
    mask[10:12, 0:30] = 255  # a crack inside the first 32x32 tile
    mask[5, 62] = 255  # one crack pixel in the second tile: ambiguous
    Image.fromarray(mask).save(tmp_path / "a_mask.png")
    ps = cut_patches([(str(img), str(tmp_path / "a_mask.png"))], 32, dataset="t",
                     min_crack_share=0.01, margin=4)
    assert len(ps) == 1 and ps.labels.tolist() == [1] and ps.images.shape == (1, 3, 32, 32)
    assert ps.masks[0].sum() == 60 and ps.origin.loc[0, "col"] == 0
    mask[5, 62] = 0
    mask[5, 33] = 255  # a crack pixel 2 px beyond the first tile's border: within the margin
    Image.fromarray(mask).save(tmp_path / "a_mask.png")
    ps = cut_patches([(str(img), str(tmp_path / "a_mask.png"))], 32, min_crack_share=0.01,
                     margin=4)
    assert ps.labels.tolist() == [1]
    mask[5, 33] = 0
    Image.fromarray(mask).save(tmp_path / "a_mask.png")
    ps = cut_patches([(str(img), str(tmp_path / "a_mask.png"))], 32, min_crack_share=0.01,
                     margin=1)
    assert ps.labels.tolist() == [1, 0]
    big = ps.concat([ps, ps, ps])
    bal = balance_patches(big, max_per_class=2, seed=0)
    assert bal.labels.tolist() == [0, 0, 1, 1]


def test_missing_patch_sets_are_skipped_with_the_reason(tmp_path):
    sets, skipped = load_patch_sets([str(tmp_path / "nope")], 32, 32, 4)
    assert sets == {} and "is not a folder" in skipped[str(tmp_path / "nope")]


def test_chapter_10_cuts_its_patch_sets_before_training():
    """A patch set that gives no patch (patch_size too large for its images, masks that hold no
    crack) stops chapter 10 before its training, not after it (issue 19)."""
    nb = json.loads((Path(__file__).resolve().parents[1] / "notebooks"
                     / "10_crack_classifier.ipynb").read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    cut = [i for i, s in enumerate(code) if "load_patch_sets(" in s]
    train = [i for i, s in enumerate(code) if "fit(" in s]
    assert cut and train and max(cut) < min(train)


@pytest.mark.realdata
def test_patch_sets_leave_the_global_random_generators_alone():
    """Cutting the patch sets draws from its own seed: cut before or after training, the
    training's numbers are the same (chapter 10 cuts them first)."""
    root = shared("deepcrack")
    torch.manual_seed(3)
    np.random.seed(3)
    t_state, np_state = torch.get_rng_state(), np.random.get_state()
    sets, _ = load_patch_sets([str(root)], 128, 32, 4, seed=0, max_images=3)
    assert len(sets["deepcrack"]) > 0
    assert torch.equal(torch.get_rng_state(), t_state)
    after = np.random.get_state()
    assert np.array_equal(after[1], np_state[1]) and after[2:] == np_state[2:]


# --------------------------------------------------------------------------- training core options


def tiny(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1),
                               torch.nn.Flatten(), torch.nn.Linear(4, 2))


def test_new_options_are_off_by_default_and_keep_old_fingerprints():
    cfg = TrainConfig()
    assert cfg.monitor == "val_accuracy" and cfg.early_stopping_patience == 0
    old = {k: v for k, v in asdict(cfg).items()
           if k not in ("monitor", "early_stopping_patience", "device", "progress")}
    blob = json.dumps(old, sort_keys=True, default=str).encode()
    assert cfg.fingerprint() == hashlib.sha256(blob).hexdigest()[:16]
    assert TrainConfig(early_stopping_patience=3).fingerprint() != cfg.fingerprint()


def test_early_stopping_counts_like_keras():
    stop = _EarlyStopping(TrainConfig(early_stopping_patience=2, monitor="val_loss"))
    assert [stop.end_epoch(0.5, v) for v in (1.0, 0.9, 0.95, 0.91, 0.8)] == [
        False, False, False, True, True]
    never = _EarlyStopping(TrainConfig())
    assert not any(never.end_epoch(0.5, 1.0) for _ in range(10))


def test_fit_stops_early_resumes_stopped_and_applies_the_transform(tmp_path):
    x = images(16, 8)
    y = torch.arange(16) % 2
    seen = []

    def transform(xb):
        seen.append(len(xb))
        return torch.zeros_like(xb)  # the model sees nothing: validation cannot improve

    cfg = TrainConfig(epochs=20, batch_size=8, lr=1e-3, channels_last=False,
                      early_stopping_patience=2, monitor="val_loss", scheduler="plateau")
    logs = []
    res = fit(tiny(), (x, y), (x, y), cfg, tmp_path, transform=transform,
              log=logs.append, val_criterion=lambda lg, t: torch.tensor(1.0))
    assert res.stopped_early and len(res.history) == 3 and sum(seen) == 3 * 16
    assert any("early stopping" in s for s in logs)
    again = fit(tiny(), (x, y), (x, y), cfg, tmp_path, transform=transform,
                log=lambda s: 0, val_criterion=lambda lg, t: torch.tensor(1.0))
    assert again.stopped_early and len(again.history) == 3 and sum(seen) == 3 * 16


def test_plateau_can_watch_the_validation_loss():
    from roadlite.training import _Schedule

    s = _Schedule(TrainConfig(lr=1.0, scheduler="plateau", plateau_patience=0,
                              monitor="val_loss"), 4)
    s.end_epoch(0, 0.5, 1.0)
    s.end_epoch(1, 0.9, 0.8)  # accuracy and loss both better
    assert s.lr_at(2, 0) == 1.0
    s.end_epoch(2, 0.99, 0.85)  # accuracy better, loss worse: the loss decides
    assert s.lr_at(3, 0) == pytest.approx(0.1)


# --------------------------------------------------------------------------- INT8 export


@pytest.mark.slow
def test_int8_tflite_agrees_with_pytorch(tmp_path):
    from roadlite.crack_classifier import export_int8, tflite_probabilities

    torch.manual_seed(0)
    m = build_classifier("finetuned", PolatClassifier().features.state_dict()).eval()
    m.head[1].weight.data.normal_(0, 0.05)
    x = images(24, 32)
    with torch.no_grad():  # calibrate batch norm on the images, so activations are O(1)
        m.train()
        for _ in range(3):
            m(normalize(x))
        m.eval()
    path = export_int8(m, tmp_path / "c.tflite", 32, x)
    p_torch = predict_proba(m, x)
    p_int8 = tflite_probabilities(path, x)
    assert p_int8.shape == (24,) and np.abs(p_int8 - p_torch).max() < 0.1
    assert path.stat().st_size < 3_500_000  # int8 weights: about a quarter of float32's 9 MB


# --------------------------------------------------------------------------- real data


@pytest.mark.realdata
def test_ozgenel_subset_keeps_its_listed_pairs_together():
    root = shared("concrete_crack_ozgenel_subset")
    oz = ozgenel_manifest(root, seed=0)
    df = oz.manifest.assign(name=lambda d: d["path"].map(lambda p: Path(p).parent.name + "/"
                                                          + Path(p).stem))
    assert len(df) == 700 and (df["class"] == "crack").sum() == 350
    split = df.set_index("name")["split"]
    assert split["Positive/00006"] == split["Positive/00007"]
    for a in (39, 177, 208, 229, 239, 242, 301, 330, 342, 344):
        assert split[f"Negative/{a:05d}"] == split[f"Negative/{a + 1:05d}"]
    assert len(oz.duplicate_groups) >= 11
    assert (df["split"].value_counts(normalize=True)["train"]) == pytest.approx(0.8, abs=0.02)


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["deepcrack", "crackforest_cfd"])
def test_patches_from_real_masks(name):
    from roadlite.crack_classifier import crack_patches

    root = shared(name)
    ps = crack_patches(root, name, patch_size=128, img_size=64, max_per_class=6, seed=0)
    assert len(ps) == 12 and ps.labels.sum() == 6 and ps.images.shape == (12, 3, 64, 64)
    crack = ps.masks[ps.labels.numpy() == 1]
    assert all(m.any() for m in crack) and not ps.masks[ps.labels.numpy() == 0].any()
    assert set(ps.origin["dataset"]) == {name}


def test_variants_are_the_three_of_the_chapter():
    assert VARIANTS == ("frozen_transfer", "frozen_random", "finetuned")


def test_results_page_section_reads_only_metrics():
    from roadlite.paper_numbers import POLAT
    from roadlite.results import MISSING, polat_section

    assert MISSING in "\n".join(polat_section({}))
    metrics = {"source": "generated", "img_size": 96, "selected_variant": "finetuned",
               "backbone_weights": "chapter03",
               "test": {"accuracy": 0.9, "precision": 0.8, "recall": 0.7, "f1": 0.75,
                        "dice": 0.75, "iou": 0.6, "soft_dice": 0.7},
               "cross_domain": {"all": {"accuracy": 0.55, "f1": 0.5}},
               "localisation": {"test": {"gradcam": {"energy_in_mask": 0.3, "area_share": 0.1,
                                                     "pointing_game": 0.4}}},
               "tflite": {"crack classifier, INT8": {"size_mb": 2.75, "inference_ms": 0.5}}}
    text = "\n".join(polat_section({"10_crack_classifier": {"metrics": metrics, "run": {}}}))
    assert f"{POLAT['test']['accuracy']:.2f}" in text and "| 90.00 |" in text
    assert "55.00 / 50.00" in text and "30.0 / 10.0" in text and "| 40.0 |" in text
    assert "2.75 / 0.50" in text and "`finetuned`" in text
    # Table 3's train row beside this run's train split (no augmentation)
    assert "| train accuracy (%, this run: no augmentation) | 99.78 | *not run* |" in text
    trained = {**metrics, "train": {"accuracy": 0.95, "f1": 0.925}}
    text = "\n".join(polat_section({"10_crack_classifier": {"metrics": trained, "run": {}}}))
    assert "| train accuracy (%, this run: no augmentation) | 99.78 | 95.00 |" in text
    assert "| train f1 (%, this run: no augmentation) | 99.78 | 92.50 |" in text
    # a run without masks, patches or export says so instead of inventing numbers
    bare = {k: v for k, v in metrics.items() if k in ("test", "source")}
    text = "\n".join(polat_section({"10_crack_classifier": {"metrics": bare, "run": {}}}))
    assert text.count(MISSING) == 6


def test_batch_norm_calibration_gives_a_random_body_informative_features():
    x = images(32, 32)
    plain = build_classifier("frozen_random", None, seed=0).eval()
    calib = build_classifier("frozen_random", None, seed=0, calibration=x).eval()
    assert torch.equal(plain.features[0][0].weight, calib.features[0][0].weight)
    bn = calib.features[0][1]
    with torch.no_grad():
        first = calib.features[0][0](normalize(x))
    assert torch.allclose(bn.running_mean, first.mean(dim=(0, 2, 3)), atol=1e-4)
    assert bn.momentum == plain.features[0][1].momentum  # restored
    with torch.no_grad():
        f_plain = plain.features(normalize(x)).mean(dim=(2, 3))
        f_calib = calib.features(normalize(x)).mean(dim=(2, 3))
    # features that differ from image to image (the calibrated body) vs nearly constant ones
    assert f_calib.std(0).mean() > 10 * f_plain.std(0).mean()
