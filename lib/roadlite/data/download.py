"""Downloading the real data sets, for users with internet (the book never needs it).

Chapter 01_dataset teaches this module. :data:`DATASETS` (the catalogue,
:mod:`roadlite.data.catalogue`) lists where each public data set comes from (official or primary
sources), its layout and its licence. Only sets with a direct URL can be fetched by :func:`fetch_dataset` (``roadlite download NAME [DEST]``, ``make data``); the
others (Google Drive, Baidu, OneDrive, Kaggle, Mendeley) carry instructions.

The fetching and checksumming is `pooch <https://www.fatiando.org/pooch/>`_'s: a file is
streamed to a temporary name, its SHA-256 compared with the known one, and only then moved into
place. Sets with a checksum list (``roadlite/data/manifests/<name>.sha256``, see
:mod:`roadlite.data.checksums`) are verified file by file: fetched per file from a base URL
(``method="files"``: a git repository's raw files, one pooch registry entry each) or unpacked
from an archive and checked after extraction. A set without a list needs the archive's SHA-256;
where none is known the download is refused unless ``allow_unknown_checksum=True`` (the computed
hash is printed so that it can be pinned). What pooch does not do is kept here:
:func:`safe_extract` refuses archive members that would land outside the target folder, links,
devices, and archives over a size or member-count limit.

A failed download raises :class:`DownloadError` (one line: ``cannot reach <url>: <reason>``);
the command line prints it as ``roadlite download: ...`` and exits with 1, without a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import shutil
import stat
import sys
import tarfile
import threading
import urllib.parse
import zipfile
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path, PurePosixPath, PureWindowsPath

from roadlite.paths import repo_root

from . import real
from .catalogue import DATASETS, DatasetInfo
from .checksums import (
    ChecksumError,
    Entry,
    check_files,
    has_checksums,
    load_checksums,
    verify_files,
)
from .validate import DataError

__all__ = [
    "DATASETS",
    "ChecksumError",
    "DatasetInfo",
    "DownloadError",
    "UnsafeArchiveError",
    "default_dest",
    "download",
    "fetch_dataset",
    "main",
    "safe_extract",
]

# safe_extract's limits (a "zip bomb" stops before anything is written).
MAX_EXTRACT_BYTES = 64 << 30  # 64 GiB uncompressed
MAX_EXTRACT_MEMBERS = 2_000_000
USER_AGENT = "roadlite (https://github.com; data download)"
FILE_RETRIES = 2  # per-file downloads: pooch retries a failed file this often (1 s, 2 s apart)


class UnsafeArchiveError(DataError):
    """An archive member would be written outside the target folder, is a link, a device, or
    the archive is over a size limit (Chapter 01_dataset)."""


class DownloadError(DataError, OSError):
    """A download failed (no network, refused, HTTP error, time-out); the message is one line:
    ``cannot reach <url>: <reason>`` (Chapter 01_dataset)."""

    def __init__(self, message: str, url: str = "", reason: str = ""):
        super().__init__(message)
        self.url = url
        self.reason = reason


def _filename_from_url(url: str) -> str:
    name = PurePosixPath(urllib.parse.urlparse(url).path).name
    return name or "download"


def default_dest(name: str) -> Path:
    """Where ``roadlite download NAME`` puts a data set: ``<repository>/data/<name>``, the
    folder :func:`roadlite.data.locate.resolve_data_root` looks in first."""
    return repo_root() / "data" / name


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """Pooch logs every file it fetches ('Downloading file ...') to stderr: keep warnings only."""
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def _downloader(timeout: float, progress: bool):
    import pooch

    return pooch.HTTPDownloader(
        progressbar=progress, chunk_size=1 << 16, timeout=timeout,
        headers={"User-Agent": USER_AGENT},
    )


def _reason(err: BaseException) -> str:
    """A short reason for a failed request: 'HTTP 404 Not Found', '[Errno 111] Connection
    refused', 'timed out', ... (requests' own messages span several nested reprs)."""
    import requests

    response = getattr(err, "response", None)
    if isinstance(err, requests.HTTPError) and response is not None:
        return f"HTTP {response.status_code} {response.reason or ''}".strip()
    if isinstance(err, requests.Timeout):
        return "timed out"
    text = str(err)
    errnos = re.findall(r"\[Errno -?\d+\] [^'\"()\]]+", text)
    if errnos:
        return errnos[-1].strip().rstrip(".")
    text = " ".join(text.split())
    return (text[:200] or type(err).__name__)


def _download_error(url: str, err: BaseException) -> DownloadError:
    reason = _reason(err)
    return DownloadError(f"cannot reach {url}: {reason}", url=url, reason=reason)


def _mismatch(err: ValueError) -> str:
    m = re.search(r"expected (?:sha256:)?([0-9a-fA-F]+) but got ([0-9a-fA-F]+)", str(err))
    return f"sha256 {m.group(2)}, expected {m.group(1)}" if m else str(err)


def download(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    allow_unknown_checksum: bool = False,
    progress: bool = True,
    timeout: float = 60.0,
    *,
    quiet: bool = False,
) -> Path:
    """Download ``url`` to ``dest`` (a file, or a folder to put it in), checking its SHA-256.

    Chapter 01_dataset. ``pooch.retrieve`` streams the file to a temporary name next to
    ``dest`` and moves it into place only after the check; a ``dest`` that already holds the
    right file is not downloaded again. A mismatch raises :class:`ChecksumError` naming the
    expected and actual hash (nothing is kept); a network or HTTP failure raises
    :class:`DownloadError` (``cannot reach <url>: <reason>``). With ``sha256=None`` the
    download is refused unless ``allow_unknown_checksum=True``; then the computed hash is
    printed (unless ``quiet``).
    """
    import pooch
    import requests

    if sha256 is None and not allow_unknown_checksum:
        raise ChecksumError(
            f"no sha256 known for {url}: refusing to download an unverified file. Pass "
            "allow_unknown_checksum=True to download it anyway (its hash will be printed)."
        )
    dest = Path(dest)
    if dest.is_dir():
        dest = dest / _filename_from_url(url)
    dest.parent.mkdir(parents=True, exist_ok=True)
    known = None if sha256 is None else f"sha256:{sha256.lower()}"
    try:
        with _quiet_pooch():
            pooch.retrieve(url, known, fname=dest.name, path=dest.parent,
                           downloader=_downloader(timeout, progress))
    except ValueError as e:  # pooch: the hash of the download does not match
        raise ChecksumError(
            f"sha256 mismatch for {url}: {_mismatch(e)}; the download was removed"
        ) from e
    except requests.RequestException as e:
        raise _download_error(url, e) from e
    if sha256 is None and not quiet:
        print(f"sha256 of {dest.name} (not verified, pin it): {pooch.file_hash(str(dest))}")
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


def _check_size(archive: Path, sizes: list[int], max_bytes: int, max_members: int) -> None:
    if len(sizes) > max_members:
        raise UnsafeArchiveError(
            f"{archive}: {len(sizes)} members, more than the limit of {max_members}; refusing"
        )
    total = sum(sizes)
    if total > max_bytes:
        raise UnsafeArchiveError(
            f"{archive}: {total} bytes when unpacked, more than the limit of {max_bytes}; "
            "refusing"
        )


def safe_extract(
    archive: str | os.PathLike,
    target: str | os.PathLike,
    max_bytes: int = MAX_EXTRACT_BYTES,
    max_members: int = MAX_EXTRACT_MEMBERS,
) -> Path:
    """Unpack a zip or tar(.gz/.bz2/.xz) archive into ``target``, safely (Chapter 01_dataset).

    Every member is checked before anything is written: an absolute name, a name escaping
    ``target`` through ``..``, a symlink or hard link pointing outside ``target``, or a device /
    fifo member raises :class:`UnsafeArchiveError` naming the member; so does an archive with
    more than ``max_members`` members or more than ``max_bytes`` bytes unpacked (its declared
    sizes; zipfile and tarfile never write more than a member declares). Returns ``target``.
    """
    archive = Path(archive)
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    root = target.resolve()
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            _check_size(archive, [i.file_size for i in infos], max_bytes, max_members)
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
            _check_size(archive, [m.size for m in members], max_bytes, max_members)
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


def _fetch_files(info: DatasetInfo, entries: list[Entry], folder: Path, progress: bool,
                 timeout: float, workers: int = 8) -> None:
    """Fetch every byte-checked file of the list from ``info.urls[0] + path`` with a pooch
    registry of the known hashes (files already there and matching are not fetched again)."""
    import pooch
    import requests
    from tqdm import tqdm

    base = info.urls[0] if info.urls[0].endswith("/") else info.urls[0] + "/"
    wanted = [e for e in entries if e.kind == "bytes"]  # 'pixels' files are derived here
    registry = pooch.create(path=folder, base_url=base, retry_if_failed=FILE_RETRIES,
                            registry={e.path: f"sha256:{e.sha256}" for e in wanted})
    for e in wanted:  # pooch makes parent folders itself, but not safely from threads
        (folder / e.path).parent.mkdir(parents=True, exist_ok=True)
    downloader = _downloader(timeout, progress=False)
    with _quiet_pooch(), ThreadPoolExecutor(workers) as pool, tqdm(
        total=len(wanted), unit="file", desc=info.name, leave=False,
        disable=None if progress else True,  # None: no bar when stderr is not a terminal
    ) as bar:
        stop = threading.Event()  # after a failure, queued files are not started

        def fetch(path: str) -> None:
            if stop.is_set():
                return
            try:
                registry.fetch(path, downloader=downloader)
            except BaseException:
                stop.set()
                raise

        jobs = {pool.submit(fetch, e.path): e for e in wanted}
        try:
            for job in as_completed(jobs):
                e = jobs[job]
                try:
                    job.result()
                except ValueError as err:  # the downloaded file's hash is not the listed one
                    raise ChecksumError(
                        f"{info.name}: {e.path} from {base + e.path} does not match the "
                        f"checksum list ({_mismatch(err)}); it was not kept"
                    ) from err
                except requests.RequestException as err:
                    raise _download_error(base + e.path, err) from err
                bar.update(1)
        except BaseException:
            stop.set()
            for job in jobs:
                job.cancel()
            raise


def _find_base(tree: Path, entries: list[Entry]) -> Path | None:
    """The folder under ``tree`` (itself or up to three levels down) holding most listed files."""
    sample = [e.path for e in entries[:: max(1, len(entries) // 50)]]
    best, best_hits = None, 0
    candidates = [tree] + sorted(p for p in tree.glob("*") if p.is_dir()) + sorted(
        p for p in tree.glob("*/*") if p.is_dir()) + sorted(
        p for p in tree.glob("*/*/*") if p.is_dir())
    for d in candidates:
        hits = sum((d / p).is_file() for p in sample)
        if hits > best_hits:
            best, best_hits = d, hits
    return best


def _fetch_archives(info: DatasetInfo, entries: list[Entry] | None, folder: Path,
                    allow_unknown_checksum: bool, progress: bool, timeout: float) -> None:
    downloads = folder / "_downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    for url, sha in zip(info.urls, info.sha256, strict=True):
        file = downloads / _filename_from_url(url)
        download(url, file, sha, allow_unknown_checksum=allow_unknown_checksum or bool(entries),
                 progress=progress, timeout=timeout, quiet=bool(entries))
        if entries is None:  # no checksum list: unpack in place, keep the verified archive
            safe_extract(file, folder)
            continue
        staging = downloads / "unpacked"
        shutil.rmtree(staging, ignore_errors=True)
        safe_extract(file, staging)
        base = _find_base(staging, entries)
        if base is None:
            raise ChecksumError(
                f"{info.name}: {url} holds none of the files of its checksum list (e.g. "
                f"{entries[0].path}); the source has changed"
            )
        for child in base.iterdir():
            if child.name == "_downloads" or child.name.startswith("__MACOSX"):
                continue
            target = folder / child.name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
            shutil.move(str(child), str(target))
        shutil.rmtree(staging, ignore_errors=True)


def _remove_empty_folders(folder: Path, keep: Path) -> None:
    """Remove the empty folders a failed download left under (and including) ``folder``, and
    its empty parents up to ``keep`` (the nearest folder that existed before)."""
    if folder.is_dir():
        for d in sorted((p for p in folder.rglob("*") if p.is_dir()),
                        key=lambda p: -len(p.parts)):
            with contextlib.suppress(OSError):
                d.rmdir()  # only succeeds when empty
    for d in (folder, *folder.parents):
        if d == keep:
            break
        try:
            d.rmdir()
        except FileNotFoundError:
            continue
        except OSError:  # not empty
            break


def fetch_dataset(
    name: str,
    dest: str | os.PathLike | None = None,
    allow_unknown_checksum: bool = False,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download one entry of :data:`DATASETS` into the folder ``dest`` and verify it.

    Chapter 01_dataset. ``dest`` is the data set's own folder (default :func:`default_dest`:
    ``<repository>/data/<name>``). A set with a checksum list that is already complete and
    correct there is not downloaded again; otherwise it is fetched (per file, or as an archive
    unpacked by :func:`safe_extract`), prepared (CFD's masks) and every listed file checked:
    a bad one raises :class:`ChecksumError` naming it. A set without a list is unpacked in
    place, its archives kept in ``dest/_downloads``. A set without a direct URL raises
    :class:`DataError` with the instructions; a network failure :class:`DownloadError`
    (``cannot reach <url>: <reason>; download it by hand from <page> into <dest>``).
    Returns the data set folder.
    """
    if name not in DATASETS:
        raise DataError(f"unknown data set {name!r}; known: {', '.join(sorted(DATASETS))}")
    info = DATASETS[name]
    if not info.urls:
        raise DataError(f"{name} cannot be downloaded automatically: {info.instructions}")
    folder = Path(dest) if dest is not None else default_dest(name)
    existed = folder
    while not existed.exists() and existed != existed.parent:
        existed = existed.parent
    entries = load_checksums(name) if has_checksums(name) else None
    if info.method == "files" and entries is None:
        raise DataError(f"{name}: a per-file data set needs a checksum list (manifests/)")
    if entries is not None and folder.is_dir():
        if not verify_files(folder, entries):
            return folder  # complete and verified: nothing to download
    if entries is None and None in info.sha256 and not allow_unknown_checksum:
        unknown = info.urls[info.sha256.index(None)]
        raise ChecksumError(
            f"no sha256 known for {unknown}: refusing to download an unverified file. Pass "
            "allow_unknown_checksum=True (--allow-unknown-checksum) to download it anyway."
        )
    try:
        if info.method == "files":
            folder.mkdir(parents=True, exist_ok=True)
            _fetch_files(info, entries, folder, progress, timeout)
        else:
            _fetch_archives(info, entries, folder, allow_unknown_checksum, progress, timeout)
    except DownloadError as e:
        _remove_empty_folders(folder, existed)  # verified files stay: reruns fetch the rest
        where = info.homepage or e.url
        raise DownloadError(f"{e}; download it by hand from {where} into {folder}",
                            url=e.url, reason=e.reason) from e
    except DataError:
        _remove_empty_folders(folder, existed)
        raise
    if info.prepare:  # files derived here (CFD's masks_png/): made afresh
        getattr(real, info.prepare)(folder, overwrite=True)
    if entries is not None:
        try:
            check_files(folder, entries, name)
        finally:  # verified files replace the archive; a bad one is downloaded afresh next time
            shutil.rmtree(folder / "_downloads", ignore_errors=True)
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    """``roadlite download --list | NAME [DEST] | --all [DIR]`` (Chapter 01_dataset).

    Lists the registry, fetches one data set into ``DEST`` (default ``data/NAME`` in the
    repository), or every set that can be verified (a checksum list or pinned hashes) into
    ``DIR/<name>`` (default ``data/``). Needs internet; a failure prints one line
    ``roadlite download: ...`` on stderr and returns 1.
    """
    ap = argparse.ArgumentParser(
        prog="roadlite download",
        description="Download a public crack / road-distress data set (SHA-256 checked).",
    )
    ap.add_argument("--list", action="store_true", help="list the known data sets")
    ap.add_argument("--all", action="store_true",
                    help="fetch every data set with known checksums into DIR/<name> (data/)")
    ap.add_argument("name", nargs="?", help="data set name (see --list); with --all: DIR")
    ap.add_argument("dest", nargs="?", default=None,
                    help="folder to put it in (default: data/NAME in the repository)")
    ap.add_argument(
        "--allow-unknown-checksum",
        action="store_true",
        help="download even where no SHA-256 is pinned yet (the hash is printed)",
    )
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    args = ap.parse_args(list(argv) if argv is not None else None)
    if args.list or not (args.name or args.all):
        for name, info in sorted(DATASETS.items()):
            how = "by hand"
            if info.urls:
                how = "direct download" + ("" if info.verifiable else " (no checksum yet)")
            print(f"{name:38s} {info.task:34s} {how}")
            print(f"{'':38s} {info.licence}")
        return 0
    if args.all:
        if args.dest is not None:
            ap.error("--all takes one folder at most")
        parent = Path(args.name) if args.name else default_dest("x").parent
        jobs = [(n, parent / n) for n, info in sorted(DATASETS.items()) if info.verifiable]
        skipped = [n for n, info in sorted(DATASETS.items()) if info.urls and not info.verifiable]
        if skipped:
            print(f"not fetched by --all (no checksums pinned; fetch by name with "
                  f"--allow-unknown-checksum): {', '.join(skipped)}")
    else:
        jobs = [(args.name, Path(args.dest) if args.dest else None)]
    for name, dest in jobs:
        try:
            folder = fetch_dataset(name, dest, allow_unknown_checksum=args.allow_unknown_checksum,
                                   progress=not args.quiet)
        except (DataError, OSError) as e:
            print(f"roadlite download: {' '.join(str(e).split())}", file=sys.stderr)
            return 1
        checked = len(load_checksums(name)) if has_checksums(name) else 0
        note = f" ({checked} files verified)" if checked else ""
        print(f"{name}: {folder}{note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
