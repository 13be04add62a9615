/** The Authorization header and the TLS options of the engine connection (no engine needed). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { authorizationHeader, describeTlsFailure, tlsConnectOptions } from './connection-security.js';

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

  it('leaves other network errors alone', () => {
    assert.equal(describeTlsFailure('ECONNREFUSED', 'https://es:9200'), undefined);
    assert.equal(describeTlsFailure(undefined, 'https://es:9200'), undefined);
  });
});
