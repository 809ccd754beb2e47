"""The peers: torchvision's small networks beside the ladder (Chapters 03_eca, 07-09)."""

from __future__ import annotations

import pytest
import torch

from roadlite import book
from roadlite.models import build_model, count_params, load_model, save_model
from roadlite.models.peers import PEERS, peer_model
from roadlite.params import ParameterError, check_value

# The seven peers of chapter 03's text, in the book's order (torchvision's constructor names).
BOOK_PEERS = ["mobilenet_v3_small", "shufflenet_v2_x0_5", "shufflenet_v2_x1_0",
              "mobilenet_v3_large", "mnasnet0_5", "efficientnet_b0", "squeezenet1_1"]


def test_the_book_lists_each_peer_and_its_int8_file():
    import torchvision

    assert [m.key for m in book.PEERS] == BOOK_PEERS
    assert list(PEERS) == BOOK_PEERS  # the builder knows every one
    assert set(BOOK_PEERS) <= set(torchvision.models.list_models())
    labels = [book.label(k) for k in BOOK_PEERS] + [book.label(f"{k}_int8") for k in BOOK_PEERS]
    assert len(set(labels)) == 14 and not set(labels) & set(BOOK_PEERS)  # labelled, distinctly
    ladder = {m.key for m in book.ladder(include_variants=True)}
    for key in BOOK_PEERS:  # looked up by key, as the results page and chapters 07-09 do
        fp32, int8 = book.model(key), book.model(f"{key}_int8")
        assert (fp32.chapter, fp32.kind, fp32.architecture) == ("03_eca", "checkpoint", key)
        assert (int8.chapter, int8.kind, int8.architecture) == ("07_quantization", "tflite", key)
        assert key not in ladder and f"{key}_int8" not in ladder
    # the book's order, whatever the order asked for
    keys = [m.key for m in book.peers(["shufflenet_v2_x0_5", "mobilenet_v3_small"])]
    assert keys == ["mobilenet_v3_small", "mobilenet_v3_small_int8", "shufflenet_v2_x0_5",
                    "shufflenet_v2_x0_5_int8"]
    assert [m.key for m in book.peers(["mnasnet0_5"], int8=True)] == ["mnasnet0_5_int8"]
    assert [m.key for m in book.peers(["mnasnet0_5"], int8=False)] == ["mnasnet0_5"]
    assert book.peers([]) == []
    with pytest.raises(KeyError, match="resnet50"):
        book.peers(["resnet50"])
    # the ladder itself does not change
    assert "mobilenet_v3_small" not in [m.key for m in book.ladder(include_variants=True)]


def test_peers_parameter():
    assert check_value("03_eca", "peers", ["mobilenet_v3_small"]) == ["mobilenet_v3_small"]
    assert check_value("03_eca", "peers", []) == []
    with pytest.raises(ParameterError, match="not peers of the book"):
        check_value("03_eca", "peers", ["mobilenet_v2"])
    with pytest.raises(ParameterError, match="twice"):
        check_value("03_eca", "peers", ["mnasnet0_5", "mnasnet0_5"])


@pytest.mark.parametrize("name", list(PEERS))
def test_each_peer_builds_with_the_head_trains_a_step_and_round_trips(name, tmp_path):
    torch.manual_seed(0)
    model = build_model(name, num_classes=4)
    assert count_params(model) == count_params(peer_model(name, 4))
    x = torch.rand(2, 3, 64, 64)
    loss = torch.nn.functional.cross_entropy(model.train()(x), torch.tensor([0, 3]))
    loss.backward()
    path = save_model(model.eval(), tmp_path / f"{name}.pt", arch=name)
    back = load_model(path, arch=name, num_classes=4)
    with torch.no_grad():
        torch.testing.assert_close(back(x), model(x))
    assert back(x).shape == (2, 4)


def test_unknown_peer():
    with pytest.raises(ValueError, match="known"):
        peer_model("alexnet")
