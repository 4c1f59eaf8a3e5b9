// SPDX-License-Identifier: BSD-2-Clause
// Runs an ONNX model in ONNX Runtime (CPU, npm onnxruntime-node) for the export checks.
//   node run_ort.js MODEL.onnx OUT_DIR INPUT=N,C,H,W=FILE.f32 [...] [--time=ITERS] [--threads=T]
// Inputs are raw little-endian float32 files; each output is written to OUT_DIR/<name>.f32
// (int64 outputs as float32). Prints one JSON line: output shapes and, with --time, the mean
// forward milliseconds over ITERS runs after one untimed run.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

async function main() {
  const args = process.argv.slice(2);
  const model = args[0];
  const outDir = args[1];
  let iters = 0;
  let threads = 0;
  const feeds = {};
  for (const a of args.slice(2)) {
    if (a.startsWith('--time=')) { iters = Number(a.slice(7)); continue; }
    if (a.startsWith('--threads=')) { threads = Number(a.slice(10)); continue; }
    const [name, dims, file] = a.split('=');
    const shape = dims.split(',').map(Number);
    const buf = fs.readFileSync(file);
    const data = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
    feeds[name] = new ort.Tensor('float32', Float32Array.from(data), shape);
  }
  const options = { graphOptimizationLevel: 'all' };
  if (threads > 0) options.intraOpNumThreads = threads;
  const session = await ort.InferenceSession.create(model, options);
  let results = await session.run(feeds);
  const report = { outputs: {} };
  if (iters > 0) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iters; ++i) results = await session.run(feeds);
    report.forward_ms = Number(process.hrtime.bigint() - start) / 1e6 / iters;
  }
  for (const name of session.outputNames) {
    const t = results[name];
    const data = t.type === 'int64' ? Float32Array.from(t.data, Number) : t.data;
    fs.writeFileSync(path.join(outDir, name + '.f32'),
                     Buffer.from(data.buffer, data.byteOffset, data.length * 4));
    report.outputs[name] = t.dims;
  }
  console.log(JSON.stringify(report));
}

main().catch((e) => { console.error(String(e)); process.exit(1); });
