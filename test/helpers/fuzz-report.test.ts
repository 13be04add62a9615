import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { onlyFuzzerCrashed } from './fuzz-report.js';

// The end of schemathesis' console report from a CI round where hypothesis crashed inside itself.
const CRASHED = `
  =================================== SUMMARY ====================================

  API Operations:
    Selected: 37/37
    Tested: 37

  Errors:
    🚫 Runtime Error: 1

  Warnings:
    ⚠️ Missing test data: 9 operations repeatedly returned 404 responses

  Test cases:
    3911 generated, 3911 passed
`;

describe('onlyFuzzerCrashed', () => {
  it("recognises a round whose only error is schemathesis' own runtime error", () => {
    assert.equal(onlyFuzzerCrashed(CRASHED), true);
  });
  it('does not excuse a failed check, a network error or an unavailable server', () => {
    assert.equal(onlyFuzzerCrashed(CRASHED.replace('  Errors:', '  Failures:\n    ❌ Server error: 1\n\n  Errors:')), false);
    assert.equal(onlyFuzzerCrashed(CRASHED.replace('Runtime Error: 1', 'Runtime Error: 1\n    🚫 Network Error: 2')), false);
    assert.equal(onlyFuzzerCrashed(CRASHED.replace('Runtime Error: 1', 'Server Unavailable: 1')), false);
  });
  it('does not excuse a report without a summary (schemathesis did not finish)', () => {
    assert.equal(onlyFuzzerCrashed('Traceback (most recent call last):\n  ...'), false);
  });
});
