"""The model registry: architecture name -> factory (Chapters 03_eca to 07_quantization).

Checkpoints store the name; :func:`build_model` rebuilds the network from it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from torch import nn

from .mobilenet import eca_mobilenet_v2, mobilenet_v2, refined_mobilenet_v2
from .peers import PEERS, peer_model
from .resnet import resnet18_teacher

#: Architecture name -> factory ``f(num_classes=..., **kw)``. The names are the ``arch`` strings
#: stored in checkpoints (Chapters 03-07).
MODEL_REGISTRY: dict[str, Callable[..., nn.Module]] = {
    "mobilenet_v2": mobilenet_v2,
    "eca_mobilenet_v2": partial(eca_mobilenet_v2, variant="paper"),
    "eca_mobilenet_v2_authors": partial(eca_mobilenet_v2, variant="authors"),
    "refined_mobilenet_v2": refined_mobilenet_v2,
    "resnet18": resnet18_teacher,
    # torchvision's small networks, the peers of the ladder (Chapter 03_eca)
    **{name: partial(peer_model, name) for name in PEERS},
}


def build_model(name: str, num_classes: int = 4, **kw) -> nn.Module:
    """Build a model of :data:`MODEL_REGISTRY` by name (Chapters 03_eca to 07_quantization).

    ``"mobilenet_v2"`` (baseline), ``"eca_mobilenet_v2"`` (Model 1 as the paper describes it),
    ``"eca_mobilenet_v2_authors"`` (Model 1 as the authors' code builds it),
    ``"refined_mobilenet_v2"`` (Model 2), ``"resnet18"`` (the teacher) and torchvision's small
    networks of :data:`roadlite.models.peers.PEERS` (the peers). Extra keyword
    arguments go to the factory (e.g. ``dropout=0.5``, ``pretrained=True``).
    """
    try:
        factory = MODEL_REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(MODEL_REGISTRY))
        raise ValueError(f"unknown model {name!r}; known models: {known}") from None
    return factory(num_classes=num_classes, **kw)


#: The networks of chapters above this package (chapter 11's segmentation networks, chapter 10's
#: classifier): name -> factory ``f(**config)``, registered by their modules with
#: :func:`register_model`. Their checkpoints (:func:`roadlite.models.save_model` with
#: ``config``) hold the factory's keyword arguments.
CONFIGURED_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(name: str, factory: Callable[..., nn.Module]) -> None:
    """Make ``factory(**config)`` known to :func:`~roadlite.models.save_model` and
    :func:`~roadlite.models.load_model` under ``name`` (a chapter module registers its networks
    when it is imported). A name of :data:`MODEL_REGISTRY`, or one registered for another
    factory, is refused."""
    def qualname(f: Callable) -> str:
        return f"{getattr(f, '__module__', '')}.{getattr(f, '__qualname__', repr(f))}"

    old = CONFIGURED_MODELS.get(name)
    if name in MODEL_REGISTRY or (old is not None and qualname(old) != qualname(factory)):
        raise ValueError(f"the model name {name!r} is taken (by {qualname(old or build_model)})")
    CONFIGURED_MODELS[name] = factory
