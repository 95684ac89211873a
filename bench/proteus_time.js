// proteus_time.js - latency of an already-optimized ONNX model in ONNX Runtime, for bench/proteus.sh.
//   node proteus_time.js MODEL.onnx SHAPE [REPEAT]     SHAPE: 1x3x224x224 (one float input), or auto:
//   every input from the model's own metadata (float: uniform in [-0.5, 0.5); int64: token ids
//   0..999; symbolic dimensions 1)
//   node proteus_time.js MODEL.onnx SHAPE REPEAT MODEL2.onnx    both models on the same inputs, runs
//   alternating (A B B A A B ...), so that a shared machine's changing load falls on both alike
// The session uses graphOptimizationLevel 'disabled', so what is timed is exactly the graph the
// optimizer produced (whole model vs. Proteus reassembly). Prints {"median_ms":..,"mean_ms":..}, one
// line per model.
'use strict';
const ort = require('onnxruntime-node');

async function main() {
  const [model, shapeArg, repeatArg, model2] = process.argv.slice(2);
  if (!model || !shapeArg) {
    console.error('usage: node proteus_time.js MODEL.onnx SHAPE [REPEAT]');
    process.exit(2);
  }
  const repeat = parseInt(repeatArg || '10', 10);
  const opts = {
    graphOptimizationLevel: 'disabled', executionProviders: ['cpu'],
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential',
  };
  const sessions = [await ort.InferenceSession.create(model, opts)];
  if (model2) sessions.push(await ort.InferenceSession.create(model2, opts));
  const session = sessions[0];
  let s = 12345;
  const next = () => { s = (s * 1103515245 + 12345) & 0x7fffffff; return s; };
  const tensor = (type, dims) => {
    const n = dims.reduce((a, b) => a * b, 1);
    if (type === 'int64') {
      const data = new BigInt64Array(n);
      for (let i = 0; i < n; i++) data[i] = BigInt(next() % 1000);
      return new ort.Tensor('int64', data, dims);
    }
    if (type !== 'float32') throw new Error(`${model}: input of type ${type} (float32 or int64 expected)`);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = next() / 0x7fffffff - 0.5;
    return new ort.Tensor('float32', data, dims);
  };
  const feeds = {};
  if (shapeArg === 'auto') {
    for (const m of session.inputMetadata) {
      feeds[m.name] = tensor(m.type, m.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1)));
    }
  } else {
    feeds[session.inputNames[0]] = tensor('float32', shapeArg.split('x').map((d) => parseInt(d, 10)));
  }
  // the second model reads the same inputs, by position (its names are its own)
  const feedsOf = (sess) => {
    const f = {};
    session.inputNames.forEach((n, i) => { f[sess.inputNames[i]] = feeds[n]; });
    return f;
  };
  const all = sessions.map((sess) => ({ sess, feeds: feedsOf(sess), t: [] }));
  for (const x of all) for (let i = 0; i < 2; i++) await x.sess.run(x.feeds);
  for (let i = 0; i < repeat; i++) {
    // A B, then B A: neither model always runs first
    for (const x of i % 2 ? [...all].reverse() : all) {
      const t0 = process.hrtime.bigint();
      await x.sess.run(x.feeds);
      x.t.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  }
  for (const x of all) {
    const t = x.t.sort((a, b) => a - b);
    const median = t.length % 2 ? t[(t.length - 1) / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
    const mean = t.reduce((a, b) => a + b, 0) / t.length;
    console.log(JSON.stringify({ median_ms: median, mean_ms: mean, runs: repeat }));
  }
}

main().catch((e) => { console.error(`proteus_time.js: ${e.message || e}`); process.exit(1); });
