/** Queue-name rules (spec §2.6): every rule, and every violation collected in rule order. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errors } from '../errors/index.js';
import { MAX_QUEUE_NAME_BYTES, queueNameViolations } from './queue-name.js';

describe('queueNameViolations', () => {
  it('accepts valid names', () => {
    for (const name of [
      'my-little-queue',
      'messages_and_ciphers',
      'run-later',
      'q',
      'a+b',
      'a-',
      'a_',
      '123',
      'q.1',
      '.hidden',
      '...',
      'ünïcödé',
      '日本語',
      'a'.repeat(MAX_QUEUE_NAME_BYTES),
    ]) {
      assert.deepEqual(queueNameViolations(name), [], name);
    }
  });

  it('rejects the empty name, with that reason only', () => {
    assert.deepEqual(queueNameViolations(''), ['Queue name cannot be empty']);
  });

  for (const c of ['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',', '#', ':']) {
    it(`rejects a name containing ${JSON.stringify(c)}`, () => {
      assert.deepEqual(queueNameViolations(`a${c}b`), [`Queue name cannot contain [${c}]`]);
      assert.deepEqual(queueNameViolations(`ab${c}`), [`Queue name cannot contain [${c}]`]);
    });
  }

  it('reports a forbidden character once however often it occurs', () => {
    assert.deepEqual(queueNameViolations('a  b c'), ['Queue name cannot contain [ ]']);
  });

  for (const p of ['_', '-', '+']) {
    it(`rejects a name starting with ${p}`, () => {
      assert.deepEqual(queueNameViolations(`${p}queue`), [`Queue name cannot start with [${p}]`]);
      assert.deepEqual(queueNameViolations(p), [`Queue name cannot start with [${p}]`]);
    });
  }

  it('rejects exactly "." and ".."', () => {
    assert.deepEqual(queueNameViolations('.'), ['Queue name cannot be [.]']);
    assert.deepEqual(queueNameViolations('..'), ['Queue name cannot be [..]']);
  });

  it('rejects upper case anywhere', () => {
    for (const name of ['Queue', 'queuE', 'QUEUE', 'MESSAGES_AND_CIPHERS', 'Ünï']) {
      assert.deepEqual(queueNameViolations(name), ['Queue name must be lower case'], name);
    }
  });

  it(`rejects names longer than ${MAX_QUEUE_NAME_BYTES} UTF-8 bytes`, () => {
    const tooLong = [`Queue name cannot be longer than ${MAX_QUEUE_NAME_BYTES} bytes`];
    assert.deepEqual(queueNameViolations('a'.repeat(MAX_QUEUE_NAME_BYTES + 1)), tooLong);
    // Bytes, not characters: "é" is two bytes in UTF-8.
    assert.deepEqual(queueNameViolations('é'.repeat(MAX_QUEUE_NAME_BYTES / 2)), []);
    assert.deepEqual(queueNameViolations('é'.repeat(MAX_QUEUE_NAME_BYTES / 2 + 1)), tooLong);
  });

  it('collects every violation, in rule order', () => {
    assert.deepEqual(queueNameViolations('_My Queue:#1'), [
      'Queue name cannot contain [ ]',
      'Queue name cannot contain [#]',
      'Queue name cannot contain [:]',
      'Queue name cannot start with [_]',
      'Queue name must be lower case',
    ]);
    assert.deepEqual(queueNameViolations('+Q'), ['Queue name cannot start with [+]', 'Queue name must be lower case']);
    assert.deepEqual(queueNameViolations(`-${'A'.repeat(MAX_QUEUE_NAME_BYTES)}/`), [
      'Queue name cannot contain [/]',
      'Queue name cannot start with [-]',
      'Queue name must be lower case',
      `Queue name cannot be longer than ${MAX_QUEUE_NAME_BYTES} bytes`,
    ]);
    assert.deepEqual(queueNameViolations('\\/*?"<>| ,#:'), [
      ...['\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',', '#', ':'].map((c) => `Queue name cannot contain [${c}]`),
    ]);
  });

  it('builds the v1 error message from the collected reasons', () => {
    const e = errors.invalidQueueName(queueNameViolations('_A'));
    assert.equal(e.status, 400);
    assert.equal(e.message, 'Illegal Queue name: [[Queue name cannot start with [_] Queue name must be lower case]]');
  });
});
