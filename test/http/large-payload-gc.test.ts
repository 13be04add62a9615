// Memory after large payloads (src/http/large-payload-gc.ts): a full collection once large request and
// answer bodies have moved `everyBytes`, never for ordinary traffic. Fastify's inject, an injected collector.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { LargePayloadMeter, registerLargePayloadGc } from '../../src/http/large-payload-gc.js';
import { TaskAnswer } from '../../src/http/answer-json.js';
import type { Task } from '../../src/types/index.js';

async function appCounting(t: { after(fn: () => Promise<void>): void }) {
  let collections = 0;
  let collected: () => void = () => undefined;
  const app = Fastify({ bodyLimit: 1_048_576 });
  registerLargePayloadGc(app, {
    largeBytes: 1_000,
    everyBytes: 3_000,
    minIntervalMs: 0,
    collect: () => {
      collections++;
      collected();
    },
  });
  app.post('/echo', async (request) => request.body);
  app.get('/big', async () => 'y'.repeat(2_000));
  await app.ready();
  t.after(() => app.close());
  return {
    app,
    collections: () => collections,
    nextCollection: () => new Promise<void>((resolve) => (collected = resolve)),
  };
}

test('the meter counts only large bodies, and is due once they add up to everyBytes', () => {
  const meter = new LargePayloadMeter(1_000, 3_000);
  for (let i = 0; i < 10_000; i++) assert.equal(meter.note(999), false, 'a body under largeBytes never counts');
  assert.equal(meter.note(1_500), false);
  assert.equal(meter.note(1_499), false);
  assert.equal(meter.note(1_000), true, '4 000 bytes of large bodies');
  meter.reset();
  assert.equal(meter.note(2_999), false, 'counting starts again after a collection');
});

test('large bodies start one collection once they add up to everyBytes, counting requests and answers', async (t) => {
  const { app, collections, nextCollection } = await appCounting(t);
  const collected = nextCollection();
  await app.inject({ method: 'POST', url: '/echo', payload: { text: 'x'.repeat(1_200) } }); // ~1.2 kB in + out: 2.4 kB
  assert.equal(collections(), 0, 'under everyBytes');
  await app.inject({ method: 'GET', url: '/big' }); // 2 kB out: past 3 kB
  // The collection's timer is unref'd (it must not keep a server alive); a listening server's socket keeps
  // the event loop running until it fires, inject has none: this handle stands in for it (on Node 22 the
  // loop emptied first and the test was cancelled).
  const keepAlive = setInterval(() => undefined, 60_000);
  try {
    await collected;
  } finally {
    clearInterval(keepAlive);
  }
  assert.equal(collections(), 1);
});

test('TaskAnswer.bytes is the prefix, the JSON array of the tasks and the suffix, in UTF-8', () => {
  const answer = new TaskAnswer((task: Task) => ({ id: task.id, args: task.args }));
  const tasks = [
    { id: 'a', args: { text: 'é'.repeat(3) } },
    { id: 'b', args: { emoji: '🙂', quote: '"' } },
    { id: 'c', args: {} },
  ] as unknown as Task[];
  const sizes = tasks.map((task) => answer.sizeOf(task)); // what the engine measures first
  const expected = `{"tasks":${JSON.stringify(tasks.map((task) => ({ id: task.id, args: task.args })))},"next_cursor":"z"}`;
  const bytes = answer.bytes(tasks, '{"tasks":', ',"next_cursor":"z"}');
  assert.equal(bytes.toString('utf8'), expected);
  assert.equal(bytes.length, Buffer.byteLength(expected));
  assert.deepEqual(sizes, tasks.map((task) => Buffer.byteLength(JSON.stringify({ id: task.id, args: task.args }))));
  assert.equal(new TaskAnswer().bytes([]).toString(), '[]');
});
