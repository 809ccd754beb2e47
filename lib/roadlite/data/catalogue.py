"""The catalogue of real data sets: where each comes from, its layout, licence and checksums
(Chapter 01_dataset).

:data:`DATASETS` maps a name (``roadlite download NAME``, a profile's ``data_root``) to a
:class:`DatasetInfo`: direct URLs and their SHA-256 where a set can be fetched, the instructions
where it must be fetched by hand, the scanner of :mod:`roadlite.data.real` that reads it, and
the name of its reference copy in ``../shared/data``. :mod:`roadlite.data.download` fetches from
it; :mod:`roadlite.data.locate` and :mod:`roadlite.params` read it to find and check a data set.
"""

from __future__ import annotations

from dataclasses import dataclass

from .checksums import has_checksums

__all__ = ["DATASETS", "DatasetInfo"]


@dataclass(frozen=True)
class DatasetInfo:
    """One entry of :data:`DATASETS` (Chapter 01_dataset).

    ``task``: what the labels are for; ``urls``: direct download URLs (empty when the set must
    be fetched by hand); ``sha256``: one expected hash per URL, ``None`` where not known;
    ``layout``: what the extracted folder looks like and which scanner reads it; ``licence``:
    as the source states it; ``instructions``: how to get it by hand.

    ``method``: ``"archive"`` (each URL is an archive, unpacked by :func:`safe_extract`) or
    ``"files"`` (``urls[0]`` is a base URL; every file of the checksum list is fetched from
    ``urls[0] + path``). ``files`` / ``pixel_files``: the globs (relative to the data set
    folder) its checksum list covers, by bytes / by decoded pixels. ``shared_folder``: the
    name of the reference copy in ``../shared/data``, if there is one. ``homepage``: where a
    user downloads it by hand. ``prepare``: a function of :mod:`roadlite.data.real` run on the
    folder after the download (CFD: ``prepare_cfd_masks``).
    """

    name: str
    urls: tuple[str, ...]
    sha256: tuple[str | None, ...]
    layout: str
    licence: str
    instructions: str
    scanner: str | None = None
    task: str = ""
    method: str = "archive"
    files: tuple[str, ...] = ()
    pixel_files: tuple[str, ...] = ()
    shared_folder: str | None = None
    homepage: str = ""
    prepare: str | None = None

    @property
    def verifiable(self) -> bool:
        """Can be downloaded and checked without ``allow_unknown_checksum``."""
        return bool(self.urls) and (
            has_checksums(self.name) or all(h is not None for h in self.sha256)
        )


_MOBILITENET_COMMIT = "2eb1d095247f3da9d585ca5ca001ea9816d8002d"
_DEEPCRACK_COMMIT = "8202a60701068645c883ed68b95fd3f30914d90c"
_CFD_COMMIT = "ed57c2d96754e6c7d105805cd29aeeb3a799f267"
_OZGENEL_SUBSET_COMMIT = "66b19abb5d28d764d39f1d5a0b678fb793bbbed9"

DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo(
            name="mobilitenet-demo",
            task="4-class distress classification",
            urls=(
                "https://raw.githubusercontent.com/yuanyuanyo/Mobile_DeepLearning/"
                f"{_MOBILITENET_COMMIT}/Demo_Dataset/",
            ),
            sha256=(None,),  # per file: manifests/mobilitenet-demo.sha256
            method="files",
            files=("train/*/*.png", "val/*/*.png", "test/*/*.png"),
            layout="ImageFolder {train,val,test}/{Alligator,Breakmarking,Longitudinal,"
            "Transverse}/*.png, 120 images (80/20/20), 256x256 (scan_imagefolder)",
            licence="MIT (the authors' repository yuanyuanyo/Mobile_DeepLearning); no separate "
            "data licence stated",
            instructions="The authors' demo subset: folder Demo_Dataset/ of "
            "https://github.com/yuanyuanyo/Mobile_DeepLearning (commit "
            f"{_MOBILITENET_COMMIT[:7]}); download the repository and copy "
            "Demo_Dataset/{train,val,test} into the data set folder.",
            scanner="scan_imagefolder",
            shared_folder="mobilitenet_4class_demo",
            homepage="https://github.com/yuanyuanyo/Mobile_DeepLearning/tree/"
            f"{_MOBILITENET_COMMIT}/Demo_Dataset",
        ),
        DatasetInfo(
            name="deepcrack",
            task="crack segmentation",
            urls=(
                f"https://github.com/yhlleo/DeepCrack/raw/{_DEEPCRACK_COMMIT}/dataset/"
                "DeepCrack.zip",
            ),
            sha256=(None,),  # the archive's is not pinned; its files are (manifests/)
            files=("train_img/*.jpg", "train_lab/*.png", "test_img/*.jpg"),
            pixel_files=("test_lab/*.png",),  # re-encoded losslessly in the reference copy
            layout="{train,test}_img/*.jpg + {train,test}_lab/*.png (mask > 127 = crack); "
            "300 train / 237 test, 544x384",
            licence="non-commercial research and education only (yhlleo/DeepCrack README)",
            instructions="Official repo https://github.com/yhlleo/DeepCrack, file "
            "dataset/DeepCrack.zip (download it as a raw file or clone with git, not LFS).",
            scanner="scan_deepcrack",
            shared_folder="deepcrack",
            homepage=f"https://github.com/yhlleo/DeepCrack/blob/{_DEEPCRACK_COMMIT}/dataset/"
            "DeepCrack.zip (unzip it)",
        ),
        DatasetInfo(
            name="cfd",
            task="crack segmentation",
            urls=(
                "https://raw.githubusercontent.com/cuilimeng/CrackForest-dataset/"
                f"{_CFD_COMMIT}/",
            ),
            sha256=(None,),  # per file: manifests/cfd.sha256
            method="files",
            files=("image/*.jpg", "groundTruth/*.mat", "seg/*.seg"),
            pixel_files=("masks_png/*.png",),  # derived here by prepare_cfd_masks
            layout="image/*.jpg + groundTruth/*.mat; fetch_dataset writes masks_png/*.png "
            "(prepare_cfd_masks); 118 labelled of 155, 480x320",
            licence="non-commercial research only (CrackForest README)",
            instructions="git clone https://github.com/cuilimeng/CrackForest-dataset, then "
            "roadlite.data.prepare_cfd_masks(<clone>).",
            scanner="scan_cfd",
            shared_folder="crackforest_cfd",
            homepage="https://github.com/cuilimeng/CrackForest-dataset (git clone, then "
            "roadlite.data.prepare_cfd_masks)",
            prepare="prepare_cfd_masks",
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
            "qimr); figshare https://doi.org/10.6084/m9.figshare.28404875 (the paper's DOI). "
            "Its 120-image demo subset downloads as mobilitenet-demo.",
            scanner="scan_imagefolder",
        ),
        DatasetInfo(
            name="ozgenel-subset",
            task="crack / no-crack classification",
            urls=(
                "https://raw.githubusercontent.com/Smalleaves123/CrackCV/"
                f"{_OZGENEL_SUBSET_COMMIT}/dataset/",
            ),
            sha256=(None,),  # per file: manifests/ozgenel-subset.sha256
            method="files",
            files=("Positive/*.jpg", "Negative/*.jpg"),
            layout="Positive/*.jpg + Negative/*.jpg, 350 each, 227x227 (scan_ozgenel); the first "
            "350 file names of each class of Özgenel's 40,000, with 11 byte-identical pairs",
            licence="CC BY 4.0 (Özgenel's Mendeley listing); the copying repository states none",
            instructions="A 700-image subset of Özgenel's set in the repository "
            f"Smalleaves123/CrackCV (commit {_OZGENEL_SUBSET_COMMIT[:7]}), folder dataset/; "
            "download its Positive/ and Negative/ folders into the data set folder.",
            scanner="scan_ozgenel",
            shared_folder="concrete_crack_ozgenel_subset",
            homepage="https://github.com/Smalleaves123/CrackCV/tree/"
            f"{_OZGENEL_SUBSET_COMMIT}/dataset",
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
            shared_folder="uav75",
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
