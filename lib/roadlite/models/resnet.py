"""The distillation teacher: torchvision's ResNet-18 with a new 4-class head (Chapter 05_distillation)."""

from __future__ import annotations

from torch import nn

__all__ = ["resnet18_teacher"]


def resnet18_teacher(num_classes: int = 4, pretrained: bool = False) -> nn.Module:
    """ResNet-18 teacher of MobiLiteNet's sparse knowledge distillation (Chapter 05_distillation).

    torchvision's ResNet-18 (He et al., 2016) with its final fully connected layer ``fc``
    replaced by a ``num_classes``-way Linear layer: 11,178,564 parameters for 4 classes.
    ``pretrained=True`` starts from the ImageNet weights (``ResNet18_Weights.DEFAULT``) as the
    authors do; torchvision downloads them once into ``$TORCH_HOME/hub/checkpoints/``, so they
    need internet (or a copy of the file already in that folder). Without them a
    ``RuntimeError`` says so.
    """
    from torchvision.models import ResNet18_Weights, resnet18

    if pretrained:
        weights = ResNet18_Weights.DEFAULT
        try:
            model = resnet18(weights=weights)
        except Exception as exc:  # URLError, OSError, HTTP errors ...: all mean "no weights"
            raise RuntimeError(
                "resnet18_teacher(pretrained=True) needs torchvision's ImageNet weights "
                f"({weights.url}), which are downloaded from the internet on first use and then "
                "cached in $TORCH_HOME/hub/checkpoints/ (default ~/.cache/torch/hub/checkpoints/). "
                "The download failed; either connect to the internet, copy the file into that "
                f"folder, or use pretrained=False (random init). Cause: {exc!r}"
            ) from exc
    else:
        model = resnet18(weights=None)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model
