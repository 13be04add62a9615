import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { byBytes } from './requests.js';

/** The reference: compare the UTF-8 encodings. */
const reference = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

describe('byBytes', () => {
  it('orders strings as their UTF-8 bytes, across ASCII, the BMP, surrogate pairs and prefixes', () => {
    const samples = ['', 'a', 'ab', 'b', 'B', 'a\u0000', 'é', 'z', '\u07ff', '\u0800', '\ud7ff', '\ue000', '\uffff', '😀', '😀a', 'a😀', '\u{10000}', '\u{10ffff}', 'ｱ', 'key-10', 'key-9'];
    for (const a of samples) {
      for (const b of samples) {
        assert.equal(Math.sign(byBytes(a, b)), reference(a, b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
      }
    }
  });

  it('sorts like the reference (U+E000–U+FFFF after the supplementary planes in UTF-16, before them in UTF-8)', () => {
    const keys = ['\uffff', '😀', '\ue000', 'b', 'a😀', 'a\uffff', '', 'a'];
    assert.deepEqual([...keys].sort(byBytes), [...keys].sort(reference));
    assert.deepEqual([...keys].sort(byBytes), ['', 'a', 'a\uffff', 'a😀', 'b', '\ue000', '\uffff', '😀']);
  });
});
