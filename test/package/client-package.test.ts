/**
 * `@tasques/client` as a user gets it: packs packages/client (`npm pack`, over the dist/ that `npm test`
 * has just built), installs the tarball into an empty project offline (it has nothing to fetch), type-
 * checks the README's Worker snippet there with `strict` and `skipLibCheck: false`, and runs it against a
 * real server: the task it creates gets done, and on SIGTERM the worker stops and the process exits 0.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { childEnv, killAllServers, makeTempDir, REPO_ROOT, startServer, type ServerProcess } from '../helpers/cli.js';

const CLIENT_DIR = join(REPO_ROOT, 'packages', 'client');
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

after(killAllServers);

/** The README's Worker snippet: the ```ts block after the `worker-snippet` marker. */
function readmeWorkerSnippet(): string {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const match = /<!-- worker-snippet:[\s\S]*?-->\n```ts\n([\s\S]*?)```/.exec(readme);
  assert.ok(match, 'README.md has no worker-snippet block');
  return match[1] as string;
}

function run(cmd: string, args: string[], cwd: string): string {
  const res = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: childEnv() });
  assert.equal(res.status, 0, `${cmd} ${args.join(' ')} (in ${cwd}):\n${res.stdout}${res.stderr}`);
  return res.stdout;
}

describe('the @tasques/client package', () => {
  let project: string;
  let tarball: string;
  let packed: string[];

  before(() => {
    const out = makeTempDir('tasques-client-pack-');
    const json = run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', out], CLIENT_DIR);
    const [info] = JSON.parse(json) as { filename: string; files: { path: string }[] }[];
    tarball = join(out, info!.filename);
    packed = info!.files.map((f) => f.path).sort();

    project = makeTempDir('tasques-client-user-');
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'user-project', private: true, type: 'module' }));
    // Offline: the client has no dependencies, so nothing must come from a registry.
    run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], project);
  });

  it('packs only its compiled modules and declarations, README, LICENSE and package.json', () => {
    assert.deepEqual(
      packed.filter((p) => !/^dist\/(client|worker)\/[a-z-]+\.(js|d\.ts)$/.test(p)),
      ['LICENSE', 'README.md', 'package.json'],
    );
    assert.ok(packed.includes('dist/client/index.d.ts') && packed.includes('dist/worker/index.js'));
  });

  it('installs with nothing else in node_modules', () => {
    assert.deepEqual(readdirSync(join(project, 'node_modules')).filter((n) => !n.startsWith('.')), ['@tasques']);
    assert.deepEqual(readdirSync(join(project, 'node_modules', '@tasques')), ['client']);
  });

  it("type-checks the README's Worker snippet with strict and skipLibCheck: false", () => {
    writeTsProject(project, readmeWorkerSnippet());
    // A type error in the snippet, or in the package's declarations, fails here.
    run(process.execPath, [TSC, '-p', 'tsconfig.json'], project);
    assert.ok(existsSync(join(project, 'out', 'worker.js')));
  });

  it('the same type-check fails on a wrong field (the check can fail)', () => {
    const dir = makeTempDir('tasques-client-bad-');
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
    run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], dir);
    writeTsProject(
      dir,
      "import { TasquesClient } from '@tasques/client';\n" +
        "await new TasquesClient({ baseUrl: 'http://x' }).createTask({ queue: 'q', kind: 'k', retries: 3 });\n",
    );
    const res = spawnSync(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8' });
    assert.notEqual(res.status, 0);
    assert.match(res.stdout, /retries/);
  });

  it('runs the snippet against a real server: the task is done, and SIGTERM stops the worker and exits 0', async () => {
    const server = await startServer();
    // The snippet as written, pointed at the test server (the type-check test compiled it to out/).
    const js = readFileSync(join(project, 'out', 'worker.js'), 'utf8').replace("'http://localhost:8080'", `'${server.url}'`);
    assert.notEqual(js, readFileSync(join(project, 'out', 'worker.js'), 'utf8'), 'the snippet names http://localhost:8080');
    writeFileSync(join(project, 'out', 'worker-test.js'), js);

    const child = spawn(process.execPath, [join(project, 'out', 'worker-test.js')], {
      cwd: project,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      // sendWelcomeMail (below) prints this line and then waits for its signal or a short delay.
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no handler run within 15 s; stderr:\n${stderr}`)), 15_000);
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          stdout += d;
          if (stdout.includes('sending to ada@example.com')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.on('exit', () => reject(new Error(`worker exited early; stderr:\n${stderr}`)));
      });
      child.kill('SIGTERM');
      const code = await Promise.race([
        exited,
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error(`worker did not exit within 15 s of SIGTERM; stderr:\n${stderr}`)), 15_000),
        ),
      ]);
      assert.equal(code, 0, stderr);
      // The handler that was running when SIGTERM came finished within the grace period and was recorded.
      const tasks = (await (await server.request('GET', '/tasques?queue=emails')).json()) as {
        tasks: { state: string; last_claimed?: { worker_id: string; result?: { success?: unknown } } }[];
      };
      assert.equal(tasks.tasks.length, 1);
      assert.equal(tasks.tasks[0]!.state, 'done');
      assert.deepEqual(tasks.tasks[0]!.last_claimed?.result?.success, { sent: true });
      assert.equal(tasks.tasks[0]!.last_claimed?.worker_id, 'worker-1');
    } finally {
      child.kill('SIGKILL');
      await stopServer(server);
    }
  });
});

/**
 * A strict TypeScript project in `dir` around `snippet`: ESM (`"type": "module"`, `module: nodenext`),
 * `skipLibCheck: false`, Node's types from this repository (a user installs @types/node). The snippet's
 * own helper, `sendWelcomeMail`, is declared before it: it prints a line, then takes 200 ms (or until
 * aborted), so that SIGTERM arrives while it runs.
 */
function writeTsProject(dir: string, snippet: string): void {
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2023'],
        strict: true,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        skipLibCheck: false,
        types: ['node'],
        typeRoots: [join(REPO_ROOT, 'node_modules', '@types')],
        outDir: 'out',
      },
      files: ['worker.ts'],
    }),
  );
  const prelude = `async function sendWelcomeMail(to: string, options: { signal: AbortSignal }): Promise<void> {
  console.log(\`sending to \${to}\`);
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 200);
    options.signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); });
  });
}
`;
  writeFileSync(join(dir, 'worker.ts'), `${snippet}\n${prelude}`);
}

async function stopServer(server: ServerProcess): Promise<void> {
  server.signal('SIGTERM');
  await server.waitForExit(15_000).catch(() => server.kill());
}
