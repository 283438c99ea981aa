"""Atomic, pickle-free file input and output (``hsc_ref._io``)."""

from __future__ import annotations

import io
import json
import math
import zipfile

import numpy as np
import pytest

from hsc_ref import _io


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_atomic_write_refuses_to_replace_without_overwrite(tmp_path):
    path = tmp_path / "a.txt"
    _io.atomic_write_text(path, "first")
    with pytest.raises(FileExistsError, match=r"a\.txt exists; pass overwrite \(--force\)"):
        _io.atomic_write_text(path, "second")
    assert path.read_text() == "first"
    _io.atomic_write_text(path, "second", overwrite=True)
    assert path.read_text() == "second"
    assert _leftovers(tmp_path) == []


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.bin"
    _io.atomic_write_bytes(path, b"old")
    with pytest.raises(TypeError):
        _io.atomic_write_bytes(path, "not bytes", overwrite=True)  # write() raises mid-way
    assert path.read_bytes() == b"old"
    assert _leftovers(tmp_path) == []


def test_atomic_write_creates_parent_folders(tmp_path):
    path = tmp_path / "x" / "y" / "z.txt"
    _io.atomic_write_text(path, "hi")
    assert path.read_text(encoding="utf-8") == "hi"


def test_json_is_sorted_indented_and_refuses_nan(tmp_path):
    path = tmp_path / "s.json"
    _io.atomic_write_json(path, {"b": 1, "a": [1.5, 2]})
    text = path.read_text()
    assert text.index('"a"') < text.index('"b"') and text.endswith("\n")
    assert json.loads(text) == {"a": [1.5, 2], "b": 1}
    with pytest.raises(ValueError, match="Out of range float values are not JSON compliant"):
        _io.atomic_write_json(tmp_path / "nan.json", {"x": math.nan})
    assert not (tmp_path / "nan.json").exists()


def test_npz_round_trips_without_pickles(tmp_path):
    arrays = {"H": np.arange(6.0).reshape(2, 3), "cutoff": np.float64(1e-15)}
    path = _io.atomic_save_npz(tmp_path / "r.npz", arrays)
    with np.load(path, allow_pickle=False) as data:
        np.testing.assert_array_equal(data["H"], arrays["H"])
        assert float(data["cutoff"]) == 1e-15


def test_npz_refuses_object_arrays(tmp_path):
    with pytest.raises(TypeError, match="array 'meta' must not have object dtype"):
        _io.atomic_save_npz(tmp_path / "r.npz", {"meta": np.array([{"a": 1}], dtype=object)})
    assert not (tmp_path / "r.npz").exists()


def test_load_array_round_trip_keeps_dtype(tmp_path):
    H = np.eye(3, dtype=np.float32)
    np.save(tmp_path / "H.npy", H)
    loaded = _io.load_array(tmp_path / "H.npy", "H")
    assert loaded.dtype == np.float32
    np.testing.assert_array_equal(loaded, H)


def _lying_header(path) -> None:
    """192 bytes whose header claims a 100000 x 100000 float64 array (74.5 GiB)."""
    path.write_bytes(_npy_bytes(np.zeros((0, 0))).replace(b"(0, 0)", b"(100000, 100000)"))


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (
            lambda p: np.save(p, np.array([{"a": 1}], dtype=object), allow_pickle=True),
            ValueError,
            r"H file .* holds a pickled \(object-dtype\) array; .* pickles are never loaded",
        ),
        (lambda p: None, FileNotFoundError, r"H file .*H\.npy does not exist"),
        (lambda p: p.mkdir(), ValueError, r"H file .*H\.npy is a folder, not a \.npy file"),
        (lambda p: p.write_bytes(b""), ValueError, r"H file .*H\.npy is empty"),
        (
            lambda p: p.write_bytes(_npy_bytes(np.ones((10, 10)))[:200]),
            ValueError,
            r"is truncated or corrupt: its header says shape \(10, 10\) of float64 \(800 "
            r"bytes\) but 72 bytes of data follow it",
        ),
        (_lying_header, ValueError, r"shape \(100000, 100000\) of float64 \(80000000000 bytes"),
        (
            lambda p: p.write_bytes(_npz_bytes()),
            ValueError,
            r"must be a single-array \.npy, got an \.npz archive",
        ),
        (
            lambda p: p.write_text("1 2\n3 4\n"),
            ValueError,
            r"is not a \.npy file: it does not start with NumPy's magic bytes, got b'1 2\\n3 ' "
            r"\(a text file\?\)",
        ),
        (
            lambda p: p.write_bytes(b"\x93NUMPY\x01\x00\x10\x00{'descr': nonsense"),
            ValueError,
            r"has an unreadable \.npy header",
        ),
    ],
    ids=["pickle", "missing", "directory", "empty", "truncated", "lying", "npz", "text", "header"],
)
def test_load_array_refuses_bad_files_with_clear_messages(tmp_path, make, error, match):
    path = tmp_path / "H.npy"
    make(path)
    with pytest.raises(error, match=match):
        _io.load_array(path, "H")


def test_a_header_beyond_the_memory_is_refused_before_reading(tmp_path, monkeypatch):
    np.save(tmp_path / "H.npy", np.zeros((64, 64)))
    monkeypatch.setattr(_io._limits._backend, "available_memory", lambda: 1000)
    with pytest.raises(MemoryError, match=r"H file .* \(shape \(64, 64\), float64\) needs about"):
        _io.load_array(tmp_path / "H.npy", "H")


def _zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_npz_entries_are_checked_before_loading_and_only_asked_keys_are(tmp_path):
    claim = _npy_bytes(np.zeros((0,))).replace(b"(0,)", b"(10000000000,)")
    path = tmp_path / "r.npz"
    path.write_bytes(_zip_of({"big.npy": claim, "small.npy": _npy_bytes(np.arange(3.0))}))
    assert list(_io.load_npz(path, "results file", keys=["small"])) == ["small"]  # big untouched
    with pytest.raises(ValueError, match=r"entry 'big' is corrupt: its header says shape "
                                         r"\(10000000000,\) of float64"):  # fmt: skip
        _io.load_npz(path, "results file")


def test_npz_entry_with_a_pickle_or_text_is_named(tmp_path):
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    path = tmp_path / "r.npz"
    path.write_bytes(_zip_of({"obj.npy": pickled.getvalue(), "txt.npy": b"hello world"}))
    with pytest.raises(ValueError, match=r"entry 'obj' holds a pickled"):
        _io.load_npz(path, "results file", keys=["obj"])
    with pytest.raises(ValueError, match=r"entry 'txt' is not a \.npy file"):
        _io.load_npz(path, "results file", keys=["txt"])


def test_an_npz_path_that_is_a_folder_is_called_a_folder(tmp_path):
    with pytest.raises(ValueError, match=r"results file .* is a folder, not an \.npz file"):
        _io.load_npz(tmp_path, "results file")


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _npz_bytes() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, H=np.eye(2))
    return buffer.getvalue()


def test_written_files_get_the_umask_permissions_not_a_private_mode(tmp_path):
    import os
    import stat

    from hsc_ref import _io

    mask = os.umask(0o022)
    try:
        path = _io.atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temporary file left behind
