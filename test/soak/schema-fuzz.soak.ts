/**
 * Schema fuzzing (issue 12, "done when"): schemathesis (PyPI, installed by scripts/setup-fuzz.sh into
 * build/fuzz) generates requests from the served openapi.json, valid and invalid, and sends them to the
 * real server process, once without auth and once with basic-auth users configured (with credentials).
 * Every answer must be a 4xx or a success that matches the document: no 5xx, a declared status, content
 * type, headers and body schema; undeclared methods answer 405 with an Allow header. Each run must send
 * at least TASQUES_FUZZ_MIN_REQUESTS requests (5 000), and the server's peak RSS stay under 300 MB.
 *
 * `npm run test:fuzz`; a soak-tier file (test/soak), never run by `npm test`. Knobs:
 * TASQUES_FUZZ_MAX_EXAMPLES (cases per operation and phase, default 60), TASQUES_FUZZ_SEED (rounds use
 * seed+1, seed+2, …), TASQUES_FUZZ_MIN_REQUESTS.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { killAllServers, makeTempDir, REPO_ROOT, startServer } from '../helpers/cli.js';
import { onlyFuzzerCrashed } from '../helpers/fuzz-report.js';

after(killAllServers);

const SCHEMATHESIS = join(REPO_ROOT, 'build', 'fuzz', 'venv', 'bin', 'schemathesis');
const MAX_EXAMPLES = process.env.TASQUES_FUZZ_MAX_EXAMPLES ?? '60';
const MIN_REQUESTS = Number(process.env.TASQUES_FUZZ_MIN_REQUESTS ?? 5_000);
const MAX_ROUNDS = 6;
const MAX_RSS_BYTES = 300 * 1024 * 1024;
const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_headers_conformance',
  'response_schema_conformance',
  'unsupported_method',
  'allow_header_conformance',
].join(',');

interface Interaction {
  request: { method: string; uri: string };
  response?: { status_code: number } | null;
}

/** Requests sent and their statuses, from schemathesis' NDJSON event report. */
function summarize(ndjsonPath: string): { requests: number; byStatus: Map<number, number>; serverErrors: string[] } {
  const byStatus = new Map<number, number>();
  const serverErrors: string[] = [];
  let requests = 0;
  for (const line of readFileSync(ndjsonPath, 'utf8').split('\n')) {
    if (!line.startsWith('{"ScenarioFinished"')) continue;
    const event = JSON.parse(line) as { ScenarioFinished: { recorder?: { interactions?: Record<string, Interaction> } } };
    for (const interaction of Object.values(event.ScenarioFinished.recorder?.interactions ?? {})) {
      requests++;
      const status = interaction.response?.status_code ?? 0;
      byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
      if (status >= 500) serverErrors.push(`${interaction.request.method} ${interaction.request.uri} → ${status}`);
    }
  }
  return { requests, byStatus, serverErrors };
}

function run(command: string, args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, output }));
  });
}

/** Rounds whose only problem was the fuzzer's own crash, re-run with another seed, at most this often per run. */
const MAX_FUZZER_CRASHES = 2;

/** Peak resident set of a process, from /proc (Linux). */
function peakRssBytes(pid: number): number {
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(hwm) * 1024;
}

describe('schema fuzzing of the real server (schemathesis)', { timeout: 60 * 60_000 }, () => {
  const setup = spawnSync('bash', [join(REPO_ROOT, 'scripts', 'setup-fuzz.sh')], { stdio: 'inherit' });
  assert.equal(setup.status, 0, 'scripts/setup-fuzz.sh failed');

  for (const mode of ['without auth', 'with auth'] as const) {
    it(`${mode}: no server error and no answer outside the document`, async () => {
      const credentials = 'fuzzer:fuzz-secret-Qw7';
      const server = await startServer({
        env: {
          // Long polls end within schemathesis' request timeout (a claim with a larger block_for is clamped
          // to this): a generated `block_for` of minutes is a valid request, not a hang.
          TASQUES_SERVER_TASKS_LIMITS_MAX_BLOCK_FOR: '5s',
          ...(mode === 'with auth' ? { TASQUES_SERVER_AUTH_BASIC_AUTH: credentials } : {}),
        },
      });
      const dir = makeTempDir('tasques-fuzz-');
      const started = performance.now();
      // Rounds with fresh seeds until enough requests went out (one round sends about 2 500).
      let requests = 0;
      const byStatus = new Map<number, number>();
      const serverErrors: string[] = [];
      let fuzzerCrashes = 0;
      for (let round = 1; round <= MAX_ROUNDS + fuzzerCrashes && requests < MIN_REQUESTS; round++) {
        const report = join(dir, `events-${round}.ndjson`);
        const seed = process.env.TASQUES_FUZZ_SEED === undefined ? [] : ['--seed', String(Number(process.env.TASQUES_FUZZ_SEED) + round)];
        const result = await run(
          SCHEMATHESIS,
          [
            'run',
            `${server.url}/openapi.json`,
            '--checks',
            CHECKS,
            '--max-examples',
            MAX_EXAMPLES,
            '--request-timeout',
            '20',
            '--workers',
            '2',
            '--no-color',
            '--generation-database',
            'none',
            '--report',
            'ndjson',
            '--report-ndjson-path',
            report,
            ...seed,
            ...(mode === 'with auth' ? ['--auth', credentials] : []),
          ],
          dir,
        );
        const summary = summarize(report);
        requests += summary.requests;
        for (const [status, n] of summary.byStatus) byStatus.set(status, (byStatus.get(status) ?? 0) + n);
        serverErrors.push(...summary.serverErrors);
        assert.equal(server.exitInfo, undefined, `the server exited during round ${round}; stderr:\n${server.stderr.slice(-8000)}`);
        if (result.code !== 0 && summary.serverErrors.length === 0 && onlyFuzzerCrashed(result.output) && fuzzerCrashes < MAX_FUZZER_CRASHES) {
          fuzzerCrashes++;
          console.log(`schema fuzz ${mode}: round ${round} ended with schemathesis' own runtime error, not a finding; one more round:\n${result.output.slice(-1500)}`);
          continue;
        }
        assert.equal(result.code, 0, `schemathesis found problems in round ${round}:\n${result.output.slice(-8000)}`);
      }
      const seconds = (performance.now() - started) / 1000;
      assert.equal(server.exitInfo, undefined, `the server exited during the fuzzing; stderr:\n${server.stderr.slice(-8000)}`);
      const rss = peakRssBytes(server.pid);
      const statuses = [...byStatus].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`).join(', ');
      console.log(
        `schema fuzz ${mode}: ${requests} requests in ${seconds.toFixed(0)} s (load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}); ` +
          `statuses ${statuses}; server peak RSS ${(rss / 1024 / 1024).toFixed(0)} MB`,
      );
      assert.deepEqual(serverErrors, [], 'server errors');
      assert.ok(requests >= MIN_REQUESTS, `only ${requests} requests (at least ${MIN_REQUESTS} wanted)`);
      if (mode === 'with auth') assert.ok(!server.stderr.includes('fuzz-secret-Qw7'), 'the password was logged');
      assert.ok(rss < MAX_RSS_BYTES, `server peak RSS ${rss} bytes`);
      assert.equal(server.logs.filter((l) => (l.level ?? 0) >= 50).length, 0, `errors logged:\n${server.stderr.slice(-4000)}`);
      server.signal('SIGTERM');
      assert.deepEqual(await server.waitForExit(15_000), { code: 0, signal: null });
    });
  }
});
