/** The Authorization header and the TLS options of the engine connection (no engine needed). */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { authorizationHeader, describeTlsFailure, tlsConnectOptions } from './connection-security.js';
import { EsHttp } from './http.js';

describe('authorizationHeader', () => {
  it('sends basic auth, an encoded API key as is, and encodes id:api_key', () => {
    assert.equal(authorizationHeader({ username: 'elastic', password: 'pw' }), `Basic ${Buffer.from('elastic:pw').toString('base64')}`);
    assert.equal(authorizationHeader({ apiKey: 'aWQ6a2V5' }), 'ApiKey aWQ6a2V5');
    assert.equal(authorizationHeader({ apiKey: 'id:key' }), `ApiKey ${Buffer.from('id:key').toString('base64')}`);
    assert.equal(authorizationHeader({}), undefined);
    assert.equal(authorizationHeader({ username: '', apiKey: '' }), undefined);
  });

  it('refuses basic auth and an API key together, without echoing either', () => {
    assert.throws(
      () => authorizationHeader({ username: 'elastic', password: 'pw-secret', apiKey: 'key-secret' }),
      (err: Error) => err.message === 'elasticsearch: set either user (basic auth) or api_key, not both',
    );
  });
});

describe('tlsConnectOptions', () => {
  it('verifies certificates unless told not to, with the CA and client pair given', () => {
    assert.deepEqual(tlsConnectOptions(undefined), { rejectUnauthorized: true });
    assert.deepEqual(tlsConnectOptions({ ca: 'CA', cert: 'C', key: 'K' }), { ca: 'CA', cert: 'C', key: 'K', rejectUnauthorized: true });
    assert.deepEqual(tlsConnectOptions({ insecureSkipVerify: true }), { rejectUnauthorized: false });
    assert.throws(() => tlsConnectOptions({ cert: 'C' }), /cert_file and key_file go together/);
  });
});

describe('describeTlsFailure', () => {
  it('says what to configure for an untrusted certificate, a wrong host name and an expired one', () => {
    assert.equal(
      describeTlsFailure('SELF_SIGNED_CERT_IN_CHAIN', 'https://es:9200'),
      'the TLS certificate of https://es:9200 is not trusted (SELF_SIGNED_CERT_IN_CHAIN): set elasticsearch.tls.ca_file to the CA that signed it',
    );
    assert.match(describeTlsFailure('ERR_TLS_CERT_ALTNAME_INVALID', 'https://es:9200')!, /is not issued for this host name/);
    assert.match(describeTlsFailure('CERT_HAS_EXPIRED', 'https://es:9200')!, /renew the engine certificate/);
  });

  it('says so when an https:// address reaches an engine without TLS (a real plain-HTTP listener), without retrying', async () => {
    let requests = 0;
    const plain = http.createServer((_req, res) => {
      requests++;
      res.end('{}');
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const node = `https://127.0.0.1:${(plain.address() as AddressInfo).port}`;
    const client = new EsHttp({ addresses: [node], maxRetries: 3 });
    try {
      await assert.rejects(client.request({ method: 'GET', path: '/' }), (err: Error) => {
        assert.match(err.message, new RegExp(`^GET /: ${node} does not answer with TLS \\(ERR_SSL_[A-Z_]+\\): an engine without TLS needs an http:// address$`));
        return true;
      });
      assert.equal(requests, 0);
    } finally {
      await client.close();
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });

  it('leaves other network errors alone', () => {
    assert.equal(describeTlsFailure('ECONNREFUSED', 'https://es:9200'), undefined);
    assert.equal(describeTlsFailure(undefined, 'https://es:9200'), undefined);
  });

  it('does not throw on a code that is not a string', () => {
    assert.equal(describeTlsFailure(42, 'https://es:9200'), undefined);
    assert.equal(describeTlsFailure(null, 'https://es:9200'), undefined);
    assert.equal(describeTlsFailure({ errno: 1 }, 'https://es:9200'), undefined);
  });
});
