"""Per-file SHA-256 lists of the downloadable data sets (Chapter 01_dataset).

Every data set that ``roadlite download`` fetches is checked file by file against a list
shipped in the package, ``roadlite/data/manifests/<name>.sha256``. The lists were computed from
the reference copies in ``../shared/data`` (so they are known without a network), and
``tests/test_dataset_checksums.py`` checks them against those copies.

The format is ``sha256sum``'s: one ``<hex>  <relative/path>`` line per file, ``#`` comments.
A line whose hash starts with ``pixels:`` checks the decoded image instead of the file's bytes
(:func:`pixel_sha256`): for files that the reference copy re-encoded losslessly (DeepCrack's
``test_lab/``) or that are derived on the user's machine (CFD's ``masks_png/``), where the
bytes depend on the PNG encoder but the pixels do not.

``python -m roadlite.data.make_checksums NAME FOLDER`` rewrites a list from a verified copy.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .validate import DataError

MANIFEST_DIR = Path(__file__).with_name("manifests")
PIXELS = "pixels:"
_HEX = re.compile(r"^[0-9a-f]{64}$")


class ChecksumError(DataError):
    """A file's SHA-256 differs from the expected one (Chapter 01_dataset)."""


@dataclass(frozen=True)
class Entry:
    """One line of a checksum list: a relative POSIX path, its SHA-256, and what it hashes
    (``"bytes"``: the file; ``"pixels"``: the decoded image, see :func:`pixel_sha256`)."""

    path: str
    sha256: str
    kind: str = "bytes"

    def line(self) -> str:
        prefix = PIXELS if self.kind == "pixels" else ""
        return f"{prefix}{self.sha256}  {self.path}"


def file_sha256(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_size):
            h.update(block)
    return h.hexdigest()


def pixel_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a decoded image: its PIL mode, size, palette (if any) and pixel bytes.

    Two PNGs with the same pixels and mode hash the same, whatever the encoder's settings.
    """
    from PIL import Image

    with Image.open(path) as im:
        im.load()
        h = hashlib.sha256(f"{im.mode} {im.width}x{im.height}\n".encode())
        if im.mode == "P":
            h.update(bytes(im.getpalette() or []))
        h.update(im.tobytes())
    return h.hexdigest()


def entry_hash(path: str | os.PathLike, kind: str) -> str:
    return pixel_sha256(path) if kind == "pixels" else file_sha256(path)


def _check_relative(path: str, where: str) -> str:
    p = PurePosixPath(path)
    if not path or p.is_absolute() or ".." in p.parts or "\\" in path or path.startswith("~"):
        raise DataError(f"{where}: unsafe path {path!r} in a checksum list")
    return str(p)


def parse_checksums(text: str, where: str = "<checksums>") -> list[Entry]:
    """Parse ``sha256sum``-style lines (see the module's docstring) into :class:`Entry`."""
    entries: list[Entry] = []
    seen: set[str] = set()
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        digest, sep, path = line.partition("  ")
        if not sep:
            digest, sep, path = line.partition(" *")  # sha256sum's binary-mode marker
        kind = "bytes"
        if digest.startswith(PIXELS):
            kind, digest = "pixels", digest[len(PIXELS):]
        if not sep or not _HEX.match(digest.lower()):
            raise DataError(f"{where}:{n}: not a '<sha256>  <path>' line: {raw!r}")
        path = _check_relative(path.strip(), f"{where}:{n}")
        if path in seen:
            raise DataError(f"{where}:{n}: {path} is listed twice")
        seen.add(path)
        entries.append(Entry(path, digest.lower(), kind))
    return entries


def format_checksums(entries: Iterable[Entry], header: str = "") -> str:
    lines = [f"# {h}" if h else "#" for h in header.splitlines()]
    lines += [e.line() for e in sorted(entries, key=lambda e: e.path)]
    return "\n".join(lines) + "\n"


def checksum_file(name: str) -> Path:
    """``roadlite/data/manifests/<name>.sha256`` (whether it exists or not)."""
    return Path(MANIFEST_DIR) / f"{name}.sha256"


def has_checksums(name: str) -> bool:
    return checksum_file(name).is_file()


def load_checksums(name: str) -> list[Entry]:
    """The checksum list of data set ``name``; :class:`DataError` if there is none."""
    path = checksum_file(name)
    if not path.is_file():
        raise DataError(f"no checksum list for data set {name!r} ({path})")
    return parse_checksums(path.read_text(encoding="utf-8"), str(path))


def list_files(folder: str | os.PathLike, patterns: Sequence[str]) -> list[str]:
    """Relative POSIX paths of the files under ``folder`` matching any of the globs."""
    folder = Path(folder)
    out: set[str] = set()
    for pattern in patterns:
        out.update(p.relative_to(folder).as_posix() for p in folder.glob(pattern) if p.is_file())
    return sorted(out)


def compute_checksums(
    folder: str | os.PathLike, files: Sequence[str], pixel_files: Sequence[str] = ()
) -> list[Entry]:
    """Hash the files under ``folder`` matching ``files`` (bytes) and ``pixel_files`` (pixels)."""
    folder = Path(folder)
    pixels = set(list_files(folder, pixel_files))
    entries = [Entry(p, file_sha256(folder / p)) for p in list_files(folder, files)
               if p not in pixels]
    entries += [Entry(p, pixel_sha256(folder / p), "pixels") for p in sorted(pixels)]
    return sorted(entries, key=lambda e: e.path)


def verify_files(folder: str | os.PathLike, entries: Iterable[Entry]) -> list[str]:
    """Check every listed file under ``folder``; return one problem text per bad file
    (``'<path>: missing'``, ``'<path>: sha256 <got>, expected <want>'``); ``[]`` if all match.
    Files that are not listed are ignored."""
    folder = Path(folder)
    problems = []
    for e in entries:
        p = folder / e.path
        if not p.is_file():
            problems.append(f"{e.path}: missing")
            continue
        try:
            got = entry_hash(p, e.kind)
        except OSError as err:  # unreadable, or not an image where pixels are expected
            problems.append(f"{e.path}: unreadable ({err})")
            continue
        if got != e.sha256:
            what = "pixel sha256" if e.kind == "pixels" else "sha256"
            problems.append(f"{e.path}: {what} {got}, expected {e.sha256}")
    return problems


def check_files(folder: str | os.PathLike, entries: Sequence[Entry], name: str) -> int:
    """Like :func:`verify_files`, but raise :class:`ChecksumError` naming the first bad file
    (and how many are bad). Returns the number of files checked."""
    problems = verify_files(folder, entries)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ChecksumError(
            f"{name}: {problems[0]}{more} in {folder}; the file does not match the data set's "
            "checksum list (a damaged download, or the source has changed)"
        )
    return len(entries)
