"""Numbers reported by the papers (labelled as the papers' wherever the book shows them).

Sources: Hu et al., "Lightweight deep learning for real-time road distress detection on mobile
devices" (MobiLiteNet), Nat. Commun. 16:4212 (2025), Fig. 5b and the text of its Results; the
parameter counts of the authors' released code where the paper rounds. These are facts quoted from
the paper, never results of this book: every number of *ours* comes from a ``metrics.json``.
"""

from __future__ import annotations

MOBILITENET_SOURCE = "Hu et al., Nat. Commun. 16:4212 (2025), Fig. 5b / Results"

# model key -> accuracy mean / std (%), parameters, file size (MB), latency P40 / Quest 3 (ms)
MOBILITENET: dict[str, dict] = {
    "resnet18": {"label": "ResNet (teacher)", "accuracy": 98.02, "accuracy_std": 0.20,
                 "params": 11_180_000, "size_mb": 44.7, "latency_ms_phone": 592.6,
                 "latency_ms_headset": 1450.4},
    "mobilenet_v2": {"label": "MobileNetV2 (baseline)", "accuracy": 94.09, "accuracy_std": 0.41,
                     "params": 2_228_996, "size_mb": 8.9, "latency_ms_phone": 122.3,
                     "latency_ms_headset": 288.9},
    "model1_eca": {"label": "Model 1 (+ECA)", "accuracy": 96.10, "accuracy_std": 0.34,
                   "params": 2_228_996, "size_mb": None},
    "model2_refined": {"label": "Model 2 (+refinement)", "accuracy": 93.43,
                       "accuracy_std": 0.38, "params": 996_310, "size_mb": 4.0},
    "model3_kd": {"label": "Model 3 (+sparse KD)", "accuracy": 97.15, "accuracy_std": 0.29,
                  "params": 996_310, "size_mb": 4.0},
    "model4_pruned": {"label": "Model 4 (+pruning)", "accuracy": 96.76, "accuracy_std": 0.26,
                      "params": 498_283, "size_mb": 2.0},
    "model5_int8": {"label": "Model 5 (+INT8)", "accuracy": 96.38, "accuracy_std": 0.15,
                    "params": 498_283, "size_mb": 0.6, "latency_ms_phone": 34.5,
                    "latency_ms_headset": 40.1},
}

MOBILITENET_DATASET = {"real_photos": 2873, "cities": "Aachen, Beijing, Swansea",
                       "resolution": 512, "split": "4:1 (augmentation : test)",
                       "synthetic_per_class": 4500}
