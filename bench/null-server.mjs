#!/usr/bin/env node
// The reference point of design.md §5: a plain node:http server that answers the v1 calls the benchmarks
// make (create, claim with long poll, done; batch create and batch done; GET of a task) with no storage
// at all — tasks live in a Map and an array. Its throughput is the ceiling of the call pattern on this
// machine: HTTP parsing, JSON and socket writes only. Not a queue: nothing survives, nothing is checked.
//
//   TASQUES_SERVER_BIND_ADDRESS=127.0.0.1:8090 node bench/null-server.mjs
//   npm run bench -- --null-server        (the throughput benchmark against it)
import { randomUUID } from 'node:crypto';
import http from 'node:http';

const [host, port] = (process.env.TASQUES_SERVER_BIND_ADDRESS ?? '127.0.0.1:8090').split(':');
const tasks = new Map();
const waiting = []; // claimable tasks, FIFO
const waiters = new Set(); // long polls: { resolve, timer }
const iso = (ms) => new Date(ms).toISOString();

function newTask(body, now) {
  return {
    id: body.id ?? randomUUID().replaceAll('-', ''),
    queue: body.queue,
    retry_times: body.retry_times ?? 25,
    attempted: 0,
    kind: body.kind,
    state: 'queued',
    priority: body.priority ?? 0,
    processing_timeout: body.processing_timeout ?? '30m0s',
    run_at: iso(now),
    args: body.args,
    context: body.context,
    last_enqueued_at: iso(now),
    metadata: { created_at: iso(now), modified_at: iso(now), version: { seq_num: 1, primary_term: 1 } },
  };
}

function enqueue(task) {
  tasks.set(`${task.queue}/${task.id}`, task);
  waiting.push(task);
  for (const w of waiters) {
    waiters.delete(w);
    w.wake();
    break;
  }
}

function claim(amount, workerId) {
  const now = Date.now();
  const out = waiting.splice(0, amount);
  for (const t of out) {
    t.state = 'claimed';
    t.attempted++;
    t.last_claimed = { worker_id: workerId, claimed_at: iso(now), times_out_at: iso(now + 1_800_000) };
    t.metadata.modified_at = iso(now);
    t.metadata.version.seq_num++;
  }
  return out;
}

function done(queue, id, data) {
  const t = tasks.get(`${queue}/${id}`);
  if (!t) return undefined;
  const now = Date.now();
  t.state = 'done';
  t.last_claimed = { ...t.last_claimed, result: { at: iso(now), success: data } };
  t.metadata.modified_at = iso(now);
  t.metadata.version.seq_num++;
  tasks.delete(`${queue}/${id}`);
  return t;
}

function send(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const server = http.createServer((req, res) => {
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => {
    raw += chunk;
  });
  req.on('end', () => {
    const body = raw ? JSON.parse(raw) : undefined;
    const url = req.url ?? '';
    const worker = req.headers['x-tasques-worker-id'];
    if (req.method === 'POST' && url === '/tasques') {
      const task = newTask(body, Date.now());
      enqueue(task);
      return send(res, 201, task);
    }
    if (req.method === 'POST' && url === '/tasques/batch') {
      const now = Date.now();
      const results = body.tasks.map((b) => {
        const task = newTask(b, now);
        enqueue(task);
        return { status: 201, task };
      });
      return send(res, 200, { results });
    }
    if (req.method === 'POST' && url === '/tasques/claims') {
      const amount = body.amount ?? 1;
      const got = claim(amount, worker);
      if (got.length > 0) return send(res, 200, got);
      const blockMs = /^(\d+)s$/.test(body.block_for ?? '') ? Number(body.block_for.slice(0, -1)) * 1000 : 1000;
      const w = {
        wake: () => {
          clearTimeout(w.timer);
          send(res, 200, claim(amount, worker));
        },
        timer: setTimeout(() => {
          waiters.delete(w);
          send(res, 200, []);
        }, blockMs),
      };
      waiters.add(w);
      res.on('close', () => {
        clearTimeout(w.timer);
        waiters.delete(w);
      });
      return;
    }
    if (req.method === 'PUT' && url === '/tasques/done') {
      const results = body.tasks.map((item) => {
        const t = done(item.queue, item.id, item.data);
        return t ? { status: 200, task: t } : { status: 404, error: { message: 'not found' } };
      });
      return send(res, 200, { results });
    }
    const m = /^\/tasques\/(?:(done)\/)?([^/]+)\/([^/]+)$/.exec(url);
    if (m && req.method === 'PUT' && m[1] === 'done') {
      const t = done(decodeURIComponent(m[2]), decodeURIComponent(m[3]), body?.data);
      return t ? send(res, 200, t) : send(res, 404, { message: 'not found' });
    }
    if (m && req.method === 'GET' && !m[1]) return send(res, 404, { message: 'not found' });
    return send(res, 404, { message: 'No such route.' });
  });
});
server.keepAliveTimeout = 72_000;
server.listen(Number(port), host);
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)) && server.closeAllConnections());
