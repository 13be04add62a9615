// The image's HEALTHCHECK: GET /healthz on the port the server listens on (from TASQUES_SERVER_BIND_ADDRESS,
// so that changing the port does not break the check). /healthz never touches the store and is outside
// basic auth: it says whether the process serves, not whether the store is up (that is /readyz).
const bind = process.env.TASQUES_SERVER_BIND_ADDRESS ?? '0.0.0.0:8080';
const port = bind.slice(bind.lastIndexOf(':') + 1);
try {
  const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(3000) });
  process.exit(res.ok ? 0 : 1);
} catch {
  process.exit(1);
}
