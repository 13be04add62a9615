#!/usr/bin/env node
// The test tiers: build dist/ (the CLI under test runs it), then run test files through node's test runner
// (TypeScript via tsx).
//
//   node scripts/run-tests.mjs [filter...]          `npm test`: the functional suite, every *.test.ts under src/
//                                                   and test/ (except test/soak/)
//   node scripts/run-tests.mjs --soak [filter...]   `npm run test:soak`: long drains, soaks, the cluster test and
//                                                   fuzzing, every test/soak/**/*.soak.ts, one file at a time
//
// Filters select files whose path contains one of them: `npm test -- http`.
// When a selected file needs a test engine (test-engines/, scripts/test-engine.mjs), one node per engine is
// started for the whole run, its URL passed in the engine's variable (below), and stopped at the end, also on
// failure. A URL already set in the environment is used as is instead. Which engines: TASQUES_TEST_ENGINES
// (comma list), else in CI every engine marked `ci` in ENGINES (all of them today), else only opensearch.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_ENGINE, ENGINES, startEngine } from './test-engine.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const soak = args.includes('--soak');
const filters = args.filter((a) => !a.startsWith('-'));

const SOAK_DIR = join('test', 'soak');
const isSoakFile = (f) => f.startsWith(SOAK_DIR + '/') && f.endsWith('.soak.ts');
const isFunctionalFile = (f) => !f.startsWith(SOAK_DIR + '/') && f.endsWith('.test.ts');

function findFiles(dir, keep) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findFiles(path, keep));
    else if (keep(relative(root, path))) out.push(relative(root, path));
  }
  return out;
}

const files = (soak ? [SOAK_DIR] : ['src', 'test'])
  .flatMap((d) => findFiles(join(root, d), soak ? isSoakFile : isFunctionalFile))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no ${soak ? 'soak' : 'test'} files matched`);
  process.exit(1);
}

// ── First use: the toolchains the selected tests need (like the engines below) ──────────────────────
// So that a pass of `npm test` means every selected test ran: the polyglot tests get their Python and Go
// generators (scripts/setup-polyglot.sh: idempotent, quick once done), the browser tests Debian's
// chromium. TASQUES_TEST_NO_SETUP=1 skips this; those tests then skip with a reason (outside CI).
if (!process.env.TASQUES_TEST_NO_SETUP) {
  const setupFailed = (what, hint) => {
    console.error(`[setup] ${what}\n[setup] ${hint}, or set TASQUES_TEST_NO_SETUP=1 to skip those tests`);
    process.exit(1);
  };
  if (files.some((f) => f.startsWith('test/polyglot/'))) {
    const setup = spawnSync('bash', ['scripts/setup-polyglot.sh'], { cwd: root, stdio: 'inherit' });
    if (setup.status !== 0) setupFailed('the polyglot tests need Python and Go toolchains', 'see scripts/setup-polyglot.sh');
  }
  const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (files.some((f) => f.startsWith('test/browser/')) && !existsSync(chromiumPath)) {
    if (process.getuid?.() !== 0 || spawnSync('sh', ['-c', 'command -v apt-get']).status !== 0) {
      setupFailed(`the browser tests need Chromium at ${chromiumPath}`, 'install it (Debian: apt-get install chromium) or set CHROMIUM_PATH');
    }
    console.error('[setup] installing chromium (Debian) for the browser tests');
    const install = spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium'], {
      stdio: 'inherit',
    });
    if (install.status !== 0 || !existsSync(chromiumPath)) setupFailed('apt-get install chromium failed', 'install it by hand');
  }
}
// ── end first-use setup ─────────────────────────────────────────────────────────────────────────────

// `npm run build`: the client package (packages/client) first, then the server, which imports it.
const build = spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

/**
 * The variable that carries an engine's URL to the tests (test/helpers/elasticsearch.ts reads the same):
 * TASQUES_TEST_ELASTICSEARCH_URL for the default engine, TASQUES_TEST_<ENGINE>_URL for the others.
 */
const urlEnv = (engine) => (engine === DEFAULT_ENGINE ? 'TASQUES_TEST_ELASTICSEARCH_URL' : `TASQUES_TEST_${engine.toUpperCase()}_URL`);
/** The files that run against a matrix engine other than the default name it (test/conformance/<engine>.test.ts). */
const ownFile = (engine, f) => new RegExp(`(^|/)${engine}\\.(test|soak)\\.ts$`).test(f);
const needsEngine = (engine, f) =>
  engine === DEFAULT_ENGINE
    ? /elasticsearch|opensearch/.test(f) && !Object.keys(ENGINES).some((e) => e !== DEFAULT_ENGINE && ownFile(e, f))
    : ownFile(engine, f);

const inCi = Object.keys(ENGINES).filter((engine) => ENGINES[engine].ci);
const wanted = (process.env.TASQUES_TEST_ENGINES ?? (process.env.CI ? inCi.join(',') : DEFAULT_ENGINE)).split(',');
for (const name of wanted) {
  if (!Object.hasOwn(ENGINES, name)) {
    console.error(`TASQUES_TEST_ENGINES: unknown engine ${name} (known: ${Object.keys(ENGINES).join(', ')})`);
    process.exit(1);
  }
}
const env = { ...process.env, TASQUES_TEST: '1' };
const toStart = Object.keys(ENGINES).filter(
  (engine) => !env[urlEnv(engine)] && wanted.includes(engine) && files.some((f) => needsEngine(engine, f)),
);
// Started one after the other: on 2 cores, parallel JVM starts only slow each other down.
const engines = [];
for (const engine of toStart) {
  const t0 = Date.now();
  const tail = [];
  try {
    const started = await startEngine({
      engine,
      log: (line) => {
        if (line.startsWith('[test-engine]')) console.error(line);
        tail.push(line);
        if (tail.length > 50) tail.shift();
      },
    });
    engines.push(started);
    env[urlEnv(engine)] = started.url;
    console.error(`[${engine}] ${started.label} test engine at ${started.url} (ready in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (err) {
    console.error(`[${engine}] cannot start the test engine: ${err.message}\n${tail.join('\n')}`);
    if (process.env.CI) {
      for (const e of engines) await e.stop();
      process.exit(1);
    }
    console.error(`[${engine}] its tests will be skipped (outside CI only)`);
  }
}

/** A process's CPU time so far (Linux /proc; undefined elsewhere): a figure that holds on a busy machine. */
function cpuSeconds(pid) {
  try {
    // fields after the parenthesised command name: utime and stime are the 12th and 13th
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
  } catch {
    return undefined;
  }
}

// Soak files are long and heavy (several servers, a cluster): one at a time.
const concurrency = process.env.TEST_CONCURRENCY ?? (soak ? '1' : '2');
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit', env },
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
const status = await new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
for (const engine of engines) {
  const cpu = cpuSeconds(engine.pid);
  if (cpu !== undefined) console.error(`[${engine.engine}] engine CPU over the run: ${cpu.toFixed(1)} s (user + system)`);
  const code = await engine.stop();
  if (code !== 0) console.error(`[${engine.engine}] test engine exited with code ${code}`);
}
process.exit(status);
