/**
 * The command-line surface a newcomer meets first, through the real `tasques` process: `--version`,
 * each command's own `--help`, and the messages for unknown or misplaced options.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO_ROOT, runCli } from '../helpers/cli.js';

const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

describe('tasques command line', { concurrency: 4 }, () => {
  it('--version and -V print the package version, alone or after a command', async () => {
    for (const args of [['--version'], ['-V'], ['serve', '--version']]) {
      const res = await runCli(args);
      assert.equal(res.code, 0, args.join(' '));
      assert.equal(res.stdout, `${VERSION}\n`);
      assert.equal(res.stderr, '');
    }
  });

  it('each command has its own --help, naming only its own options', async () => {
    const pages: Record<string, { first: RegExp; has: RegExp[]; hasNot: RegExp[] }> = {
      serve: { first: /^Usage: tasques serve /, has: [/--config/, /SIGTERM/], hasNot: [/--kibana/] },
      setup: { first: /^Usage: tasques setup /, has: [/--config/, /--kibana-url URL/, /--kibana-export FILE/], hasNot: [] },
      'show config': { first: /^Usage: tasques show config /, has: [/--config/, /masked/], hasNot: [/--kibana/] },
      version: { first: /^Usage: tasques version/, has: [], hasNot: [/--config/] },
    };
    for (const [command, page] of Object.entries(pages)) {
      for (const flag of ['--help', '-h']) {
        const res = await runCli([...command.split(' '), flag]);
        assert.equal(res.code, 0, `${command} ${flag}`);
        assert.equal(res.stderr, '');
        assert.match(res.stdout, page.first);
        for (const re of page.has) assert.match(res.stdout, re, `${command}: ${re}`);
        for (const re of page.hasNot) assert.doesNotMatch(res.stdout, re, `${command}: ${re}`);
      }
    }
  });

  it('the overview --help points at the per-command pages', async () => {
    const res = await runCli(['--help']);
    assert.equal(res.code, 0);
    assert.match(res.stdout, /`tasques <command> --help`/);
    assert.match(res.stdout, /--version/);
  });

  it('an unknown option names itself and the command, then shows that command usage', async () => {
    const res = await runCli(['setup', '--kibana-urll', 'http://x']);
    assert.equal(res.code, 2);
    assert.equal(res.stdout, '');
    assert.match(res.stderr, /^tasques setup: unknown option --kibana-urll\n\nUsage: tasques setup /);
    // node's own advice about a `--` delimiter does not apply to any command here.
    assert.doesNotMatch(res.stderr, /delimiter/);
    const bare = await runCli(['--frobnicate']);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /^tasques: unknown option --frobnicate\n\nUsage: tasques \[command\]/);
  });

  it('an option of another command says which command it belongs to', async () => {
    const serve = await runCli(['serve', '--kibana-export', 'x.ndjson']);
    assert.equal(serve.code, 2);
    assert.match(
      serve.stderr,
      /^tasques serve: --kibana-export is not an option of this command \(--kibana-url and --kibana-export belong to `tasques setup`\)\n\nUsage: tasques serve /,
    );
    const version = await runCli(['version', '-c', 'x.yaml']);
    assert.equal(version.code, 2);
    assert.match(version.stderr, /^tasques version: --config \(-c\) is not an option of this command \(it belongs to `tasques serve`, `tasques setup`, `tasques show config`\)/);
  });

  it('an option without its value says so', async () => {
    const res = await runCli(['show', 'config', '--config']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /^tasques show config: Option '-c, --config <value>' argument missing\n\nUsage: tasques show config/);
  });
});
