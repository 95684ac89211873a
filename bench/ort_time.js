// ort_time.js - time an ONNX model in ONNX Runtime (onnxruntime-node) for bench/ort_compare.sh.
//
// usage: node ort_time.js --model M.onnx [--threads T] [--warmup W] [--repeat R]
//                         [--input-pb X.pb | --seed S [--batch N]] [--save-input X.pb] [--compare Y.pb]
//                         [--profile OUT.txt]
// Creates an InferenceSession (graphOptimizationLevel 'all', intraOpNumThreads T, interOpNumThreads 1,
// sequential execution), feeds the model's single float input (from a TensorProto file, or random
// N(0,1) from a seeded generator, symbolic dims set to --batch, default 1), runs W untimed and R timed inferences and prints one JSON line:
// {"median_ms":..,"mean_ms":..,"min_ms":..,"runs":R,"threads":T,"max_abs_diff":..} where
// max_abs_diff compares the first output with the TensorProto given by --compare.
// --profile runs with ORT's own profiler (enableProfiling; its timings include the profiler's cost) and
// writes OUT.txt: per node of the optimized graph, the median over the R timed runs of its kernel time
// (microseconds), op type and name, slowest first, then the median of the whole run.
'use strict';
const fs = require('fs');
const path = require('path');

function die(msg) {
  process.stderr.write(`ort_time.js: ${msg}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const o = { threads: 1, warmup: 3, repeat: 10, seed: 1, batch: 1 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    const take = () => { if (v === undefined) die(`${k} needs a value`); i++; return v; };
    if (k === '--model') o.model = take();
    else if (k === '--threads') o.threads = parseInt(take(), 10);
    else if (k === '--warmup') o.warmup = parseInt(take(), 10);
    else if (k === '--repeat') o.repeat = parseInt(take(), 10);
    else if (k === '--seed') o.seed = parseInt(take(), 10);
    else if (k === '--batch') o.batch = parseInt(take(), 10);
    else if (k === '--input-pb') o.inputPb = take();
    else if (k === '--save-input') o.saveInput = take();
    else if (k === '--compare') o.compare = take();
    else if (k === '--profile') o.profile = take();
    else die(`unknown option ${k}`);
  }
  if (!o.model) die('--model is required');
  if (!(o.threads >= 1 && o.repeat >= 1 && o.warmup >= 0 && o.batch >= 1)) die('bad --threads/--repeat/--warmup/--batch');
  return o;
}

// ---- a minimal TensorProto codec: dims (1), data_type (2), float_data (4), raw_data (9) ----
function readVarint(buf, pos) {
  let v = 0n, shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++];
    v |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return [v, pos];
    shift += 7n;
  }
}

function decodeTensor(buf) {
  const dims = [];
  let dtype = 0, raw = null, floats = [];
  let pos = 0;
  while (pos < buf.length) {
    let key;
    [key, pos] = readVarint(buf, pos);
    const field = Number(key >> 3n), wire = Number(key & 7n);
    if (wire === 0) {
      let v;
      [v, pos] = readVarint(buf, pos);
      if (field === 1) dims.push(Number(v));
      else if (field === 2) dtype = Number(v);
    } else if (wire === 2) {
      let len;
      [len, pos] = readVarint(buf, pos);
      const n = Number(len), body = buf.subarray(pos, pos + n);
      pos += n;
      if (field === 1) { // packed dims
        let p = 0;
        while (p < body.length) { let v; [v, p] = readVarint(body, p); dims.push(Number(v)); }
      } else if (field === 4) {
        for (let p = 0; p + 4 <= body.length; p += 4) floats.push(body.readFloatLE(p));
      } else if (field === 9) raw = body;
    } else if (wire === 5) {
      if (field === 4) floats.push(buf.readFloatLE(pos));
      pos += 4;
    } else if (wire === 1) pos += 8;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  if (dtype !== 1) throw new Error(`only float tensors are supported (data_type ${dtype})`);
  let data;
  if (raw) {
    data = new Float32Array(raw.length / 4);
    for (let i = 0; i < data.length; i++) data[i] = raw.readFloatLE(4 * i);
  } else data = Float32Array.from(floats);
  return { dims, data };
}

function varint(n) {
  const out = [];
  let v = BigInt(n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return out;
}

function encodeTensor(dims, data) {
  const parts = [];
  for (const d of dims) parts.push(0x08, ...varint(d));
  parts.push(0x10, 1); // data_type FLOAT
  const raw = Buffer.alloc(data.length * 4);
  for (let i = 0; i < data.length; i++) raw.writeFloatLE(data[i], 4 * i);
  parts.push(0x4a, ...varint(raw.length));
  return Buffer.concat([Buffer.from(parts), raw]);
}

// xorshift64* + Box-Muller: reproducible benchmark inputs (not for anything secret)
function normals(n, seed) {
  let s = BigInt(seed) * 0x9E3779B97F4A7C15n + 1n;
  const mask = (1n << 64n) - 1n;
  const next = () => {
    s ^= s >> 12n; s ^= (s << 25n) & mask; s ^= s >> 27n;
    return Number(((s * 0x2545F4914F6CDD1Dn) & mask) >> 11n) / 2 ** 53;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - next(), v = next(), r = Math.sqrt(-2 * Math.log(u));
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = require(path.join(__dirname, '.ort', 'node_modules', 'onnxruntime-node'));
  } catch (e) {
    die(`cannot load onnxruntime-node from bench/.ort (${e.message})`);
  }
  const session = await ort.InferenceSession.create(o.model, {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: o.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    ...(o.profile ? { enableProfiling: true, profileFilePrefix: o.profile + '.ort' } : {}),
  });
  if (session.inputNames.length !== 1) die(`${o.model}: expected one input, got ${session.inputNames.length}`);
  let dims, data;
  if (o.inputPb) {
    ({ dims, data } = decodeTensor(fs.readFileSync(o.inputPb)));
  } else {
    const meta = session.inputMetadata ? session.inputMetadata[0] : null;
    if (!meta || !meta.shape) die('this onnxruntime-node gives no input shape; use --input-pb');
    dims = meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : o.batch));
    data = normals(dims.reduce((a, b) => a * b, 1), o.seed);
  }
  if (o.saveInput) fs.writeFileSync(o.saveInput, encodeTensor(dims, data));
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, dims) };
  let out;
  for (let i = 0; i < o.warmup; i++) out = await session.run(feeds);
  const times = [];
  for (let i = 0; i < o.repeat; i++) {
    const t0 = process.hrtime.bigint();
    out = await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const res = {
    median_ms: sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2,
    mean_ms: times.reduce((a, b) => a + b, 0) / times.length,
    min_ms: sorted[0],
    runs: o.repeat,
    threads: o.threads,
    ort_version: require(path.join(__dirname, '.ort', 'node_modules', 'onnxruntime-node', 'package.json')).version,
  };
  if (o.compare) {
    const ref = decodeTensor(fs.readFileSync(o.compare));
    const y = out[session.outputNames[0]].data;
    if (ref.data.length !== y.length) die(`--compare: ${ref.data.length} values vs ORT's ${y.length}`);
    let maxd = 0, maxr = 0;
    for (let i = 0; i < y.length; i++) {
      maxd = Math.max(maxd, Math.abs(y[i] - ref.data[i]));
      maxr = Math.max(maxr, Math.abs(y[i]));
    }
    res.max_abs_diff = maxd;
    res.max_abs_out = maxr;
  }
  if (o.profile) writeProfile(session, o);
  process.stdout.write(JSON.stringify(res) + '\n');
}

function medianOf(v) {
  const s = [...v].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

// the per-node medians of the last o.repeat runs from ORT's trace file (Chrome trace JSON)
function writeProfile(session, o) {
  // onnxruntime-node's endProfiling() returns nothing: the trace is the newest file with the prefix
  session.endProfiling();
  const dir = path.dirname(o.profile), pre = path.basename(o.profile) + '.ort';
  const found = fs.readdirSync(dir).filter((f) => f.startsWith(pre) && f.endsWith('.json'));
  if (!found.length) die(`--profile: no trace file ${o.profile}.ort*.json`);
  const trace = path.join(dir, found.sort().pop());
  const events = JSON.parse(fs.readFileSync(trace, 'utf8'));
  const nodes = new Map(), runs = [];
  for (const e of events) {
    if (e.cat === 'Session' && e.name === 'model_run') runs.push(e.dur);
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const name = e.name.slice(0, -'_kernel_time'.length);
    if (!nodes.has(name)) nodes.set(name, { op: e.args ? e.args.op_name : '?', durs: [] });
    nodes.get(name).durs.push(e.dur);
  }
  const rows = [];
  let sum = 0;
  for (const [name, n] of nodes) {
    const us = medianOf(n.durs.slice(-o.repeat));
    sum += us;
    rows.push({ name, op: n.op, us });
  }
  rows.sort((a, b) => b.us - a.us);
  const lines = rows.map((r) => `${r.us.toFixed(1).padStart(9)}  ${r.op.padEnd(22)} ${r.name}`);
  lines.push(`${sum.toFixed(1).padStart(9)}  (sum of node medians, ${rows.length} nodes)`);
  lines.push(`${medianOf(runs.slice(-o.repeat)).toFixed(1).padStart(9)}  (median model_run, ${o.threads} threads)`);
  fs.writeFileSync(o.profile, lines.join('\n') + '\n');
}

main().catch((e) => die(e.message));
