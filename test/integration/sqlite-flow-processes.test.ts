/**
 * Flow control across processes on one SQLite file (docs/design/sqlite-flow-control.md): three child
 * processes, each a SqliteStore of the compiled dist/ (`npm test` builds it first), claim and finish
 * keyed tasks as fast as they can, each holding its claims for one round, while this process samples the
 * claimed counts through its own connection. No sample may see a limit exceeded, and every task gets done.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { sqliteFixture } from '../helpers/sqlite.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST_STORE = join(ROOT, 'dist', 'store', 'sqlite', 'sqlite-store.js');

const QUEUE_LIMIT = 6;
const KEY_LIMIT = 2;
const K0_LIMIT = 1;
const KEYS = ['k0', 'k1', 'k2', 'k3', 'k4'];
const TASKS = 300;
const PROCESSES = 3;

// A claimer: claims 2 at a time, finishes what it claimed the round before, until nothing is left for a
// while (bounded in rounds). Prints how many it finished.
const CLAIMER = `
const [storePath, dbPath, worker] = process.argv.slice(1);
const { SqliteStore } = await import(storePath);
const store = new SqliteStore({ path: dbPath });
let held = [];
let finished = 0;
let idle = 0;
for (let round = 0; round < 20000 && idle < 200; round++) {
  const now = Date.now();
  const claimed = await store.taskClaim({ queues: ['q'], amount: 2, workerId: worker, now });
  for (const task of held) {
    await store.taskUpdate({ task: { ...task, state: 'done', modifiedAt: now, lastClaimed: { ...task.lastClaimed, result: { at: now } } }, expectedVersion: task.version });
    finished++;
  }
  held = claimed;
  idle = claimed.length === 0 && held.length === 0 ? idle + 1 : 0;
  await new Promise((resolve) => setImmediate(resolve));
}
for (const task of held) {
  const now = Date.now();
  await store.taskUpdate({ task: { ...task, state: 'done', modifiedAt: now, lastClaimed: { ...task.lastClaimed, result: { at: now } } }, expectedVersion: task.version });
  finished++;
}
await store.close();
console.log(JSON.stringify({ finished }));
`;

function runClaimer(dbPath: string, worker: string): Promise<{ finished: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CLAIMER, DIST_STORE, dbPath, worker], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`claimer ${worker} exited with ${code}: ${err}`));
      else resolve(JSON.parse(out.trim().split('\n').pop() ?? '{}') as { finished: number });
    });
  });
}

test('three processes claiming at once never exceed the queue or key limits', { timeout: 120_000, skip: !existsSync(DIST_STORE) && 'dist/ is missing: run through npm test' }, async (t) => {
  const { store, path } = sqliteFixture(t);
  await store.queueLimitsSet({
    queue: 'q',
    limits: { queue: { concurrency: QUEUE_LIMIT }, perKey: { concurrency: KEY_LIMIT }, keys: { k0: { concurrency: K0_LIMIT } } },
    now: Date.now(),
  });
  const now = Date.now();
  const tasks = Array.from({ length: TASKS }, (_, i) => ({
    queue: 'q',
    id: `t${i}`,
    kind: 'k',
    state: 'queued' as const,
    priority: 0,
    runAt: now - 1000,
    retryTimes: 3,
    attempted: 0,
    processingTimeoutNs: 60e9,
    lastEnqueuedAt: now,
    createdAt: now,
    modifiedAt: now,
    concurrencyKey: KEYS[i % KEYS.length],
  }));
  await store.taskCreateMany({ tasks });

  const sample = store.db.prepare(`SELECT concurrency_key AS key, COUNT(*) AS n FROM tasks WHERE queue = 'q' AND state = 'claimed' GROUP BY concurrency_key`);
  const violations: string[] = [];
  let samples = 0;
  let maxTotal = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const rows = sample.all() as { key: string; n: number }[];
      const total = rows.reduce((sum, r) => sum + r.n, 0);
      maxTotal = Math.max(maxTotal, total);
      if (total > QUEUE_LIMIT) violations.push(`queue: ${total} claimed`);
      for (const r of rows) if (r.n > (r.key === 'k0' ? K0_LIMIT : KEY_LIMIT)) violations.push(`${r.key}: ${r.n} claimed`);
      samples++;
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  let results: { finished: number }[];
  try {
    results = await Promise.all(Array.from({ length: PROCESSES }, (_, i) => runClaimer(path, `w${i}`)));
  } finally {
    sampling = false;
    await sampler;
  }
  assert.deepEqual(violations.slice(0, 5), [], `${violations.length} samples saw a limit exceeded`);
  assert.equal(results.reduce((sum, r) => sum + r.finished, 0), TASKS, 'every task was claimed once and done');
  const states = store.db.prepare(`SELECT state, COUNT(*) AS n FROM tasks GROUP BY state`).all();
  assert.deepEqual(states, [{ state: 'done', n: TASKS }]);
  assert.ok(samples >= 20, `only ${samples} samples`);
  assert.ok(maxTotal >= 2, `the claimers never held more than ${maxTotal} at once: the test saw no concurrency`);
});
