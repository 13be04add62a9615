/** The engine's settings from the config, and the conformance suite's copy of their defaults. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../config/load.js';
import { SERVER_DEFAULT_SETTINGS } from '../store-conformance/helpers.js';
import { engineSettings } from './engine-settings.js';

describe('engineSettings', () => {
  it('gives the config defaults that the conformance suite runs with (its copy has not drifted)', () => {
    assert.deepEqual(engineSettings(validateConfig({})), SERVER_DEFAULT_SETTINGS);
  });

  it('maps the tasks.* keys', () => {
    const settings = engineSettings(
      validateConfig({ tasks: { defaults: { block_for: '2s', claim_amount: 7 }, backoff: { max: '1h' } } }),
    );
    assert.equal(settings.defaultBlockForMs, 2000);
    assert.equal(settings.defaultClaimAmount, 7);
    assert.equal(settings.backoff.maxSeconds, 3600);
  });
});
