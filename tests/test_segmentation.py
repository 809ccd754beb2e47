"""Chapter 11_crack_segmentation: LR-CrackNet's networks, DMIA, losses, discriminator, metrics,
data checks and training phases."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import f1_score, jaccard_score, precision_score, recall_score

from roadlite.data.errors import DataError
from roadlite.segmentation import data as seg_data
from roadlite.segmentation import dmia, losses, metrics, networks, train
from roadlite.segmentation.discriminator import AttentionDiscriminator, DirectionalSpatialAttention
from roadlite.training import TrainConfig


@pytest.fixture(autouse=True)
def _one_thread():
    # two threads on a shared two-core machine are several times slower than one
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

# ---------------------------------------------------------------- networks


def test_student_width_30_is_close_to_the_papers_count():
    n = networks.count_params(networks.LRCrackNet(30))
    assert n == 3_845_080
    assert abs(n - 3_856_000) / 3_856_000 < 0.01


def test_teacher_adds_only_the_boundary_stem():
    s, t = networks.LRCrackNet(8), networks.LRCrackNet(8, boundary_input=True)
    stem = networks.count_params(networks.DLC(1, 8))
    assert networks.count_params(t) - networks.count_params(s) == stem


def test_unet_32_parameters():
    assert networks.count_params(networks.UNet(32)) == 4_318_401


@pytest.mark.parametrize("bottleneck", networks.BOTTLENECKS)
@pytest.mark.parametrize("rdldc", [True, False])
def test_lrcracknet_shapes(bottleneck, rdldc):
    m = networks.LRCrackNet(8, rdldc=rdldc, bottleneck=bottleneck).eval()
    y, f = m(torch.randn(2, 3, 48, 64), return_features=True)
    assert y.shape == (2, 1, 48, 64)
    assert f.shape == (2, 8, 24, 32)  # up3: half resolution, width channels


def test_casvit_block_shapes_and_parameters():
    """Table II's fourth row ([30] = CAS-ViT): shapes kept, parameters counted by hand
    (local integration 2c^2 + 12c, two BatchNorms 4c, CATM 5c^2 + 46c, MLP 8c^2 + 5c)."""
    for c, hw in ((16, (5, 7)), (24, (3, 4))):
        block = networks.CASViTBlock(c).eval()
        y = block(torch.randn(2, c, *hw))
        assert y.shape == (2, c, *hw)
        assert networks.count_params(block) == 15 * c * c + 67 * c
        mixer = networks.AdditiveTokenMixer(c)
        assert networks.count_params(mixer) == 5 * c * c + 46 * c
    # the additive mixer by hand: proj(context(Phi_q(Q) + Phi_k(K)) * V)
    mixer = networks.AdditiveTokenMixer(8).eval()
    x = torch.randn(1, 8, 6, 6)
    q, k, v = mixer.qkv(x).chunk(3, dim=1)
    ref = mixer.proj(mixer.context(mixer.phi_q(q) + mixer.phi_k(k)) * v)
    assert torch.allclose(mixer(x), ref)
    # in the network: "casvit" puts the block at the bottleneck (8w channels), "standard" is ours
    m = networks.LRCrackNet(8, bottleneck="casvit")
    assert isinstance(m.bottleneck, networks.CASViTBlock)
    assert networks.count_params(m.bottleneck) == 15 * 64 * 64 + 67 * 64
    assert isinstance(networks.LRCrackNet(8, bottleneck="standard").bottleneck,
                      networks.StandardTransformer)


def test_teacher_needs_and_uses_the_boundary():
    t = networks.LRCrackNet(8, boundary_input=True).eval()
    x = torch.randn(1, 3, 32, 32)
    with pytest.raises(ValueError, match="boundary"):
        t(x)
    a = t(x, torch.zeros(1, 1, 32, 32))
    b = t(x, torch.ones(1, 1, 32, 32))
    assert not torch.allclose(a, b)


def test_bad_width_and_bottleneck():
    with pytest.raises(ValueError, match="width"):
        networks.LRCrackNet(7)
    with pytest.raises(ValueError, match="bottleneck"):
        networks.LRCrackNet(8, bottleneck="fastest")


def test_spatial_attention_eq1_by_hand():
    sa = networks.SpatialAttention()
    x = torch.randn(2, 5, 9, 9)
    ref = x * torch.sigmoid(sa.conv(torch.cat([x.mean(1, keepdim=True),
                                               x.max(1, keepdim=True).values], 1)))
    assert torch.allclose(sa(x), ref)


def test_rfmm_is_residual_when_output_conv_is_zero():
    r = networks.ResidualFeatureMixer(8)
    torch.nn.init.zeros_(r.dw_out.weight)
    torch.nn.init.zeros_(r.dw_out.bias)
    x = torch.randn(1, 8, 5, 5)
    assert torch.allclose(r(x), x)
    with pytest.raises(ValueError, match="even"):
        networks.ResidualFeatureMixer(7)


def test_rdldc_is_lighter_than_dlc():
    assert networks.count_params(networks.RDLDC(32, 64)) < networks.count_params(
        networks.DLC(32, 64)) / 4


# ---------------------------------------------------------------- DMIA


def _bar(width: int, size: int = 64) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    m[size // 2 - width // 2: size // 2 - width // 2 + width, 8:56] = 1
    return m


def test_erosion_count_grows_with_width():
    counts = [dmia.erosion_count(_bar(w)) for w in (1, 3, 5, 9)]
    assert counts == [1, 2, 3, 5]
    assert dmia.erosion_count(np.zeros((8, 8))) == 0


def test_wider_crack_gives_wider_boundary():
    def band(width):
        b = dmia.dmia_boundary(_bar(width))
        return int(b[:, 32].sum())  # boundary pixels across the bar in one column

    assert band(1) == 2 and band(3) == 4 and band(9) == 10  # 2 r with r = erosions
    b = dmia.dmia_boundary(_bar(3))
    assert not (b & _bar(3)).any()  # the mask itself is subtracted


def test_dmia_factor_and_empty_mask():
    assert dmia.dmia_radius(_bar(9), factor=0.5) == 2  # round(0.5 * 5)
    assert dmia.dmia_radius(_bar(1), factor=0.1) == 1  # at least one pixel
    assert not dmia.dmia_boundary(np.zeros((8, 8), np.uint8)).any()
    with pytest.raises(ValueError):
        dmia.dmia_radius(_bar(3), factor=0)
    out = dmia.dmia_batch(torch.from_numpy(np.stack([_bar(3), _bar(5)])[:, None]))
    assert out.shape == (2, 1, 64, 64)


# ---------------------------------------------------------------- losses


def test_cwd_zero_for_equal_maps_and_by_hand():
    t = torch.randn(2, 3, 4, 4)
    assert float(losses.channel_wise_divergence(t, t)) == pytest.approx(0.0, abs=1e-6)
    s = torch.randn(2, 3, 4, 4)
    p = torch.softmax(t.reshape(6, -1), 1)
    q = torch.softmax(s.reshape(6, -1), 1)
    ref = (p * (p.log() - q.log())).sum() / 6
    assert float(losses.channel_wise_divergence(s, t)) == pytest.approx(float(ref), rel=1e-5)
    # tau scales by tau^2 of the softened maps
    t2 = float(losses.channel_wise_divergence(s, t, tau=2.0))
    p2, q2 = torch.softmax(t.reshape(6, -1) / 2, 1), torch.softmax(s.reshape(6, -1) / 2, 1)
    assert t2 == pytest.approx(float(4 * (p2 * (p2.log() - q2.log())).sum() / 6), rel=1e-5)
    with pytest.raises(ValueError, match="adapter"):
        losses.channel_wise_divergence(torch.zeros(1, 2, 3, 3), torch.zeros(1, 3, 3, 3))


def test_dice_and_segmentation_loss():
    y = torch.zeros(1, 1, 4, 4)
    y[..., :2, :] = 1
    perfect = (y * 2 - 1) * 50
    assert float(losses.dice_loss(perfect, y)) == pytest.approx(0.0, abs=1e-4)
    assert float(losses.segmentation_loss(perfect, y)) < 1e-3
    assert float(losses.segmentation_loss(-perfect, y)) > 10


def test_adversarial_losses_by_hand():
    w = losses.LossWeights()
    zero = (torch.zeros(2, 1), torch.zeros(2, 1, 4, 4))  # logit 0: D says 1/2 everywhere
    log2 = float(np.log(2))
    assert float(losses.discriminator_loss(zero, zero, w)) == pytest.approx(0.4 * 4 * log2)
    assert float(losses.generator_loss(zero, w)) == pytest.approx(0.5 * 2 * log2)


def test_adversarial_terms_follow_their_weights():
    """Table I's "+ L_Dg" row (d_local = 0): neither side has a per-pixel term, so the segmenter
    gets no gradient from the untrained per-pixel head; likewise for d_global = 0."""
    log2 = float(np.log(2))
    glob = torch.zeros(2, 1, requires_grad=True)  # logit 0: -log sigmoid = log 2
    pix = torch.full((2, 1, 4, 4), -20.0, requires_grad=True)  # "fake" for sure: -log s = 20
    only_global = losses.LossWeights(d_local=0.0)
    g = losses.generator_loss((glob, pix), only_global)
    assert float(g) == pytest.approx(0.5 * log2)
    g.backward()
    assert pix.grad is None or float(pix.grad.abs().sum()) == 0.0
    assert float(glob.grad.abs().sum()) > 0
    only_local = losses.LossWeights(d_global=0.0)
    assert float(losses.generator_loss((glob, pix), only_local)) == pytest.approx(0.5 * 20, rel=1e-6)
    # weights scale the terms (1 and 1 in the paper: L_G of Eq. 22 unchanged)
    both = float(losses.generator_loss((glob, pix), losses.LossWeights(d_global=2.0)))
    assert both == pytest.approx(0.5 * (2 * log2 + 20), rel=1e-6)
    # the discriminator side: the per-pixel term drops out with d_local = 0, even if non-finite
    real = (torch.zeros(2, 1), torch.full((2, 1, 4, 4), float("nan")))
    d = losses.discriminator_loss(real, (torch.zeros(2, 1), pix.detach()), only_global)
    assert float(d) == pytest.approx(0.4 * 2 * log2)
    with pytest.raises(ValueError, match="d_global and d_local are both 0"):
        losses.generator_loss((glob, pix), losses.LossWeights(d_global=0.0, d_local=0.0))
    with pytest.raises(ValueError, match="d_local"):
        losses.discriminator_loss(real, real, losses.LossWeights(d_local=-1.0))


def test_distiller_adapter_when_channels_differ():
    d = losses.Distiller(4, 8)
    assert isinstance(d.adapter, torch.nn.Conv2d)
    parts = d(torch.randn(1, 1, 8, 8), torch.randn(1, 4, 4, 4), torch.randn(1, 1, 8, 8),
              torch.randn(1, 8, 4, 4), torch.ones(1, 1, 8, 8))
    assert set(parts) == {"seg", "fd", "ld"}
    assert isinstance(losses.Distiller(8, 8).adapter, torch.nn.Identity)
    assert set(losses.Distiller(8, 8, feature=False)(
        torch.randn(1, 1, 8, 8), None, torch.randn(1, 1, 8, 8), None, torch.ones(1, 1, 8, 8))
    ) == {"seg", "ld"}


# ---------------------------------------------------------------- discriminator


def test_discriminator_shapes():
    d = AttentionDiscriminator(8)
    g, p = d(torch.randn(2, 3, 32, 48), torch.rand(2, 1, 32, 48))
    assert g.shape == (2, 1) and p.shape == (2, 1, 32, 48)
    with pytest.raises(ValueError, match="multiple of 16"):
        d(torch.randn(1, 3, 30, 32), torch.rand(1, 1, 30, 32))


def test_dsa_keeps_shape_and_depends_on_direction():
    dsa = DirectionalSpatialAttention(8, groups=4).eval()
    x = torch.randn(1, 8, 6, 10)
    y = dsa(x)
    assert y.shape == x.shape
    assert not torch.allclose(y, x)
    with pytest.raises(ValueError):
        DirectionalSpatialAttention(6, groups=4)


# ---------------------------------------------------------------- metrics


def test_pooled_metrics_match_sklearn():
    rng = np.random.default_rng(0)
    prob = rng.random((5, 1, 7, 7))
    y = (rng.random((5, 1, 7, 7)) < 0.3).astype(np.uint8)
    m = metrics.pooled_metrics(prob, y)
    yt, yp = y.ravel(), (prob.ravel() >= 0.5).astype(int)
    assert m["precision"] == pytest.approx(precision_score(yt, yp))
    assert m["recall"] == pytest.approx(recall_score(yt, yp))
    assert m["f1"] == pytest.approx(f1_score(yt, yp))
    assert m["iou"] == pytest.approx(jaccard_score(yt, yp))
    assert m["iou_background"] == pytest.approx(jaccard_score(1 - yt, 1 - yp))
    assert m["aiou"] == pytest.approx(jaccard_score(yt, yp, average="macro"))
    assert m["tp"] + m["fp"] + m["fn"] + m["tn"] == y.size


def test_pooled_is_not_the_per_image_mean():
    y = np.zeros((2, 4, 4), np.uint8)
    y[0, 0, :] = 1  # 4 crack pixels
    y[1, :, :2] = 1  # 8 crack pixels
    p = y.astype(float).copy()
    p[0, 0, :2] = 0  # image 0: F1 2/3
    pooled = metrics.pooled_metrics(p, y)["f1"]
    assert pooled == pytest.approx(2 * 10 / (2 * 10 + 2))
    assert pooled != pytest.approx((2 / 3 + 1) / 2)


def test_ods_ois():
    y = np.zeros((2, 4, 4), np.uint8)
    y[0, 0] = 1
    y[1, 1] = 1
    p = np.zeros((2, 4, 4))
    p[0, 0] = 0.9
    p[1, 1] = 0.3  # image 1 needs a low threshold
    r = metrics.ods_ois(p, y)
    assert r["ods_f1"] == pytest.approx(1.0) and r["ods_threshold"] <= 0.3
    assert r["ois_f1"] == pytest.approx(1.0)
    p[1, 2] = 0.95  # a false positive that only a high threshold on image 1 would... not avoid
    r = metrics.ods_ois(p, y)
    assert r["ois_f1"] < 1.0
    with pytest.raises(ValueError):
        metrics.ods_ois(p, y[:1])
    with pytest.raises(ValueError):
        metrics.confusion(p, y[:1])


# ---------------------------------------------------------------- data checks


def _write(tmp, name, img_size, mask):
    Image.new("RGB", img_size, (90, 90, 90)).save(tmp / f"{name}.png")
    Image.fromarray(mask).save(tmp / f"{name}_m.png")
    return {"path": str(tmp / f"{name}.png"), "mask_path": str(tmp / f"{name}_m.png"),
            "split": "train", "class": "crack"}


def test_loader_reads_masks_and_boundaries(tmp_path):
    import pandas as pd

    m = (_bar(5, 32) * 255).astype(np.uint8)
    df = pd.DataFrame([_write(tmp_path, "a", (32, 32), m)])
    d = seg_data.load_segmentation_split(df, "train", 32)
    assert d.x.shape == (1, 3, 32, 32) and d.mask.shape == (1, 1, 32, 32)
    assert int(d.mask.sum()) == int((m > 0).sum())
    assert int(d.boundary.sum()) > 0 and not (d.boundary & d.mask).any()


def test_loader_bad_input_names_the_file(tmp_path):
    import pandas as pd

    m = (_bar(5, 32) * 255).astype(np.uint8)
    size = pd.DataFrame([_write(tmp_path, "b", (40, 32), m)])
    with pytest.raises(DataError, match="b_m.png.*32x32.*b.png.*40x32"):
        seg_data.load_segmentation_split(size, "train", 32)
    grey = np.random.default_rng(0).integers(0, 256, (32, 32)).astype(np.uint8)
    g = pd.DataFrame([_write(tmp_path, "c", (32, 32), grey)])
    with pytest.raises(DataError, match="c_m.png is not binary"):
        seg_data.load_segmentation_split(g, "train", 32)
    row = _write(tmp_path, "d", (32, 32), m)
    row["mask_path"] = ""
    with pytest.raises(DataError, match="d.png: image without a mask"):
        seg_data.load_segmentation_split(pd.DataFrame([row]), "train", 32)
    with pytest.raises(DataError, match="split 'val' is empty"):
        seg_data.load_segmentation_split(size, "val", 32)


def test_crack_rows_keep_crack_classes():
    import pandas as pd

    df = pd.DataFrame({"class": ["alligator", "broken_marking", "intact", "crack"]})
    assert list(seg_data.crack_rows(df)["class"]) == ["alligator", "intact", "crack"]
    assert list(seg_data.crack_rows(df, include_intact=False)["class"]) == ["alligator", "crack"]


def test_deepcrack_split_moves_shared_images_out(tmp_path):
    import shutil

    import pandas as pd

    rng = np.random.default_rng(0)
    rows = []

    def add(name, split):
        rows.append({"path": str(tmp_path / name), "mask_path": "", "class": "crack",
                     "condition": "", "split": split, "sha256": ""})

    for i in range(6):
        noise = rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)
        Image.fromarray(noise).save(tmp_path / f"tr{i}.png")
        add(f"tr{i}.png", "train")
    shutil.copy(tmp_path / "tr2.png", tmp_path / "te0.png")  # a picture shared with test
    Image.fromarray(rng.integers(0, 256, (64, 64, 3)).astype(np.uint8)).save(tmp_path / "te1.png")
    add("te0.png", "test")
    add("te1.png", "test")
    df, removed = seg_data.deepcrack_split(pd.DataFrame(rows), seed=0, n_val=2)
    assert removed == [(str(tmp_path / "tr2.png"), str(tmp_path / "te0.png"))]
    assert (df["split"] == "test").sum() == 2
    assert (df["split"] == "val").sum() + (df["split"] == "train").sum() == 5
    assert str(tmp_path / "tr2.png") not in set(df["path"])


# ---------------------------------------------------------------- training phases


def _toy(n=8, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 60, (n, 3, size, size), generator=g, dtype=torch.uint8)
    m = torch.zeros(n, 1, size, size, dtype=torch.uint8)
    for i in range(n):
        c = 4 + 3 * i % (size - 8)
        m[i, 0, :, c:c + 3] = 1
        x[i, :, :, c:c + 3] = 220  # bright cracks: learnable
    b = dmia.dmia_batch(m)
    return seg_data.SegData(x, m, b)


def test_three_phases_run_and_resume(tmp_path):
    torch.manual_seed(0)
    data = _toy()
    cfg = TrainConfig(epochs=2, batch_size=4, optimizer="adam", lr=1e-3, weight_decay=0.0,
                      scheduler="cosine", seed=0)
    teacher = networks.LRCrackNet(8, boundary_input=True)
    r1 = train.train_phase(teacher, data, data, cfg, tmp_path / "t1", "image", crop=32, log=str)
    r2 = train.train_phase(teacher, data, data, cfg, tmp_path / "t2", "boundary", crop=32,
                           log=str)
    student, disc = networks.LRCrackNet(8), AttentionDiscriminator(8)
    r3 = train.train_phase(student, data, data, cfg, tmp_path / "s", "student", crop=16,
                           teacher=teacher, discriminator=disc, log=str)
    assert {"seg", "fd", "ld", "g", "d"} <= set(r3.history[0])
    assert all(r.best_epoch >= 1 for r in (r1, r2, r3))
    assert not any(p.requires_grad for p in teacher.parameters())
    # a second call resumes from last.pt and trains no further
    r4 = train.train_phase(student, data, data, cfg, tmp_path / "s", "student", crop=16,
                           teacher=teacher, discriminator=disc, log=str)
    assert r4.resumed_from_epoch == 2 and r4.history == r3.history
    with pytest.raises(ValueError, match="teacher"):
        train.train_phase(student, data, data, cfg, tmp_path / "x", "student", crop=16)


def test_plain_phase_learns_a_bright_crack(tmp_path):
    torch.manual_seed(0)
    data = _toy(16)
    cfg = TrainConfig(epochs=15, batch_size=8, optimizer="adam", lr=3e-3, weight_decay=0.0,
                      scheduler="none", seed=0)
    m = networks.UNet(8)
    res = train.train_phase(m, data, data, cfg, tmp_path / "u", "plain", crop=32, log=str)
    scores, probs = train.evaluate(m, data)
    assert probs.shape == (16, 1, 32, 32)
    assert scores["f1"] > 60, res.history


def test_diamond_element():
    assert dmia.diamond(1).tolist() == [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
    assert int(dmia.diamond(3).sum()) == 25  # 2 r^2 + 2 r + 1


# ---------------------------------------------------------------- results page, paper numbers


def _iou_from_f1_holds(f1: float, iou: float) -> bool:
    """Can a true F1 that prints as ``f1`` give a true IoU = F1 / (2 - F1) that prints as
    ``iou`` (both in %, three decimals)? The printed digits may be rounded or cut: all 47 pairs of
    Tables I-V fit cutting, 46 fit rounding (Table V's HrSegNet, 80.673 / 67.608, is 0.0013 off
    F1 / (2 - F1) = 67.6067, beyond rounding's 0.0012). IoU rises with F1, so the interval of
    F1 maps onto an interval of IoU."""
    def g(f):
        return 100 * (f / 100) / (2 - f / 100)
    rounded = g(f1 - 0.0005) <= iou + 0.0005 and g(f1 + 0.0005) >= iou - 0.0005
    cut = g(f1) < iou + 0.001 and g(f1 + 0.001) > iou
    return rounded or cut


def test_paper_f1_iou_pairs_come_from_one_pooled_confusion_matrix():
    """Every (F1, IoU) pair of LR-CrackNet's Tables I-V in paper_numbers satisfies
    IoU = F1 / (2 - F1): the evidence that the paper's F1 and IoU come from one confusion matrix
    (pooled), since per-image means of F1 and IoU do not obey it. The paper states no protocol."""
    from roadlite.paper_numbers import LR_CRACKNET

    pairs = {(table, row): (v["f1"], v["iou"]) for table, rows in LR_CRACKNET.items()
             if isinstance(rows, dict) for row, v in rows.items()
             if isinstance(v, dict) and {"f1", "iou"} <= set(v)}
    tables = {t for t, _ in pairs}
    assert tables >= {"table1_deepcrack", "table1_camcrack789", "table2_deepcrack",
                      "table2_camcrack789", "table3_udtiri_crack", "table4_deepcrack_all",
                      "table5_camcrack789"}
    # Table I: 2 x 5, Table II: 2 x 5, Tables III-V: 3 x 9 pairs
    assert sum(t != "table4_deepcrack" for t, _ in pairs) == 47
    bad = {k: v for k, v in pairs.items() if not _iou_from_f1_holds(*v)}
    assert not bad, f"(F1, IoU) pairs off IoU = F1 / (2 - F1): {bad}"
    # the check can fail: a transcription slip of one unit in the second decimal is caught
    assert not _iou_from_f1_holds(84.099, 72.571)
    # and the identity holds for the book's own pooled scores
    s = metrics.scores({"tp": 123, "fp": 45, "fn": 67, "tn": 10_000})
    assert s["iou"] == pytest.approx(s["f1"] / (2 - s["f1"]))


def test_lr_cracknet_section_reads_metrics_only():
    from roadlite.paper_numbers import LR_CRACKNET
    from roadlite.results import lr_cracknet_section

    assert LR_CRACKNET["fps_ratio_to_unet"] == pytest.approx(0.861, abs=1e-3)
    missing = lr_cracknet_section({})
    assert "did not run" in missing[-1] or "11_crack_segmentation" in missing[-1]
    found = {"11_crack_segmentation": {"metrics": {
        "test": {"student (distilled)": {"f1": 71.25, "iou": 55.5, "aiou": 77.0,
                                         "params": 1000}},
        "fps_ratio": {"fps_torch": 0.912, "fps_litert": 1.5},
        "paper_params_student_w30": 3_845_080, "source": "chapter 01 (generated)"}}}
    text = "\n".join(lr_cracknet_section(found))
    assert "71.25" in text and "84.10" in text and "0.912" in text and "3,845,080" in text
    # the paper's U-Net has no AIoU (Table II: F1 and IoU): "not reported", not "not run"
    unet_row = next(line for line in text.splitlines() if line.startswith("| U-Net |"))
    assert "not reported" in unet_row and "79.59" in unet_row
    assert "authors' protocol" not in text and "350 epochs" not in text


@pytest.mark.realdata
def test_deepcrack_real_split_keeps_test_images_out_of_training():
    """DeepCrack (../shared/data): 300 training and 237 test images; the 10 training images that
    are also test images (and any near-duplicate) leave training, the test split stays whole."""
    from roadlite.data.real import scan_dataset
    from roadlite.paths import shared_data_dir

    root = shared_data_dir() / "deepcrack"
    if not root.is_dir():
        pytest.skip("../shared/data/deepcrack is absent (a user's clone)")
    df, removed = seg_data.deepcrack_split(scan_dataset(root, seed=0), seed=0, n_val=90)
    counts = df["split"].value_counts().to_dict()
    assert counts["test"] == 237
    assert 10 <= len(removed) <= 12
    assert counts["train"] + counts["val"] == 300 - len(removed) and 80 <= counts["val"] <= 90
    test_paths = set(df[df["split"] == "test"]["path"])
    assert not any(a in set(df[df["split"] != "test"]["path"]) for a, _ in removed)
    assert all(b in test_paths for _, b in removed)


def _same_weights(a, b):
    return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(),
                                                 strict=True))


def test_chapter_phases_are_the_chapters_calls_of_train_phase(tmp_path):
    """ChapterPhases (chapter 11's phase helpers) reseeds, builds and trains as the chapter did
    by hand: the same weights as direct train_phase calls, checkpoints under checkpoints/."""
    import copy

    from roadlite.segmentation.phases import ChapterPhases

    data = _toy()
    params = {"seed": 3, "crop": 16, "val_every": 1, "width": 8, "disc_width": 8,
              "student_epochs": 1, "student_lr": 1e-3, "batch_size": 4, "optimizer": "adam",
              "weight_decay": 0.0, "scheduler": "cosine", "device": "cpu", "progress": False}
    phases = ChapterPhases(params, data, data, tmp_path / "checkpoints")
    torch.manual_seed(0)
    teacher = networks.LRCrackNet(8, boundary_input=True)
    phases.teacher(teacher, "image", 1, 1e-3, "teacher_image")
    torch.manual_seed(99)  # the student reseeds: what ran before does not matter
    student, res = phases.student("student", teacher)
    init = networks.UNet(8)
    start = copy.deepcopy(init.state_dict())
    plain, res_plain = phases.plain("alone", init)
    assert plain is init and res.best_epoch == 1 and res_plain.best_epoch == 1
    assert {p.name for p in (tmp_path / "checkpoints").iterdir()} == {
        "teacher_image", "student", "alone"}

    cfg = train.phase_config(params, 1, 1e-3)
    torch.manual_seed(3)
    ref = networks.LRCrackNet(8)
    disc = AttentionDiscriminator(8)
    train.train_phase(ref, data, data, cfg, tmp_path / "ref", "student", crop=16, val_every=1,
                      teacher=teacher, discriminator=disc, name="student", log=str)
    assert _same_weights(student, ref)
    ref_plain = networks.UNet(8)
    ref_plain.load_state_dict(start)
    torch.manual_seed(3)
    train.train_phase(ref_plain, data, data, cfg, tmp_path / "ref_plain", "plain", crop=16,
                      val_every=1, name="alone", log=str)
    assert _same_weights(plain, ref_plain)
    # without the discriminator the student trains otherwise (a different phase fingerprint)
    no_disc, _ = phases.student("no_disc", teacher, discriminator=False)
    assert not _same_weights(no_disc, student)
