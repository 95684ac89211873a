// ort-optimize.js - run ONNX Runtime's graph optimizer over every .onnx file of a folder (or one file)
// and save each optimized model (optimizedModelFilePath). Used by scripts/ort-optimize.sh.
//   node ort-optimize.js LEVEL IN OUT [consume]     LEVEL: disabled|basic|extended|all; IN/OUT: folders
//   or files; consume: remove each input .onnx file of a folder once its optimized copy is written
//   (the disk then holds one bundle and one file, not two bundles)
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

async function optimizeOne(level, src, dst) {
  const session = await ort.InferenceSession.create(src, {
    graphOptimizationLevel: level,
    optimizedModelFilePath: dst,
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
  });
  if (session.release) await session.release();
  if (!fs.existsSync(dst)) throw new Error(`${src}: ONNX Runtime wrote no optimized model`);
}

async function main() {
  const [level, input, output, mode] = process.argv.slice(2);
  if (!level || !input || !output || (mode !== undefined && mode !== 'consume')) {
    console.error('usage: node ort-optimize.js LEVEL IN OUT [consume]');
    process.exit(2);
  }
  const st = fs.statSync(input);
  if (st.isFile()) {
    await optimizeOne(level, input, output);
    return;
  }
  fs.mkdirSync(output, { recursive: true, mode: 0o700 });
  const files = fs.readdirSync(input).filter((f) => f.endsWith('.onnx')).sort();
  if (files.length === 0) throw new Error(`${input}: no .onnx files`);
  for (const f of files) {
    await optimizeOne(level, path.join(input, f), path.join(output, f));
    if (mode === 'consume') fs.unlinkSync(path.join(input, f));
  }
  console.error(`ort-optimize: ${files.length} file(s) optimized at level '${level}'` +
                (mode === 'consume' ? ' (inputs removed)' : ''));
}

main().catch((e) => {
  console.error(`ort-optimize: ${e.message || e}`);
  process.exit(1);
});
