"""Numbers reported by the papers (labelled as the papers' wherever the book shows them).

Sources: Hu et al., "Lightweight deep learning for real-time road distress detection on mobile
devices" (MobiLiteNet), Nat. Commun. 16:4212 (2025): the text of its Results that describes
Fig. 5b (ablation: accuracy, parameters, size), Fig. 6b (processing times on a Huawei P40 and a
Meta Quest 3) and Fig. 7b (field tests); the exact parameter counts of the baseline and of the
final model are in the text on Fig. 4 ("from 2,228,996 to 498,283 parameters"). Where the paper
gives a parameter count only in words or rounded (Models 1 to 4), ``params`` holds a
stand-in and ``params_from`` says what the paper says and where the number comes from: for
Models 2 and 3, our count of the architecture in the authors' released code. Where the paper
gives no number, the value is ``None``. Apart from those stand-ins, these are facts quoted from
the paper, never results of this book: every number of *ours* comes from a ``metrics.json``.
Accuracies are the paper's value ± spread on its held-out test photos, as printed (kept as
``accuracy`` and ``accuracy_std``); the paper does not say what its ± is (a standard deviation or
an interval) nor what it is over (runs, seeds, test sets).
"""

from __future__ import annotations

MOBILITENET_SOURCE = "Hu et al., Nat. Commun. 16:4212 (2025), Results text on Figs. 4, 5b and 6b"

# model key -> accuracy mean / std (%), parameters, file size (MB) (Fig. 5b), end-to-end
# processing time on the Huawei P40 phone / Meta Quest 3 headset (ms, Fig. 6b; the text gives
# them for ResNet, MobileNetV2 and Model 5 only). ``params_from`` (where present): the paper's
# words on that count and the origin of the number in ``params``, for the pages to show.
MOBILITENET: dict[str, dict] = {
    # params: the paper gives no count, only "over 11 million" (and "ResNet", not which one).
    "resnet18": {"accuracy": 98.02, "accuracy_std": 0.20,
                 "params": None, "params_text": "over 11 million", "size_mb": 44.7, "latency_ms_phone": 592.6,
                 "latency_ms_headset": 1450.4},
    "mobilenet_v2": {"accuracy": 94.09, "accuracy_std": 0.41,
                     "params": 2_228_996, "size_mb": 8.9, "latency_ms_phone": 122.3,
                     "latency_ms_headset": 288.9},
    # params: the paper gives no number, only "without increasing the parameter count": the
    # baseline's 2,228,996 stands in (the authors' code's Model 1 has 2,019,966, our count).
    # No size given.
    "model1_eca": {"accuracy": 96.10, "accuracy_std": 0.34,
                   "params": 2_228_996, "size_mb": None,
                   "params_from": "the baseline's count stands in: for Model 1 the paper says "
                                  "only \"without increasing the parameter count\""},
    # params: the paper says "0.996 million"; 996,310 is our count of the authors' code's
    # Model 2 architecture.
    "model2_refined": {"accuracy": 93.43,
                       "accuracy_std": 0.38, "params": 996_310, "size_mb": 4.0,
                       "params_from": "our count of the authors' code's Model 2 architecture; "
                                      "the paper says \"0.996 million\""},
    # params: the paper's "maintaining the reduced parameter count", i.e. Model 2's, so our
    # count 996,310 stands in; it gives no size for Model 3 (Model 2's 4.0 MB is the nearest).
    "model3_kd": {"accuracy": 97.15, "accuracy_std": 0.29,
                  "params": 996_310, "size_mb": None,
                  "params_from": "our count of the authors' code's Model 2 architecture; for "
                                 "Model 3 the paper says \"maintaining the reduced parameter "
                                 "count\" (Model 2's \"0.996 million\")"},
    # params: Fig. 5b's text says "0.498 million"; 498,283 is the final model's exact count from
    # the text on Fig. 4, which quantization (Model 5) does not change.
    "model4_pruned": {"accuracy": 96.76, "accuracy_std": 0.26,
                      "params": 498_283, "size_mb": 2.0,
                      "params_from": "the paper's exact count of the final model stands in: for "
                                     "Model 4 it says \"0.498 million\""},
    # params: the text on Fig. 4 gives 498,283 for the final model (its 96.38 % is Model 5's);
    # Fig. 5b's text gives Model 5 none. Quantization keeps Model 4's count.
    "model5_int8": {"accuracy": 96.38, "accuracy_std": 0.15,
                    "params": 498_283, "size_mb": 0.6, "latency_ms_phone": 34.5,
                    "latency_ms_headset": 40.1},
}

# Fig. 6b's protocol: "ten randomly selected images from test set consistent across all
# evaluations were used, with the reported values representing the average processing times".
MOBILITENET_TIMING_IMAGES = 10

MOBILITENET_DATASET = {"real_photos": 2873, "cities": "Aachen, Beijing, Swansea",
                       "resolution": 512, "split": "4:1 (augmentation : test)",
                       "synthetic_per_class": 4500, "synthetic_train_per_class": 4000,
                       "synthetic_val_per_class": 500}

# Field tests in Aachen (Fig. 7b and its text): the app on new photos, not the test split.
# The headset's 87 ms is the field test's time, not Fig. 6b's 40.1 ms. YOLOv8 is a detection
# app trained on other data ("an engineering reference rather than a direct functional
# equivalence").
MOBILITENET_FIELD_TESTS = {
    "smartphone": {"images": 400, "per_class": 100, "accuracy": 92.5},
    "headset": {"images": 200, "per_class": 50, "image_px": 1440, "accuracy": 91.0,
                "time_ms": 87},
    "headset_yolov8": {"images": 200, "accuracy": 92.5, "time_ms": 2316},
}

# Polat, Çolak, Kılıç, "Road Surface Crack Detection Using Deep Learning in Smart Cities"
# (Chapter 10_crack_classifier). Table 3 ("Model training performance metrics"): precision,
# recall, F1 and accuracy in %, on the training and the test split of the Kaggle "Surface Crack
# Detection" set (Özgenel's 40,000 concrete patches, 80/10/10). Dice and "IoU (mAP)" are given
# in the text of Section 3 only, without saying on which split or how they were computed. The
# paper's Eqs. 4-6 print precision and recall swapped and F1 without its factor 2; Table 3's F1
# values agree with the standard 2PR / (P + R) of its P and R to within 0.02 points (the printed
# formula would give about 49.9).
POLAT_SOURCE = ("Polat, Çolak, Kılıç, \"Road Surface Crack Detection Using Deep Learning in "
                "Smart Cities\", Table 3 and Section 3")
POLAT: dict[str, dict] = {
    "test": {"precision": 99.82, "recall": 99.65, "f1": 99.72, "accuracy": 99.73},  # Table 3
    "train": {"precision": 99.87, "recall": 99.70, "f1": 99.78, "accuracy": 99.78},  # Table 3
    "text": {"dice": 0.96, "iou": 0.92},  # Section 3: "Dice coefficient: 0.96", "IoU (mAP): 0.92"
}
# The recipe of Sections 2.1-2.3 (the book's paper profile follows it).
POLAT_RECIPE = {"images": 40_000, "source_px": 227, "split": "80 / 10 / 10", "img_size": 224,
                "optimizer": "Adam", "lr": 1e-4, "batch_size": 32, "epochs": 50,
                "dropout": 0.5, "loss": "Dice", "backbone": "MobileNetV2, ImageNet, frozen"}

# Chapter 11_crack_segmentation: Ma, Hu, Song, Guo, Fan, "Self-Derived Multimodal Knowledge
# Distillation for Real-Time Road Crack Detection" (LR-CrackNet), IEEE Sensors J. (2025),
# doi:10.1109/JSEN.2025.3602294. Percentages; FPS on an NVIDIA RTX 3090 (Tables II, VI) and a
# 32 GB Jetson AGX Orin (Table VI). Every (F1, IoU) pair of Tables I-V satisfies
# IoU = F1 / (2 - F1) to the printed three decimals (tests/test_segmentation.py checks it), which
# holds when both come from one confusion matrix pooled over the test set; the paper itself
# names no threshold, pooling or AIoU definition.
LR_CRACKNET_SOURCE = ("Ma et al., \"Self-Derived Multimodal Knowledge Distillation for Real-Time "
                      "Road Crack Detection\", IEEE Sensors J. (2025), Tables I-VI")


def _rows(names: tuple[str, ...], values: tuple[tuple[float, ...], ...],
          keys: tuple[str, ...]) -> dict[str, dict[str, float]]:
    return {n: dict(zip(keys, v, strict=True)) for n, v in zip(names, values, strict=True)}


_PEERS = ("Deepcrack18", "Deepcrack19", "SCCDNet", "Crack-Att", "HrSegNet", "CDLN", "LECSFormer",
          "CT-crackseg", "LR-CrackNet")
_F_I_A = ("f1", "iou", "aiou")
# Tables III-V: F1, IoU, AIoU (%) of the eight peers and LR-CrackNet ("ours") on each test split.
_TABLE3 = _rows(_PEERS, ((65.756, 48.982, 73.708), (64.448, 47.544, 72.956),
                         (64.189, 47.263, 72.797), (67.598, 51.055, 74.710),
                         (66.770, 50.117, 74.281), (67.522, 50.968, 74.456),
                         (69.712, 53.506, 76.025), (70.612, 54.573, 76.574),
                         (71.419, 55.545, 77.060)), _F_I_A)
_TABLE4 = _rows(_PEERS, ((78.149, 64.135, 81.219), (81.276, 68.458, 83.468),
                         (76.164, 61.504, 79.590), (78.191, 64.191, 81.210),
                         (81.453, 68.709, 83.598), (82.242, 69.839, 84.087),
                         (82.389, 70.052, 84.268), (80.825, 67.821, 83.158),
                         (84.099, 72.561, 85.622)), _F_I_A)
_TABLE5 = _rows(_PEERS, ((76.935, 62.515, 80.479), (80.991, 68.054, 83.347),
                         (70.921, 54.944, 76.042), (74.949, 59.935, 79.007),
                         (80.673, 67.608, 83.125), (81.632, 68.964, 83.718),
                         (80.177, 66.913, 82.703), (79.569, 66.070, 82.334),
                         (83.025, 70.977, 84.865)), _F_I_A)
# Table I: the losses added one by one (L_Seg; + L_Dg; + L_Dl; + L_FD; + L_LD = the full model).
_TABLE1_ROWS = ("L_Seg", "+ L_Dg", "+ L_Dl", "+ L_FD", "+ L_LD (full)")
# Table II: the paper's rows "Base*" (a U-Net [29] "with base channels reduced from 64 to 32"),
# "Fast-T (w/o)", "RDLDC (w/o)", "Standard-T (w*)" ("the fourth integrates another Transformer
# variant [30]", [30] = CAS-ViT, convolutional additive self-attention) and "LR-CrackNet (w)".
_TABLE2_ROWS = ("U-Net (Base, 32 ch.)", "without Fast-T", "without RDLDC",
                "Standard-T (CAS-ViT [30])", "LR-CrackNet")
_FPS_3090 = (376.69, 443.83, 242.79, 266.22, 324.40)
LR_CRACKNET: dict[str, dict] = {
    # Table IV (DeepCrack test split, 237 images): LR-CrackNet and the runner-up.
    "table4_deepcrack": {k: _TABLE4[k] for k in ("LR-CrackNet", "LECSFormer")},
    # Tables III, IV, V in full (UDTIRI-Crack, DeepCrack, CamCrack789).
    "table3_udtiri_crack": _TABLE3,
    "table4_deepcrack_all": _TABLE4,
    "table5_camcrack789": _TABLE5,
    # Table II: U-shaped ablations (FPS on the RTX 3090, the same for both data sets).
    "table2_deepcrack": _rows(_TABLE2_ROWS, tuple(zip(_FPS_3090, (
        79.587, 80.856, 82.069, 81.861, 84.099), (66.095, 67.864, 69.590, 69.292, 72.561),
        strict=True)), ("fps_3090", "f1", "iou")),
    "table2_camcrack789": _rows(_TABLE2_ROWS, tuple(zip(_FPS_3090, (
        80.563, 81.559, 82.416, 82.195, 83.025), (67.452, 68.860, 70.091, 69.772, 70.977),
        strict=True)), ("fps_3090", "f1", "iou")),
    "table1_deepcrack": _rows(_TABLE1_ROWS, ((81.397, 68.630), (82.285, 69.902),
                                             (82.454, 70.146), (82.990, 70.925),
                                             (84.099, 72.561)), ("f1", "iou")),
    "table1_camcrack789": _rows(_TABLE1_ROWS, ((80.233, 66.992), (81.640, 68.976),
                                               (82.204, 69.785), (82.812, 70.666),
                                               (83.025, 70.977)), ("f1", "iou")),
    # Table VI: parameters (M) and FPS of LR-CrackNet at 320 x 320.
    "table6": {"params_m": 3.856, "fps_3090": 324.40, "fps_orin": 46.419},
    # FPS of LR-CrackNet / FPS of the 32-channel U-Net on the RTX 3090 (Table II).
    "fps_ratio_to_unet": round(324.40 / 376.69, 3),
}
