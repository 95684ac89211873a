// ort-diff.js - run the graphs test_diff --dump wrote in ONNX Runtime and compare with privnn.
//
// usage: node scripts/ort-diff.js DIR [--level disabled|basic|extended|all]
// For every DIR/gK.json: runs DIR/gK.onnx (the graph as drawn) and DIR/gK.opt.onnx (after
// privnn's passes) in onnxruntime-node on the saved inputs and compares each output with privnn's
// reference output (the graph run node by node) with test_diff's tolerance:
// |ort - privnn| <= 1e-4 * max(1, max |privnn|) (integer outputs exactly, NaN only against NaN).
// Prints each disagreement or ORT error and a summary line
// "ort-diff: N graphs, M models compared, K disagreements, E ORT errors"; exit 1 unless K = E = 0.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const TOL = 1e-4;
const args = process.argv.slice(2);
let dir = null, level = 'disabled';
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--level') level = args[++i];
  else if (!dir) dir = args[i];
  else { console.error(`ort-diff.js: unexpected argument ${args[i]}`); process.exit(2); }
}
if (!dir || !['disabled', 'basic', 'extended', 'all'].includes(level)) {
  console.error('usage: node ort-diff.js DIR [--level disabled|basic|extended|all]');
  process.exit(2);
}

const ARRAYS = { float32: Float32Array, int64: BigInt64Array, int32: Int32Array, float64: Float64Array,
                 uint8: Uint8Array, int8: Int8Array, bool: Uint8Array, float16: Uint16Array };
const ORT_TYPES = { float32: 'float32', int64: 'int64', int32: 'int32', float64: 'float64', uint8: 'uint8',
                    int8: 'int8', bool: 'bool', float16: 'float16' };

// IEEE binary16 bits to a number (exact)
function halfToNumber(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

function load(t) {
  const buf = fs.readFileSync(path.join(dir, t.file));
  const A = ARRAYS[t.dtype];
  if (!A) throw new Error(`dtype ${t.dtype} not handled`);
  const copy = new Uint8Array(buf.length);
  copy.set(buf);
  return new A(copy.buffer, 0, buf.length / A.BYTES_PER_ELEMENT);
}

// null when equal within tolerance, else a sentence
function compare(name, got, want, spec) {
  const dims = Array.from(got.dims).map(Number);
  if (dims.join(',') !== spec.dims.join(',')) return `output '${name}': shape [${dims}], privnn [${spec.dims}]`;
  let a = got.data, b = want;
  if (spec.dtype === 'float16') {   // compare as numbers, with the float tolerance
    a = Array.from(a, (h) => (typeof h === 'number' && Number.isInteger(h) && a instanceof Uint16Array ? halfToNumber(h) : Number(h)));
    b = Array.from(b, halfToNumber);
  } else if (spec.dtype !== 'float32') {
    for (let i = 0; i < b.length; i++)
      if (a[i] !== b[i] && !(spec.dtype === 'bool' && !!a[i] === !!b[i])) return `output '${name}' differs at ${i}: ${a[i]} vs ${b[i]}`;
    return null;
  }
  let mag = 1, err = 0, at = -1;
  for (let i = 0; i < b.length; i++) {
    if (Math.abs(b[i]) > mag) mag = Math.abs(b[i]);
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= err)) { err = Number.isNaN(d) ? Infinity : d; at = i; }
  }
  if (err <= TOL * mag) return null;
  return `output '${name}': max |diff| ${err.toPrecision(3)} at ${at} (ORT ${a[at]} vs privnn ${b[at]}), tolerance ${(TOL * mag).toPrecision(3)}`;
}

async function main() {
  const files = fs.readdirSync(dir).filter((f) => /^g\d+\.json$/.test(f))
    .sort((x, y) => parseInt(x.slice(1), 10) - parseInt(y.slice(1), 10));
  let graphs = 0, models = 0, bad = 0, errors = 0;
  for (const f of files) {
    const m = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
    graphs++;
    const feeds = {};
    for (const t of m.inputs) feeds[t.name] = new ort.Tensor(ORT_TYPES[t.dtype], load(t), t.dims);
    for (const variant of ['onnx', 'opt.onnx']) {
      const model = path.join(dir, `g${m.graph}.${variant}`);
      let res;
      try {
        const sess = await ort.InferenceSession.create(model, { graphOptimizationLevel: level, intraOpNumThreads: 1, logSeverityLevel: 3,
                                                                interOpNumThreads: 1 });
        res = await sess.run(feeds);
        if (sess.release) await sess.release();
      } catch (e) {
        errors++;
        console.log(`graph ${m.graph} (${m.desc})\n  ${variant}: ORT error: ${String(e.message || e).split('\n')[0]}`);
        continue;
      }
      models++;
      const msgs = [];
      for (const o of m.outputs) {
        const got = res[o.name];
        if (!got) { msgs.push(`output '${o.name}' missing in ORT's results`); continue; }
        const msg = compare(o.name, got, load(o), o);
        if (msg) msgs.push(msg);
      }
      if (msgs.length) {
        bad++;
        console.log(`graph ${m.graph} (${m.desc})\n  ${variant}: ${msgs.join('\n  ' + variant + ': ')}`);
      }
    }
  }
  console.log(`ort-diff: ${graphs} graphs, ${models} models compared, ${bad} disagreements, ${errors} ORT errors` +
              ` (ORT ${ort.env.versions ? ort.env.versions.common : ''}, level ${level})`);
  process.exit(bad || errors ? 1 : 0);
}

main().catch((e) => { console.error(`ort-diff.js: ${e.stack || e}`); process.exit(2); });
