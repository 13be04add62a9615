// Recurring-task controls (issue 16): pause, resume, run now, and how GET /schedule shows them. A real
// server over a real SQLite file, through Fastify's inject; v1 answers keep their fields.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ManualClock } from '../../src/service/clock.js';
import { assertError, assertTaskShape, createTask, LIMIT, startTestServer } from '../helpers/http.js';

const T0 = Date.parse('2026-03-01T12:00:00Z');
const iso = (ms: number) => new Date(ms).toISOString();

async function withRecurring(t: Parameters<typeof startTestServer>[0], skip = false) {
  const clock = new ManualClock(T0);
  const ts = await startTestServer(t, {}, { clock });
  const created = await ts.request({
    method: 'POST',
    url: '/recurring_tasques',
    payload: {
      id: 'hourly',
      schedule_expression: '0 * * * *',
      skip_if_outstanding_tasks_exist: skip,
      task_definition: { queue: 'ops', kind: 'sweep', priority: 2, args: { deep: true } },
    },
  });
  assert.equal(created.status, 201, created.body);
  return { ts, clock, v1Keys: Object.keys(created.json).sort() };
}

test('pause and resume: idempotent state answers; /schedule shows paused with no fire times; v1 answers unchanged', LIMIT, async (t) => {
  const { ts, clock, v1Keys } = await withRecurring(t);
  clock.advance(1000);
  const paused = await ts.request({ method: 'PUT', url: '/recurring_tasques/hourly/pause' });
  assert.equal(paused.status, 200, paused.body);
  assert.deepEqual(paused.json, { id: 'hourly', paused: true, paused_at: iso(T0 + 1000), modified_at: iso(T0 + 1000) });
  clock.advance(1000);
  const again = await ts.request({ method: 'PUT', url: '/recurring_tasques/hourly/pause' });
  assert.deepEqual(again.json, paused.json, 'pausing a paused one changes nothing');

  const schedule = (await ts.request({ method: 'GET', url: '/schedule' })).json.recurring_tasks[0];
  assert.equal(schedule.paused, true);
  assert.equal(schedule.paused_at, iso(T0 + 1000));
  assert.equal(schedule.next_run_at, undefined);
  assert.deepEqual(schedule.next_run_times, []);

  const v1 = await ts.request({ method: 'GET', url: '/recurring_tasques/hourly' });
  assert.deepEqual(Object.keys(v1.json).sort(), v1Keys, 'no pause field in the v1 answer');
  const v1List = await ts.request({ method: 'GET', url: '/recurring_tasques' });
  assert.deepEqual(Object.keys(v1List.json[0]).sort(), v1Keys);

  const resumed = await ts.request({ method: 'PUT', url: '/recurring_tasques/hourly/resume' });
  assert.equal(resumed.status, 200);
  assert.deepEqual(resumed.json, { id: 'hourly', paused: false, modified_at: iso(T0 + 2000) });
  const after = (await ts.request({ method: 'GET', url: '/schedule' })).json.recurring_tasks[0];
  assert.equal(after.paused, false);
  assert.deepEqual(after.next_run_times, [13, 14, 15, 16, 17].map((h) => `2026-03-01T${h}:00:00.000Z`));

  assertError(await ts.request({ method: 'PUT', url: '/recurring_tasques/nope/pause' }), 404, undefined, 'TQ_ERR_RECURRING_TASK_NOT_FOUND');
  await ts.request({ method: 'DELETE', url: '/recurring_tasques/hourly' });
  assertError(await ts.request({ method: 'PUT', url: '/recurring_tasques/hourly/resume' }), 404, undefined, 'TQ_ERR_RECURRING_TASK_NOT_FOUND');
});

test('run now enqueues a task from the definition; with skip_if_outstanding it answers 409 while one is outstanding', LIMIT, async (t) => {
  const { ts } = await withRecurring(t, true);
  await createTask(ts, { queue: 'ops', id: 'unrelated', kind: 'x' }); // not the recurring task's: not counted
  const run = await ts.request({ method: 'POST', url: '/recurring_tasques/hourly/run' });
  assert.equal(run.status, 201, run.body);
  assertTaskShape(run.json);
  assert.equal(run.json.queue, 'ops');
  assert.equal(run.json.kind, 'sweep');
  assert.equal(run.json.priority, 2);
  assert.deepEqual(run.json.args, { deep: true });
  assert.equal(run.json.state, 'queued');
  assert.equal(run.json.recurring_task_id, 'hourly');
  const listed = await ts.request({ method: 'GET', url: '/tasques?recurring_task_id=hourly' });
  assert.deepEqual(listed.json.tasks.map((x: { id: string }) => x.id), [run.json.id]);

  assertError(await ts.request({ method: 'POST', url: '/recurring_tasques/hourly/run' }), 409, undefined, 'TQ_ERR_RECURRING_TASK_OUTSTANDING');
  assertError(await ts.request({ method: 'POST', url: '/recurring_tasques/missing/run' }), 404, undefined, 'TQ_ERR_RECURRING_TASK_NOT_FOUND');
});
