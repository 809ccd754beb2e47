"""environment.yml (conda users) and requirements/lock.txt (make setup) describe one environment."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def lock():
    out = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, ver = line.split("==", 1)
            out[norm(name)] = ver.strip()
    return out


def env_pins():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = {}
    for item in pip:
        if item.startswith("-e"):
            continue
        name, ver = item.split("==")
        pins[norm(name)] = ver
    return pins


def test_environment_yml_pins_equal_the_lock():
    locked = lock()
    for name, ver in env_pins().items():
        assert locked.get(name) == ver, f"environment.yml {name}=={ver}, lock {locked.get(name)}"


def test_every_top_level_requirement_is_in_both():
    names = set()
    for line in (ROOT / "requirements" / "base.in").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            names.add(norm(re.split(r"[<>=!\[ ]", line)[0]))
    assert names == set(env_pins())
    assert names <= set(lock())


def test_the_requested_stack_is_locked():
    locked = lock()
    for name in ("torch", "torchvision", "litert-torch", "ai-edge-litert", "jupyter-book",
                 "papermill", "jupyterlab", "matplotlib", "seaborn", "scikit-learn", "grad-cam",
                 "torch-pruning", "tqdm"):
        assert name in locked, name
    assert locked["jupyter-book"].startswith("1."), "Jupyter Book 2 cannot build offline"
