/**
 * Worker throughput: how fast `tasques/worker` drains a queue of no-op tasks, against the raw HTTP path
 * (fetch loops that claim and mark done with nothing in between), for several concurrency / claim-amount
 * settings. The server runs as its own process (`tasques serve` from dist/, SQLite in a temp dir), so it
 * does not share an event loop with the worker.
 *
 *   npm run build && npx tsx bench/worker-throughput.ts [--tasks 5000] [--configs 8x1,8x50,32x1,32x50]
 *
 * Each row: enqueue N tasks (not timed), then time from start until the N-th task is done; the Worker
 * with coalesced done calls (`batchDone`, its default) and with one done call per task.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { TasquesClient, type Task } from '../src/client/index.js';
import { Worker } from '../src/worker/index.js';

const { values } = parseArgs({
  options: {
    tasks: { type: 'string', default: '5000' },
    configs: { type: 'string', default: '8x1,8x50,32x1,32x50' },
  },
});
const N = Number(values.tasks);
const configs = values.configs.split(',').map((c) => {
  const [concurrency, amount] = c.split('x').map(Number);
  return { concurrency: concurrency as number, amount: amount as number };
});

async function startServer(dir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, ['bin/tasques.mjs', 'serve'], {
    env: {
      ...process.env,
      TASQUES_SERVER_BIND_ADDRESS: '127.0.0.1:0',
      TASQUES_SERVER_STORE_SQLITE_PATH: join(dir, 'bench.db'),
      TASQUES_SERVER_LOGGING_JSON: 'false',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stderr }).on('line', (line) => {
      const m = /listening on (http:\/\/[^\s"]+)/.exec(line);
      if (m) resolve(m[1] as string);
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return {
    url,
    stop: () =>
      new Promise((resolve) => {
        child.on('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

async function enqueue(client: TasquesClient, queue: string, count: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < count) {
        next++;
        await client.createTask({ queue, kind: 'noop' });
      }
    }),
  );
}

async function viaWorker(url: string, queue: string, concurrency: number, amount: number, batchDone: boolean): Promise<number> {
  const worker = new Worker({
    client: { baseUrl: url },
    handlers: { [queue]: async () => undefined },
    concurrency,
    claimAmount: amount,
    blockForMs: 1000,
    batchDone,
  });
  let done = 0;
  const started = performance.now();
  const finished = new Promise<void>((resolve) => {
    worker.on('taskDone', () => {
      if (++done === N) resolve();
    });
  });
  worker.start();
  await finished;
  const seconds = (performance.now() - started) / 1000;
  await worker.stop();
  return N / seconds;
}

/**
 * The raw HTTP path: `concurrency` loops over plain fetch, each claiming up to `amount` tasks and marking
 * them done one after another; no client, no worker, no report-ins, no bookkeeping.
 */
async function viaRawHttp(url: string, queue: string, concurrency: number, amount: number): Promise<number> {
  let done = 0;
  const started = performance.now();
  const post = async (path: string, method: string, body: unknown, workerId: string) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-tasques-worker-id': workerId },
      body: JSON.stringify(body),
    });
    const json: unknown = await res.json();
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  await Promise.all(
    Array.from({ length: concurrency }, async (_, i) => {
      const workerId = `raw-${i}`;
      while (done < N) {
        const claim = { queues: [queue], amount, block_for: '200ms' };
        const tasks = (await post('/tasques/claims', 'POST', claim, workerId)) as Task[];
        for (const t of tasks) {
          await post(`/tasques/done/${t.queue}/${t.id}`, 'PUT', {}, workerId);
          done++;
        }
      }
    }),
  );
  return N / ((performance.now() - started) / 1000);
}

const dir = mkdtempSync(join(tmpdir(), 'tasques-bench-'));
const server = await startServer(dir);
const client = new TasquesClient({ baseUrl: server.url });
console.log(`${N} no-op tasks per row; server ${server.url} (separate process, SQLite)`);
console.log('concurrency  claim amount  Worker tasks/s  Worker, batchDone off  raw HTTP tasks/s');
let q = 0;
try {
  for (const { concurrency, amount } of configs) {
    const workerQueue = `bench-w${++q}`;
    await enqueue(client, workerQueue, N);
    const w = await viaWorker(server.url, workerQueue, concurrency, amount, true);
    const singleQueue = `bench-s${q}`;
    await enqueue(client, singleQueue, N);
    const s = await viaWorker(server.url, singleQueue, concurrency, amount, false);
    const rawQueue = `bench-r${q}`;
    await enqueue(client, rawQueue, N);
    const r = await viaRawHttp(server.url, rawQueue, concurrency, amount);
    console.log(
      `${String(concurrency).padStart(11)}  ${String(amount).padStart(12)}  ${w.toFixed(0).padStart(14)}  ${s.toFixed(0).padStart(21)}  ${r.toFixed(0).padStart(16)}`,
    );
  }
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
