// @ts-check
// The dashboard's only way to the server: the public HTTP API (v1 routes and the operator routes of
// docs/design/operator-api.md), same origin, credentials as the browser holds them (basic auth), or a
// bearer token typed into the sign-in field (kept in sessionStorage: this tab only, gone when it closes).

export class ApiError extends Error {
  constructor(status, message, code, challenge) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    /** A 401's WWW-Authenticate: `Basic …` while the server has users, `Bearer …` with tokens only. */
    this.challenge = challenge;
  }
}

const enc = encodeURIComponent;

/** The API root: the dashboard is served at <root>/dashboard/, so the API is one level up. */
const ROOT = new URL('../', location.href.split('#')[0]).pathname.replace(/\/$/, '');

const TOKEN_KEY = 'tasques.dashboard.token';

/** The bearer token of this tab, if one was signed in with. */
export const bearerToken = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? '',
  set: (token) => (token ? sessionStorage.setItem(TOKEN_KEY, token) : sessionStorage.removeItem(TOKEN_KEY)),
};

async function call(method, path, body) {
  let res;
  const token = bearerToken.get();
  try {
    res = await fetch(ROOT + path, {
      method,
      headers: {
        accept: 'application/json',
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, `Cannot reach the server (${e instanceof Error ? e.message : String(e)})`, 'NETWORK');
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
    const code = json && typeof json.code === 'string' ? json.code : undefined;
    throw new ApiError(res.status, message, code, res.headers.get('www-authenticate') ?? undefined);
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
  /** `{queue, id, state, archived, errors: [{at, attempt, worker_id, failure?, timed_out?}], cancellation?}` */
  taskErrors: (queue, id) => call('GET', `/tasques/errors/${enc(queue)}/${enc(id)}`),
  recurring: () => call('GET', '/recurring_tasques'),
  recurringOne: (id) => call('GET', `/recurring_tasques/${enc(id)}`),
  /** `{window, interval_seconds, times, overall, queues, queues_total}`: GET /stats/series (the charts). */
  series: (window = '1h', queue) => call('GET', `/stats/series${query({ window, queue })}`),
  /** `{recurring_tasks: [{id, schedule_expression, …, next_run_at?, last_tick_at?}]}` */
  schedule: () => call('GET', '/schedule'),
  /** `{name, scheme, role, access: [class]}`: who this dashboard is signed in as. */
  whoami: () => call('GET', '/whoami'),
  /** Flow control: `{queue, limits, modified_at?}` and `{queue, limits, claimed, tokens?, throttled_keys, waiting_on_limit}`. */
  queueLimits: (queue) => call('GET', `/queues/${enc(queue)}/limits`),
  queueFlow: (queue, keys) => call('GET', `/queues/${enc(queue)}/flow${query({ keys })}`),
  /** `{holding: [WorkerClaims], holding_count, holding_complete, recent: [WorkerSighting]}`; params: limit, window. */
  workers: (params = {}) => call('GET', `/workers${query(params)}`),
  /** Body `{kind, filter?, dry_run?}`: the count (dry run) or the started Operation. */
  startOperation: (body) => call('POST', '/operations', body),
  operation: (id) => call('GET', `/operations/${enc(id)}`),
  pauseRecurring: (id) => call('PUT', `/recurring_tasques/${enc(id)}/pause`),
  resumeRecurring: (id) => call('PUT', `/recurring_tasques/${enc(id)}/resume`),
  /** Enqueues one task of the recurring task now; the created Task. */
  runRecurring: (id) => call('POST', `/recurring_tasques/${enc(id)}/run`),
  deleteRecurring: (id) => call('DELETE', `/recurring_tasques/${enc(id)}`),
};
