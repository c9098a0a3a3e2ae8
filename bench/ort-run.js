#!/usr/bin/env node
// Runs an ONNX model in ONNX Runtime (onnxruntime-node, CPU EP) on .npy inputs and writes the
// outputs as .npy; also compares two .npy files (--compare). See bench/README.md.
//
//   node bench/ort-run.js MODEL.onnx --input NAME=FILE.npy ... (--output-dir DIR | --output NAME=FILE.npy ...)
//   node bench/ort-run.js MODEL.onnx --list-outputs
//   node bench/ort-run.js --compare A.npy B.npy [--name NAME] [--max-abs X]
//
// Exit status: 0 success, 1 error (bad model/input/npy, failed run; for --compare a shape/dtype
// mismatch, a NaN in one array and not the other, or max abs error above --max-abs), 2 usage error.
'use strict';

const fs = require('fs');
const path = require('path');

class UsageError extends Error {}
class RunError extends Error {}

// ---------------------------------------------------------------------------------------------
// .npy reader/writer (format versions 1.0, 2.0, 3.0; C order; any byte order for numeric types).

// numpy type char + size -> [ORT tensor type, typed array constructor]
const NPY_TYPES = {
  f2: ['float16', Uint16Array],  // raw IEEE half bits (widened to double only when comparing)
  f4: ['float32', Float32Array],
  f8: ['float64', Float64Array],
  i1: ['int8', Int8Array],
  i2: ['int16', Int16Array],
  i4: ['int32', Int32Array],
  i8: ['int64', BigInt64Array],
  u1: ['uint8', Uint8Array],
  u2: ['uint16', Uint16Array],
  u4: ['uint32', Uint32Array],
  u8: ['uint64', BigUint64Array],
  b1: ['bool', Uint8Array],
};
const ORT_TO_NPY = {};
for (const [k, [t]] of Object.entries(NPY_TYPES)) ORT_TO_NPY[t] = k;

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

function readNpy(file) {
  let buf;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new RunError(`${file}: cannot read: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
  const bad = (msg) => new RunError(`${file}: not a valid .npy file: ${msg}`);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw bad('missing \\x93NUMPY magic');
  const major = buf[6];
  let hlen, hstart;
  if (major === 1) {
    hlen = buf.readUInt16LE(8);
    hstart = 10;
  } else if (major === 2 || major === 3) {
    if (buf.length < 12) throw bad('truncated header');
    hlen = buf.readUInt32LE(8);
    hstart = 12;
  } else {
    throw bad(`unsupported format version ${major}.${buf[7]}`);
  }
  if (hstart + hlen > buf.length) throw bad('truncated header');
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', hstart, hstart + hlen);
  const descrM = /['"]descr['"]\s*:\s*(['"])([^'"]*)\1/.exec(header);
  const fortM = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(header);
  const shapeM = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descrM) {
    throw bad(/['"]descr['"]\s*:\s*\[/.test(header) ? 'structured dtypes are not supported'
                                                    : `no 'descr' in header ${JSON.stringify(header.trim())}`);
  }
  if (!fortM) throw bad(`no 'fortran_order' in header ${JSON.stringify(header.trim())}`);
  if (!shapeM) throw bad(`no 'shape' in header ${JSON.stringify(header.trim())}`);
  if (fortM[1] === 'True') throw new RunError(`${file}: Fortran-order arrays are not supported (save with np.ascontiguousarray)`);
  const shape = [];
  for (const part of shapeM[1].split(',')) {
    const s = part.trim().replace(/L$/, '');
    if (s === '') continue;
    if (!/^\d+$/.test(s)) throw bad(`bad shape (${shapeM[1]})`);
    shape.push(Number(s));
  }
  const descr = descrM[2];
  const dm = /^([<>|=])([a-z])(\d+)$/.exec(descr);
  const key = dm && dm[2] + dm[3];
  if (!dm || !NPY_TYPES[key]) throw new RunError(`${file}: unsupported dtype '${descr}'`);
  const [type, Ctor] = NPY_TYPES[key];
  const size = Ctor.BYTES_PER_ELEMENT;
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = hstart + hlen;
  const nbytes = count * size;
  if (buf.length - dataStart !== nbytes) {
    throw bad(`shape (${shape.join(', ')}) of '${descr}' needs ${nbytes} data bytes, file has ${buf.length - dataStart}`);
  }
  // Copy into a fresh, aligned buffer.
  const raw = new Uint8Array(nbytes);
  raw.set(buf.subarray(dataStart, dataStart + nbytes));
  if (dm[1] === '>' && size > 1) {
    for (let i = 0; i < nbytes; i += size) raw.subarray(i, i + size).reverse();
  }
  return { type, descr: '<' + key, shape, data: new Ctor(raw.buffer) };
}

function writeNpy(file, type, shape, data) {
  const key = ORT_TO_NPY[type];
  if (!key) throw new RunError(`${file}: cannot write tensor type '${type}' as .npy`);
  const descr = (key[1] === '1' ? '|' : '<') + key;
  const shapeStr = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeStr}, }`;
  let version = 1;
  let pre = 10;
  if (header.length + 1 + pre > 65535) { version = 2; pre = 12; }
  const pad = (64 - ((pre + header.length + 1) % 64)) % 64;
  header += ' '.repeat(pad) + '\n';
  const head = Buffer.alloc(pre);
  MAGIC.copy(head, 0);
  head[6] = version;
  head[7] = 0;
  if (version === 1) head.writeUInt16LE(header.length, 8);
  else head.writeUInt32LE(header.length, 8);
  let bytes;
  if (type === 'bool') bytes = Buffer.from(Uint8Array.from(data, (v) => (v ? 1 : 0)));
  else bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const tmp = `${file}.tmp${process.pid}`;
  fs.writeFileSync(tmp, Buffer.concat([head, Buffer.from(header, 'latin1'), bytes]));
  fs.renameSync(tmp, file);
}

// ---------------------------------------------------------------------------------------------
// Comparison of two arrays.

function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function toNumber(arr, type, i) {
  const v = arr.data[i];
  if (type === 'float16') return halfToFloat(v);
  return typeof v === 'bigint' ? Number(v) : v;
}

const RTOL = 1e-3;
const ATOL = 1e-7;

// a: candidate (freeact), b: reference (ORT). Returns a result object; `ok` false on a
// structural problem (shape/dtype) or a NaN mismatch.
function compareArrays(a, b) {
  const res = { shapeA: a.shape, shapeB: b.shape, typeA: a.type, typeB: b.type, problems: [] };
  if (a.type !== b.type) res.problems.push(`dtype ${a.type} vs ${b.type}`);
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    res.problems.push(`shape [${a.shape}] vs [${b.shape}]`);
  }
  if (res.problems.length) return res;
  const n = a.data.length;
  let maxAbs = 0, maxRel = 0, beyond = 0, nanMismatch = 0, worst = -1;
  for (let i = 0; i < n; i++) {
    const x = toNumber(a, a.type, i);
    const y = toNumber(b, b.type, i);
    const xn = Number.isNaN(x), yn = Number.isNaN(y);
    if (xn || yn) {
      if (xn !== yn) { nanMismatch++; if (worst < 0) worst = i; }
      continue;
    }
    if (x === y) continue; // also equal infinities
    const d = Math.abs(x - y);
    const r = d / Math.max(Math.abs(y), 1e-6);
    if (d > maxAbs || worst < 0) { maxAbs = Math.max(maxAbs, d); worst = i; }
    if (r > maxRel) maxRel = r;
    if (!(d <= ATOL + RTOL * Math.abs(y))) beyond++;
  }
  if (nanMismatch) res.problems.push(`${nanMismatch} element(s) NaN in one array only`);
  Object.assign(res, { n, maxAbs, maxRel, beyond, nanMismatch, worst });
  if (worst >= 0) {
    res.worstA = toNumber(a, a.type, worst);
    res.worstB = toNumber(b, b.type, worst);
  }
  return res;
}

function fmt(x) {
  return x === 0 ? '0' : x.toExponential(3);
}

function unravel(i, shape) {
  const idx = new Array(shape.length);
  for (let k = shape.length - 1; k >= 0; k--) {
    idx[k] = i % shape[k];
    i = Math.floor(i / shape[k]);
  }
  return idx;
}

function compareMain(args) {
  let name = null, maxAbsLimit = null, header = true;
  const files = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--name') name = need(args, ++i, a);
    else if (a === '--max-abs') maxAbsLimit = parseLimit(need(args, ++i, a));
    else if (a === '--no-header') header = false;
    else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
    else files.push(a);
  }
  if (files.length !== 2) throw new UsageError('--compare needs exactly two .npy files (A = candidate, B = reference)');
  const A = readNpy(files[0]);
  const B = readNpy(files[1]);
  const r = compareArrays(A, B);
  if (header) printCompareHeader();
  name = name || path.basename(files[0]).replace(/\.npy$/, '');
  let ok = r.problems.length === 0;
  let line;
  if (r.n === undefined) {
    line = `${name}\t${A.type}\t[${A.shape}]\t-\t-\t-\tMISMATCH: ${r.problems.join('; ')}`;
  } else {
    let status = ok ? 'ok' : `FAIL: ${r.problems.join('; ')}`;
    if (ok && maxAbsLimit !== null && r.maxAbs > maxAbsLimit) {
      ok = false;
      status = `FAIL: max abs ${fmt(r.maxAbs)} > ${maxAbsLimit}`;
    }
    let worst = '';
    if (r.worst >= 0) worst = `  worst at [${unravel(r.worst, A.shape)}]: ${r.worstA} vs ${r.worstB}`;
    line = `${name}\t${A.type}\t[${A.shape}]\t${fmt(r.maxAbs)}\t${fmt(r.maxRel)}\t${r.beyond}/${r.n}\t${status}${worst}`;
  }
  console.log(line);
  return ok ? 0 : 1;
}

function printCompareHeader() {
  console.log('output\tdtype\tshape\tmax_abs\tmax_rel\tbeyond_tol(rtol=1e-3,atol=1e-7)\tstatus');
}

function parseLimit(s) {
  const v = Number(s);
  if (!Number.isFinite(v) || v < 0) throw new UsageError(`--max-abs wants a non-negative number, got '${s}'`);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Running a model.

function need(args, i, opt) {
  if (i >= args.length) throw new UsageError(`${opt} needs a value`);
  return args[i];
}

function splitBinding(s, opt) {
  const eq = s.indexOf('=');
  if (eq <= 0 || eq === s.length - 1) throw new UsageError(`${opt} wants NAME=FILE, got '${s}'`);
  return [s.slice(0, eq), s.slice(eq + 1)];
}

function loadOrt() {
  try {
    return require('onnxruntime-node');
  } catch (e) {
    throw new RunError(`cannot load onnxruntime-node (${e.message.split('\n')[0]}); run: cd bench && npm ci --ignore-scripts`);
  }
}

function safeFileName(name) {
  return name.replace(/[^A-Za-z0-9._-]/g, '_') || '_';
}

async function createSession(ort, model) {
  if (!fs.existsSync(model)) throw new RunError(`${model}: no such file`);
  const opts = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    logSeverityLevel: process.env.ORT_LOG_LEVEL ? Number(process.env.ORT_LOG_LEVEL) : 3, // 3 = errors only
  };
  const threads = process.env.ORT_INTRA_OP_THREADS;
  if (threads !== undefined && threads !== '') {
    if (!/^\d+$/.test(threads)) throw new UsageError(`ORT_INTRA_OP_THREADS must be a non-negative integer, got '${threads}'`);
    opts.intraOpNumThreads = Number(threads); // 0 = ORT's default
  }
  try {
    return await ort.InferenceSession.create(model, opts);
  } catch (e) {
    throw new RunError(`${model}: ONNX Runtime cannot load the model: ${e.message}`);
  }
}

async function runMain(args) {
  let model = null, outDir = null, listOutputs = false, repeat = 0;
  const inputs = new Map();
  const outputs = new Map();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--input') {
      const [n, f] = splitBinding(need(args, ++i, a), a);
      if (inputs.has(n)) throw new UsageError(`input '${n}' given twice`);
      inputs.set(n, f);
    } else if (a === '--output') {
      const [n, f] = splitBinding(need(args, ++i, a), a);
      outputs.set(n, f);
    } else if (a === '--output-dir') {
      outDir = need(args, ++i, a);
    } else if (a === '--list-outputs') {
      listOutputs = true;
    } else if (a === '--repeat') {
      const v = need(args, ++i, a);
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`--repeat needs a positive integer, got '${v}'`);
      repeat = Number(v);
    } else if (a.startsWith('--')) {
      throw new UsageError(`unknown option ${a}`);
    } else if (model === null) {
      model = a;
    } else {
      throw new UsageError(`unexpected argument '${a}'`);
    }
  }
  if (model === null) throw new UsageError('no model given');
  const ort = loadOrt();
  const t0 = performance.now();
  const session = await createSession(ort, model);
  const loadMs = performance.now() - t0;
  if (listOutputs) {
    for (const n of session.outputNames) console.log(n);
    return 0;
  }
  if (outDir === null && outputs.size === 0 && !repeat) throw new UsageError('give --output-dir DIR or --output NAME=FILE (or --repeat N)');

  const meta = new Map((session.inputMetadata || []).map((m) => [m.name, m]));
  for (const n of inputs.keys()) {
    if (!session.inputNames.includes(n)) {
      throw new RunError(`unknown input '${n}' (model inputs: ${session.inputNames.join(', ')})`);
    }
  }
  const missing = session.inputNames.filter((n) => !inputs.has(n));
  if (missing.length) throw new RunError(`missing --input for: ${missing.join(', ')}`);
  for (const n of outputs.keys()) {
    if (!session.outputNames.includes(n)) {
      throw new RunError(`unknown output '${n}' (model outputs: ${session.outputNames.join(', ')})`);
    }
  }

  const feeds = {};
  for (const [n, f] of inputs) {
    const arr = readNpy(f);
    const m = meta.get(n);
    if (m && m.isTensor) {
      if (m.type !== arr.type) throw new RunError(`input '${n}': model wants ${m.type}, ${f} holds ${arr.type}`);
      if (m.shape.length && m.shape.length !== arr.shape.length) {
        throw new RunError(`input '${n}': model wants rank ${m.shape.length} [${m.shape}], ${f} has shape [${arr.shape}]`);
      }
      m.shape.forEach((d, k) => {
        if (typeof d === 'number' && d >= 0 && d !== arr.shape[k]) {
          throw new RunError(`input '${n}': model wants shape [${m.shape}], ${f} has shape [${arr.shape}]`);
        }
      });
    }
    feeds[n] = new ort.Tensor(arr.type, arr.data, arr.shape);
  }

  const fetch = outputs.size ? [...outputs.keys()] : session.outputNames;
  let result;
  const times = [];
  for (let r = 0; r <= repeat; r++) {
    const t = performance.now();
    try {
      result = await session.run(feeds, fetch);
    } catch (e) {
      throw new RunError(`ONNX Runtime run failed: ${e.message}`);
    }
    times.push(performance.now() - t);
  }
  if (repeat) {
    const sorted = times.slice(1).sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    console.log(JSON.stringify({ load_ms: loadMs, first_ms: times[0], median_ms: median,
                                 min_ms: sorted[0], runs: repeat }));
  }
  if (outDir === null && outputs.size === 0) {
    await session.release();
    return 0;
  }
  if (outDir !== null) fs.mkdirSync(outDir, { recursive: true });
  const used = new Set();
  for (const n of fetch) {
    const t = result[n];
    let file = outputs.get(n);
    if (file === undefined) {
      let base = safeFileName(n);
      while (used.has(base)) base += '_';
      used.add(base);
      file = path.join(outDir, base + '.npy');
    }
    if (t.type === 'string') throw new RunError(`output '${n}': string tensors are not supported`);
    writeNpy(file, t.type, Array.from(t.dims, Number), t.data);
  }
  await session.release();
  return 0;
}

const USAGE = `usage: node bench/ort-run.js MODEL.onnx --input NAME=FILE.npy ... (--output-dir DIR | --output NAME=FILE.npy ...)
       node bench/ort-run.js MODEL.onnx --input NAME=FILE.npy ... --repeat N
       node bench/ort-run.js MODEL.onnx --list-outputs
       node bench/ort-run.js --compare A.npy B.npy [--name NAME] [--max-abs X] [--no-header]

Runs MODEL in ONNX Runtime (onnxruntime-node, CPU EP, graphOptimizationLevel 'all';
intraOpNumThreads from $ORT_INTRA_OP_THREADS if set; ORT's log level from $ORT_LOG_LEVEL,
default 3 = errors only, 2 adds warnings). Every model input needs one --input.
With --output-dir each output goes to DIR/NAME.npy (characters outside [A-Za-z0-9._-] in NAME
become '_'); with --output only the named outputs are written. --repeat N runs N more times
after the first and prints one JSON line: load_ms (session creation), first_ms, median_ms and
min_ms of the N repeats, runs.

--compare reads A (candidate) and B (reference) and prints dtype, shape, max |A-B|, max
|A-B|/max(|B|,1e-6), and the count of elements with |A-B| > 1e-7 + 1e-3*|B| (ONNX test
tolerance). NaN at the same place in both counts as equal.

Exit status: 0 success; 1 error (or, for --compare: dtype/shape mismatch, NaN in one array
only, max abs above --max-abs); 2 usage error.`;

async function main() {
  const args = process.argv.slice(2);
  if (args.length === 0 || args.includes('-h') || args.includes('--help')) {
    console.log(USAGE);
    return args.length === 0 ? 2 : 0;
  }
  if (args[0] === '--compare') return compareMain(args.slice(1));
  return runMain(args);
}

if (require.main === module) {
  main().then(
    (code) => { process.exitCode = code; },
    (e) => {
      if (e instanceof UsageError) {
        console.error(`ort-run: ${e.message}\n(run with --help for usage)`);
        process.exitCode = 2;
      } else if (e instanceof RunError) {
        console.error(`ort-run: ${e.message}`);
        process.exitCode = 1;
      } else {
        console.error(`ort-run: ${e && e.stack ? e.stack : e}`);
        process.exitCode = 1;
      }
    });
}

module.exports = { readNpy, writeNpy, compareArrays };
