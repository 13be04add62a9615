/** Renders docs/reference/config.md from the config schema, so the reference cannot drift from the code. */
import { Kind, type TObject, type TSchema } from '@sinclair/typebox';
import { ENV_PREFIX } from './load.js';
import { ServerConfigSchema } from './schema.js';

interface Row {
  key: string;
  env: string;
  type: string;
  defaultValue: string;
  description: string;
}

function typeOf(schema: TSchema): string {
  const s = schema as TSchema & { format?: string; anyOf?: TSchema[]; const?: unknown };
  if (s.format === 'go-duration') return 'duration';
  if (s.anyOf) return s.anyOf.map((x) => JSON.stringify((x as { const?: unknown }).const)).join(' \\| ');
  if (s[Kind] === 'Array') return 'list';
  return String(s.type ?? s[Kind]).toLowerCase();
}

function rows(schema: TObject, path: string[]): Row[] {
  return Object.entries(schema.properties).flatMap(([key, child]) => {
    const keyPath = [...path, key];
    if (child[Kind] === 'Object') return rows(child as TObject, keyPath);
    const c = child as TSchema & { default?: unknown; description?: string };
    return [
      {
        key: `tasques.server.${keyPath.join('.')}`,
        env: ENV_PREFIX + keyPath.join('_').toUpperCase(),
        type: typeOf(c),
        defaultValue: c.default === undefined ? '' : JSON.stringify(c.default),
        description: (c.description ?? '').replaceAll('|', '\\|'),
      },
    ];
  });
}

export function renderConfigReference(): string {
  const lines = [
    '# Configuration reference',
    '',
    'Generated from `src/config/schema.ts` by `npm run gen:docs`; a test fails if this file is stale.',
    '',
    'Keys nest in YAML as `tasques: server: ...`. Every key can be set from the environment with the',
    'variable shown (lists as JSON, or `name:password,name2:password2` for `basic_auth` and',
    '`name:role:sha256,...` for `bearer_tokens`). Durations are Go duration strings (`300ms`, `5s`, `1h30m`).',
    'Users, tokens and roles: docs/auth.md.',
    '',
    '| key | environment variable | type | default | meaning |',
    '| --- | --- | --- | --- | --- |',
    ...rows(ServerConfigSchema, []).map(
      (r) => `| \`${r.key}\` | \`${r.env}\` | ${r.type} | ${r.defaultValue ? `\`${r.defaultValue}\`` : ''} | ${r.description} |`,
    ),
    '',
  ];
  return lines.join('\n');
}
