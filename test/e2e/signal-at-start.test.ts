/**
 * A signal sent the moment `tasques serve` says it listens stops it gracefully. The server used to log
 * "tasques listening on …" before it installed its signal handlers: a supervisor (or a test) reacting to
 * that line while the process was preempted between the two killed it outright (`signal: SIGTERM`, no
 * "stopped", no resigned lease). Under load that happened in most starts. Several rounds, because the
 * window was a race: the test cannot force the preemption, only give it chances.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { killAllServers, startServer } from '../helpers/cli.js';

after(killAllServers);

const ROUNDS = 5;

describe('tasques serve: a signal at the "listening" line', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops gracefully on ${signal} sent as soon as the line appears (${ROUNDS} starts)`, { timeout: 120_000 }, async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const server = await startServer();
        server.signal(signal);
        assert.deepEqual(await server.waitForExit(20_000), { code: 0, signal: null }, `round ${round}:\n${server.stderr}`);
        assert.ok(server.logs.some((l) => l.msg === 'stopped'), server.stderr);
      }
    });
  }
});
