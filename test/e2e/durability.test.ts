/**
 * Durability of the real server process: every create answered 201 survives `kill -9` of the server,
 * even while more creates are streaming in, and the database is usable after a restart on the same file.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type HttpResponse, killAllServers, startServer } from '../helpers/cli.js';

after(killAllServers);

const QUEUE = 'durability';
const WORKER = { 'X-TASQUES-WORKER-ID': 'durability-worker' };

interface Acked {
  id: string;
  kind: string;
  args: Record<string, unknown>;
}

/** A create body whose args are unique and non-trivial, so that "intact" means something. */
function newTask(n: number, phase: string) {
  return {
    // Every fifth task brings its own id (the idempotency key); the others get a generated one.
    ...(n % 5 === 0 ? { id: `${phase}-${n}` } : {}),
    queue: QUEUE,
    kind: `kind-${n % 7}`,
    args: {
      n,
      phase,
      text: `héllo ✓ ${'x'.repeat(n % 50)}`,
      nested: { list: [n, n * 2, { deep: n % 3 === 0 }], nil: null },
      big: 2 ** 31 - n,
    },
  };
}

function record(acked: Map<string, Acked>, res: HttpResponse, sent: ReturnType<typeof newTask>): void {
  assert.equal(res.status, 201, res.text);
  const task = res.json();
  assert.equal(typeof task.id, 'string');
  if (sent.id !== undefined) assert.equal(task.id, sent.id);
  assert.ok(!acked.has(task.id), `id ${task.id} answered 201 twice`);
  acked.set(task.id, { id: task.id, kind: sent.kind, args: sent.args });
}

describe('durability (kill -9)', () => {
  it('keeps every task that was answered 201 across kill -9 and a restart on the same file', async () => {
    const server = await startServer();
    const acked = new Map<string, Acked>();

    // Phase 1: 500 creates, 16 in flight at a time.
    const total = 500;
    let next = 0;
    const worker = async () => {
      for (let n = next++; n < total; n = next++) {
        const body = newTask(n, 'bulk');
        record(acked, await server.request('POST', '/tasques', { body }), body);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    assert.equal(acked.size, total);

    // Phase 2: a further stream of creates (8 in flight); kill -9 once 100 of them have been acknowledged.
    const streamed = new Map<string, Acked>();
    const failures: Error[] = [];
    let counter = 0;
    let inFlight = 0;
    let inFlightAtKill = -1;
    let killed: Promise<unknown> | undefined;
    const streamer = async () => {
      for (;;) {
        const body = newTask(counter++, 'stream');
        let res: HttpResponse;
        inFlight++;
        try {
          res = await server.request('POST', '/tasques', { body });
        } catch (e) {
          // In flight (or sent) when the process died: its outcome is unknown, and that is fine.
          failures.push(e as Error);
          return;
        } finally {
          inFlight--;
        }
        record(streamed, res, body);
        if (streamed.size === 100 && !killed) {
          inFlightAtKill = inFlight;
          killed = server.kill();
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, streamer));
    const exit = await server.exited;
    assert.equal(exit.signal, 'SIGKILL', 'the server died of the kill, not of something else');
    assert.ok(streamed.size >= 100, `only ${streamed.size} streamed creates were acknowledged`);
    assert.ok(inFlightAtKill > 0, 'creates were still in flight when the server was killed');
    assert.equal(failures.length, 8, 'every streamer ended on a failed request');
    for (const e of failures) {
      assert.match(String((e as NodeJS.ErrnoException).code), /^(ECONNRESET|ECONNREFUSED|EPIPE)$/, String(e));
    }
    assert.equal(server.logs.some((l) => l.msg === 'stopped'), false, 'no graceful shutdown happened');

    // Restart on the same working directory and database file.
    const again = await startServer({ dir: server.dir, dbPath: server.dbPath });
    const all = [...acked.values(), ...streamed.values()];
    let checked = 0;
    const checker = async (slice: Acked[]) => {
      for (const want of slice) {
        const res = await again.request('GET', `/tasques/${QUEUE}/${want.id}`);
        assert.equal(res.status, 200, `task ${want.id} (answered 201 before the kill) is missing: ${res.text}`);
        const task = res.json();
        assert.equal(task.id, want.id);
        assert.equal(task.queue, QUEUE);
        assert.equal(task.kind, want.kind);
        assert.equal(task.state, 'queued');
        assert.equal(task.attempted, 0);
        assert.deepEqual(task.args, want.args);
        checked++;
      }
    };
    const slices = Array.from({ length: 8 }, (_, i) => all.filter((_, j) => j % 8 === i));
    await Promise.all(slices.map(checker));
    assert.equal(checked, total + streamed.size);

    // The database is usable: a duplicate id is still a duplicate, new creates, claims and completions work.
    const dup = await again.request('POST', '/tasques', { body: { id: 'bulk-0', queue: QUEUE, kind: 'dup' } });
    assert.equal(dup.status, 409, dup.text);

    const created = await again.request('POST', '/tasques', {
      body: { queue: QUEUE, kind: 'after-restart', priority: 100, args: { after: true } },
    });
    assert.equal(created.status, 201, created.text);
    const createdId = created.json().id as string;

    const claim = await again.request('POST', '/tasques/claims', {
      headers: WORKER,
      body: { queues: [QUEUE], amount: 5, block_for: '1s' },
    });
    assert.equal(claim.status, 200, claim.text);
    const claimed = claim.json() as Array<{ id: string; state: string; attempted: number; args: unknown }>;
    assert.equal(claimed.length, 5);
    // Highest priority first: the task created after the restart.
    assert.equal(claimed[0]!.id, createdId);
    assert.deepEqual(claimed[0]!.args, { after: true });
    for (const t of claimed) {
      assert.equal(t.state, 'claimed');
      assert.equal(t.attempted, 1);
    }
    // A task created before the kill can be completed.
    const older = claimed[1]!;
    const done = await again.request('PUT', `/tasques/done/${QUEUE}/${older.id}`, {
      headers: WORKER,
      body: { data: { ok: 1 } },
    });
    assert.equal(done.status, 200, done.text);
    assert.equal(done.json().state, 'done');
    const readBack = await again.request('GET', `/tasques/${QUEUE}/${older.id}`);
    assert.equal(readBack.json().state, 'done');
    assert.deepEqual(readBack.json().last_claimed.result.success, { ok: 1 });

    // And it still shuts down cleanly.
    again.signal('SIGTERM');
    assert.deepEqual(await again.waitForExit(), { code: 0, signal: null });
  });
});
