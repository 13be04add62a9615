// The v1 recurring-task endpoints (spec §1.2–§1.5, §8): create 201, list, get, update, delete.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/service/clock.js';
import {
  assertError,
  assertJsonContentType,
  assertRecurringShape,
  LIMIT,
  startTestServer,
  storedRows,
  type TestServer,
} from '../helpers/http.js';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

async function createRecurring(ts: TestServer, body: Record<string, unknown>) {
  const res = await ts.request({ method: 'POST', url: '/recurring_tasques', payload: body });
  assert.equal(res.status, 201, res.body);
  assertJsonContentType(res);
  assertRecurringShape(res.json);
  return res.json;
}

test('POST /recurring_tasques answers 201 with the recurring task and the definition defaults filled in', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  const rt = await createRecurring(ts, {
    id: 'every-minute',
    schedule_expression: '@every 1m',
    task_definition: { queue: 'q', kind: 'tick' },
  });
  assert.deepEqual(rt, {
    id: 'every-minute',
    schedule_expression: '@every 1m',
    skip_if_outstanding_tasks_exist: false,
    task_definition: { queue: 'q', retry_times: 25, kind: 'tick', priority: 0, processing_timeout: '30m0s' },
    metadata: { created_at: iso(T0), modified_at: iso(T0), version: rt.metadata.version },
  });
  assert.ok(!('loaded_at' in rt), 'not loaded by a leader yet');
});

test('POST /recurring_tasques keeps every given field', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const rt = await createRecurring(ts, {
    id: 'full',
    schedule_expression: '0,5,10 * * * *',
    skip_if_outstanding_tasks_exist: true,
    task_definition: {
      queue: 'q',
      kind: 'k',
      retry_times: 3,
      priority: 9,
      processing_timeout: '90s',
      args: { a: [1, 2] },
      context: { c: true },
    },
  });
  assert.equal(rt.skip_if_outstanding_tasks_exist, true);
  assert.deepEqual(rt.task_definition, {
    queue: 'q',
    retry_times: 3,
    kind: 'k',
    priority: 9,
    processing_timeout: '1m30s',
    args: { a: [1, 2] },
    context: { c: true },
  });
});

test('v1 schedule expressions are accepted: cron with lists, @every, descriptors, TZ prefix', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const schedules = ['0,5,10 * * * *', '@every 15m', '@hourly', '@daily', '@weekly', '@monthly', '@yearly', '*/5 * * * *', '0 9 * * mon-fri', 'TZ=Europe/Paris 30 8 * * *'];
  for (const [i, schedule] of schedules.entries()) {
    const rt = await createRecurring(ts, { id: `r${i}`, schedule_expression: schedule, task_definition: { queue: 'q', kind: 'k' } });
    assert.equal(rt.schedule_expression, schedule);
  }
  assert.equal(storedRows(ts, 'recurring_tasks'), schedules.length);
});

test('GET /recurring_tasques lists the live recurring tasks sorted by id; GET by id answers the same', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const created: Record<string, any> = {};
  for (const id of ['b', 'c', 'a', 'gone']) {
    created[id] = await createRecurring(ts, { id, schedule_expression: '@hourly', task_definition: { queue: 'q', kind: id } });
  }
  assert.equal((await ts.request({ method: 'DELETE', url: '/recurring_tasques/gone' })).status, 200);
  const list = await ts.request({ method: 'GET', url: '/recurring_tasques' });
  assert.equal(list.status, 200);
  assertJsonContentType(list);
  assert.deepEqual(
    list.json.map((r: { id: string }) => r.id),
    ['a', 'b', 'c'],
  );
  for (const rt of list.json) {
    assertRecurringShape(rt);
    assert.deepEqual(rt, created[rt.id]);
    const one = await ts.request({ method: 'GET', url: `/recurring_tasques/${rt.id}` });
    assert.equal(one.status, 200);
    assertJsonContentType(one);
    assert.deepEqual(one.json, rt);
  }
});

test('PUT /recurring_tasques/{id}: present fields replace, absent ones stay; a definition is replaced whole', LIMIT, async (t) => {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  await createRecurring(ts, {
    id: 'r',
    schedule_expression: '@hourly',
    task_definition: { queue: 'q', kind: 'k', retry_times: 3, priority: 5, args: { keep: 1 } },
  });
  clock.advance(1000);
  const schedOnly = await ts.request({ method: 'PUT', url: '/recurring_tasques/r', payload: { schedule_expression: '@every 15m' } });
  assert.equal(schedOnly.status, 200, schedOnly.body);
  assertJsonContentType(schedOnly);
  assertRecurringShape(schedOnly.json);
  assert.equal(schedOnly.json.schedule_expression, '@every 15m');
  assert.deepEqual(schedOnly.json.task_definition, {
    queue: 'q',
    retry_times: 3,
    kind: 'k',
    priority: 5,
    processing_timeout: '30m0s',
    args: { keep: 1 },
  });

  const skipOnly = await ts.request({ method: 'PUT', url: '/recurring_tasques/r', payload: { skip_if_outstanding_tasks_exist: true } });
  assert.equal(skipOnly.status, 200);
  assert.equal(skipOnly.json.skip_if_outstanding_tasks_exist, true);
  assert.equal(skipOnly.json.schedule_expression, '@every 15m');

  // v1: a new task_definition replaces the old one; omitted fields get the defaults again.
  const def = await ts.request({ method: 'PUT', url: '/recurring_tasques/r', payload: { task_definition: { queue: 'other', kind: 'k2' } } });
  assert.equal(def.status, 200);
  assert.deepEqual(def.json.task_definition, { queue: 'other', retry_times: 25, kind: 'k2', priority: 0, processing_timeout: '30m0s' });
  assert.equal(def.json.skip_if_outstanding_tasks_exist, true);

  // An empty update is fine (v1's "update without a schedule → 200").
  const none = await ts.request({ method: 'PUT', url: '/recurring_tasques/r', payload: {} });
  assert.equal(none.status, 200);
  assert.deepEqual(none.json.task_definition, def.json.task_definition);

  const got = await ts.request({ method: 'GET', url: '/recurring_tasques/r' });
  assert.equal(got.json.schedule_expression, '@every 15m');
  assert.deepEqual(got.json.task_definition, def.json.task_definition);
  assert.equal(got.json.metadata.created_at, iso(T0));
});

test('DELETE /recurring_tasques/{id}: 200 with the task, then gone; its id can be used again', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const created = await createRecurring(ts, { id: 'r', schedule_expression: '@hourly', task_definition: { queue: 'q', kind: 'k' } });
  const del = await ts.request({ method: 'DELETE', url: '/recurring_tasques/r' });
  assert.equal(del.status, 200);
  assertJsonContentType(del);
  assertRecurringShape(del.json);
  assert.equal(del.json.id, 'r');
  assert.deepEqual(del.json.task_definition, created.task_definition);
  assertError(await ts.request({ method: 'GET', url: '/recurring_tasques/r' }), 404, 'Could not find [r]');
  assert.equal((await ts.request({ method: 'GET', url: '/recurring_tasques' })).body, '[]');
  // Re-created over the soft-deleted one.
  const again = await createRecurring(ts, { id: 'r', schedule_expression: '@daily', task_definition: { queue: 'q2', kind: 'k' } });
  assert.equal(again.schedule_expression, '@daily');
  assert.equal((await ts.request({ method: 'GET', url: '/recurring_tasques/r' })).json.task_definition.queue, 'q2');
});

test('recurring-task bodies are validated: 400 naming the field, nothing stored', LIMIT, async (t) => {
  const ts = await startTestServer(t);
  const good = { id: 'r', schedule_expression: '@hourly', task_definition: { queue: 'q', kind: 'k' } };
  const cases: [unknown, RegExp][] = [
    [{ ...good, id: undefined }, /id/],
    [{ ...good, id: '' }, /id/],
    [{ ...good, id: 5 }, /id/],
    [{ ...good, schedule_expression: undefined }, /schedule_expression/],
    [{ ...good, schedule_expression: 5 }, /schedule_expression/],
    [{ ...good, task_definition: undefined }, /task_definition/],
    [{ ...good, task_definition: null }, /task_definition/],
    [{ ...good, task_definition: 'x' }, /task_definition/],
    [{ ...good, task_definition: { queue: 'q' } }, /kind/],
    [{ ...good, task_definition: { kind: 'k' } }, /queue/],
    [{ ...good, task_definition: { queue: 'q', kind: '' } }, /kind/],
    [{ ...good, task_definition: { queue: 'q', kind: 'k', retry_times: -1 } }, /retry_times/],
    [{ ...good, task_definition: { queue: 'q', kind: 'k', priority: 2 ** 31 } }, /priority/],
    [{ ...good, task_definition: { queue: 'q', kind: 'k', processing_timeout: 60 } }, /processing_timeout/],
    [{ ...good, task_definition: { queue: 'q', kind: 'k', processing_timeout: 'soon' } }, /processing_timeout/],
    [{ ...good, task_definition: { queue: 'q', kind: 'k', args: [1] } }, /args/],
    [{ ...good, skip_if_outstanding_tasks_exist: 'yes' }, /skip_if_outstanding_tasks_exist/],
    // Schedules that never fire, or that v1 (robfig/cron) refuses.
    [{ ...good, schedule_expression: '0 0 31 4,6,9,11 *' }, /schedule_expression.*never fires/],
    [{ ...good, schedule_expression: '0 0 30 2 *' }, /schedule_expression.*never fires/],
    [{ ...good, schedule_expression: '0 0 L * *' }, /schedule_expression/],
    [{ ...good, schedule_expression: '0 0 * * 5#5' }, /schedule_expression/],
    [{ ...good, schedule_expression: `0 0 * * *${' '.repeat(300)}` }, /schedule_expression/],
  ];
  for (const [payload, field] of cases) {
    const res = await ts.request({ method: 'POST', url: '/recurring_tasques', payload: payload as object });
    const e = assertError(res, 400);
    assert.match(e.message, field, `${JSON.stringify(payload)} → ${e.message}`);
  }
  assert.equal(storedRows(ts, 'recurring_tasks'), 0);
  await createRecurring(ts, good);
  for (const [payload, field] of [
    [{ task_definition: { queue: 'q', kind: 'k', processing_timeout: 5000 } }, /processing_timeout/],
    [{ skip_if_outstanding_tasks_exist: 1 }, /skip_if_outstanding_tasks_exist/],
    [{ schedule_expression: '0 0 31 4,6,9,11 *' }, /never fires/],
    [[], /body/],
  ] as [unknown, RegExp][]) {
    const res = await ts.request({ method: 'PUT', url: '/recurring_tasques/r', payload: payload as object });
    assert.match(assertError(res, 400).message, field);
  }
  const empty = await ts.request({ method: 'PUT', url: '/recurring_tasques/r', headers: { 'content-type': 'application/json' }, payload: '' });
  assertError(empty, 400, /body/i);
});
