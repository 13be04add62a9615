/**
 * The OpenAPI document as the route schemas describe it, from an app built over a throwaway store: the
 * committed openapi.json. It describes basic auth and bearer tokens as optional; a running server serves
 * the variant that matches its configuration (no security without auth, the Swagger UI then has no
 * Authorize button).
 */
import { systemClock } from '../service/clock.js';
import { validateConfig } from '../config/load.js';
import { engineSettings } from './engine-settings.js';
import { VERSION } from './server.js';
import { TaskEngine } from '../engine/task-engine.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { buildApp } from '../http/app.js';

export async function generateOpenApiDocument(): Promise<unknown> {
  const config = validateConfig({});
  const store = new SqliteStore({ path: ':memory:' });
  const app = await buildApp({
    engine: new TaskEngine(store, engineSettings(config), systemClock),
    bodyLimitBytes: config.tasks.limits.body_limit_bytes,
    version: VERSION,
    documentOptionalAuth: true,
  });
  await app.ready();
  const document = app.swagger();
  await app.close();
  await store.close();
  return document;
}
