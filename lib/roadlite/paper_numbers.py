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
Accuracies are the paper's mean ± std on its held-out test photos; the paper does not say over
how many runs.
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

# Chapter 11_crack_segmentation: Ma et al., "LR-CrackNet: lightweight real-time pixel-wise road
# crack detection via self-derived multimodal knowledge distillation", IEEE Sensors J. (2025).
# Percentages; FPS on an NVIDIA RTX 3090 (Tables II, VI) and a 32 GB Jetson AGX Orin (Table VI).
LR_CRACKNET_SOURCE = "Ma et al., IEEE Sensors J. (2025), Tables I, II, IV and VI"
LR_CRACKNET: dict[str, dict] = {
    # Table IV (DeepCrack test split, 237 images): LR-CrackNet and the runner-up.
    "table4_deepcrack": {"LR-CrackNet": {"f1": 84.099, "iou": 72.561, "aiou": 85.622},
                         "LECSFormer": {"f1": 82.389, "iou": 70.052, "aiou": 84.268}},
    # Table II (DeepCrack): U-Shaped ablations; "Base" = U-Net with 32 base channels.
    "table2_deepcrack": {
        "U-Net (Base, 32 ch.)": {"fps_3090": 376.69, "f1": 79.587, "iou": 66.095},
        "without Fast-T": {"fps_3090": 443.83, "f1": 80.856, "iou": 67.864},
        "without RDLDC": {"fps_3090": 242.79, "f1": 82.069, "iou": 69.590},
        "with a standard transformer": {"fps_3090": 266.22, "f1": 81.861, "iou": 69.292},
        "LR-CrackNet": {"fps_3090": 324.40, "f1": 84.099, "iou": 72.561}},
    # Table I (DeepCrack): losses added one by one.
    "table1_deepcrack": {
        "L_Seg": {"f1": 81.397, "iou": 68.630},
        "+ L_Dg": {"f1": 82.285, "iou": 69.902},
        "+ L_Dl": {"f1": 82.454, "iou": 70.146},
        "+ L_FD": {"f1": 82.990, "iou": 70.925},
        "+ L_LD (full)": {"f1": 84.099, "iou": 72.561}},
    # Table VI: parameters (M) and FPS of LR-CrackNet at 320 x 320.
    "table6": {"params_m": 3.856, "fps_3090": 324.40, "fps_orin": 46.419},
    # FPS of LR-CrackNet / FPS of the 32-channel U-Net on the RTX 3090 (Table II).
    "fps_ratio_to_unet": round(324.40 / 376.69, 3),
}
