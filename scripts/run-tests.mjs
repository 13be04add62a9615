#!/usr/bin/env node
// The whole test suite: build dist/ (the CLI under test runs it), then every *.test.ts under src/ and
// test/ through node's test runner (TypeScript via tsx). Extra arguments filter files by substring:
//   npm test -- http        runs only files whose path contains "http".
// When a selected file tests the Elasticsearch store, one OpenSearch node (engine/opensearch, built on
// first use) is started for the whole run, its URL passed in TASQUES_TEST_ELASTICSEARCH_URL, and it is
// stopped at the end, also on failure. A URL already set in the environment is used as is instead.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...findTests(path));
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const files = ['src', 'test']
  .flatMap((d) => findTests(join(root, d)))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
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

// The engines of the test matrix: OpenSearch 2.19 always; Elasticsearch 7.10.2 OSS (engine/elasticsearch7) in CI
// or when TASQUES_TEST_ENGINES names it (e.g. TASQUES_TEST_ENGINES=opensearch,elasticsearch7).
const ENGINES = [
  { name: 'opensearch', urlEnv: 'TASQUES_TEST_ELASTICSEARCH_URL', files: /elasticsearch|opensearch/ },
  { name: 'elasticsearch7', urlEnv: 'TASQUES_TEST_ELASTICSEARCH7_URL', files: /elasticsearch7/ },
];
const wanted = (process.env.TASQUES_TEST_ENGINES ?? (process.env.CI ? 'opensearch,elasticsearch7' : 'opensearch')).split(',');
const env = { ...process.env, TASQUES_TEST: '1' };
const engines = [];
for (const spec of ENGINES) {
  if (env[spec.urlEnv] || !wanted.includes(spec.name) || !files.some((f) => spec.files.test(f))) continue;
  const { startOpenSearch } = await import(`./opensearch.mjs?engine=${spec.name}`);
  const t0 = Date.now();
  const tail = [];
  try {
    const engine = await startOpenSearch({
      log: (line) => {
        if (line.startsWith('[opensearch]')) console.error(line);
        tail.push(line);
        if (tail.length > 50) tail.shift();
      },
    });
    engines.push(engine);
    env[spec.urlEnv] = engine.url;
    console.error(`[${spec.name}] test engine at ${engine.url} (ready in ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  } catch (err) {
    console.error(`[${spec.name}] cannot start the test engine: ${err.message}\n${tail.join('\n')}`);
    if (process.env.CI) {
      for (const e of engines) await e.stop();
      process.exit(1);
    }
    console.error(`[${spec.name}] its tests will be skipped (outside CI only)`);
  }
}

const concurrency = process.env.TEST_CONCURRENCY ?? '2';
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { cwd: root, stdio: 'inherit', env },
);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
const status = await new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
for (const engine of engines) {
  const code = await engine.stop();
  if (code !== 0) console.error(`[engine] test engine exited with code ${code}`);
}
process.exit(status);
