/**
 * Leader failover with real server processes (`node bin/tasques.mjs serve`) sharing one SQLite file,
 * with short intervals (lease 1s, every run_interval 200ms):
 * - exactly one of three servers leads at any time (from their "became leader"/"lost leadership" lines);
 * - after `kill -9` of the leader another server takes over within the lease plus one interval (plus
 *   process-scheduling slack), and after a graceful stop (SIGTERM), which resigns the lease, within about
 *   one interval; both takeover times are measured and printed;
 * - a recurring `@every 1s` task created through a follower neither fires a tick twice nor stops firing:
 *   every spawned task is one tick of a single chain, and ticks go on after each takeover;
 * - claims that time out before and after the failover are each reaped exactly once.
 * Waits are on log lines and HTTP long polls, with generous deadlines; nothing sleeps.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { recurringTickTaskId } from '../../src/domain/recurring-tick.js';
import { killAllServers, type LogLine, makeTempDir, type ServerProcess, startServer } from '../helpers/cli.js';

after(killAllServers);

const LEASE_MS = 1000;
const INTERVAL_MS = 200;
/** Allowance for process scheduling on a loaded CI machine, on top of the protocol's bound. */
const SLACK_MS = 1000;
const ENV = {
  TASQUES_SERVER_RECURRING_LEADER_LOCK_RUN_INTERVAL: `${INTERVAL_MS}ms`,
  TASQUES_SERVER_RECURRING_LEADER_LOCK_LEADER_LOCK_LEASE: `${LEASE_MS}ms`,
  TASQUES_SERVER_RECURRING_TIMED_OUT_TASKS_REAPER_RUN_INTERVAL: `${INTERVAL_MS}ms`,
  TASQUES_SERVER_RECURRING_RECURRING_TASKS_SYNC_RUN_INTERVAL: `${INTERVAL_MS}ms`,
  TASQUES_SERVER_RECURRING_TASKS_ARCHIVER_RUN_INTERVAL: `${INTERVAL_MS}ms`,
};
const TICKS_QUEUE = 'ticks';
const TIMEOUTS_QUEUE = 'abandoned';

const isMsg = (msg: string) => (l: LogLine) => l.msg === msg;

/** Resolves when `check()` holds, re-checking on every log line of any of the servers. */
function waitUntil(servers: ServerProcess[], check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  return Promise.any(servers.map((s) => s.waitForLog(() => check(), timeoutMs, what))).then(
    () => undefined,
    () => {
      throw new Error(`${what}: not within ${timeoutMs}ms`);
    },
  );
}

/** The first "became leader" line among `servers` (already logged or future). */
function nextLeader(servers: ServerProcess[], timeoutMs: number): Promise<{ server: ServerProcess; line: LogLine }> {
  return Promise.any(
    servers.map((server) =>
      server.waitForLog(isMsg('became leader'), timeoutMs, '"became leader"').then((line) => ({ server, line })),
    ),
  );
}

/** A worker that long-polls the ticks queue and remembers every tick task it got. */
class TickConsumer {
  readonly seen = new Map<string, number>(); // id → created_at
  private stopped = false;
  private running: Promise<void> | undefined;
  private readonly onClaimed = new Set<() => void>();

  start(servers: () => ServerProcess[]): void {
    this.running = (async () => {
      while (!this.stopped) {
        const server = servers().find((s) => !s.exitInfo);
        if (!server) return;
        try {
          const res = await server.request('POST', '/tasques/claims', {
            headers: { 'X-TASQUES-WORKER-ID': 'tick-consumer' },
            body: { queues: [TICKS_QUEUE], amount: 50, block_for: '2s' },
          });
          if (res.status === 200) {
            for (const task of res.json<{ id: string; metadata: { created_at: string } }[]>()) {
              this.seen.set(task.id, Date.parse(task.metadata.created_at));
            }
          }
        } catch {
          // the server went away under the poll: the next iteration asks another one
        }
        for (const notify of this.onClaimed) notify();
      }
    })();
  }

  /** Resolves once `n` ticks created after `since` have been claimed (checked after every claim). */
  waitForTicks(n: number, since: number, timeoutMs: number): Promise<void> {
    const count = () => [...this.seen.values()].filter((at) => at > since).length;
    return new Promise<void>((resolve, reject) => {
      const check = () => {
        if (count() < n) return;
        finish();
        resolve();
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`only ${count()} of ${n} ticks created after ${since} were claimed within ${timeoutMs}ms`));
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.onClaimed.delete(check);
      };
      this.onClaimed.add(check);
      check();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }
}

describe('leadership across real server processes on one SQLite file', () => {
  it('one leader; kill -9 and SIGTERM failovers are fast; recurring ticks neither double nor stop; timeouts reaped once', async (t) => {
    const dir = makeTempDir('tasques-leadership-');
    const dbPath = `${dir}/shared.db`;
    const servers = await Promise.all([0, 1, 2].map(() => startServer({ dir, dbPath, env: ENV, timeoutMs: 30_000 })));

    // ── One leader among three ──────────────────────────────────────────────────────────────────────
    const first = await nextLeader(servers, 15_000);
    const followers = servers.filter((s) => s !== first.server);
    const leaderIdOf = new Map(servers.map((s) => [s, undefined as string | undefined]));
    leaderIdOf.set(first.server, first.line.leader_id as string);
    {
      const db = new Database(dbPath, { readonly: true });
      const row = db.prepare('SELECT leader_id FROM leader_lease').get() as { leader_id: string } | undefined;
      db.close();
      assert.equal(row?.leader_id, first.line.leader_id, 'the lease names the server that logged "became leader"');
    }

    // ── Work that spans the failover ──────────────────────────────────────────────────────────────────
    const follower = followers[0]!;
    const created = await follower.request('POST', '/recurring_tasques', {
      body: { id: 'every-second', schedule_expression: '@every 1s', task_definition: { queue: TICKS_QUEUE, kind: 'tick' } },
    });
    assert.equal(created.status, 201, created.text);
    const anchor = Date.parse(created.json().metadata.modified_at);

    const abandoned: { id: string; timeout: string }[] = [];
    for (const [i, timeout] of ['1s', '1s', '6s', '6s', '6s'].entries()) {
      const res = await follower.request('POST', '/tasques', {
        body: { id: `abandoned-${i}`, queue: TIMEOUTS_QUEUE, kind: 'k', retry_times: 3, processing_timeout: timeout },
      });
      assert.equal(res.status, 201, res.text);
      abandoned.push({ id: `abandoned-${i}`, timeout });
    }
    const claims = await follower.request('POST', '/tasques/claims', {
      headers: { 'X-TASQUES-WORKER-ID': 'vanishing-worker' },
      body: { queues: [TIMEOUTS_QUEUE], amount: 5, block_for: '1s' },
    });
    assert.equal(claims.json<unknown[]>().length, 5);

    const consumer = new TickConsumer();
    consumer.start(() => servers);
    t.after(() => consumer.stop());
    await consumer.waitForTicks(3, 0, 15_000);

    // ── kill -9 the leader ─────────────────────────────────────────────────────────────────────────────
    const killedAt = Date.now();
    await first.server.kill();
    const second = await nextLeader(followers, LEASE_MS + INTERVAL_MS + 10_000);
    const killTakeoverMs = (second.line.time as number) - killedAt;
    leaderIdOf.set(second.server, second.line.leader_id as string);
    t.diagnostic(`takeover after kill -9 of the leader: ${killTakeoverMs} ms (lease ${LEASE_MS} ms, interval ${INTERVAL_MS} ms)`);
    console.log(`# leadership: takeover after kill -9: ${killTakeoverMs} ms (bound: lease ${LEASE_MS} + interval ${INTERVAL_MS})`);
    assert.ok(
      killTakeoverMs <= LEASE_MS + INTERVAL_MS + SLACK_MS,
      `takeover took ${killTakeoverMs} ms, more than lease + interval (+${SLACK_MS} ms slack)`,
    );

    // Ticks go on under the new leader.
    const secondAt = second.line.time as number;
    await consumer.waitForTicks(3, secondAt, 15_000);

    // ── Graceful stop of the new leader: it resigns, the last server takes over at its next step ───────
    const remaining = followers.filter((s) => s !== second.server);
    const stoppedAt = Date.now();
    second.server.signal('SIGTERM');
    const third = await nextLeader(remaining, 10_000);
    const gracefulTakeoverMs = (third.line.time as number) - stoppedAt;
    leaderIdOf.set(third.server, third.line.leader_id as string);
    t.diagnostic(`takeover after SIGTERM of the leader: ${gracefulTakeoverMs} ms`);
    console.log(`# leadership: takeover after SIGTERM: ${gracefulTakeoverMs} ms`);
    assert.equal((await second.server.waitForExit(10_000)).code, 0);
    assert.ok(
      gracefulTakeoverMs <= INTERVAL_MS + SLACK_MS,
      `a resigned lease should be taken within one interval, took ${gracefulTakeoverMs} ms`,
    );
    await consumer.waitForTicks(3, third.line.time as number, 15_000);

    // ── Timed-out claims: each reaped exactly once, before or after the failovers ─────────────────────
    const reapedInLogs = () =>
      servers.flatMap((s) => s.logs.filter(isMsg('timed out claimed tasks'))).reduce((n, l) => n + (l.reaped as number), 0);
    await waitUntil([third.server], () => reapedInLogs() >= abandoned.length, 20_000, 'all abandoned claims reaped');
    assert.equal(reapedInLogs(), abandoned.length, 'reaped exactly once in all');
    for (const { id } of abandoned) {
      const res = await third.server.request('GET', `/tasques/${TIMEOUTS_QUEUE}/${id}`);
      const task = res.json();
      assert.equal(task.state, 'failed', `${id}: ${res.text}`);
      assert.equal(task.attempted, 1);
      assert.equal(task.metadata.version.seq_num, 3, `${id}: written by create, claim and one reap`);
      assert.deepEqual(task.last_claimed.result.failure, { timed_out: 'Did not finish before claim timeout period' });
    }

    await consumer.stop();

    // ── Exactly one leader at a time, from the servers' own log lines ─────────────────────────────────
    const terms = servers.flatMap((s) => {
      const out: { server: number; from: number; to: number }[] = [];
      let from: number | undefined;
      for (const line of s.logs) {
        if (line.msg === 'became leader') from = line.time as number;
        if (line.msg === 'lost leadership' && from !== undefined) {
          out.push({ server: servers.indexOf(s), from, to: line.time as number });
          from = undefined;
        }
      }
      if (from !== undefined) out.push({ server: servers.indexOf(s), from, to: s === first.server ? killedAt : Date.now() });
      return out;
    });
    const ordered = [...terms].sort((a, b) => a.from - b.from);
    assert.deepEqual(
      ordered.map((x) => x.server),
      [servers.indexOf(first.server), servers.indexOf(second.server), servers.indexOf(third.server)],
      `one term per server, in failover order: ${JSON.stringify(ordered)}`,
    );
    for (let i = 1; i < ordered.length; i++) {
      assert.ok(ordered[i]!.from >= ordered[i - 1]!.to, `terms overlap: ${JSON.stringify(ordered)}`);
    }

    // ── Recurring ticks: one chain, no tick twice, no stop ────────────────────────────────────────────
    const db = new Database(dbPath, { readonly: true });
    const spawned = db
      .prepare('SELECT id, created_at FROM tasks WHERE recurring_task_id = ? ORDER BY created_at')
      .all('every-second') as { id: string; created_at: number }[];
    db.close();
    const base = anchor - (anchor % 1000);
    const tickOf = new Map<string, number>();
    for (let k = 1; k <= 600; k++) tickOf.set(recurringTickTaskId('every-second', base + k * 1000), k);
    const ks = spawned.map((task) => {
      const k = tickOf.get(task.id);
      assert.ok(k !== undefined, `task ${task.id} is not a tick of the schedule's chain`);
      return k;
    });
    assert.equal(new Set(ks).size, ks.length);
    const sorted = [...ks].sort((a, b) => a - b);
    const gaps = sorted.slice(1).map((k, i) => k - sorted[i]!);
    const maxGap = Math.max(...gaps);
    t.diagnostic(`recurring ticks: ${ks.length} tasks, ticks ${sorted[0]}..${sorted.at(-1)}, largest gap ${maxGap} ticks`);
    console.log(`# leadership: ${ks.length} recurring ticks ${sorted[0]}..${sorted.at(-1)}, largest gap ${maxGap}`);
    // A failover skips at most the ticks that fell due while nobody led (catch-up fires once).
    assert.ok(maxGap <= Math.ceil((LEASE_MS + INTERVAL_MS + SLACK_MS) / 1000) + 1, `a gap of ${maxGap} ticks`);
    // Ticks were spawned under each of the three leaders.
    for (const term of terms) {
      assert.ok(
        spawned.some((x) => x.created_at >= term.from && x.created_at <= term.to + INTERVAL_MS),
        `no tick under the term ${JSON.stringify(term)}`,
      );
    }
  });
});
