"""Offline tests of download / safe_extract / fetch_dataset / the command line against a local
HTTP server (127.0.0.1); per-file checksum lists of fake data sets; one-line failures."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import socket
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from roadlite.data import DataError, checksums
from roadlite.data.checksums import (
    Entry,
    compute_checksums,
    format_checksums,
    has_checksums,
    load_checksums,
    parse_checksums,
)
from roadlite.data.download import (
    DATASETS,
    ChecksumError,
    DatasetInfo,
    DownloadError,
    UnsafeArchiveError,
    download,
    fetch_dataset,
    main,
    safe_extract,
)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture()
def server(tmp_path):
    """Serve tmp_path/www on 127.0.0.1 (a free port); yields (base_url, folder)."""
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


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _tar(path: Path, members: dict[str, bytes], links: dict[str, tuple[bytes, str]] = None):
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, (kind, target) in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = target
            tf.addfile(info)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


GOOD = {"data/train_img/1.jpg": b"image-bytes", "data/train_lab/1.png": b"mask-bytes"}


def test_download_with_good_checksum_and_extract(server, tmp_path):
    url, www = server
    archive = _zip(www / "set.zip", GOOD)
    dest = tmp_path / "dl"
    dest.mkdir()
    got = download(f"{url}/set.zip", dest, sha256=_sha(archive), progress=False)
    assert got == dest / "set.zip" and got.read_bytes() == archive.read_bytes()
    assert [p.name for p in dest.iterdir()] == ["set.zip"]  # no temporary file left
    out = safe_extract(got, tmp_path / "x")
    assert (out / "data" / "train_lab" / "1.png").read_bytes() == b"mask-bytes"


def test_download_with_wrong_checksum_removes_the_file(server, tmp_path):
    url, www = server
    archive = _zip(www / "set.zip", GOOD)
    dest = tmp_path / "dl"
    dest.mkdir()
    wrong = "ab" * 32
    with pytest.raises(ChecksumError) as e:
        download(f"{url}/set.zip", dest / "set.zip", sha256=wrong, progress=False)
    assert wrong in str(e.value) and _sha(archive) in str(e.value)
    assert list(dest.iterdir()) == []


def test_unknown_checksum_is_refused_unless_allowed(server, tmp_path, capsys):
    url, www = server
    archive = _zip(www / "set.zip", GOOD)
    with pytest.raises(ChecksumError, match="allow_unknown_checksum"):
        download(f"{url}/set.zip", tmp_path / "a.zip", progress=False)
    assert not (tmp_path / "a.zip").exists()
    got = download(
        f"{url}/set.zip", tmp_path / "a.zip", allow_unknown_checksum=True, progress=False
    )
    assert got.read_bytes() == archive.read_bytes()
    assert _sha(archive) in capsys.readouterr().out


def test_download_of_a_missing_url_fails_cleanly(server, tmp_path):
    url, _ = server
    with pytest.raises(DownloadError, match=r"cannot reach .*/nothing.zip: HTTP 404") as e:
        download(f"{url}/nothing.zip", tmp_path / "n.zip", sha256="0" * 64, progress=False)
    assert isinstance(e.value, OSError) and "\n" not in str(e.value)
    assert list(tmp_path.iterdir()) == [tmp_path / "www"]


def test_an_existing_verified_file_is_not_downloaded_again(server, tmp_path):
    url, www = server
    archive = _zip(www / "set.zip", GOOD)
    got = download(f"{url}/set.zip", tmp_path, sha256=_sha(archive), progress=False)
    archive.unlink()  # the server no longer has it: a second call must not need it
    assert download(f"{url}/set.zip", tmp_path, sha256=_sha(got), progress=False) == got


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_member_escaping_the_target_is_refused(tmp_path, kind):
    members = {"ok.txt": b"fine", "../evil": b"owned"}
    archive = (_zip if kind == "zip" else _tar)(tmp_path / f"bad.{kind}", members)
    target = tmp_path / "target"
    with pytest.raises(UnsafeArchiveError, match=r"\.\./evil"):
        safe_extract(archive, target)
    assert not (tmp_path / "evil").exists()
    assert not (target / "ok.txt").exists(), "nothing is written when a member is unsafe"


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_absolute_member_is_refused(tmp_path, kind):
    archive = (_zip if kind == "zip" else _tar)(tmp_path / f"abs.{kind}", {"/tmp/evil": b"x"})
    with pytest.raises(UnsafeArchiveError, match="/tmp/evil"):
        safe_extract(archive, tmp_path / "target")


def test_nested_dotdot_that_stays_inside_is_allowed(tmp_path):
    archive = _zip(tmp_path / "ok.zip", {"a/../b.txt": b"inside"})
    safe_extract(archive, tmp_path / "t")
    assert (tmp_path / "t" / "b.txt").read_bytes() == b"inside"


def test_links_pointing_outside_are_refused(tmp_path):
    sym = _tar(tmp_path / "sym.tar.gz", {}, {"link": (tarfile.SYMTYPE, "../../etc/passwd")})
    with pytest.raises(UnsafeArchiveError, match="'link'.*symlink"):
        safe_extract(sym, tmp_path / "t1")
    hard = _tar(tmp_path / "hard.tar.gz", {}, {"hl": (tarfile.LNKTYPE, "../outside")})
    with pytest.raises(UnsafeArchiveError, match="'hl'.*hard link"):
        safe_extract(hard, tmp_path / "t2")
    # a zip symlink member (unix mode bits in external_attr)
    zpath = tmp_path / "sym.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        info = zipfile.ZipInfo("zlink")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeArchiveError, match="zlink"):
        safe_extract(zpath, tmp_path / "t3")


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_size_and_member_limits(tmp_path, kind):
    members = {f"f{i}.bin": b"x" * 1000 for i in range(5)}
    archive = (_zip if kind == "zip" else _tar)(tmp_path / f"big.{kind}", members)
    with pytest.raises(UnsafeArchiveError, match=r"5000 bytes when unpacked.*limit of 4999"):
        safe_extract(archive, tmp_path / "t1", max_bytes=4999)
    with pytest.raises(UnsafeArchiveError, match=r"5 members, more than the limit of 4"):
        safe_extract(archive, tmp_path / "t2", max_members=4)
    assert not any((tmp_path / "t1").iterdir()) and not any((tmp_path / "t2").iterdir())
    safe_extract(archive, tmp_path / "t3", max_bytes=5000, max_members=5)
    assert len(list((tmp_path / "t3").iterdir())) == 5


def test_zip_bomb_is_refused_before_writing(tmp_path):
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * (8 << 20))  # 8 MiB of zeros, a few KiB packed
    assert path.stat().st_size < 100_000
    with pytest.raises(UnsafeArchiveError, match="bytes when unpacked"):
        safe_extract(path, tmp_path / "t", max_bytes=1 << 20)
    assert not (tmp_path / "t" / "zeros.bin").exists()


def test_not_an_archive(tmp_path):
    p = tmp_path / "plain.bin"
    p.write_bytes(b"not an archive")
    with pytest.raises(DataError, match="plain.bin"):
        safe_extract(p, tmp_path / "t")


def test_registry_entries_are_consistent():
    assert {"deepcrack", "cfd", "mobilitenet", "mobilitenet-demo", "ozgenel-40k",
            "rdd2020"} <= set(DATASETS)
    for name, info in DATASETS.items():
        assert info.name == name
        assert len(info.urls) == len(info.sha256)
        assert all(u.startswith("https://") for u in info.urls)
        assert info.licence and info.layout and info.instructions
        assert info.method in ("archive", "files")
        if info.method == "files":
            assert len(info.urls) == 1 and info.urls[0].endswith("/")
        # a set whose files are listed has a checksum list, and the other way round
        assert bool(info.files) == has_checksums(name), name
    verifiable = {n for n, d in DATASETS.items() if d.verifiable}
    assert verifiable == {"mobilitenet-demo", "deepcrack", "cfd", "ozgenel-subset"}


def test_packaged_checksum_lists_parse():
    counts = {n: len(load_checksums(n)) for n in ("mobilitenet-demo", "deepcrack", "cfd",
                                                  "ozgenel-subset")}
    assert counts == {"mobilitenet-demo": 120, "deepcrack": 1074, "cfd": 509, "ozgenel-subset": 700}
    kinds = {e.path.split("/")[0] for e in load_checksums("deepcrack") if e.kind == "pixels"}
    assert kinds == {"test_lab"}


@pytest.mark.parametrize("line,problem", [
    ("ab  a.png", "not a '<sha256>  <path>' line"),
    ("a" * 64 + "  ../a.png", "unsafe path"),
    ("a" * 64 + "  /etc/passwd", "unsafe path"),
])
def test_bad_checksum_lines_are_refused(line, problem):
    with pytest.raises(DataError, match=problem):
        parse_checksums(line, "x.sha256")
    with pytest.raises(DataError, match="listed twice"):
        parse_checksums(f"{'a' * 64}  a.png\n{'b' * 64}  a.png\n")
    got = parse_checksums(f"# comment\n{'A' * 64} *b.png\npixels:{'c' * 64}  c.png\n")
    assert got == [Entry("b.png", "a" * 64), Entry("c.png", "c" * 64, "pixels")]


def test_fetch_without_direct_url_gives_instructions(tmp_path):
    with pytest.raises(DataError, match="pan.baidu.com"):
        fetch_dataset("mobilitenet", tmp_path)
    with pytest.raises(DataError, match="unknown data set"):
        fetch_dataset("nope", tmp_path)


def test_fetch_refuses_unknown_checksum_before_any_network_access(tmp_path):
    with pytest.raises(ChecksumError, match="allow_unknown_checksum"):
        fetch_dataset("rdd2020", tmp_path / "rdd2020")
    assert not (tmp_path / "rdd2020").exists()


def test_fetch_dataset_end_to_end(server, tmp_path, monkeypatch):
    url, www = server
    archive = _zip(www / "local.zip", GOOD)
    info = DatasetInfo(
        name="local",
        urls=(f"{url}/local.zip",),
        sha256=(_sha(archive),),
        layout="test",
        licence="test",
        instructions="test",
    )
    monkeypatch.setitem(DATASETS, "local", info)
    folder = fetch_dataset("local", tmp_path / "data" / "local", progress=False)
    assert folder == tmp_path / "data" / "local"
    assert (folder / "data" / "train_img" / "1.jpg").read_bytes() == b"image-bytes"
    assert (folder / "_downloads" / "local.zip").is_file()
    # a second call re-uses the verified download
    assert fetch_dataset("local", tmp_path / "data" / "local", progress=False) == folder


def test_command_line_list_and_instructions(capsys, tmp_path):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "deepcrack" in out and "direct download" in out and "by hand" in out
    assert "mobilitenet-demo" in out
    assert main(["mobilitenet", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "pan.baidu.com" in err and err.startswith("roadlite download: ")
    assert err.count("\n") == 1


# ---- data sets verified file by file (a fake set served from 127.0.0.1) --------------------


def _png(path: Path, seed: int, **save) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = bytes((seed * 37 + i * 11) % 256 for i in range(16 * 16 * 3))
    Image.frombytes("RGB", (16, 16), pixels).save(path, format="PNG", **save)
    return path


@pytest.fixture(autouse=True)
def _no_retries(monkeypatch):
    """pooch retries a failed file after 1 s and 2 s: the failure tests need no retries."""
    monkeypatch.setattr("roadlite.data.download.FILE_RETRIES", 0)


def _register(monkeypatch, tmp_path, info: DatasetInfo, entries) -> None:
    """Make ``info`` a registered data set whose checksum list is ``entries``."""
    mdir = tmp_path / "manifests"
    mdir.mkdir(exist_ok=True)
    (mdir / f"{info.name}.sha256").write_text(format_checksums(entries))
    monkeypatch.setattr(checksums, "MANIFEST_DIR", mdir)
    monkeypatch.setitem(DATASETS, info.name, info)


def _files_set(www: Path, url: str) -> tuple[DatasetInfo, list]:
    repo = www / "repo" / "Demo_Dataset"
    for i, rel in enumerate(["train/A/000000.png", "train/B/000000.png", "val/A/000001.png",
                             "test/B/000002.png"]):
        _png(repo / rel, i)
    info = DatasetInfo(
        name="fake-files", urls=(f"{url}/repo/Demo_Dataset/",), sha256=(None,),
        method="files", files=("*/*/*.png",), layout="test", licence="test",
        instructions="test", homepage="https://example.org/fake",
    )
    return info, compute_checksums(repo, info.files)


def test_per_file_download_verifies_every_file(server, tmp_path, monkeypatch):
    url, www = server
    info, entries = _files_set(www, url)
    _register(monkeypatch, tmp_path, info, entries)
    dest = tmp_path / "data" / "fake-files"
    assert fetch_dataset("fake-files", dest, progress=False) == dest
    for e in entries:
        assert (dest / e.path).read_bytes() == (www / "repo" / "Demo_Dataset" / e.path).read_bytes()
    assert sorted(p.name for p in dest.iterdir()) == ["test", "train", "val"]
    # complete and verified: a second call needs no network at all
    monkeypatch.setitem(DATASETS, "fake-files", DatasetInfo(
        **{**info.__dict__, "urls": (f"http://127.0.0.1:{_closed_port()}/",)}))
    assert fetch_dataset("fake-files", dest, progress=False) == dest
    # a file damaged locally is fetched again
    (dest / entries[0].path).write_bytes(b"damaged")
    monkeypatch.setitem(DATASETS, "fake-files", info)
    fetch_dataset("fake-files", dest, progress=False)
    assert checksums.verify_files(dest, entries) == []


def test_per_file_download_rejects_a_corrupted_file_by_name(server, tmp_path, monkeypatch,
                                                            capsys):
    url, www = server
    info, entries = _files_set(www, url)
    _register(monkeypatch, tmp_path, info, entries)
    (www / "repo" / "Demo_Dataset" / "val" / "A" / "000001.png").write_bytes(b"not the image")
    dest = tmp_path / "fake"
    with pytest.raises(ChecksumError, match=r"fake-files: val/A/000001.png from .* does not "
                                            r"match the checksum list \(sha256 [0-9a-f]{64}"):
        fetch_dataset("fake-files", dest, progress=False)
    assert not (dest / "val" / "A" / "000001.png").exists()
    assert not (dest / "val" / "A").exists() or any((dest / "val" / "A").iterdir())
    # the command line: one line, exit code 1, the file named
    assert main(["fake-files", str(dest), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "val/A/000001.png" in err and "Traceback" not in err


def _archive_set(tmp_path: Path, www: Path, url: str, corrupt: bool = False):
    """A reference copy (its list) and a zip of the same set one folder down, with the mask
    re-encoded differently (same pixels, other bytes) and a README that is not listed."""
    ref = tmp_path / "reference"
    (ref / "train_img").mkdir(parents=True)
    (ref / "train_img" / "1.jpg").write_bytes(b"jpeg-bytes")
    _png(ref / "test_lab" / "1.png", 7, compress_level=0)
    info = DatasetInfo(
        name="fake-zip", urls=(f"{url}/Fake.zip",), sha256=(None,), files=("train_img/*",),
        pixel_files=("test_lab/*.png",), layout="test", licence="test", instructions="test",
    )
    entries = compute_checksums(ref, info.files, info.pixel_files)
    png = _png(tmp_path / "reencoded.png", 7, optimize=True)
    assert png.read_bytes() != (ref / "test_lab" / "1.png").read_bytes()
    _zip(www / "Fake.zip", {
        "Fake/train_img/1.jpg": b"other bytes" if corrupt else b"jpeg-bytes",
        "Fake/test_lab/1.png": png.read_bytes(),
        "Fake/README.md": b"readme",
    })
    return info, entries


def test_archive_download_is_verified_per_file_after_extraction(server, tmp_path, monkeypatch):
    url, www = server
    info, entries = _archive_set(tmp_path, www, url)
    _register(monkeypatch, tmp_path, info, entries)
    dest = tmp_path / "data" / "fake-zip"
    assert fetch_dataset("fake-zip", dest, progress=False) == dest
    assert sorted(p.name for p in dest.iterdir()) == ["README.md", "test_lab", "train_img"]
    assert (dest / "train_img" / "1.jpg").read_bytes() == b"jpeg-bytes"


def test_archive_download_rejects_a_corrupted_file_by_name(server, tmp_path, monkeypatch):
    url, www = server
    info, entries = _archive_set(tmp_path, www, url, corrupt=True)
    _register(monkeypatch, tmp_path, info, entries)
    with pytest.raises(ChecksumError, match=r"fake-zip: train_img/1.jpg: sha256 [0-9a-f]{64}, "
                                            r"expected"):
        fetch_dataset("fake-zip", tmp_path / "fz", progress=False)


# ---- failures end in one line ----------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when the block ends: connections are refused


@pytest.mark.parametrize("method", ["archive", "files"])
def test_offline_download_ends_in_one_clear_line(tmp_path, monkeypatch, capsys, method):
    base = f"http://127.0.0.1:{_closed_port()}"
    url = f"{base}/set.zip" if method == "archive" else f"{base}/repo/"
    info = DatasetInfo(
        name="offline", urls=(url,), sha256=("0" * 64,), method=method, layout="test",
        licence="test", instructions="test", homepage="https://example.org/offline",
        files=("*.png",) if method == "files" else (),
    )
    if method == "files":
        _register(monkeypatch, tmp_path, info, [Entry("a.png", "0" * 64)])
    else:
        monkeypatch.setitem(DATASETS, "offline", info)
    dest = tmp_path / "data" / "offline"
    assert main(["offline", str(dest), "--quiet"]) == 1
    captured = capsys.readouterr()
    err = captured.err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    target = url if method == "archive" else f"{base}/repo/a.png"
    assert err.startswith(f"roadlite download: cannot reach {target}: ")
    assert "Connection refused" in err
    assert err.rstrip().endswith(f"download it by hand from https://example.org/offline into "
                                 f"{dest}")
    with pytest.raises(DownloadError) as e:
        fetch_dataset("offline", dest, progress=False)
    assert isinstance(e.value, OSError) and e.value.url == target
    assert not (tmp_path / "data").exists(), "a failed download leaves no empty folders behind"


def test_download_all_fetches_the_verifiable_sets(server, tmp_path, monkeypatch, capsys):
    url, www = server
    info, entries = _files_set(www, url)
    registry = {"fake-files": info, "unpinned": DatasetInfo(
        name="unpinned", urls=(f"{url}/x.zip",), sha256=(None,), layout="t", licence="t",
        instructions="t")}
    monkeypatch.setattr("roadlite.data.download.DATASETS", registry)
    mdir = tmp_path / "manifests"
    mdir.mkdir()
    (mdir / "fake-files.sha256").write_text(format_checksums(entries))
    monkeypatch.setattr(checksums, "MANIFEST_DIR", mdir)
    assert main(["--all", str(tmp_path / "data"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "unpinned" in out and f"fake-files: {tmp_path / 'data' / 'fake-files'}" in out
    assert "(4 files verified)" in out
    assert checksums.verify_files(tmp_path / "data" / "fake-files", entries) == []
    assert not (tmp_path / "data" / "unpinned").exists()
