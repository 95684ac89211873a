#!/usr/bin/python3
"""obf-dialect.py - how far a reader of a Proteus bundle's files gets from the way they are written.

    /usr/bin/python3 scripts/obf-dialect.py BUNDLE_DIR SECRET.json

An exporter writes every node of an operator one way (PyTorch: a Conv with `dilations` and `group`, a
Gemm with `alpha` and `beta`, in one order, a Reshape's kept leading dims as 0). This adversary knows
nothing of the model: a file whose nodes of one operator are written two ways, or whose Reshape constants
start with 0 in some and not in others, cannot come from one exporter and is dropped; the way of writing
each operator that the remaining files use in the most groups is taken as the model's, and a group's
candidates are its files written that way. The secret is read only to score the guess. Prints, per
part, the candidates left and whether the real part is among them, then the totals; exits 1 when some
part's real part is left alone (the bundle gives it away), 0 otherwise. Needs python3-onnx (Debian's,
hence /usr/bin/python3). docs/proteus.md, "The files' dialect".
"""
import collections
import json
import math
import os
import sys

try:
    import onnx
    from onnx import numpy_helper
except ImportError:
    sys.exit("obf-dialect.py: needs python3-onnx (apt-get install python3-onnx; run with /usr/bin/python3)")


def dialect(path):
    """Per operator, the attribute names (in their order) its nodes use; 'Reshape:0' the leading-0 spellings."""
    g = onnx.load(path, load_external_data=False).graph
    inits = {t.name: t for t in g.initializer}
    per = collections.defaultdict(set)
    for n in g.node:
        per[n.op_type].add(tuple(a.name for a in n.attribute))  # names in their order
        if n.op_type == "Reshape" and len(n.input) > 1 and n.input[1] in inits:
            a = numpy_helper.to_array(inits[n.input[1]]).ravel()
            per["Reshape:0"].add(bool(len(a) and a[0] == 0))
    return per


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: obf-dialect.py BUNDLE_DIR SECRET.json")
    bundle, secret = sys.argv[1], sys.argv[2]
    try:
        with open(secret) as f:
            files = json.load(f)["files"]
    except (OSError, ValueError, KeyError) as e:
        sys.exit("obf-dialect.py: %s: not a Proteus secret (%s)" % (secret, e))
    info = []
    for f in files:
        path = os.path.join(bundle, f["file"])
        try:
            per = dialect(path)
        except Exception as e:  # a file onnx cannot read is named, not skipped
            sys.exit("obf-dialect.py: %s: %s" % (path, e))
        pure = all(len(v) == 1 for v in per.values())
        info.append((f["part"], bool(f["real"]), {k: next(iter(v)) for k, v in per.items()} if pure else None))
    groups = collections.defaultdict(lambda: collections.defaultdict(set))
    for part, _, way in info:
        for op, s in (way or {}).items():
            groups[op][s].add(part)
    model_way = {op: max(c, key=lambda s: (len(c[s]), str(s)))
                 for op, c in groups.items()}
    parts = collections.defaultdict(list)
    for part, real, way in info:
        ok = way is not None and all(model_way.get(op) == s for op, s in way.items())
        parts[part].append((real, ok))
    alone = kept = 0
    logc = 0.0
    for part in sorted(parts):
        fs = parts[part]
        c = sum(ok for _, ok in fs)
        real_in = any(real and ok for real, ok in fs)
        alone += real_in and c == 1
        kept += real_in
        logc += math.log10(max(c, 1))
        print("part %d: %d of %d files written the model's way%s" % (part, c, len(fs),
              "" if not real_in else " (the real part alone)" if c == 1 else ", the real part among them"))
    print("%d parts: the real part among the candidates in %d, alone in %d; log10 of the candidates' product %.1f"
          % (len(parts), kept, alone, logc))
    return 1 if alone else 0


if __name__ == "__main__":
    sys.exit(main())
