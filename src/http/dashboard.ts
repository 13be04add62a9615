/**
 * Serves the web dashboard (the top-level `dashboard/` folder: plain HTML, CSS and ES modules, no build
 * step) at `/dashboard/`, and redirects `/` there. The dashboard is a client of the public HTTP API only:
 * it holds no data of its own, so its files are served without auth; the API calls it makes are behind
 * the usual basic auth.
 *
 * The files are read once, when the plugin registers, into an allowlist keyed by their path inside the
 * folder: a request can only ever name one of those keys, so no request path reaches the file system
 * (no traversal, no symlinks followed at request time). The folder is found relative to this module, which
 * is `src/http/` under tsx and `dist/http/` when built: `../../dashboard/` is the same folder for both.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';

export const DASHBOARD_DIR = fileURLToPath(new URL('../../dashboard/', import.meta.url));
export const DASHBOARD_PREFIX = '/dashboard/';
/** The project's mark (the dashboard's favicon), also the Swagger UI's logo and icon. */
export const TASQUES_LOGO_SVG = readFileSync(join(DASHBOARD_DIR, 'favicon.svg'));

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * The page may load only its own files and call only its own origin; inline scripts and styles are not
 * allowed. A second line of defence behind the dashboard's rule of rendering data as text only.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  body: Buffer;
  contentType: string;
  etag: string;
}

/** Every file under `dir` with a known content type, keyed by its `/`-separated path inside `dir`. */
function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  const walk = (folder: string) => {
    for (const name of readdirSync(folder)) {
      if (name.startsWith('.')) continue;
      const path = join(folder, name);
      const stat = statSync(path);
      if (stat.isDirectory()) {
        walk(path);
        continue;
      }
      const contentType = CONTENT_TYPES[extname(name).toLowerCase()];
      if (!stat.isFile() || contentType === undefined) continue;
      const body = readFileSync(path);
      const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
      assets.set(relative(dir, path).split(sep).join('/'), { body, contentType, etag });
    }
  };
  walk(dir);
  return assets;
}

export interface DashboardOptions {
  /** The folder to serve (default: the package's `dashboard/`). */
  dir?: string;
}

export function dashboardRoutes(options: DashboardOptions = {}): FastifyPluginAsync {
  return async (app) => {
    const assets = loadAssets(options.dir ?? DASHBOARD_DIR);
    const hidden = { schema: { hide: true } };

    const send = (reply: FastifyReply, file: string, ifNoneMatch: string | undefined) => {
      const asset = assets.get(file);
      // Anything not in the allowlist is the server's ordinary 404 ({message, code}).
      if (asset === undefined) return reply.callNotFound();
      // Names are not content-hashed, so browsers revalidate every time (a cheap 304) and never run a stale
      // app.js against a newer server.
      void reply
        .header('cache-control', 'no-cache')
        .header('etag', asset.etag)
        .header('x-content-type-options', 'nosniff')
        .header('referrer-policy', 'no-referrer');
      if (asset.contentType.startsWith('text/html')) {
        void reply.header('content-security-policy', CONTENT_SECURITY_POLICY).header('x-frame-options', 'DENY');
      }
      if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((tag) => tag.trim() === asset.etag)) {
        return reply.code(304).send();
      }
      return reply.type(asset.contentType).send(asset.body);
    };

    app.get('/', hidden, async (_request, reply) => reply.redirect(DASHBOARD_PREFIX));
    app.get('/dashboard', hidden, async (_request, reply) => reply.redirect(DASHBOARD_PREFIX));
    app.get<{ Params: { '*': string } }>('/dashboard/*', hidden, async (request, reply) => {
      const file = request.params['*'] === '' ? 'index.html' : request.params['*'];
      return send(reply, file, request.headers['if-none-match']);
    });
  };
}
