"""The packaged per-file checksum lists against the reference copies in ../shared/data, and
where a profile's ``data_root`` is found (data/<name>, else ../shared/data/<folder>)."""

from __future__ import annotations

import dataclasses
import functools
import http.server
import shutil
import threading
import zipfile
from pathlib import Path

import pytest
import yaml

from roadlite.data import DataError
from roadlite.data.checksums import list_files, load_checksums, verify_files
from roadlite.data.download import DATASETS, fetch_dataset
from roadlite.data.locate import DataNotFoundError, resolve_data_root

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
LISTED = sorted(n for n, d in DATASETS.items() if d.files)


def shared(folder: str) -> Path:
    path = SHARED / folder
    if not path.is_dir():
        pytest.skip(f"../shared/data/{folder} not present (a user's clone): nothing to compare")
    return path


def test_four_sets_have_lists():
    assert LISTED == ["cfd", "deepcrack", "mobilitenet-demo", "ozgenel-subset"]


@pytest.mark.realdata
@pytest.mark.parametrize("name", LISTED)
def test_checksum_list_matches_the_reference_copy(name):
    info = DATASETS[name]
    folder = shared(info.shared_folder)
    entries = load_checksums(name)
    assert verify_files(folder, entries) == []
    # the list covers exactly the data files of the copy (no file left unchecked)
    on_disk = set(list_files(folder, info.files + info.pixel_files))
    assert on_disk == {e.path for e in entries}


@pytest.mark.realdata
def test_cfd_masks_derived_here_match_the_list(tmp_path):
    """CFD's masks_png/ are made on the user's machine from groundTruth/*.mat: the pixels the
    list expects must be what prepare_cfd_masks writes."""
    from roadlite.data.real import prepare_cfd_masks

    src = shared("crackforest_cfd")
    shutil.copytree(src / "groundTruth", tmp_path / "groundTruth")
    assert prepare_cfd_masks(tmp_path) == 118
    masks = [e for e in load_checksums("cfd") if e.kind == "pixels"]
    assert len(masks) == 118 and verify_files(tmp_path, masks) == []


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture()
def mirror(tmp_path):
    """A local stand-in for GitHub: tmp/www served on 127.0.0.1, with links to the shared
    copies (nothing is copied into the project)."""
    www = tmp_path / "www"
    www.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", www
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["mobilitenet-demo", "cfd"])
def test_real_per_file_download_from_a_mirror(mirror, tmp_path, monkeypatch, name):
    """The real lists, fetched file by file from a mirror of the reference copy; CFD's masks
    are derived after the download (they are not fetched) and must match the list too."""
    url, www = mirror
    info = DATASETS[name]
    (www / name).symlink_to(shared(info.shared_folder), target_is_directory=True)
    monkeypatch.setitem(DATASETS, name, dataclasses.replace(info, urls=(f"{url}/{name}/",)))
    dest = tmp_path / "data" / name
    assert fetch_dataset(name, dest, progress=False) == dest
    assert verify_files(dest, load_checksums(name)) == []
    if name == "cfd":
        assert len(list((dest / "masks_png").glob("*.png"))) == 118


@pytest.mark.realdata
def test_real_deepcrack_archive_from_a_mirror(mirror, tmp_path, monkeypatch):
    """DeepCrack as the official zip would come: one folder down, test_lab/ PNGs encoded
    otherwise than the reference copy (same pixels): verified after extraction."""
    from PIL import Image

    url, www = mirror
    src = shared("deepcrack")
    with zipfile.ZipFile(www / "DeepCrack.zip", "w") as zf:
        for p in sorted(src.rglob("*")):
            if not p.is_file() or p.name == "PROVENANCE.md":
                continue
            rel = p.relative_to(src).as_posix()
            if rel.startswith("test_lab/"):
                buf = tmp_path / "reencoded.png"
                with Image.open(p) as im:
                    im.save(buf, format="PNG", compress_level=1)
                zf.write(buf, f"DeepCrack/{rel}")
            else:
                zf.write(p, f"DeepCrack/{rel}")
    info = DATASETS["deepcrack"]
    monkeypatch.setitem(DATASETS, "deepcrack",
                        dataclasses.replace(info, urls=(f"{url}/DeepCrack.zip",)))
    dest = tmp_path / "data" / "deepcrack"
    assert fetch_dataset("deepcrack", dest, progress=False) == dest
    assert not (dest / "_downloads").exists()
    assert {p.name for p in dest.iterdir()} >= {"train_img", "train_lab", "test_img", "test_lab"}


# ---- resolve_data_root ---------------------------------------------------------------------


@pytest.fixture()
def checkout(tmp_path):
    """A fake checkout ``tmp/repo`` with ``tmp/shared/data`` beside it."""
    root = tmp_path / "repo"
    root.mkdir()
    (tmp_path / "shared" / "data").mkdir(parents=True)
    return root


def test_downloaded_copy_comes_first(checkout):
    (checkout / "data" / "mobilitenet-demo").mkdir(parents=True)
    (checkout.parent / "shared" / "data" / "mobilitenet_4class_demo").mkdir()
    want = checkout / "data" / "mobilitenet-demo"
    assert resolve_data_root("data/mobilitenet-demo", root=checkout) == want
    assert resolve_data_root("mobilitenet-demo", root=checkout) == want


def test_falls_back_to_the_shared_copy(checkout):
    ref = checkout.parent / "shared" / "data" / "mobilitenet_4class_demo"
    ref.mkdir()
    assert resolve_data_root("data/mobilitenet-demo", root=checkout) == ref
    assert resolve_data_root("data/mobilitenet_4class_demo", root=checkout) == ref
    (checkout.parent / "shared" / "data" / "crackforest_cfd").mkdir()
    assert resolve_data_root("data/cfd", root=checkout).name == "crackforest_cfd"


def test_missing_set_names_the_download_command(checkout):
    with pytest.raises(DataNotFoundError, match=r"run `roadlite download mobilitenet-demo` "
                                                 r"\(or `make data`\)"):
        resolve_data_root("data/mobilitenet-demo", root=checkout)
    with pytest.raises(DataNotFoundError, match=r"cannot be downloaded automatically.*baidu"):
        resolve_data_root("data/mobilitenet", root=checkout)


def test_other_paths_are_taken_as_they_are(checkout, tmp_path):
    assert resolve_data_root(str(tmp_path), root=checkout) == tmp_path.resolve()
    (checkout / "mine").mkdir()
    assert resolve_data_root("mine", root=checkout) == checkout / "mine"
    with pytest.raises(DataError, match=r"'elsewhere/deepcrack': .* is not a folder"):
        resolve_data_root("elsewhere/deepcrack", root=checkout)  # no fallback outside data/
    with pytest.raises(DataError, match="is not a folder"):
        resolve_data_root(str(tmp_path / "nope"), root=checkout)


@pytest.mark.realdata
def test_the_demo_profile_finds_its_data():
    value = yaml.safe_load((ROOT / "params" / "demo.yaml").read_text())["01_dataset"]["data_root"]
    assert value == "data/mobilitenet-demo"
    shared("mobilitenet_4class_demo")
    got = resolve_data_root(value, root=ROOT)
    assert got in ((ROOT / "data" / "mobilitenet-demo").resolve(),
                   (SHARED / "mobilitenet_4class_demo").resolve())
