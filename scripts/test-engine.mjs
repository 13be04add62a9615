#!/usr/bin/env node
// Real search engines for tests, embedded from Maven Central jars (test-engines/<engine>/): one node, or a
// cluster of several nodes (one JVM each) on 127.0.0.1.
//
// Library:
//   import { startEngine, startCluster, buildEngine } from './scripts/test-engine.mjs';
//   const es = await startEngine({ engine: 'opensearch', log: (line) => console.error(line) });
//   ... use es.url (http://127.0.0.1:<port>) ...
//   await es.stop();
//   const cluster = await startCluster({ engine: 'opensearch', nodes: 3 }); // cluster.nodes[i].kill('SIGKILL')
//
// CLI:
//   node scripts/test-engine.mjs [--engine E] [--port N] [--nodes N]   start, print the URL(s) on stdout, stay up until Ctrl-C
//   node scripts/test-engine.mjs build [--engine E | --all] [--force] build the engine(s) if missing or stale (.ci/run)
//
// Engines (ENGINES below): opensearch (2.19, the default), opensearch3 (3.x, needs Java 21+), opensearch1 (1.3),
// elasticsearch7 (7.10.2 OSS). Each directory holds a Maven project whose tasques.engine.EngineMain prints
// `ENGINE_READY port=<p>` on stdout once the node serves HTTP.
//
// Plain Node ESM, no dependencies. Needs `mvn` on PATH. Java: TASQUES_JAVA, then JAVA_HOME, then `java` (17) for
// the Java 17 engines; for opensearch3 TASQUES_JAVA21, else the newest JDK 21+ under /usr/lib/jvm.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const ENGINES_DIR = path.resolve(here, '..', 'test-engines');

const COMPAT_LOCALE = '-Djava.locale.providers=SPI,COMPAT'; // what the 1.x/2.x/ES 7 distributions use (date parsing)

/**
 * The engines of the test matrix. `java` is the minimum Java feature version; `jvmFlags` are added to the
 * common flags; `ci` says whether CI runs the conformance suite against it.
 */
export const ENGINES = {
  opensearch: { label: 'OpenSearch 2.19.6', java: 17, jvmFlags: [COMPAT_LOCALE], ci: true },
  // 3.0 replaced COMPAT by CLDR (and JDK 23 removed COMPAT); Lucene 10 calls the foreign-function API.
  opensearch3: { label: 'OpenSearch 3.9.0', java: 21, jvmFlags: ['--enable-native-access=ALL-UNNAMED'], ci: true },
  opensearch1: { label: 'OpenSearch 1.3.20', java: 17, jvmFlags: [COMPAT_LOCALE], ci: true },
  elasticsearch7: { label: 'Elasticsearch 7.10.2 OSS', java: 17, jvmFlags: [COMPAT_LOCALE], ci: true },
};
export const DEFAULT_ENGINE = 'opensearch';

/** Where an engine's project and build output live. */
function enginePaths(engine) {
  if (!Object.hasOwn(ENGINES, engine)) {
    throw new Error(`unknown test engine ${JSON.stringify(engine)}: one of ${Object.keys(ENGINES).join(', ')}`);
  }
  const dir = path.join(ENGINES_DIR, engine);
  const target = path.join(dir, 'target');
  return {
    name: engine,
    spec: ENGINES[engine],
    dir,
    pom: path.join(dir, 'pom.xml'),
    target,
    lib: path.join(target, 'lib'),
    stamp: path.join(target, '.tasques-build-stamp'),
    lock: path.join(target, '.tasques-build-lock'),
    cds: path.join(target, 'engine.jsa'),
  };
}

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
  '-Dfile.encoding=UTF-8',
  '-Djava.awt.headless=true',
  '-Djna.nosys=true',
];

const noop = () => {};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The newest JDK of at least `feature` under /usr/lib/jvm (names like temurin-25-jdk-amd64), or undefined. */
function systemJdk(feature) {
  let best;
  try {
    for (const name of fs.readdirSync('/usr/lib/jvm')) {
      const m = /(?:^|[-.])(\d{2,})(?:[-.]|$)/.exec(name);
      const home = path.join('/usr/lib/jvm', name);
      if (!m || Number(m[1]) < feature || !fs.existsSync(path.join(home, 'bin', 'java'))) continue;
      if (!best || Number(m[1]) > best.feature) best = { feature: Number(m[1]), home };
    }
  } catch {}
  return best?.home;
}

/** The JDK home (for Maven) and java command for an engine. */
function javaFor(p) {
  if (p.spec.java > 17) {
    const explicit = process.env.TASQUES_JAVA21;
    if (explicit) return { home: path.dirname(path.dirname(explicit)), bin: explicit };
    const home = systemJdk(p.spec.java);
    if (!home) throw new Error(`${p.spec.label} needs Java ${p.spec.java}+: set TASQUES_JAVA21 or install a JDK under /usr/lib/jvm`);
    return { home, bin: path.join(home, 'bin', 'java') };
  }
  if (process.env.TASQUES_JAVA) return { home: path.dirname(path.dirname(process.env.TASQUES_JAVA)), bin: process.env.TASQUES_JAVA };
  if (process.env.JAVA_HOME) return { home: process.env.JAVA_HOME, bin: path.join(process.env.JAVA_HOME, 'bin', 'java') };
  return { home: undefined, bin: 'java' };
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
function inputsHash(p) {
  const h = createHash('sha256');
  for (const f of [p.pom, ...listFiles(path.join(p.dir, 'src'))]) {
    h.update(path.relative(p.dir, f)).update('\0').update(fs.readFileSync(f)).update('\0');
  }
  h.update(`java=${javaFor(p).bin}\0`);
  return h.digest('hex');
}

function engineJar(p) {
  if (!fs.existsSync(p.target)) return null;
  const jar = fs.readdirSync(p.target).find((f) => f.startsWith(`tasques-engine-${p.name}-`) && f.endsWith('.jar'));
  return jar ? path.join(p.target, jar) : null;
}

function classpath(p) {
  const jar = engineJar(p);
  if (!jar || !fs.existsSync(p.lib)) throw new Error(`engine not built: run node scripts/test-engine.mjs build --engine ${p.name}`);
  const libs = fs.readdirSync(p.lib).filter((f) => f.endsWith('.jar')).sort().map((f) => path.join(p.lib, f));
  return [jar, ...libs].join(path.delimiter);
}

/** True when the engine's target/ is missing or was built from other inputs than the current pom/sources. */
export function isEngineBuildStale(engine = DEFAULT_ENGINE) {
  const p = enginePaths(engine);
  try {
    if (!engineJar(p) || !fs.existsSync(p.lib)) return true;
    return fs.readFileSync(p.stamp, 'utf8').trim() !== inputsHash(p);
  } catch {
    return true;
  }
}

/** Runs a command quietly; resolves to its exit code and its combined output (shown only on failure). */
function run(cmd, args, { cwd, env = process.env }) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
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

async function withBuildLock(p, fn, log) {
  const LOCK = p.lock;
  fs.mkdirSync(p.target, { recursive: true });
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
        log(`[test-engine] ${p.name}: removing stale build lock`);
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
 * Builds test-engines/<engine> (Maven package + a class-data-sharing archive) unless it is up to date.
 * Safe to call from several processes at once (directory lock in target/).
 * @param {{ engine?: string, log?: (line: string) => void, force?: boolean }} [opts]
 * @returns {Promise<{ built: boolean, ms: number }>}
 */
export async function buildEngine({ engine = DEFAULT_ENGINE, log = noop, force = false } = {}) {
  const p = enginePaths(engine);
  const t0 = Date.now();
  return withBuildLock(p, async () => {
    if (!force && !isEngineBuildStale(engine)) return { built: false, ms: Date.now() - t0 };
    const hash = inputsHash(p);
    log(`[test-engine] building test-engines/${p.name} (${p.spec.label}) with Maven (a first build downloads ~75 MB into ~/.m2)`);
    // copy-dependencies never deletes: drop old jars so a version bump cannot leave two Lucenes on the classpath
    fs.rmSync(p.lib, { recursive: true, force: true });
    fs.rmSync(p.cds, { force: true });
    fs.rmSync(p.stamp, { force: true });
    const mvnArgs = ['-B', '-q', '-Dstyle.color=never', '-f', p.pom, 'package', '-DskipTests'];
    const { home } = javaFor(p);
    const env = home ? { ...process.env, JAVA_HOME: home } : process.env;
    const { code, output } = await run('mvn', mvnArgs, { cwd: p.dir, env });
    if (code !== 0) {
      throw new Error(`mvn ${mvnArgs.join(' ')} failed with exit code ${code}:\n${output.slice(-8000)}`);
    }
    log(`[test-engine] ${p.name}: maven done in ${((Date.now() - t0) / 1000).toFixed(1)} s; dumping CDS archive`);
    try {
      await dumpCdsArchive(p, log);
    } catch (err) {
      fs.rmSync(p.cds, { force: true });
      log(`[test-engine] ${p.name}: CDS archive skipped (startup is ~1 s slower): ${err.message}`);
    }
    fs.writeFileSync(p.stamp, hash + '\n');
    const ms = Date.now() - t0;
    log(`[test-engine] ${p.name}: built in ${(ms / 1000).toFixed(1)} s`);
    return { built: true, ms };
  }, log);
}

/**
 * Starts the engine once with -XX:ArchiveClassesAtExit, runs a few typical requests so their classes are
 * archived too, and stops it through stdin EOF (the archive is written at JVM exit).
 */
async function dumpCdsArchive(p, log) {
  const tmp = `${p.cds}.tmp`;
  fs.rmSync(tmp, { force: true });
  const engine = await launch(p, {
    log: noop,
    timeoutMs: 120_000,
    extraJvmFlags: [`-XX:ArchiveClassesAtExit=${tmp}`, '-Xlog:cds=error:stderr', '-Xlog:cds+dynamic=error:stderr'],
  });
  try {
    await exercise(engine.url);
  } catch (err) {
    log(`[test-engine] ${p.name}: CDS warm-up request failed (ignored): ${err.message}`);
  }
  const code = await engine.stop({ graceMs: 60_000 });
  if (code !== 0 || !fs.existsSync(tmp)) throw new Error(`archive dump run exited with ${code}`);
  fs.renameSync(tmp, p.cds);
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

/**
 * Spawns the JVM and waits for ENGINE_READY. `member` makes the node one member of a cluster:
 * { nodeName, transportPort, seedHosts: ['127.0.0.1:p', ...], initialManagers: ['name', ...] }.
 */
async function launch(p, { log, port = 0, timeoutMs = 120_000, home, javaOpts = [], extraJvmFlags = [], member }) {
  const cp = classpath(p);
  const java = javaFor(p).bin;
  const ownsHome = !home;
  const homeDir = home ? path.resolve(home) : fs.mkdtempSync(path.join(os.tmpdir(), `tasques-${p.name}-`));
  const flags = [...BASE_JVM_FLAGS, ...p.spec.jvmFlags];
  if (extraJvmFlags.length === 0 && fs.existsSync(p.cds)) flags.push(`-XX:SharedArchiveFile=${p.cds}`);
  const args = [...flags, ...extraJvmFlags, ...javaOpts, '-cp', cp, MAIN_CLASS, '--port', String(port), '--home', homeDir];
  if (ownsHome) args.push('--delete-home-on-exit'); // the JVM cleans up even if this process is killed -9
  if (member) {
    args.push('--node-name', member.nodeName, '--transport-port', String(member.transportPort));
    args.push('--seed-hosts', member.seedHosts.join(','), '--initial-managers', member.initialManagers.join(','));
  }
  const t0 = Date.now();
  const child = spawn(java, args, { cwd: p.dir, stdio: ['pipe', 'pipe', 'pipe'] });
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
      fail(new Error(`${p.spec.label} not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    const fail = (err) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      err.message += `\n--- engine stderr (last lines) ---\n${tail.join('\n')}`;
      stop({ graceMs: 2_000 }).finally(() => reject(err));
    };
    child.on('error', (err) => fail(new Error(`cannot run ${java}: ${err.message}`)));
    exited.then((code) => fail(new Error(`${p.spec.label} exited with code ${code} before ENGINE_READY`)));
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

/** Detaches a started node from the event loop: a forgotten stop() must not keep a test runner alive. */
function detach(engine) {
  // (If this process exits, the JVM sees stdin EOF and exits too.)
  engine.child.unref();
  for (const s of [engine.child.stdin, engine.child.stdout, engine.child.stderr]) s?.unref?.();
  const { child, stop, ...rest } = engine;
  return { ...rest, stop: () => stop(), kill: (signal = 'SIGKILL') => child.kill(signal) };
}

/**
 * Builds the engine if needed, starts a fresh single node on 127.0.0.1 with a temp home and waits for it
 * to be ready.
 *
 * @param {{
 *   engine?: string,               // a key of ENGINES (default 'opensearch')
 *   log?: (line: string) => void,  // build progress and engine stderr, line by line (default: silent)
 *   port?: number,                 // HTTP port, 0 = ephemeral (default 0)
 *   timeoutMs?: number,            // wait for ENGINE_READY (default 120000)
 *   home?: string,                 // use this home dir instead of a new temp dir (then it is not removed)
 *   javaOpts?: string[],           // extra JVM flags, appended after the defaults (e.g. ['-Xmx1g'])
 * }} [opts]
 * @returns {Promise<{ engine: string, label: string, url: string, port: number, pid: number, home: string,
 *                     startMs: number, exited: Promise<number>, stop: () => Promise<number>,
 *                     kill: (signal?: string) => boolean }>}
 *   url is http://127.0.0.1:<port>; startMs is JVM spawn to ready (build excluded); exited resolves to the JVM's
 *   exit code whenever it exits (128+signal if killed); stop() ends stdin, waits up to 10 s, escalates to
 *   SIGTERM then SIGKILL, removes the temp home and resolves to the exit code (0 on a clean stop).
 *   stop() is idempotent. kill() sends a signal (default SIGKILL) and nothing else. Build time is not part
 *   of timeoutMs.
 */
export async function startEngine({ engine = DEFAULT_ENGINE, log = noop, port = 0, timeoutMs = 120_000, home, javaOpts = [] } = {}) {
  const p = enginePaths(engine);
  await buildEngine({ engine, log });
  const node = await launch(p, { log, port, timeoutMs, home, javaOpts });
  return { engine, label: p.spec.label, ...detach(node) };
}

/** A TCP port nobody listens on right now (the kernel's pick), for transport ports that peers must know in advance. */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a cluster of `nodes` engine processes on 127.0.0.1 (one JVM and temp home each; every node is
 * cluster-manager eligible and holds data; unicast discovery over fixed transport ports; replicas default
 * to the engine's 1) and waits until every node has joined.
 *
 * @param {{ engine?: string, nodes?: number, log?: (line: string) => void, timeoutMs?: number, javaOpts?: string[] }} [opts]
 *   log lines are prefixed with the node's name; javaOpts default to a 384 MiB heap per node.
 * @returns {Promise<{ engine: string, label: string, url: string, urls: string[],
 *   nodes: { name: string, url: string, port: number, pid: number, exited: Promise<number>,
 *            stop: () => Promise<number>, kill: (signal?: string) => boolean }[],
 *   stop: () => Promise<number[]> }>}
 *   url is the first node's; urls are all of them (a client should be given all, to survive the loss of one).
 */
export async function startCluster({ engine = DEFAULT_ENGINE, nodes = 3, log = noop, timeoutMs = 180_000, javaOpts = ['-Xms384m', '-Xmx384m'] } = {}) {
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 9) throw new Error(`nodes must be 1..9, got ${nodes}`);
  const p = enginePaths(engine);
  await buildEngine({ engine, log });
  const names = Array.from({ length: nodes }, (_, i) => `${engine}-node-${i}`);
  const transportPorts = [];
  for (let i = 0; i < nodes; i++) transportPorts.push(await freePort());
  const seedHosts = transportPorts.map((port) => `127.0.0.1:${port}`);
  // All members start at once: each waits in EngineMain for the elected cluster manager.
  const started = await Promise.allSettled(
    names.map((nodeName, i) =>
      launch(p, {
        log: (line) => log(`[${nodeName}] ${line}`),
        timeoutMs,
        javaOpts,
        member: { nodeName, transportPort: transportPorts[i], seedHosts, initialManagers: names },
      }),
    ),
  );
  const members = started.filter((r) => r.status === 'fulfilled').map((r) => detach(r.value));
  const stop = () => Promise.all(members.map((m) => m.stop()));
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  const url = members[0].url;
  const health = await fetch(`${url}/_cluster/health?wait_for_nodes=${nodes}&timeout=60s`);
  const body = await health.json();
  if (body.number_of_nodes !== nodes) {
    await stop();
    throw new Error(`the cluster did not form: ${JSON.stringify(body)}`);
  }
  return {
    engine,
    label: p.spec.label,
    url,
    urls: members.map((m) => m.url),
    nodes: members.map((m, i) => ({ name: names[i], ...m })),
    stop,
  };
}

// ---------------------------------------------------------------- CLI
const USAGE = `usage: node scripts/test-engine.mjs [--engine E] [--port N] [--nodes N]
       node scripts/test-engine.mjs build [--engine E | --all] [--force]
engines: ${Object.entries(ENGINES).map(([k, v]) => `${k} (${v.label})`).join(', ')}`;

async function cli(argv) {
  const log = (line) => process.stderr.write(line + '\n');
  const opts = { engine: DEFAULT_ENGINE, port: 0, nodes: 1, all: false, force: false };
  const build = argv[0] === 'build';
  for (let i = build ? 1 : 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--engine') opts.engine = argv[++i];
    else if (a === '--port' && !build) opts.port = Number(argv[++i]);
    else if (a === '--nodes' && !build) opts.nodes = Number(argv[++i]);
    else if (a === '--all' && build) opts.all = true;
    else if (a === '--force' && build) opts.force = true;
    else if (a === '--help' || a === '-h') return log(USAGE);
    else throw new Error(`unknown argument: ${a}\n${USAGE}`);
  }
  if (build) {
    for (const engine of opts.all ? Object.keys(ENGINES) : [opts.engine]) {
      const { built, ms } = await buildEngine({ engine, log, force: opts.force });
      if (!built) log(`[test-engine] ${engine}: up to date (${ms} ms)`);
    }
    return;
  }
  const started =
    opts.nodes === 1
      ? await startEngine({ engine: opts.engine, log, port: opts.port })
      : await startCluster({ engine: opts.engine, nodes: opts.nodes, log });
  const nodes = opts.nodes === 1 ? [started] : started.nodes;
  process.stdout.write(nodes.map((n) => n.url).join(',') + '\n');
  log(`[test-engine] ${started.label} ready: ${nodes.map((n) => `${n.url} (pid ${n.pid})`).join(', ')}; Ctrl-C to stop`);
  const keepAlive = setInterval(noop, 1 << 30);
  let stopping = false;
  const shutdown = async (why, failed) => {
    if (stopping) return;
    stopping = true;
    log(`[test-engine] ${why}: stopping`);
    const codes = [await started.stop()].flat();
    clearInterval(keepAlive);
    process.exitCode = failed || codes.some((c) => c !== 0 && c !== 130 && c !== 143) ? 1 : 0;
  };
  process.on('SIGINT', () => shutdown('SIGINT', false));
  process.on('SIGTERM', () => shutdown('SIGTERM', false));
  for (const n of nodes) n.exited.then((code) => shutdown(`a node exited unexpectedly with code ${code}`, true));
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`[test-engine] ${err.message}\n`);
    process.exit(1);
  });
}
