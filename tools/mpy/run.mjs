// Runs the repository's Python inside real MicroPython (the WebAssembly build) under Node 20.
//
//   node tools/mpy/run.mjs [--suite]            every module in tests.portable.PORTABLE
//   node tools/mpy/run.mjs --module NAME ...    only these test modules (repeatable)
//   node tools/mpy/run.mjs --exec FILE [ARG...] one script as __main__ (benchmarks, probes)
//   --mpy DIR (before the above)                 DIR (compiled .mpy packages, as boards run them)
//                                                comes first on sys.path, ahead of the sources
//   --settled-heap (before --exec)               print "MPY-HEAP-SETTLED BEFORE AFTER": gc.mem_alloc()
//                                                before the script and after it (its globals kept),
//                                                each read once the collector has run: this port
//                                                collects only between runPython calls (a
//                                                gc.collect() inside one reclaims nothing)
//   --bundle DIR (before the above)              a board's filesystem (tools/build-bundle): DIR alone
//                                                is copied, no sources; it is the working directory
//                                                and comes first on sys.path
//
// agent/, boards/, hal/ and tests/ are copied into MEMFS at their host paths, so tracebacks name real files and
// `__file__`-relative data files resolve. The Python side is tools/mpy/mpy_driver.py. Exit status:
// 0 on success, 1 on any failure, error or exception, 2 on bad usage or a missing runtime.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, "..", "..");
const PACKAGES = ["agent", "boards", "hal", "tests"];
const SKIP = new Set(["__pycache__", "node_modules"]);

const USAGE = "usage: node tools/mpy/run.mjs [--mpy DIR | --bundle DIR] [--suite | --module NAME ... | --exec FILE [ARG...]]";

function parseArgs(argv) {
  const opts = { modules: [], exec: null, argv: [], mpy: null, bundle: null, settled: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--suite") continue;
    if (arg === "--settled-heap") opts.settled = true;
    else if (arg === "--module" && i + 1 < argv.length) opts.modules.push(argv[++i]);
    else if (arg === "--mpy" && i + 1 < argv.length) opts.mpy = path.resolve(argv[++i]);
    else if (arg === "--bundle" && i + 1 < argv.length) opts.bundle = path.resolve(argv[++i]);
    else if (arg === "--exec" && i + 1 < argv.length) {
      opts.exec = path.resolve(argv[++i]);
      opts.argv = argv.slice(i + 1); // everything after the file belongs to the script
      break;
    } else throw new Error(`unknown or incomplete argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  return opts;
}

// MicroPython writes one byte per callback; batch them and write synchronously so output
// survives process.exit() and keeps stdout/stderr order within each stream.
function byteSink(fd) {
  let pending = [];
  const flush = () => {
    if (pending.length) fs.writeSync(fd, Buffer.from(pending));
    pending = [];
  };
  const write = (bytes) => {
    for (const b of bytes) pending.push(b);
    if (pending.length > 4096 || bytes.includes(10)) flush();
  };
  return { write, flush };
}

function copyTree(FS, hostDir) {
  FS.mkdirTree(hostDir);
  for (const entry of fs.readdirSync(hostDir, { withFileTypes: true })) {
    if (SKIP.has(entry.name) || entry.name.startsWith(".") || entry.name.endsWith(".pyc")) continue;
    const hostPath = path.join(hostDir, entry.name);
    if (entry.isDirectory()) copyTree(FS, hostPath);
    else if (entry.isFile()) FS.writeFile(hostPath, fs.readFileSync(hostPath));
  }
}

function copyFile(FS, hostPath) {
  FS.mkdirTree(path.dirname(hostPath));
  FS.writeFile(hostPath, fs.readFileSync(hostPath));
}

async function loadRuntime(out, err) {
  let mod;
  try {
    mod = await import("@micropython/micropython-webassembly-pyscript");
  } catch (e) {
    throw new Error(`MicroPython runtime not installed (${e.code || e.message}): run \`npm ci --prefix tools/mpy\``);
  }
  return mod.loadMicroPython({ stdout: out.write, stderr: err.write, linebuffer: false });
}

async function main() {
  const out = byteSink(1);
  const err = byteSink(2);
  let status;
  try {
    const opts = parseArgs(process.argv.slice(2));
    const mp = await loadRuntime(out, err);
    if (!opts.bundle) for (const pkg of PACKAGES) copyTree(mp.FS, path.join(ROOT, pkg));
    copyFile(mp.FS, path.join(HERE, "mpy_driver.py"));
    const first = opts.bundle || opts.mpy;
    if (first) copyTree(mp.FS, first);
    mp.FS.chdir(opts.bundle || ROOT);
    const py = JSON.stringify; // a JSON string is a valid Python string literal
    let call;
    if (opts.exec) {
      copyFile(mp.FS, opts.exec);
      call = `_rc = mpy_driver.run_file(${py(opts.exec)}, ${py(opts.argv)})`;
    } else if (opts.modules.length) {
      call = `_rc = mpy_driver.run_suite(mpy_driver.qualify(${py(opts.modules)}))`;
    } else {
      call = "from tests.portable import PORTABLE\n_rc = mpy_driver.run_suite(mpy_driver.qualify(PORTABLE))";
    }
    const paths = (first ? [first] : []).concat(opts.bundle ? [HERE] : [ROOT, HERE]).map(py).join(", ");
    // Two top-level returns: the collector runs between calls, one behind (measured).
    const settledHeap = () => { mp.runPython(""); mp.runPython(""); mp.runPython("import gc\n_heap = gc.mem_alloc()"); return mp.globals.get("_heap"); };
    mp.runPython(`import sys\nsys.path[:0] = [${paths}]\nimport mpy_driver`);
    const before = opts.settled ? settledHeap() : null;
    mp.runPython(call);
    status = mp.globals.get("_rc");
    if (!Number.isInteger(status)) throw new Error(`driver returned ${status}, not an exit status`);
    if (opts.settled) {
      out.flush();
      fs.writeSync(1, `MPY-HEAP-SETTLED ${before} ${settledHeap()}\n`);
    }
  } catch (e) {
    out.flush();
    // A PythonError's message is the MicroPython traceback; anything else is a runner problem.
    const python = e.name === "PythonError";
    fs.writeSync(2, `run.mjs: ${python ? e.type + " outside the driver:\n" + e.message : e.message}\n`);
    status = python ? 1 : 2;
  }
  out.flush();
  err.flush();
  process.exit(status);
}

main();
