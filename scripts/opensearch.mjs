#!/usr/bin/env node
// A real single-node OpenSearch 2.19 for tests, embedded from Maven Central jars (engine/opensearch).
//
// Library:
//   import { startOpenSearch, buildOpenSearch } from './scripts/opensearch.mjs';
//   const os = await startOpenSearch({ log: (line) => console.error(line) });
//   ... use os.url (http://127.0.0.1:<port>) ...
//   await os.stop();
//
// CLI:
//   node scripts/opensearch.mjs [--port N]     start, print the URL on stdout, stay up until Ctrl-C / SIGTERM
//   node scripts/opensearch.mjs build [--force] build the engine if missing or stale (for .ci/run)
//
// Another engine directory under engine/ with the same layout (tasques.engine.EngineMain, ENGINE_READY) is
// chosen by importing `./opensearch.mjs?engine=<dir>`, or for the CLI with TASQUES_ENGINE=<dir>; e.g.
// engine/elasticsearch7 (Elasticsearch 7.10.2 OSS, the second engine of the test matrix).
//
// Plain Node ESM, no dependencies. Needs `java` (17) and `mvn` on PATH; honours TASQUES_JAVA, then JAVA_HOME.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ENGINE_NAME = new URL(import.meta.url).searchParams.get('engine') ?? process.env.TASQUES_ENGINE ?? 'opensearch';
export const ENGINE_DIR = path.resolve(here, '..', 'engine', ENGINE_NAME);
const POM = path.join(ENGINE_DIR, 'pom.xml');
const TARGET = path.join(ENGINE_DIR, 'target');
const LIB = path.join(TARGET, 'lib');
const STAMP = path.join(TARGET, '.tasques-build-stamp');
const LOCK = path.join(TARGET, '.tasques-build-lock');
const CDS_ARCHIVE = path.join(TARGET, 'engine.jsa');
const MAIN_CLASS = 'tasques.engine.EngineMain';
const READY_RE = /^ENGINE_READY port=(\d+)\s*$/;

/** JVM flags for the engine; kept identical between the CDS dump run and normal runs. */
const BASE_JVM_FLAGS = [
  '-Xms512m',
  '-Xmx512m',
  '-XX:MaxDirectMemorySize=256m',
  '-XX:+ExitOnOutOfMemoryError',
  '-XX:-OmitStackTraceInFastThrow',
  // C1 only: faster start and, on 2 cores, faster test suites (no C2 compile threads competing with the tests).
  // Pass javaOpts: ['-XX:TieredStopAtLevel=4'] to get the full JIT back (e.g. for benchmarks).
  '-XX:TieredStopAtLevel=1',
  '-Xlog:disable',
  '-Xlog:all=warning:stderr', // JVM warnings to stderr: stdout carries only ENGINE_READY
  '-Djava.locale.providers=SPI,COMPAT', // what the OpenSearch 2.x distribution uses (date parsing)
  '-Dfile.encoding=UTF-8',
  '-Djava.awt.headless=true',
  '-Djna.nosys=true',
];

const noop = () => {};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function javaBin() {
  if (process.env.TASQUES_JAVA) return process.env.TASQUES_JAVA;
  if (process.env.JAVA_HOME) return path.join(process.env.JAVA_HOME, 'bin', 'java');
  return 'java';
}

function listFiles(dir) {
  const out = [];
  for (const ent of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, ent.name);
    if (ent.isDirectory()) out.push(...listFiles(p));
    else if (ent.isFile()) out.push(p);
  }
  return out.sort();
}

/** Hash of everything the build depends on: pom, sources, and which java runs it (CDS archives are per-JVM). */
function inputsHash() {
  const h = createHash('sha256');
  for (const f of [POM, ...listFiles(path.join(ENGINE_DIR, 'src'))]) {
    h.update(path.relative(ENGINE_DIR, f)).update('\0').update(fs.readFileSync(f)).update('\0');
  }
  h.update(`java=${javaBin()}\0`);
  return h.digest('hex');
}

function engineJar() {
  if (!fs.existsSync(TARGET)) return null;
  const jar = fs.readdirSync(TARGET).find((f) => f.startsWith(`tasques-engine-${ENGINE_NAME}-`) && f.endsWith('.jar'));
  return jar ? path.join(TARGET, jar) : null;
}

function classpath() {
  const jar = engineJar();
  if (!jar || !fs.existsSync(LIB)) throw new Error(`engine not built: run node scripts/opensearch.mjs build`);
  const libs = fs.readdirSync(LIB).filter((f) => f.endsWith('.jar')).sort().map((f) => path.join(LIB, f));
  return [jar, ...libs].join(path.delimiter);
}

/** True when target/ is missing or was built from other inputs than the current pom/sources. */
export function isOpenSearchBuildStale() {
  try {
    if (!engineJar() || !fs.existsSync(LIB)) return true;
    return fs.readFileSync(STAMP, 'utf8').trim() !== inputsHash();
  } catch {
    return true;
  }
}

/** Runs a command quietly; resolves to its exit code and its combined output (shown only on failure). */
function run(cmd, args, { cwd }) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (buf) => {
      // Maven 3.8 prints bare ANSI resets even with -B -q: strip them
      const text = buf.toString().replace(/\x1b\[[0-9;]*m/g, '');
      output += text;
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) => reject(new Error(`cannot run ${cmd}: ${err.message}`)));
    child.on('close', (code) => resolve({ code, output }));
  });
}

async function withBuildLock(fn, log) {
  fs.mkdirSync(TARGET, { recursive: true });
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(LOCK);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      let age = 0;
      try {
        age = Date.now() - fs.statSync(LOCK).mtimeMs;
      } catch {
        continue;
      }
      if (age > 15 * 60_000) {
        log('[opensearch] removing stale build lock');
        fs.rmSync(LOCK, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for build lock ${LOCK}`);
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}

/**
 * Builds engine/opensearch (Maven package + a class-data-sharing archive) unless it is up to date.
 * Safe to call from several processes at once (directory lock in target/).
 * @param {{ log?: (line: string) => void, force?: boolean }} [opts]
 * @returns {Promise<{ built: boolean, ms: number }>}
 */
export async function buildOpenSearch({ log = noop, force = false } = {}) {
  const t0 = Date.now();
  return withBuildLock(async () => {
    if (!force && !isOpenSearchBuildStale()) return { built: false, ms: Date.now() - t0 };
    const hash = inputsHash();
    log(`[opensearch] building engine/${ENGINE_NAME} with Maven (the first build downloads ~75 MB into ~/.m2)`);
    // copy-dependencies never deletes: drop old jars so a version bump cannot leave two Lucenes on the classpath
    fs.rmSync(LIB, { recursive: true, force: true });
    fs.rmSync(CDS_ARCHIVE, { force: true });
    fs.rmSync(STAMP, { force: true });
    const mvnArgs = ['-B', '-q', '-Dstyle.color=never', '-f', POM, 'package', '-DskipTests'];
    const { code, output } = await run('mvn', mvnArgs, { cwd: ENGINE_DIR });
    if (code !== 0) {
      throw new Error(`mvn ${mvnArgs.join(' ')} failed with exit code ${code}:\n${output.slice(-8000)}`);
    }
    log(`[opensearch] maven done in ${((Date.now() - t0) / 1000).toFixed(1)} s; dumping CDS archive`);
    try {
      await dumpCdsArchive(log);
    } catch (err) {
      fs.rmSync(CDS_ARCHIVE, { force: true });
      log(`[opensearch] CDS archive skipped (startup is ~1 s slower): ${err.message}`);
    }
    fs.writeFileSync(STAMP, hash + '\n');
    const ms = Date.now() - t0;
    log(`[opensearch] engine built in ${(ms / 1000).toFixed(1)} s`);
    return { built: true, ms };
  }, log);
}

/**
 * Starts the engine once with -XX:ArchiveClassesAtExit, runs a few typical requests so their classes are
 * archived too, and stops it through stdin EOF (the archive is written at JVM exit).
 */
async function dumpCdsArchive(log) {
  const tmp = `${CDS_ARCHIVE}.tmp`;
  fs.rmSync(tmp, { force: true });
  const engine = await launch({
    log: noop,
    timeoutMs: 120_000,
    extraJvmFlags: [`-XX:ArchiveClassesAtExit=${tmp}`, '-Xlog:cds=error:stderr', '-Xlog:cds+dynamic=error:stderr'],
  });
  try {
    await exercise(engine.url);
  } catch (err) {
    log(`[opensearch] CDS warm-up request failed (ignored): ${err.message}`);
  }
  const code = await engine.stop({ graceMs: 60_000 });
  if (code !== 0 || !fs.existsSync(tmp)) throw new Error(`archive dump run exited with ${code}`);
  fs.renameSync(tmp, CDS_ARCHIVE);
}

async function exercise(url) {
  const req = async (method, p, body, ndjson = false) => {
    const res = await fetch(url + p, {
      method,
      headers: { 'content-type': ndjson ? 'application/x-ndjson' : 'application/json' },
      body: body === undefined ? undefined : ndjson ? body : JSON.stringify(body),
    });
    await res.text();
    return res.status;
  };
  await req('PUT', '/_index_template/warm', {
    index_patterns: ['warm-*'],
    template: { settings: { number_of_shards: 1 }, mappings: { properties: { id: { type: 'keyword' } } } },
  });
  await req('PUT', '/warm-000001', { aliases: { 'warm-w': { is_write_index: true } } });
  await req('PUT', '/warm-000001/_doc/1?refresh=true', { id: '1', n: 1, at: '2024-01-01T00:00:00Z' });
  const bulk = [
    { index: { _index: 'warm-000001', _id: '1', if_seq_no: 0, if_primary_term: 1 } },
    { id: '1', n: 2 },
    { create: { _index: 'warm-000001', _id: '2' } },
    { id: '2', n: 3 },
  ];
  await req('POST', '/_bulk?refresh=true', bulk.map((l) => JSON.stringify(l)).join('\n') + '\n', true);
  await req('POST', '/warm-w/_search', { query: { bool: { filter: [{ range: { n: { gte: 0 } } }] } }, sort: [{ id: 'asc' }] });
  await req('POST', '/warm-w/_count', { query: { term: { id: '1' } } });
  await req('POST', '/warm-w/_update_by_query?refresh=true&conflicts=proceed', {
    script: { source: 'ctx._source.n += params.d', params: { d: 1 } },
  });
  await req('POST', '/warm-w/_rollover', { conditions: { max_docs: 1 } });
  await req('POST', '/warm-*/_refresh');
  await req('DELETE', '/warm-*');
  await req('DELETE', '/_index_template/warm');
}

/** Spawns the JVM and waits for ENGINE_READY. */
async function launch({ log, port = 0, timeoutMs = 120_000, home, javaOpts = [], extraJvmFlags = [] }) {
  const cp = classpath();
  const ownsHome = !home;
  const homeDir = home ? path.resolve(home) : fs.mkdtempSync(path.join(os.tmpdir(), 'tasques-opensearch-'));
  const flags = [...BASE_JVM_FLAGS];
  if (extraJvmFlags.length === 0 && fs.existsSync(CDS_ARCHIVE)) flags.push(`-XX:SharedArchiveFile=${CDS_ARCHIVE}`);
  const args = [...flags, ...extraJvmFlags, ...javaOpts, '-cp', cp, MAIN_CLASS, '--port', String(port), '--home', homeDir];
  if (ownsHome) args.push('--delete-home-on-exit'); // the JVM cleans up even if this process is killed -9
  const t0 = Date.now();
  const child = spawn(javaBin(), args, { cwd: ENGINE_DIR, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.on('error', noop); // EPIPE once the JVM is gone

  const tail = [];
  const remember = (line) => {
    tail.push(line);
    if (tail.length > 200) tail.shift();
  };
  let errBuf = '';
  child.stderr.on('data', (buf) => {
    errBuf += buf.toString();
    let i;
    while ((i = errBuf.indexOf('\n')) >= 0) {
      const line = errBuf.slice(0, i);
      errBuf = errBuf.slice(i + 1);
      remember(line);
      log(line);
    }
  });

  let exitCode;
  const exited = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exitCode = code ?? 128 + (os.constants.signals[signal] ?? 0);
      resolve(exitCode);
    });
  });

  let cleaned = false;
  const cleanup = () => {
    if (cleaned) return;
    cleaned = true;
    if (ownsHome) fs.rmSync(homeDir, { recursive: true, force: true });
  };
  // If this process exits without stop() (or is killed -9), the JVM sees stdin EOF, closes the node and,
  // for a temp home, deletes it (--delete-home-on-exit): nothing to do here.

  const exitsWithin = (ms) =>
    new Promise((resolve) => {
      if (exitCode !== undefined) return resolve(true);
      const t = setTimeout(() => resolve(false), ms);
      exited.then(() => {
        clearTimeout(t);
        resolve(true);
      });
    });

  let stopping;
  const stop = ({ graceMs = 10_000 } = {}) => {
    if (!stopping) {
      stopping = (async () => {
        child.ref(); // keep the event loop alive until the JVM is really gone
        try {
          child.stdin.end(); // the engine exits on stdin EOF, closing the node cleanly
        } catch {}
        // stdin EOF lets the engine close the node cleanly; escalate only if it hangs
        if (!(await exitsWithin(graceMs))) {
          child.kill('SIGTERM');
          if (!(await exitsWithin(5_000))) child.kill('SIGKILL');
        }
        const code = await exited;
        cleanup();
        return code;
      })();
    }
    return stopping;
  };

  const port_ = await new Promise((resolve, reject) => {
    let outBuf = '';
    let settled = false;
    const timer = setTimeout(() => {
      fail(new Error(`OpenSearch not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      err.message += `\n--- engine stderr (last lines) ---\n${tail.join('\n')}`;
      stop({ graceMs: 2_000 }).finally(() => reject(err));
    };
    child.on('error', (err) => fail(new Error(`cannot run ${javaBin()}: ${err.message}`)));
    exited.then((code) => fail(new Error(`OpenSearch exited with code ${code} before ENGINE_READY`)));
    child.stdout.on('data', (buf) => {
      outBuf += buf.toString();
      let i;
      while ((i = outBuf.indexOf('\n')) >= 0) {
        const line = outBuf.slice(0, i);
        outBuf = outBuf.slice(i + 1);
        const m = READY_RE.exec(line);
        if (m && !settled) {
          settled = true;
          clearTimeout(timer);
          resolve(Number(m[1]));
        } else if (line.trim()) {
          remember(line);
          log(line);
        }
      }
    });
  });

  return {
    url: `http://127.0.0.1:${port_}`,
    port: port_,
    pid: child.pid,
    home: homeDir,
    startMs: Date.now() - t0,
    exited,
    child,
    stop,
  };
}

/**
 * Builds the engine if needed, starts a fresh single-node OpenSearch on 127.0.0.1 with a temp home
 * and waits for it to be ready.
 *
 * @param {{
 *   log?: (line: string) => void,  // build progress and engine stderr, line by line (default: silent)
 *   port?: number,                 // HTTP port, 0 = ephemeral (default 0)
 *   timeoutMs?: number,            // wait for ENGINE_READY (default 120000)
 *   home?: string,                 // use this home dir instead of a new temp dir (then it is not removed)
 *   javaOpts?: string[],           // extra JVM flags, appended after the defaults (e.g. ['-Xmx1g'])
 * }} [opts]
 * @returns {Promise<{ url: string, port: number, pid: number, home: string, startMs: number,
 *                     exited: Promise<number>, stop: () => Promise<number> }>}
 *   url is http://127.0.0.1:<port>; startMs is JVM spawn to ready (build excluded); exited resolves to the JVM's
 *   exit code whenever it exits (128+signal if killed); stop() ends stdin, waits up to 10 s, escalates to
 *   SIGTERM then SIGKILL, removes the temp home and resolves to the exit code (0 on a clean stop).
 *   stop() is idempotent. Build time is not part of timeoutMs.
 */
export async function startOpenSearch({ log = noop, port = 0, timeoutMs = 120_000, home, javaOpts = [] } = {}) {
  await buildOpenSearch({ log });
  const engine = await launch({ log, port, timeoutMs, home, javaOpts });
  // A forgotten stop() must not keep the test runner alive: once ready, do not hold the event loop.
  // (If this process exits, the JVM sees stdin EOF and exits too.)
  engine.child.unref();
  for (const s of [engine.child.stdin, engine.child.stdout, engine.child.stderr]) s?.unref?.();
  const { child, stop, ...rest } = engine;
  return { ...rest, stop: () => stop() };
}

// ---------------------------------------------------------------- CLI
async function cli(argv) {
  const log = (line) => process.stderr.write(line + '\n');
  if (argv[0] === 'build') {
    const { built, ms } = await buildOpenSearch({ log, force: argv.includes('--force') });
    log(built ? `[opensearch] built in ${(ms / 1000).toFixed(1)} s` : '[opensearch] engine is up to date');
    return;
  }
  let port = 0;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--port') port = Number(argv[++i]);
    else if (argv[i] === '--help' || argv[i] === '-h') {
      log('usage: node scripts/opensearch.mjs [--port N] | build [--force]');
      return;
    } else throw new Error(`unknown argument: ${argv[i]}`);
  }
  const engine = await startOpenSearch({ log, port });
  process.stdout.write(engine.url + '\n');
  log(`[opensearch] ready in ${engine.startMs} ms (pid ${engine.pid}, home ${engine.home}); Ctrl-C to stop`);
  const keepAlive = setInterval(noop, 1 << 30);
  let stopping = false;
  const shutdown = async (sig) => {
    if (stopping) return;
    stopping = true;
    log(`[opensearch] ${sig}: stopping`);
    const code = await engine.stop();
    clearInterval(keepAlive);
    process.exitCode = code === 0 || code === 130 || code === 143 ? 0 : 1;
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  engine.exited.then(async (code) => {
    if (stopping) return;
    stopping = true;
    log(`[opensearch] engine exited unexpectedly with code ${code}`);
    await engine.stop(); // removes the temp home
    clearInterval(keepAlive);
    process.exitCode = 1;
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`[opensearch] ${err.message}\n`);
    process.exit(1);
  });
}
