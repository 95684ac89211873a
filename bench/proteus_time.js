// proteus_time.js - latency of an already-optimized ONNX model in ONNX Runtime, for bench/proteus.sh.
//   node proteus_time.js MODEL.onnx SHAPE [REPEAT]     SHAPE: 1x3x224x224 (one float input)
// The session uses graphOptimizationLevel 'disabled', so what is timed is exactly the graph the
// optimizer produced (whole model vs. Proteus reassembly). Prints {"median_ms":..,"mean_ms":..}.
'use strict';
const ort = require('onnxruntime-node');

async function main() {
  const [model, shapeArg, repeatArg] = process.argv.slice(2);
  if (!model || !shapeArg) {
    console.error('usage: node proteus_time.js MODEL.onnx SHAPE [REPEAT]');
    process.exit(2);
  }
  const dims = shapeArg.split('x').map((d) => parseInt(d, 10));
  const repeat = parseInt(repeatArg || '10', 10);
  const session = await ort.InferenceSession.create(model, {
    graphOptimizationLevel: 'disabled', executionProviders: ['cpu'],
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential',
  });
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) & 0x7fffffff; data[i] = s / 0x7fffffff - 0.5; }
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, dims) };
  for (let i = 0; i < 2; i++) await session.run(feeds);
  const t = [];
  for (let i = 0; i < repeat; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  t.sort((a, b) => a - b);
  const median = t.length % 2 ? t[(t.length - 1) / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
  const mean = t.reduce((a, b) => a + b, 0) / t.length;
  console.log(JSON.stringify({ median_ms: median, mean_ms: mean, runs: repeat }));
}

main().catch((e) => { console.error(`proteus_time.js: ${e.message || e}`); process.exit(1); });
