"""A results entry is judged from its ``.npy`` header before it is unpacked.

An entry of another shape than its golden output, or of values that are not numbers, fails
its row without being inflated (``check_results``) or is refused by name
(``load_results(..., shapes=...)``). The archive below is crafted by hand: a deflate stream
of a few MB that declares, and would inflate to, a 1.8 GB array of zeros, so that no large
array is ever created by the test itself.
"""

from __future__ import annotations

import io
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest

from hsc_ref import golden

CASE = "matrix_spd"
HUGE = (15000, 15000)  # 1.8 GB of float64 if unpacked
MEMORY_BOUND = 64 * 2**20
"""Peak traced memory allowed while checking: the archive is 11 MB on disk and the golden
case's arrays are 10 x 10, so anything near the declared 1.8 GB means the entry was
unpacked; 64 MiB leaves room for reading the archive's directory and the small entries."""


class _Bits:
    """Deflate's bit order: values least significant bit first, Huffman codes most first."""

    def __init__(self) -> None:
        self.out, self.acc, self.n = bytearray(), 0, 0

    def put(self, value: int, length: int, *, huffman: bool = False) -> None:
        if huffman:
            value = int(f"{value:0{length}b}"[::-1], 2)
        self.acc |= value << self.n
        self.n += length
        while self.n >= 8:
            self.out.append(self.acc & 0xFF)
            self.acc >>= 8
            self.n -= 8

    def literal(self, byte: int) -> None:  # the fixed Huffman code of a literal byte
        if byte < 144:
            self.put(0x30 + byte, 8, huffman=True)
        else:
            self.put(0x190 + byte - 144, 9, huffman=True)

    def copy258(self) -> None:  # length code 285 (258 bytes), distance code 0 (distance 1)
        self.put(0xC5, 8, huffman=True)
        self.put(0, 5, huffman=True)


def _deflate_then_zeros(prefix: bytes, zeros: int) -> bytes:
    """A raw deflate stream of ``prefix`` followed by ``zeros`` zero bytes, built directly:
    one literal zero, then copies of the previous 258 bytes (13 bits each: 8 copies are 13
    bytes, repeated), then the rest as literals."""
    bits = _Bits()
    bits.put(1, 1)  # the final block
    bits.put(1, 2)  # fixed Huffman codes
    for byte in prefix:
        bits.literal(byte)
    bits.literal(0)
    copies, rest = divmod(zeros - 1, 258)
    while bits.n and copies:  # to a byte boundary
        bits.copy258()
        copies -= 1
    group = _Bits()
    for _ in range(8):
        group.copy258()
    bits.out += bytes(group.out) * (copies // 8)
    for _ in range(copies % 8):
        bits.copy258()
    for _ in range(rest):
        bits.literal(0)
    bits.put(0, 7, huffman=True)  # end of block
    bits.put(0, (8 - bits.n) % 8)
    return bytes(bits.out)


def _zip(entries: dict[str, tuple[bytes, int, int]]) -> bytes:
    """A zip of ``name: (raw deflate stream, crc32, uncompressed size)`` entries."""
    out, central = io.BytesIO(), []
    for name, (data, crc, size) in entries.items():
        offset, raw = out.tell(), name.encode()
        fields = (crc, len(data), size, len(raw))
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, *fields, 0))
        out.write(raw + data)
        central.append(
            struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, *fields, 0, 0,
                        0, 0, 0, offset) + raw
        )  # fmt: skip
    start = out.tell()
    out.write(b"".join(central))
    size, count = out.tell() - start, len(central)
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count, size, start, 0))
    return out.getvalue()


def _npy_header(shape: tuple[int, ...], dtype: str) -> bytes:
    buffer = io.BytesIO()
    descr = np.lib.format.dtype_to_descr(np.dtype(dtype))
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return buffer.getvalue()


def _real_entry(array: np.ndarray) -> tuple[bytes, int, int]:
    buffer = io.BytesIO()
    np.save(buffer, array)
    raw = buffer.getvalue()
    packer = zlib.compressobj(6, zlib.DEFLATED, -15)
    return packer.compress(raw) + packer.flush(), zlib.crc32(raw), len(raw)


def _huge_entry() -> tuple[bytes, int, int]:
    header = _npy_header(HUGE, "<f8")
    nbytes = 8 * HUGE[0] * HUGE[1]
    # CRC 0: never reached, as the entry is never read past its header (a reader that
    # inflates it would allocate the 1.8 GB first, then fail the CRC at the end)
    return _deflate_then_zeros(header, nbytes), 0, len(header) + nbytes


def test_the_crafted_stream_inflates_to_its_prefix_and_zeros():
    for zeros in (1, 2, 258, 259, 260, 258 * 8 + 1, 258 * 37 + 100):
        stream = _deflate_then_zeros(b"ab\xff", zeros)
        assert zlib.decompress(stream, -15) == b"ab\xff" + bytes(zeros), zeros


@pytest.fixture(scope="module")
def huge_results(tmp_path_factory: pytest.TempPathFactory, session_gold) -> Path:
    """``pinv`` declared 15000 x 15000 (the golden one is 10 x 10); ``eigenvalues`` (upstream
    of ``pinv``) and ``hc`` the golden ones."""
    outputs = session_gold.cases[CASE].outputs
    path = tmp_path_factory.mktemp("huge") / "results.npz"
    entries = {f"{CASE}/{k}.npy": _real_entry(outputs[k]) for k in ("eigenvalues", "hc")}
    path.write_bytes(_zip({**entries, f"{CASE}/pinv.npy": _huge_entry()}))
    assert path.stat().st_size < 16 * 2**20
    return path


def _peak(call):
    tracemalloc.start()
    try:
        result = call()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_huge_entry_of_the_wrong_shape_fails_its_row_without_being_unpacked(
    session_gold, huge_results
):
    report, peak = _peak(lambda: golden.check_results(session_gold, huge_results, only=[CASE]))
    assert peak < MEMORY_BOUND, peak
    rows = {r.output: r for r in report.rows}
    assert rows["pinv"].status == "fail"
    assert rows["pinv"].message.startswith(
        "shape (15000, 15000) differs from the expected (10, 10) (read from the entry's "
        "header; the entry was not unpacked)"
    )
    assert rows["eigenvalues"].status == rows["hc"].status == "pass"  # loaded and checked
    assert rows["step"].status == "missing"
    assert not report.passed


def test_load_results_refuses_an_entry_of_another_shape_by_name_before_unpacking(
    session_gold, huge_results
):
    shapes = {k: v.shape for k, v in session_gold.cases[CASE].outputs.items()}
    expected = {f"{CASE}/{k}": shape for k, shape in shapes.items()}

    def load():
        with pytest.raises(
            golden.GoldenFileError,
            match=r"entry 'matrix_spd/pinv' has shape \(15000, 15000\), not the expected "
            r"\(10, 10\) \(read from its header; nothing was unpacked\)",
        ):
            golden.load_results(huge_results, shapes=expected)

    _, peak = _peak(load)
    assert peak < MEMORY_BOUND, peak
    hc = golden.load_results(huge_results, keys=[f"{CASE}/hc"], shapes=expected)
    assert np.array_equal(hc[f"{CASE}/hc"], session_gold.cases[CASE].outputs["hc"])


def test_an_entry_of_strings_fails_its_row_and_load_results_refuses_it(session_gold, tmp_path):
    path = tmp_path / "results.npz"
    np.savez(path, **{f"{CASE}/rank": np.array("ten")})
    report = golden.check_results(session_gold, path, only=[f"{CASE}/rank"])
    (rank,) = [r for r in report.rows if r.output == "rank"]
    assert rank.status == "fail"
    assert rank.message.startswith(
        "actual dtype <U3 is not real or complex (read from the entry's header; the entry was "
        "not unpacked)"
    )
    with pytest.raises(
        golden.GoldenFileError,
        match=r"entry 'matrix_spd/rank' holds <U3 values; results must be numbers",
    ):
        golden.load_results(path)
