// The dashboard's only way to the server: the public HTTP API (v1 routes and the operator routes of
// docs/design/operator-api.md), same origin, credentials as the browser holds them (basic auth).

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

const enc = encodeURIComponent;

/** The API root: the dashboard is served at <root>/dashboard/, so the API is one level up. */
const ROOT = new URL('../', location.href.split('#')[0]).pathname.replace(/\/$/, '');

async function call(method, path, body) {
  let res;
  try {
    res = await fetch(ROOT + path, {
      method,
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, `Cannot reach the server (${e.message})`, 'NETWORK');
  }
  const text = await res.text();
  let json;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const message = json && typeof json.message === 'string' ? json.message : `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, message, json && typeof json.code === 'string' ? json.code : undefined);
  }
  return json;
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

export const api = {
  /** `{queues: [QueueStats]}` */
  queues: (window = '5m') => call('GET', `/queues${query({ window })}`),
  pauseQueue: (queue) => call('PUT', `/queues/${enc(queue)}/pause`),
  resumeQueue: (queue) => call('PUT', `/queues/${enc(queue)}/resume`),
  /** `{tasks: [Task], next_cursor?}`; filters: queue, state, kind, recurring_task_id, created_after, created_before, prefix, limit, cursor. */
  tasks: (filters) => call('GET', `/tasques${query(filters)}`),
  task: (queue, id) => call('GET', `/tasques/${enc(queue)}/${enc(id)}`),
  archivedTask: (queue, id) => call('GET', `/tasques/archived/${enc(queue)}/${enc(id)}`),
  retryTask: (queue, id) => call('PUT', `/tasques/retry/${enc(queue)}/${enc(id)}`),
  cancelTask: (queue, id, reason) =>
    call('PUT', `/tasques/cancel/${enc(queue)}/${enc(id)}`, reason ? { reason } : {}),
  recurring: () => call('GET', '/recurring_tasques'),
  recurringOne: (id) => call('GET', `/recurring_tasques/${enc(id)}`),
  /** `{recurring_tasks: [{id, schedule_expression, …, next_run_at?, last_tick_at?}]}` */
  schedule: () => call('GET', '/schedule'),
  /** Flow control: `{queue, limits, modified_at?}` and `{queue, limits, claimed, tokens?, throttled_keys, waiting_on_limit}`. */
  queueLimits: (queue) => call('GET', `/queues/${enc(queue)}/limits`),
  queueFlow: (queue, keys) => call('GET', `/queues/${enc(queue)}/flow${query({ keys })}`),
};
