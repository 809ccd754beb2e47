"""Chapter 10_crack_classifier: Grad-CAM through pytorch_grad_cam, the mask dilation, the
CAM energy inside the mask, the pointing game and the galleries."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage
from torch import nn

from roadlite.localisation import (
    area_share,
    cam_gallery,
    compute_cams,
    dilate,
    energy_in_mask,
    gallery_indices,
    localisation_table,
    measure_localisation,
    overlay,
    plot_localisation,
    pointing_hit,
    summarise_localisation,
)


class Brightness(nn.Module):
    """A toy classifier whose crack logit is the mean brightness of its feature map: a
    bright square is what it "sees"."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 2, 1), nn.ReLU(), nn.AvgPool2d(4))
        with torch.no_grad():
            self.features[0].weight.fill_(0.5)
            self.features[0].bias.fill_(0.0)

    @property
    def target_layer(self):
        return self.features[-1]

    def forward(self, x):
        z = self.features(x).mean(dim=(1, 2, 3)).unsqueeze(1)
        return torch.cat([torch.zeros_like(z), z], 1)


def square_images(n=3, size=32, at=((2, 2), (20, 6), (8, 22))):
    x = torch.zeros(n, 3, size, size, dtype=torch.uint8)
    masks = np.zeros((n, size, size), bool)
    for i, (r, c) in enumerate(at[:n]):
        x[i, :, r:r + 8, c:c + 8] = 255
        masks[i, r:r + 8, c:c + 8] = True
    return x, masks


@pytest.mark.parametrize("method", ["gradcam", "gradcam++"])
def test_cams_point_at_what_the_model_sees(method):
    x, masks = square_images()
    model = Brightness()
    cams = compute_cams(model, x, method)
    assert cams.shape == (3, 32, 32) and cams.min() >= 0 and cams.max() <= 1 + 1e-6
    t = localisation_table(cams, masks, radius=2)
    assert t["hit"].all()
    assert (t["energy_in_mask"] > 2 * t["area_share"]).all()


def test_eigencam_marks_the_square_up_to_its_sign():
    """EigenCAM projects on the first principal component, whose sign an SVD leaves open: its
    map is the square or everything but the square."""
    x, masks = square_images()
    cams = compute_cams(Brightness(), x, "eigencam")
    inside = np.array([c[m].mean() for c, m in zip(cams, masks, strict=True)])
    outside = np.array([c[~m].mean() for c, m in zip(cams, masks, strict=True)])
    assert np.all(np.abs(inside - outside) > 0.5)


def test_cams_on_a_frozen_model_restore_the_gradient_flags():
    model = Brightness()
    for p in model.parameters():
        p.requires_grad_(False)
    x, masks = square_images()
    cams = compute_cams(model, x, "gradcam")
    assert localisation_table(cams, masks, 1)["hit"].all()
    assert not any(p.requires_grad for p in model.parameters())
    assert all(p.grad is None for p in model.parameters())


def test_cams_equal_the_package_called_directly():
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    from roadlite.crack_classifier import PolatClassifier
    from roadlite.data import normalize

    torch.manual_seed(0)
    model = PolatClassifier(frozen=False).eval()
    model.head[1].weight.data.normal_(0, 1)
    x = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    ours = compute_cams(model, x, "gradcam")
    with GradCAM(model=model, target_layers=[model.features[-1]]) as cam:
        ref = cam(input_tensor=normalize(x), targets=[ClassifierOutputTarget(1)] * 2)
    assert np.allclose(ours, ref, atol=1e-5)
    with pytest.raises(ValueError, match="unknown CAM method"):
        compute_cams(model, x, "magic")


def test_dilation_matches_scipy():
    import cv2

    rng = np.random.default_rng(0)
    mask = rng.random((3, 40, 50)) > 0.97
    for r in (0, 1, 3):
        ours = dilate(mask, r)
        if r == 0:
            assert np.array_equal(ours, mask)
            continue
        se = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)).astype(bool)
        ref = np.stack([ndimage.binary_dilation(m, structure=se) for m in mask])
        assert np.array_equal(ours, ref)


def test_energy_area_and_pointing():
    mask = np.zeros((10, 10), bool)
    mask[:, :3] = True
    assert area_share(mask) == pytest.approx(0.3)
    assert energy_in_mask(np.ones((10, 10)), mask) == pytest.approx(0.3)  # uniform = area
    inside = np.zeros((10, 10))
    inside[2:5, 0:2] = 1.0
    assert energy_in_mask(inside, mask) == pytest.approx(1.0)
    half = np.zeros((10, 10))
    half[0, 0], half[0, 9] = 3.0, 1.0
    assert energy_in_mask(half, mask) == pytest.approx(0.75)
    assert pointing_hit(half, mask) and not pointing_hit(half[:, ::-1], mask)
    assert np.isnan(energy_in_mask(np.zeros((10, 10)), mask))


def test_table_and_summary_leave_empty_masks_out():
    cams = np.zeros((3, 8, 8))
    cams[:, 0, 0] = 1.0
    masks = np.zeros((3, 8, 8), bool)
    masks[0, 0, 0] = True  # hit
    masks[2, 7, 7] = True  # miss; image 1 has no crack
    t = localisation_table(cams, masks, radius=0)
    assert t["index"].tolist() == [0, 2] and t["hit"].tolist() == [True, False]
    s = summarise_localisation(t)
    assert s["n"] == 2 and s["pointing_game"] == 0.5
    assert s["energy_in_mask"] == pytest.approx(0.5)
    assert s["area_share"] == pytest.approx(1 / 64)
    assert summarise_localisation(localisation_table(cams, np.zeros_like(masks), 1))["n"] == 0


def test_measure_localisation_maps_back_to_the_images():
    x, masks = square_images()
    masks[1] = False  # no crack in image 1
    summary, tables = measure_localisation(Brightness(), x, masks, ["gradcam"], 1, 10)
    assert tables["gradcam"]["index"].tolist() == [0, 2] and summary["gradcam"]["n"] == 2
    summary, tables = measure_localisation(Brightness(), x, masks, ["gradcam"], 1, 1, seed=0)
    assert summary["gradcam"]["n"] == 1 and tables["gradcam"]["index"].iloc[0] in (0, 2)


def test_gallery_groups_and_figures():
    y = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([0.9, 0.2, 0.1, 0.8, 0.6, 0.4])
    g = gallery_indices(y, p, n=2)
    assert g == {"correct crack": [0, 4], "correct no crack": [2, 5],
                 "false positive": [3], "false negative": [1]}
    x, masks = square_images(3)
    img = overlay(x[0].numpy(), np.ones((32, 32), np.float32) * 0.5)
    assert img.shape == (32, 32, 3) and img.dtype == np.uint8
    cams = {"gradcam": np.random.default_rng(0).random((3, 32, 32)).astype(np.float32)}
    fig = cam_gallery(x, cams, {"a": [0, 1], "b": [], "c": [2]}, np.array([0.9, 0.1, 0.5]),
                      masks=masks, radius=1)
    assert len(fig.axes) == 4 * 4
    t = localisation_table(cams["gradcam"], masks, 1)
    assert plot_localisation({"gradcam": t}).axes
