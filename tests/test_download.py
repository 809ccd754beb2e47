"""Offline tests of download / safe_extract / fetch_dataset against a local HTTP server."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from roadlite.data import DataError
from roadlite.data.download import (
    DATASETS,
    ChecksumError,
    DatasetInfo,
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
    with pytest.raises(OSError):
        download(f"{url}/nothing.zip", tmp_path / "n.zip", sha256="0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == [tmp_path / "www"]


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


def test_not_an_archive(tmp_path):
    p = tmp_path / "plain.bin"
    p.write_bytes(b"not an archive")
    with pytest.raises(DataError, match="plain.bin"):
        safe_extract(p, tmp_path / "t")


def test_registry_entries_are_consistent():
    assert {"deepcrack", "cfd", "mobilitenet", "ozgenel-40k", "rdd2020"} <= set(DATASETS)
    for name, info in DATASETS.items():
        assert info.name == name
        assert len(info.urls) == len(info.sha256)
        assert all(u.startswith("https://") for u in info.urls)
        assert info.licence and info.layout and info.instructions


def test_fetch_without_direct_url_gives_instructions(tmp_path):
    with pytest.raises(DataError, match="pan.baidu.com"):
        fetch_dataset("mobilitenet", tmp_path)
    with pytest.raises(DataError, match="unknown data set"):
        fetch_dataset("nope", tmp_path)


def test_fetch_refuses_unknown_checksum_before_any_network_access(tmp_path):
    with pytest.raises(ChecksumError, match="allow_unknown_checksum"):
        fetch_dataset("deepcrack", tmp_path)


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
    folder = fetch_dataset("local", tmp_path / "data", progress=False)
    assert (folder / "data" / "train_img" / "1.jpg").read_bytes() == b"image-bytes"
    assert (folder / "_downloads" / "local.zip").is_file()
    # a second call re-uses the verified download
    assert fetch_dataset("local", tmp_path / "data", progress=False) == folder


def test_command_line_list_and_instructions(capsys, tmp_path):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "deepcrack" in out and "direct download" in out and "by hand" in out
    assert main(["mobilitenet", str(tmp_path)]) == 1
    assert "pan.baidu.com" in capsys.readouterr().err
