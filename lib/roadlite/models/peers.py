"""The small networks a practitioner would pick instead of MobiLiteNet's ladder (Chapter 03_eca
trains them, chapters 07-09 export, time and compare them).

torchvision's own compact ImageNet architectures, built from random weights (pretrained
weights need internet; the baseline MobileNetV2 starts from random weights too) with a
``num_classes``-way head, so that they train on the same data, recipe and budget as the
baseline. The book's table (:data:`roadlite.book.PEERS`) lists them: the key is torchvision's
constructor name, :data:`PEERS` maps it to the label the tables show.
"""

from __future__ import annotations

import torchvision
from torch import nn

from roadlite import book

__all__ = ["PEERS", "peer_model"]

#: torchvision constructor name -> the label of the book's tables.
PEERS: dict[str, str] = {m.key: m.label for m in book.PEERS}


def peer_model(name: str, num_classes: int = 4) -> nn.Module:
    """torchvision's ``name`` network from random weights with a ``num_classes`` head
    (Chapter 03_eca); a ValueError names the known peers."""
    if name not in PEERS:
        raise ValueError(f"unknown peer network {name!r}; known: {', '.join(PEERS)}")
    return getattr(torchvision.models, name)(weights=None, num_classes=num_classes)
