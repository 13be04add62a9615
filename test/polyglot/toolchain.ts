/**
 * Clients for other languages, generated from the committed openapi.json at test time by the
 * generators that scripts/setup-polyglot.sh installs into build/polyglot/ (git-ignored), and the
 * example's workers built on them. Nothing generated is committed.
 *
 * When a toolchain is missing, `polyglotSkipReason()` says why, so that tests skip with a clear line;
 * with CI=true a missing toolchain is an error instead (CI runs the setup script first).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const BUILD = join(REPO, 'build', 'polyglot');
const PY_GENERATOR = join(BUILD, 'venv', 'bin', 'openapi-python-client');
export const PYTHON = join(BUILD, 'venv', 'bin', 'python');
const GO_GENERATOR = join(BUILD, 'bin', 'oapi-codegen');
const SHOP = join(REPO, 'examples', 'shop');

// Go's default install location, in case the test's PATH lacks it.
if (existsSync('/usr/local/go/bin/go') && !(process.env.PATH ?? '').split(':').includes('/usr/local/go/bin')) {
  process.env.PATH = `${process.env.PATH ?? ''}:/usr/local/go/bin`;
}

function onPath(tool: string): boolean {
  try {
    execFileSync(tool, ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why the polyglot tests cannot run here, or undefined when they can. Throws in CI. */
export function polyglotSkipReason(): string | undefined {
  const missing: string[] = [];
  if (!existsSync(PY_GENERATOR) || !existsSync(PYTHON)) missing.push('openapi-python-client (build/polyglot/venv)');
  if (!existsSync(GO_GENERATOR)) missing.push('oapi-codegen (build/polyglot/bin)');
  if (!onPath('go')) missing.push('go');
  if (missing.length === 0) return undefined;
  const reason = `polyglot toolchain missing: ${missing.join(', ')}; run scripts/setup-polyglot.sh`;
  if (process.env.CI === 'true') throw new Error(reason);
  console.log(`# SKIP ${reason}`);
  return reason;
}

export interface GeneratedWorkers {
  /** Directory to put on PYTHONPATH: holds the generated `tasques_client` package. */
  pythonPath: string;
  /** The example's Python worker script. */
  pythonWorker: string;
  /** The example's Go worker, built against the generated Go client. */
  goWorker: string;
  /** Removes the generated files. */
  dispose(): void;
}

/** Generates the Python and Go clients from openapi.json and builds the example's Go worker on it. */
export function generateWorkers(): GeneratedWorkers {
  const out = join(BUILD, `gen-${process.pid}`);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const spec = join(REPO, 'openapi.json');
  const quiet = { stdio: ['ignore', 'pipe', 'pipe'] as ['ignore', 'pipe', 'pipe'], env: { ...process.env, PATH: `${join(BUILD, 'venv', 'bin')}:${process.env.PATH}` } };

  // Python: openapi-python-client writes a package directory.
  const pythonPath = join(out, 'python');
  mkdirSync(pythonPath);
  execFileSync(PY_GENERATOR, ['generate', '--path', spec, '--meta', 'none', '--output-path', join(pythonPath, 'tasques_client')], quiet);

  // Go: the example worker's module, with the generated package inside it.
  const goDir = join(out, 'worker-go');
  mkdirSync(join(goDir, 'tasquesclient'), { recursive: true });
  for (const f of ['main.go', 'go.mod', 'go.sum']) copyFileSync(join(SHOP, 'worker-go', f), join(goDir, f));
  execFileSync(GO_GENERATOR, ['-package', 'tasquesclient', '-generate', 'types,client', '-o', join(goDir, 'tasquesclient', 'client.gen.go'), spec], quiet);
  const goWorker = join(goDir, 'worker-go');
  execFileSync('go', ['build', '-o', goWorker, '.'], { ...quiet, cwd: goDir });

  return {
    pythonPath,
    pythonWorker: join(SHOP, 'worker-python', 'worker.py'),
    goWorker,
    dispose: () => rmSync(out, { recursive: true, force: true }),
  };
}

/** The environment for a child process, without the test runner's variables. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('TASQUES_SERVER_') || k === 'NODE_TEST_CONTEXT' || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export interface RunningProcess {
  child: ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  /** Resolves once `predicate` holds for the lines seen; rejects if the process exits first or after the deadline. */
  waitForLines(predicate: (lines: string[]) => boolean, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGKILL if still running. */
  kill(): void;
  /** The end of what it wrote on stderr. */
  stderr(): string;
}

/** `--import` argument that loads tsx from this repository whatever the working directory. */
export const TSX_IMPORT = import.meta.resolve('tsx');

/** Spawns a process and follows its stdout line by line (stderr is passed through for diagnosis). */
export function run(command: string, args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string }): RunningProcess {
  const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const w of waiters) w();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      for (const w of waiters) w();
      resolve({ code, signal });
    }),
  );
  return {
    child,
    lines,
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
    stderr: () => stderr,
    waitForLines(predicate, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (predicate(lines)) {
            done();
            resolve();
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`${command} exited (${child.exitCode ?? child.signalCode}); stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${command}: timed out; stdout:\n${lines.join('\n')}\nstderr:\n${stderr}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** Starts `tasques serve` (the real CLI, from dist/) on an ephemeral port; resolves with its URL. */
export async function startServerProcess(
  dir: string,
  env: Record<string, string> = {},
): Promise<{ url: string; process: RunningProcess }> {
  const child = spawn(process.execPath, [join(REPO, 'bin', 'tasques.mjs'), 'serve'], {
    cwd: dir,
    env: childEnv({
      TASQUES_SERVER_BIND_ADDRESS: '127.0.0.1:0',
      TASQUES_SERVER_STORE_SQLITE_PATH: join(dir, 'tasques.db'),
      TASQUES_SERVER_LOGGING_JSON: 'false',
      ...env,
    }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const log: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tasques serve did not start:\n${log.join('\n')}`)), 30_000);
    createInterface({ input: child.stderr! }).on('line', (line) => {
      log.push(line);
      const match = /listening on (http:\/\/[^\s"]+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1] as string);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tasques serve exited with ${code}:\n${log.join('\n')}`));
    });
  });
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  return {
    url,
    process: {
      child,
      lines: log,
      exited,
      kill,
      stderr: () => log.join('\n'),
      waitForLines: () => Promise.reject(new Error('not supported')),
    },
  };
}
