"""Downloading the real data sets, for users with internet (the book never needs it).

Chapter 01_dataset teaches this module. :data:`DATASETS` lists where each public data set comes
from (official or primary sources), its layout and its licence. Only sets with a direct URL can
be fetched by :func:`fetch_dataset`; the others (Google Drive, Baidu, OneDrive, Kaggle, Mendeley)
carry instructions. Every download is checked against a SHA-256: where none is known yet, the
download is refused unless ``allow_unknown_checksum=True``, and the computed hash is printed so
that it can be pinned. Archives are unpacked by :func:`safe_extract`, which refuses members that
would land outside the target folder.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import stat
import sys
import tarfile
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath

from roadlite.artifacts import atomic_path

from .validate import DataError


class ChecksumError(DataError):
    """A downloaded file's SHA-256 differs from the expected one (Chapter 01_dataset)."""


class UnsafeArchiveError(DataError):
    """An archive member would be written outside the target folder (Chapter 01_dataset)."""


@dataclass(frozen=True)
class DatasetInfo:
    """One entry of :data:`DATASETS` (Chapter 01_dataset).

    ``task``: what the labels are for; ``urls``: direct download URLs (empty when the set must
    be fetched by hand);
    ``sha256``: one expected hash per URL, ``None`` where not yet known; ``layout``: what the
    extracted folder looks like and which scanner reads it; ``licence``: as the source states it;
    ``instructions``: how to get it by hand.
    """

    name: str
    urls: tuple[str, ...]
    sha256: tuple[str | None, ...]
    layout: str
    licence: str
    instructions: str
    scanner: str | None = None
    task: str = ""


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo(
            name="deepcrack",
            task="crack segmentation",
            urls=(
                "https://github.com/yhlleo/DeepCrack/raw/"
                "8202a60701068645c883ed68b95fd3f30914d90c/dataset/DeepCrack.zip",
            ),
            sha256=(None,),
            layout="{train,test}_img/*.jpg + {train,test}_lab/*.png (mask > 127 = crack); "
            "300 train / 237 test, 544x384",
            licence="non-commercial research and education only (yhlleo/DeepCrack README)",
            instructions="Official repo https://github.com/yhlleo/DeepCrack, file "
            "dataset/DeepCrack.zip (download it as a raw file or clone with git, not LFS).",
            scanner="scan_deepcrack",
        ),
        DatasetInfo(
            name="cfd",
            task="crack segmentation",
            urls=(
                "https://github.com/cuilimeng/CrackForest-dataset/archive/"
                "ed57c2d96754e6c7d105805cd29aeeb3a799f267.zip",
            ),
            sha256=(None,),
            layout="image/*.jpg + groundTruth/*.mat; fetch_dataset writes masks_png/*.png "
            "(prepare_cfd_masks); 118 labelled of 155, 480x320",
            licence="non-commercial research only (CrackForest README)",
            instructions="git clone https://github.com/cuilimeng/CrackForest-dataset, then "
            "roadlite.data.prepare_cfd_masks(<clone>).",
            scanner="scan_cfd",
        ),
        DatasetInfo(
            name="rdd2020",
            task="road-damage detection",
            urls=tuple(
                "https://mycityreport.s3-ap-northeast-1.amazonaws.com/02_RoadDamageDataset/"
                f"public_data/IEEE_bigdata_RDD2020/{f}"
                for f in ("train.tar.gz", "test1.tar.gz", "test2.tar.gz")
            ),
            sha256=(None, None, None),
            layout="road-damage detection (bounding boxes, PASCAL VOC XML); not read by the "
            "book's scanners",
            licence="see the RDD2020 data article / CRDDC terms",
            instructions="Direct S3 URLs (train, test1, test2).",
        ),
        DatasetInfo(
            name="ultralytics-crack-seg",
            task="crack segmentation (polygons)",
            urls=("https://github.com/ultralytics/assets/releases/download/v0.0.0/crack-seg.zip",),
            sha256=(None,),
            layout="4,029 images with YOLO polygon labels; not read by the book's scanners",
            licence="AGPL-3.0",
            instructions="Direct URL (Ultralytics assets release).",
        ),
        DatasetInfo(
            name="mobilitenet",
            task="4-class distress classification",
            urls=(),
            sha256=(),
            layout="ImageFolder {train,val,test}/{Alligator,Breakmarking,Longitudinal,"
            "Transverse}/*.png, 512x512 (scan_imagefolder)",
            licence="code MIT (yuanyuanyo/Mobile_DeepLearning); no separate data licence stated",
            instructions="Classification set: https://pan.baidu.com/s/1ZO0rKhjO_f2OE5SWqxbbjg "
            "(code aej9); detection: https://pan.baidu.com/s/1evnkLWYLZ9VKDcnH5ueqHQ (code "
            "qimr); figshare https://doi.org/10.6084/m9.figshare.28404875 (the paper's DOI).",
            scanner="scan_imagefolder",
        ),
        DatasetInfo(
            name="ozgenel-40k",
            task="crack / no-crack classification",
            urls=(),
            sha256=(),
            layout="Positive/*.jpg + Negative/*.jpg, 20,000 each, 227x227 (scan_ozgenel)",
            licence="CC BY 4.0 (Mendeley listing)",
            instructions="Mendeley https://data.mendeley.com/datasets/5y9wdsg2zt/2 "
            "(doi:10.17632/5y9wdsg2zt.2), or `kaggle datasets download -d "
            "arunrk7/surface-crack-detection`.",
            scanner="scan_ozgenel",
        ),
        DatasetInfo(
            name="ozgenel-segmentation",
            task="crack segmentation",
            urls=(),
            sha256=(),
            layout="458 high-resolution images with crack masks",
            licence="see the Mendeley listing",
            instructions="doi:10.17632/jwsn7tfbrp.1, or Kaggle "
            "motono0223/concrete-crack-segmentation-dataset.",
        ),
        DatasetInfo(
            name="fphb-bundle",
            task="crack segmentation",
            urls=(),
            sha256=(),
            layout="CRACK500, GAPs384, CrackTree200, CFD, AEL (images + masks)",
            licence="per data set; research use",
            instructions="Google Drive https://drive.google.com/file/d/"
            "13_vDYl54Mrd34dddX9w4ppAEiuWv4MlD/view; OneDrive link in the "
            "fyangneil/pavement-crack-detection README; Baidu "
            "https://pan.baidu.com/s/1JwJO96BOtJ50MykBcYKknQ (code jviq).",
        ),
        DatasetInfo(
            name="qinnzou-deepcrack",
            task="crack segmentation",
            urls=(),
            sha256=(),
            layout="CrackTree260, CRKWH100, CrackLS315, Stone331 (images + masks)",
            licence="see https://github.com/qinnzou/DeepCrack",
            instructions="OneDrive links in https://github.com/qinnzou/DeepCrack, e.g. "
            "CrackTree260 https://1drv.ms/f/s!AittnGm6vRKLyiQUk3ViLu8L9Wzb; Baidu "
            "https://pan.baidu.com/s/1PWiBzoJlc8qC8ffZu2Vb8w (code zfoo).",
        ),
        DatasetInfo(
            name="khanhha-crack-segmentation",
            task="crack segmentation",
            urls=(),
            sha256=(),
            layout="~11k merged crack images with masks",
            licence="per source data set",
            instructions="Google Drive https://drive.google.com/open?id="
            "1xrOqv0-3uMHjZyEUrerOYiYXW_E8SUMP (from the khanhha/crack_segmentation README).",
        ),
        DatasetInfo(
            name="uav75",
            task="crack segmentation (bridges)",
            urls=(),
            sha256=(),
            layout="{train,val,test}_img/*.jpg + *_lab/*.png; crack = 255, planking = 204: "
            "load masks with load_split(..., mask_threshold=250)",
            licence="GPL-3.0",
            instructions="git clone https://github.com/ben-z-original/uav75 (OmniCrack30k "
            "recipes: https://github.com/ben-z-original/omnicrack30k).",
            scanner="scan_deepcrack",
        ),
        DatasetInfo(
            name="rdd2022",
            task="road-damage detection",
            urls=(),
            sha256=(),
            layout="road-damage detection; not read by the book's scanners",
            licence="see https://crddc2022.sekilab.global/data/",
            instructions="https://crddc2022.sekilab.global/data/ (data article "
            "arXiv:2209.08538); a figshare mirror doi:10.6084/m9.figshare.21431547 is cited "
            "(not verified).",
        ),
        DatasetInfo(
            name="udtiri",
            task="road distress segmentation",
            urls=(),
            sha256=(),
            layout="road surface distress",
            licence="see the Kaggle page",
            instructions="Kaggle jiahangli617/udtiri (from the LiJiahang617/"
            "UDTIRI-Competition README).",
        ),
        DatasetInfo(
            name="transportation-infrastructure-crack",
            task="crack segmentation",
            urls=(),
            sha256=(),
            layout="crack images",
            licence="see the source",
            instructions="Google Drive https://drive.google.com/file/d/"
            "15pi8nMlJp4P9VlVTRovpIKZLBa-pv9Bi/view.",
        ),
        DatasetInfo(
            name="cracks-semantic-segmentation",
            task="crack segmentation",
            urls=(),
            sha256=(),
            layout="Cracks-200/1K/4K images + masks",
            licence="see the source",
            instructions="OneDrive links in https://github.com/preethamam/"
            "Cracks-Semantic-Segmentation-Datasets.",
        ),
        DatasetInfo(
            name="sdnet2018",
            task="crack / no-crack classification",
            urls=(),
            sha256=(),
            layout="crack / no crack on concrete decks, walls and pavements",
            licence="see the source",
            instructions="Utah State University DigitalCommons, doi:10.15142/T3TD19 "
            "(not verified).",
        ),
    )
}


def _filename_from_url(url: str) -> str:
    name = PurePosixPath(urllib.parse.urlparse(url).path).name
    return name or "download"


def download(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    allow_unknown_checksum: bool = False,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` (a file, or a folder to put it in), checking its SHA-256.

    Chapter 01_dataset. The file is streamed to a temporary name next to ``dest`` and only
    renamed into place after the check. A mismatch raises :class:`ChecksumError` naming the
    expected and actual hash (the temporary file is removed). With ``sha256=None`` the download
    is refused unless ``allow_unknown_checksum=True``; then the computed hash is printed.
    """
    from tqdm import tqdm

    if sha256 is None and not allow_unknown_checksum:
        raise ChecksumError(
            f"no sha256 known for {url}: refusing to download an unverified file. Pass "
            "allow_unknown_checksum=True to download it anyway (its hash will be printed)."
        )
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / _filename_from_url(url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    with atomic_path(dest, suffix=".part") as tmp:
        req = urllib.request.Request(url, headers={"User-Agent": "roadlite"})
        with urllib.request.urlopen(req, timeout=timeout) as resp, open(tmp, "wb") as f:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress
            ) as bar:
                while chunk := resp.read(1 << 20):
                    f.write(chunk)
                    h.update(chunk)
                    bar.update(len(chunk))
        actual = h.hexdigest()
        if sha256 is not None and actual.lower() != sha256.lower():
            raise ChecksumError(
                f"sha256 mismatch for {url}: expected {sha256.lower()}, got {actual}; "
                "the download was removed"
            )
    if sha256 is None:
        print(f"sha256 of {dest.name} (not verified, pin it): {actual}")
    return dest


def _is_absolute_name(name: str) -> bool:
    return (
        name.startswith(("/", "\\"))
        or PurePosixPath(name).is_absolute()
        or PureWindowsPath(name).is_absolute()
        or bool(PureWindowsPath(name).drive)
    )


def _inside(target: Path, p: Path) -> bool:
    try:
        p.resolve().relative_to(target)
        return True
    except ValueError:
        return False


def _check_member(target: Path, name: str, archive: Path) -> Path:
    if _is_absolute_name(name):
        raise UnsafeArchiveError(f"{archive}: member {name!r} has an absolute path; refusing")
    dest = target / name
    if not _inside(target, dest):
        raise UnsafeArchiveError(
            f"{archive}: member {name!r} would be written outside {target}; refusing"
        )
    return dest


def safe_extract(archive: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Unpack a zip or tar(.gz/.bz2/.xz) archive into ``target``, safely (Chapter 01_dataset).

    Every member is checked before anything is written: an absolute name, a name escaping
    ``target`` through ``..``, a symlink or hard link pointing outside ``target``, or a device /
    fifo member raises :class:`UnsafeArchiveError` naming the member. Returns ``target``.
    """
    archive = Path(archive)
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            for info in infos:
                dest = _check_member(root, info.filename, archive)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    link = zf.read(info).decode("utf-8", "replace")
                    if _is_absolute_name(link) or not _inside(root, dest.parent / link):
                        raise UnsafeArchiveError(
                            f"{archive}: member {info.filename!r} is a symlink to {link!r}, "
                            f"outside {root}; refusing"
                        )
            for info in infos:
                dest = root / info.filename
                if info.is_dir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out)
        return target
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for m in members:
                dest = _check_member(root, m.name, archive)
                if m.issym():
                    link = m.linkname
                    if _is_absolute_name(link) or not _inside(root, dest.parent / link):
                        raise UnsafeArchiveError(
                            f"{archive}: member {m.name!r} is a symlink to {link!r}, outside "
                            f"{root}; refusing"
                        )
                elif m.islnk():
                    link = m.linkname
                    if _is_absolute_name(link) or not _inside(root, root / link):
                        raise UnsafeArchiveError(
                            f"{archive}: member {m.name!r} is a hard link to {link!r}, outside "
                            f"{root}; refusing"
                        )
                elif not (m.isfile() or m.isdir()):
                    raise UnsafeArchiveError(
                        f"{archive}: member {m.name!r} is a device or fifo; refusing"
                    )
            if hasattr(tarfile, "data_filter"):
                tf.extractall(root, members=members, filter="data")
            else:  # pragma: no cover - Python without extraction filters
                tf.extractall(root, members=members)
        return target
    raise DataError(f"{archive}: not a zip or tar archive")


def fetch_dataset(
    name: str,
    dest: str | os.PathLike,
    allow_unknown_checksum: bool = False,
    progress: bool = True,
) -> Path:
    """Download and unpack one entry of :data:`DATASETS` into ``dest/<name>`` (Chapter 01).

    Archives are kept in ``dest/<name>/_downloads``. For a set without a direct URL this
    raises :class:`DataError` with the instructions. Returns the data set folder.
    """
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(sorted(DATASETS))}")
    info = DATASETS[name]
    if not info.urls:
        raise DataError(f"{name} cannot be downloaded automatically: {info.instructions}")
    folder = Path(dest) / name
    downloads = folder / "_downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    for url, sha in zip(info.urls, info.sha256, strict=True):
        file = downloads / _filename_from_url(url)
        if file.exists() and sha is not None:
            from .manifest import sha256_file

            if sha256_file(file) != sha.lower():
                file.unlink()  # a stale or damaged earlier download
        if not file.exists():
            download(
                url, file, sha, allow_unknown_checksum=allow_unknown_checksum, progress=progress
            )
        safe_extract(file, folder)
    if name == "cfd":
        from .real import prepare_cfd_masks

        inner = next((p for p in folder.iterdir() if (p / "groundTruth").is_dir()), None)
        if inner is not None:
            prepare_cfd_masks(inner)
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m roadlite.data.download --list | NAME DEST [--allow-unknown-checksum]``.

    Chapter 01_dataset. Lists the registry, or fetches one data set (needs internet).
    """
    ap = argparse.ArgumentParser(
        prog="python -m roadlite.data.download",
        description="Download a public crack / road-distress data set (SHA-256 checked).",
    )
    ap.add_argument("--list", action="store_true", help="list the known data sets")
    ap.add_argument("name", nargs="?", help="data set name (see --list)")
    ap.add_argument("dest", nargs="?", default="data", help="folder to put it in (./data)")
    ap.add_argument(
        "--allow-unknown-checksum",
        action="store_true",
        help="download even where no SHA-256 is pinned yet (the hash is printed)",
    )
    args = ap.parse_args(list(argv) if argv is not None else None)
    if args.list or not args.name:
        for name, info in sorted(DATASETS.items()):
            how = "direct download" if info.urls else "by hand"
            print(f"{name:38s} {info.task:34s} {how}")
            print(f"{'':38s} {info.licence}")
        return 0
    try:
        folder = fetch_dataset(
            args.name, args.dest, allow_unknown_checksum=args.allow_unknown_checksum
        )
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{args.name}: {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
