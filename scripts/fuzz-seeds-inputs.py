#!/usr/bin/python3
# fuzz-seeds-inputs.py - (re)write the seed corpora of fuzz/fuzz_npy.c, fuzz_png.c and fuzz_pgm.c
# (fuzz/seeds/{npy,png,pgm}): .npy files written by numpy itself (every dtype privnn reads, header
# versions 1-3, and the kinds it refuses), PNGs of every colour type and bit depth encoded here with
# zlib, and PGMs P2/P5. Run from the repository root with Debian's python3 (numpy):
#   /usr/bin/python3 scripts/fuzz-seeds-inputs.py
import io, os, struct, zlib
import numpy as np

def out(kind, name, data):
    with open(os.path.join("fuzz/seeds", kind, name), "wb") as f:
        f.write(data)

def npy(arr, version=None):
    b = io.BytesIO()
    np.lib.format.write_array(b, arr, version=version, allow_pickle=True)
    return b.getvalue()

rng = np.random.default_rng(1)
for dt in ["<f4", "<f8", "<f2", "|u1", "|i1", "<u2", "<i2", "<i4", "<i8", "<u4", "<u8", "|b1"]:
    a = (rng.standard_normal((2, 3)) * 5).astype(dt)
    out("npy", "dtype-%s.npy" % dt[1:], npy(a))
out("npy", "scalar.npy", npy(np.float32(3.5)))
out("npy", "empty.npy", npy(np.zeros((0, 4), np.float32)))
out("npy", "images-u8.npy", npy(rng.integers(0, 256, (2, 28, 28), dtype=np.uint8)))
out("npy", "v2.npy", npy(np.arange(6, dtype=np.float32).reshape(1, 2, 3), version=(2, 0)))
out("npy", "v3.npy", npy(np.arange(4, dtype=np.int64), version=(3, 0)))
out("npy", "refuse-fortran.npy", npy(np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))))
out("npy", "refuse-bigendian.npy", npy(np.arange(3, dtype=">f4")))
out("npy", "refuse-object.npy", npy(np.array([1, "a", None], dtype=object)))
out("npy", "refuse-structured.npy", npy(np.zeros(2, dtype=[("x", "<f4"), ("y", "<i4")])))
out("npy", "refuse-truncated.npy", npy(np.arange(8, dtype=np.float32))[:-5])

def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)

def png(w, h, depth, ctype, rows, plte=None, trns=None):
    raw = b"".join(b"\0" + r for r in rows)
    s = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0))
    if plte: s += chunk(b"PLTE", plte)
    if trns: s += chunk(b"tRNS", trns)
    return s + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")

def pack(vals, depth):
    if depth == 16: return b"".join(struct.pack(">H", v) for v in vals)
    if depth == 8: return bytes(vals)
    per = 8 // depth; b = bytearray()
    for i in range(0, len(vals), per):
        x = 0
        for j, v in enumerate(vals[i:i + per]): x |= v << (8 - depth * (j + 1))
        b.append(x)
    return bytes(b)

W, H = 5, 4
for ctype, chans in [(0, 1), (2, 3), (4, 2), (6, 4)]:
    for depth in ([1, 2, 4, 8, 16] if ctype == 0 else [8, 16]):
        mx = (1 << depth) - 1
        rows = [pack([(x * 37 + y * 11 + c * 5) % (mx + 1) for x in range(W) for c in range(chans)], depth)
                for y in range(H)]
        out("png", "c%d-d%d.png" % (ctype, depth), png(W, H, depth, ctype, rows))
plte = bytes(range(12))
rows = [pack([(x + y) % 4 for x in range(W)], 2) for y in range(H)]
out("png", "palette-d2.png", png(W, H, 2, 3, rows, plte=plte, trns=b"\x80"))
bad = bytearray(png(W, H, 8, 0, [bytes(range(W))] * H)); bad[-20] ^= 1
out("png", "refuse-crc.png", bytes(bad))

out("pgm", "p5-8bit.pgm", b"P5\n# a comment\n3 2\n255\n" + bytes([0, 128, 255, 1, 2, 3]))
out("pgm", "p5-16bit.pgm", b"P5 2 2 1000\n" + struct.pack(">4H", 0, 1, 999, 1000))
out("pgm", "p2.pgm", b"P2\n# comment\n4 2\n15\n0 1 2 3\n 15 14 13 12\n")
out("pgm", "p2-maxval-1.pgm", b"P2 3 1 1 0 1 1\n")
out("pgm", "refuse-truncated.pgm", b"P5\n4 4\n255\n" + bytes(7))
out("pgm", "refuse-above-maxval.pgm", b"P2 2 1 10 3 11\n")
