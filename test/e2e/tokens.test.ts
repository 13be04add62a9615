/**
 * Bearer tokens through the real `tasques` process (docs/auth.md): `token new` and `token hash`, a
 * server configured from the environment's short form, and neither the token nor its hash in
 * `show config` or the server's log.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { killAllServers, runCli, startServer } from '../helpers/cli.js';

after(killAllServers);

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

describe('tasques token', { concurrency: 3 }, () => {
  it('token new prints a fresh random token and its sha256', async () => {
    const [a, b] = await Promise.all([runCli(['token', 'new']), runCli(['token', 'new'])]);
    for (const res of [a, b]) {
      assert.equal(res.code, 0, res.stderr);
      const made = JSON.parse(res.stdout) as { token: string; sha256: string };
      assert.match(made.token, /^tq_[A-Za-z0-9_-]{43}$/);
      assert.equal(made.sha256, sha256(made.token));
    }
    assert.notEqual(JSON.parse(a.stdout).token, JSON.parse(b.stdout).token);
  });

  it('token hash reads the token from stdin and prints its sha256; refuses an empty or spaced one', async () => {
    const res = await runCli(['token', 'hash'], { stdin: 'tq_abc\n' });
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout, `${sha256('tq_abc')}\n`);
    for (const stdin of ['', '\n', 'two words\n']) {
      const bad = await runCli(['token', 'hash'], { stdin });
      assert.equal(bad.code, 2, JSON.stringify(stdin));
      assert.match(bad.stderr, /^tasques token hash: stdin must hold one token/);
    }
    const help = await runCli(['token', 'hash', '--help']);
    assert.match(help.stdout, /^Usage: tasques token hash/);
  });

  it('a server with tokens from the environment authenticates them, with their roles, and never prints them', async () => {
    const reader = 'tq_reader-Xy7Qm2';
    const producer = 'tq_producer-Pw9Ld4';
    const env = {
      TASQUES_SERVER_AUTH_BEARER_TOKENS: `viewer:read:${sha256(reader)},billing:producer:${sha256(producer)}`,
      TASQUES_SERVER_AUTH_BASIC_AUTH: JSON.stringify([{ name: 'ops', password: 'ops-pw-3Kd', role: 'operator' }]),
    };
    const shown = await runCli(['show', 'config'], { env });
    assert.equal(shown.code, 0, shown.stderr);
    const auth = JSON.parse(shown.stdout).tasques.server.auth;
    assert.deepEqual(auth.bearer_tokens, [
      { name: 'viewer', role: 'read', sha256: '******' },
      { name: 'billing', role: 'producer', sha256: '******' },
    ]);
    assert.deepEqual(auth.basic_auth, [{ name: 'ops', password: '******', role: 'operator' }]);

    const server = await startServer({ env: { ...env, TASQUES_SERVER_LOGGING_LEVEL: 'debug' } });
    const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
    const who = await server.request('GET', '/whoami', { headers: bearer(reader) });
    assert.equal(who.status, 200, who.text);
    assert.deepEqual(who.json(), { name: 'viewer', scheme: 'bearer', role: 'read', access: ['read', 'any'] });
    const created = await server.request('POST', '/tasques', { headers: bearer(producer), body: { queue: 'q', kind: 'k', id: 't' } });
    assert.equal(created.status, 201, created.text);
    const readable = await server.request('GET', '/tasques/q/t', { headers: bearer(reader) });
    assert.equal(readable.status, 200);
    const denied = await server.request('POST', '/tasques', { headers: bearer(reader), body: { queue: 'q', kind: 'k' } });
    assert.equal(denied.status, 403);
    assert.equal(denied.json().code, 'TQ_ERR_FORBIDDEN');
    const paused = await server.request('PUT', '/queues/q/pause', {
      headers: { authorization: `Basic ${Buffer.from('ops:ops-pw-3Kd').toString('base64')}` },
    });
    assert.equal(paused.status, 200, paused.text);
    await server.kill();
    for (const secret of [reader, producer, sha256(reader), sha256(producer), 'ops-pw-3Kd']) {
      assert.ok(!server.stderr.includes(secret), `the log holds ${secret}`);
    }
  });
});
