/**
 * What `npm pack` puts in the published `tasques` tarball, from `npm pack --dry-run --json` over the
 * dist/ that `npm test` has just built. The rules are pinned rather than the full list of ~180 files, so
 * that a new module does not need a test change, while a test file, a source map, a stray folder or a
 * missing entry point does fail.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface PackJson {
  name: string;
  version: string;
  files: { path: string; size: number }[];
  unpackedSize: number;
}

/** `npm pack --dry-run --json` of the package in `dir`; scripts off, so it packs what is built. */
export function packDryRun(dir: string): PackJson {
  const res = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  const parsed = JSON.parse(res.stdout) as PackJson[];
  assert.equal(parsed.length, 1);
  return parsed[0] as PackJson;
}

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  exports: Record<string, { types: string; default: string }>;
  license: string;
  repository?: unknown;
  homepage?: string;
  bugs?: unknown;
};

describe('the tasques package (npm pack)', () => {
  const pack = packDryRun(ROOT);
  const paths = pack.files.map((f) => f.path).sort();

  it('ships only the top-level entries pinned here', () => {
    const top = [...new Set(paths.map((p) => p.split('/')[0]))].sort();
    assert.deepEqual(top, ['LICENSE', 'README.md', 'bin', 'dashboard', 'dist', 'openapi.json', 'package.json']);
  });

  it('ships no tests, no source maps and no TypeScript sources', () => {
    assert.deepEqual(
      paths.filter((p) => /\.test\.|\.map$|(^|\/)test\/|(?<!\.d)\.ts$|^src\//.test(p)),
      [],
    );
  });

  it('ships every bin and export target, each export with its type declarations', () => {
    for (const target of Object.values(pkg.bin)) assert.ok(paths.includes(target.replace(/^\.\//, '')), target);
    for (const [name, entry] of Object.entries(pkg.exports)) {
      assert.ok(paths.includes(entry.default.replace(/^\.\//, '')), `${name}: ${entry.default}`);
      assert.ok(paths.includes(entry.types.replace(/^\.\//, '')), `${name}: ${entry.types}`);
    }
  });

  it('ships a declaration next to every compiled module', () => {
    const js = paths.filter((p) => p.startsWith('dist/') && p.endsWith('.js'));
    assert.ok(js.length > 50, `only ${js.length} modules`);
    assert.deepEqual(
      js.filter((p) => !paths.includes(p.replace(/\.js$/, '.d.ts'))),
      [],
    );
  });

  it('ships the whole dashboard the server serves', () => {
    const walk = (dir: string): string[] =>
      readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(`${dir}/${e.name}`) : [`${dir}/${e.name}`],
      );
    assert.deepEqual(
      walk('dashboard').filter((p) => !paths.includes(p)),
      [],
    );
  });

  it('has a licence file and says where the project lives', () => {
    assert.equal(pkg.license, 'MIT');
    assert.match(readFileSync(join(ROOT, 'LICENSE'), 'utf8'), /^MIT License/);
    assert.ok(pkg.repository && pkg.homepage && pkg.bugs, 'repository, homepage and bugs');
  });

  it('stays small (unpacked size under 2 MB)', () => {
    assert.ok(pack.unpackedSize < 2_000_000, `${pack.unpackedSize} bytes`);
  });
});
