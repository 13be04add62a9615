/**
 * A v1 worker session against the real server process over HTTP, with the exact bodies the v1 Go client
 * and Go worker SDK send (spec §13): create (201), claim with `"block_for":"5000ms"` (200), report-in,
 * done / failed / unclaim (200), and the documented error codes on misuse.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type HttpResponse, killAllServers, type ServerProcess, startServer } from '../helpers/cli.js';

after(killAllServers);

const QUEUE = 'messages_and_ciphers';
const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const INT32_MAX = 2 ** 31 - 1;

/** The Go client's create body, byte for byte (models.TaskNewTask with run_at left unset). */
const goCreateBody = (kind: string, messageId: string) =>
  `{"args":{"message_id":"${messageId}"},"kind":"${kind}","queue":"${QUEUE}","run_at":"0001-01-01T00:00:00.000Z"}`;
/** The Go worker's claim body (worker/work_loop.go). */
const goClaimBody = '{"amount":1,"block_for":"5000ms","queues":["messages_and_ciphers"]}';

/** Asserts a v1 task JSON as the Go, Java and Rust clients decode it; returns it. */
function assertTask(res: HttpResponse, status: number): any {
  assert.equal(res.status, status, res.text);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const t = res.json();
  for (const key of ['id', 'queue', 'kind', 'state', 'processing_timeout']) assert.equal(typeof t[key], 'string', key);
  for (const key of ['retry_times', 'attempted', 'priority']) {
    assert.ok(Number.isInteger(t[key]) && Math.abs(t[key]) <= INT32_MAX, `${key}: ${t[key]}`);
  }
  for (const key of ['run_at', 'last_enqueued_at']) assert.match(t[key], RFC3339_UTC, key);
  assert.match(t.metadata.created_at, RFC3339_UTC);
  assert.match(t.metadata.modified_at, RFC3339_UTC);
  for (const key of ['seq_num', 'primary_term']) {
    const v = t.metadata.version[key];
    assert.ok(Number.isInteger(v) && v >= 0 && v <= INT32_MAX, `metadata.version.${key}: ${v}`);
  }
  if (t.last_claimed !== undefined) {
    assert.equal(typeof t.last_claimed.worker_id, 'string');
    assert.match(t.last_claimed.claimed_at, RFC3339_UTC);
    assert.match(t.last_claimed.times_out_at, RFC3339_UTC);
    if (t.last_claimed.last_report) assert.match(t.last_claimed.last_report.at, RFC3339_UTC);
    if (t.last_claimed.result) assert.match(t.last_claimed.result.at, RFC3339_UTC);
  }
  return t;
}

function assertError(res: HttpResponse, status: number, message?: RegExp | string): void {
  assert.equal(res.status, status, res.text);
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json();
  assert.equal(typeof body.message, 'string');
  if (typeof message === 'string') assert.equal(body.message, message);
  else if (message) assert.match(body.message, message);
}

describe('a v1 Go worker session over HTTP', () => {
  let server: ServerProcess;
  const w1 = { 'X-TASQUES-WORKER-ID': 'go-worker-1' };
  const w2 = { 'X-TASQUES-WORKER-ID': 'go-worker-2' };
  const json = { 'content-type': 'application/json' };

  before(async () => {
    server = await startServer();
  });

  it('answers the readiness probe GET /recurring_tasques with 200 []', async () => {
    const res = await server.request('GET', '/recurring_tasques');
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.deepEqual(res.json(), []);
  });

  it('create → claim → report → done, with exact status codes', async () => {
    const before = Date.now();
    const created = assertTask(
      await server.request('POST', '/tasques', { body: goCreateBody('Rot1', 'x'), headers: json }),
      201,
    );
    const after = Date.now();
    assert.match(created.id, /^[0-9a-f]{32}$/);
    assert.equal(created.queue, QUEUE);
    assert.equal(created.kind, 'Rot1');
    assert.equal(created.state, 'queued');
    assert.equal(created.attempted, 0);
    assert.equal(created.retry_times, 25);
    assert.equal(created.priority, 0);
    assert.equal(created.processing_timeout, '30m0s');
    assert.deepEqual(created.args, { message_id: 'x' });
    assert.equal(created.last_claimed, undefined);
    assert.equal(created.context, undefined);
    // The zero run_at means "now".
    const runAt = Date.parse(created.run_at);
    assert.ok(runAt >= before - 1 && runAt <= after + 1, `run_at ${created.run_at} is not "now"`);

    const got = assertTask(await server.request('GET', `/tasques/${QUEUE}/${created.id}`), 200);
    assert.deepEqual(got, created);

    const claim = await server.request('POST', '/tasques/claims', { body: goClaimBody, headers: { ...w1, ...json } });
    assert.equal(claim.status, 200, claim.text);
    assert.match(String(claim.headers['content-type']), /^application\/json/);
    const claimedList = claim.json();
    assert.ok(Array.isArray(claimedList));
    assert.equal(claimedList.length, 1);
    const claimed = claimedList[0];
    assert.equal(claimed.id, created.id);
    assert.equal(claimed.state, 'claimed');
    assert.equal(claimed.attempted, 1);
    assert.equal(claimed.last_claimed.worker_id, 'go-worker-1');
    assert.equal(claimed.run_at, created.run_at, 'a claim does not move run_at');
    assert.equal(
      Date.parse(claimed.last_claimed.times_out_at) - Date.parse(claimed.last_claimed.claimed_at),
      30 * 60 * 1000,
    );

    const reported = assertTask(
      await server.request('PUT', `/tasques/reports/${QUEUE}/${created.id}`, {
        body: `{"data":{"starting":"${created.id}"}}`,
        headers: { ...w1, ...json },
      }),
      200,
    );
    assert.equal(reported.state, 'claimed');
    assert.deepEqual(reported.last_claimed.last_report.data, { starting: created.id });
    assert.ok(Date.parse(reported.last_claimed.times_out_at) >= Date.parse(claimed.last_claimed.times_out_at));

    // Misuse while claimed: another worker → 403 naming the requester, no header → 400.
    assertError(
      await server.request('PUT', `/tasques/done/${QUEUE}/${created.id}`, { body: '{}', headers: { ...w2, ...json } }),
      403,
      'The Task was not owned by the worker [go-worker-2]',
    );
    assertError(
      await server.request('PUT', `/tasques/done/${QUEUE}/${created.id}`, { body: '{}', headers: json }),
      400,
      'Worker Id header [X-TASQUES-WORKER-ID] not sent',
    );

    const done = assertTask(
      await server.request('PUT', `/tasques/done/${QUEUE}/${created.id}`, {
        body: '{"data":{"ciphered":"y"}}',
        headers: { ...w1, ...json },
      }),
      200,
    );
    assert.equal(done.state, 'done');
    assert.deepEqual(done.last_claimed.result.success, { ciphered: 'y' });
    assert.equal(done.last_claimed.result.failure, undefined);
    assert.deepEqual(done.last_claimed.last_report.data, { starting: created.id }, 'the report is kept');

    // Done is terminal: a second done, a report, a fail or an unclaim → 400 NotClaimed, even from another worker
    // (the state check runs before the owner check).
    const notClaimed = `The Task is not currently Claimed so cannot be reported on: [${created.id}]`;
    for (const [method, path, body, headers] of [
      ['PUT', `/tasques/done/${QUEUE}/${created.id}`, '{}', w1],
      ['PUT', `/tasques/reports/${QUEUE}/${created.id}`, '{}', w1],
      ['PUT', `/tasques/failed/${QUEUE}/${created.id}`, '{}', w2],
      ['DELETE', `/tasques/claims/${QUEUE}/${created.id}`, undefined, w2],
    ] as const) {
      const withType = body === undefined ? headers : { ...headers, ...json };
      assertError(await server.request(method, path, { body, headers: withType }), 400, notClaimed);
    }

    // Nothing left: the Go worker's next claim long-polls and comes back 200 [] (here cut short with 300ms).
    const empty = await server.request('POST', '/tasques/claims', {
      body: '{"amount":1,"block_for":"300ms","queues":["messages_and_ciphers"]}',
      headers: { ...w1, ...json },
    });
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.json(), []);
  });

  it('a waiting claim picks up a task created while it waits', async () => {
    const claim = server.request('POST', '/tasques/claims', { body: goClaimBody, headers: { ...w1, ...json } });
    // Nothing is queued, so the claim waits (if it has reached the server yet); the create ends the wait.
    const created = assertTask(
      await server.request('POST', '/tasques', { body: goCreateBody('Rot13', 'waited'), headers: json }),
      201,
    );
    const res = await claim;
    assert.equal(res.status, 200, res.text);
    const tasks = res.json();
    assert.equal(tasks.length, 1);
    assert.equal(tasks[0].id, created.id);
    assert.equal(tasks[0].kind, 'Rot13');
    const done = await server.request('PUT', `/tasques/done/${QUEUE}/${created.id}`, {
      body: '{"data":{"ciphered":"z"}}',
      headers: { ...w1, ...json },
    });
    assert.equal(done.status, 200);
  });

  it('failed → FAILED with a backed-off run_at, then not claimable', async () => {
    const created = assertTask(
      await server.request('POST', '/tasques', { body: goCreateBody('Base64', 'fails'), headers: json }),
      201,
    );
    const [claimed] = (
      await server.request('POST', '/tasques/claims', { body: goClaimBody, headers: { ...w2, ...json } })
    ).json();
    assert.equal(claimed.id, created.id);

    const failed = assertTask(
      await server.request('PUT', `/tasques/failed/${QUEUE}/${created.id}`, {
        body: '{"data":{"error":"Destined to fail, I guess"}}',
        headers: { ...w2, ...json },
      }),
      200,
    );
    assert.equal(failed.state, 'failed');
    assert.equal(failed.attempted, 1);
    assert.deepEqual(failed.last_claimed.result.failure, { error: 'Destined to fail, I guess' });
    const failedAt = Date.parse(failed.last_claimed.result.at);
    assert.equal(failed.last_enqueued_at, failed.last_claimed.result.at);
    // First retry wait: 15s + 0^4 + rand(0..29)·1 s.
    const wait = Date.parse(failed.run_at) - failedAt;
    assert.ok(wait >= 15_000 && wait <= 44_000, `retry wait ${wait}ms`);

    const none = await server.request('POST', '/tasques/claims', {
      body: '{"amount":1,"block_for":"200ms","queues":["messages_and_ciphers"]}',
      headers: { ...w2, ...json },
    });
    assert.equal(none.status, 200);
    assert.deepEqual(none.json(), [], 'a failed task waits for its run_at');

    // The failed task answers 400 to its old worker.
    assertError(
      await server.request('PUT', `/tasques/reports/${QUEUE}/${created.id}`, { body: '{}', headers: { ...w2, ...json } }),
      400,
    );
  });

  it('unclaim gives the task back without counting the attempt', async () => {
    const created = assertTask(
      await server.request('POST', '/tasques', { body: goCreateBody('Md5', 'unclaimed'), headers: json }),
      201,
    );
    const [claimed] = (
      await server.request('POST', '/tasques/claims', { body: goClaimBody, headers: { ...w1, ...json } })
    ).json();
    assert.equal(claimed.id, created.id);
    assertError(await server.request('DELETE', `/tasques/claims/${QUEUE}/${created.id}`, { headers: w2 }), 403);
    const unclaimed = assertTask(await server.request('DELETE', `/tasques/claims/${QUEUE}/${created.id}`, { headers: w1 }), 200);
    assert.equal(unclaimed.state, 'queued');
    assert.equal(unclaimed.attempted, 0);
    assert.equal(unclaimed.last_claimed.worker_id, 'go-worker-1', 'last_claimed is kept');
    // Immediately claimable again, by anyone.
    const [again] = (
      await server.request('POST', '/tasques/claims', { body: goClaimBody, headers: { ...w2, ...json } })
    ).json();
    assert.equal(again.id, created.id);
    assert.equal(again.attempted, 1);
    assert.equal(again.last_claimed.worker_id, 'go-worker-2');
  });

  it(
    "unclaims with the Go client's exact DELETE (Content-Type: application/json, no body)",
    // go-openapi's runtime sets Content-Type on every POST/PUT/PATCH/DELETE, body or not (CanHaveBody),
    // so the v1 Go SDK's Unclaim() sends this; v1 (gin) ignores DELETE bodies, and so must we.
    async () => {
      const created = assertTask(
        await server.request('POST', '/tasques', { body: goCreateBody('Md5', 'go-unclaim'), headers: json }),
        201,
      );
      const [claimed] = (
        await server.request('POST', '/tasques/claims', { body: goClaimBody, headers: { ...w1, ...json } })
      ).json();
      assert.equal(claimed.id, created.id);
      const res = await server.request('DELETE', `/tasques/claims/${QUEUE}/${created.id}`, {
        headers: { ...w1, ...json, accept: 'application/json' },
      });
      const unclaimed = assertTask(res, 200);
      assert.equal(unclaimed.state, 'queued');
    },
  );

  it('answers the documented errors on misuse', async () => {
    assertError(await server.request('GET', `/tasques/${QUEUE}/nope`), 404, `Could not find [nope] in queue [${QUEUE}]`);
    assertError(await server.request('GET', '/tasques/Bad+Queue/x'), 400, /^Illegal Queue name: \[\[/);
    assertError(await server.request('POST', '/tasques/claims', { body: goClaimBody, headers: json }), 400);
    assertError(
      await server.request('PUT', `/tasques/done/${QUEUE}/nope`, { body: '{}', headers: { ...w1, ...json } }),
      404,
    );
    assertError(await server.request('POST', '/tasques', { body: '{"kind":"k"}', headers: json }), 400);
    assertError(await server.request('POST', '/tasques', { body: '{"queue":"q","kind":"k",', headers: json }), 400);
    const withId = `{"id":"fixed-id","kind":"Rot1","queue":"${QUEUE}"}`;
    assertTask(await server.request('POST', '/tasques', { body: withId, headers: json }), 201);
    assertError(
      await server.request('POST', '/tasques', { body: withId, headers: json }),
      409,
      'Task with Id [fixed-id] already exists ',
    );
    assertError(await server.request('GET', '/no/such/route'), 404, 'No such route.');
  });

  it("an operator cancels a running task: the worker's next report-in and done get v1's not-claimed 400", async () => {
    const queue = 'cancelled_while_running';
    const created = assertTask(
      await server.request('POST', '/tasques', { body: `{"kind":"Rot1","queue":"${queue}","run_at":"0001-01-01T00:00:00.000Z"}`, headers: json }),
      201,
    );
    const claimBody = `{"amount":1,"block_for":"5000ms","queues":["${queue}"]}`;
    const [claimed] = (await server.request('POST', '/tasques/claims', { body: claimBody, headers: { ...w1, ...json } })).json();
    assert.equal(claimed.id, created.id);
    const cancelled = await server.request('PUT', `/tasques/cancel/${queue}/${created.id}`, { body: '{"reason":"stop"}', headers: json });
    assert.equal(cancelled.status, 200, cancelled.text);

    // Exactly what a v1 worker already handles for a claim it no longer holds; the code is additive.
    const notClaimed = `The Task is not currently Claimed so cannot be reported on: [${created.id}]`;
    for (const [method, path, body] of [
      ['PUT', `/tasques/reports/${queue}/${created.id}`, '{"data":{"progress":1}}'],
      ['PUT', `/tasques/done/${queue}/${created.id}`, '{"data":{"ok":true}}'],
      ['PUT', `/tasques/failed/${queue}/${created.id}`, '{"data":{"error":"x"}}'],
    ] as const) {
      const res = await server.request(method, path, { body, headers: { ...w1, ...json } });
      assertError(res, 400, notClaimed);
      assert.equal(res.json().code, 'TQ_ERR_TASK_CANCELLED');
    }
    const after = assertTask(await server.request('GET', `/tasques/${queue}/${created.id}`), 200);
    assert.equal(after.state, 'dead');
    assert.deepEqual(after.last_claimed.result.failure, { cancelled: true, reason: 'stop' });
    assert.equal(after.cancellation, undefined, 'no new field in the v1 answer');
  });
});
