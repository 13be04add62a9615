/**
 * How the store proves who it is to the engine and checks who the engine is: the Authorization header
 * (basic auth or an API key) and the TLS options of HTTPS connections. Kept apart from the transport
 * (http.ts) so that either can change without the other.
 *
 * - Credentials live only in the header value built here; no error or log line is built from them.
 * - TLS material arrives as PEM contents: reading files (and naming the config key that points at a bad
 *   one) is the composition root's job.
 * - A certificate the configured CA does not vouch for is a configuration error, not a network blip: it
 *   is reported at once, with what to set, and never retried.
 */
import type { ConnectionOptions } from 'node:tls';
import { Agent } from 'undici';

export interface EsCredentials {
  username?: string | undefined;
  password?: string | undefined;
  /**
   * An Elasticsearch API key: the base64 `encoded` value Elasticsearch returns (and Elastic Cloud shows),
   * or `id:api_key`, which is encoded here.
   */
  apiKey?: string | undefined;
}

export interface EsTlsOptions {
  /** PEM of the CA(s) that sign the engine's certificate; the system's trust store when unset. */
  ca?: string | undefined;
  /** PEM client certificate and key, for engines that ask for one (mutual TLS). */
  cert?: string | undefined;
  key?: string | undefined;
  /** Accept any certificate. Only for a throwaway engine: it gives up knowing who holds the key. */
  insecureSkipVerify?: boolean | undefined;
}

/** The Authorization header value, or undefined for an engine without security. */
export function authorizationHeader(credentials: EsCredentials): string | undefined {
  const hasUser = credentials.username !== undefined && credentials.username !== '';
  const hasApiKey = credentials.apiKey !== undefined && credentials.apiKey !== '';
  if (hasUser && hasApiKey) {
    throw new Error('elasticsearch: set either user (basic auth) or api_key, not both');
  }
  if (hasApiKey) return `ApiKey ${encodeApiKey(credentials.apiKey!)}`;
  if (hasUser) return `Basic ${Buffer.from(`${credentials.username}:${credentials.password ?? ''}`).toString('base64')}`;
  return undefined;
}

/** `id:key` is encoded; anything else is taken as the already encoded value (base64 has no colon). */
function encodeApiKey(apiKey: string): string {
  const trimmed = apiKey.trim();
  return trimmed.includes(':') ? Buffer.from(trimmed).toString('base64') : trimmed;
}

/** Whether any TLS option is set (for the check that the addresses use HTTPS). */
export function hasTlsOptions(tls: EsTlsOptions | undefined): boolean {
  return tls !== undefined && (tls.ca !== undefined || tls.cert !== undefined || tls.key !== undefined || tls.insecureSkipVerify === true);
}

/**
 * The options of `tls.connect` for HTTPS connections to the engine (the same names serve an undici
 * Agent's `connect` and a node:https Agent). Plain-HTTP addresses ignore them.
 */
export function tlsConnectOptions(tls: EsTlsOptions | undefined): ConnectionOptions {
  if ((tls?.cert === undefined) !== (tls?.key === undefined)) {
    throw new Error('elasticsearch.tls: cert_file and key_file go together (a client certificate needs its key)');
  }
  return {
    ...(tls?.ca !== undefined ? { ca: tls.ca } : {}),
    ...(tls?.cert !== undefined ? { cert: tls.cert, key: tls.key } : {}),
    rejectUnauthorized: tls?.insecureSkipVerify !== true,
  };
}

/** The connection pool requests go through, with the TLS options applied to every HTTPS connection. */
export function esDispatcher(tls: EsTlsOptions | undefined): Agent {
  return new Agent({ connect: tlsConnectOptions(tls) });
}

/** OpenSSL's codes for a certificate chain that does not verify, or a name that does not match. */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** OpenSSL's codes for a peer that answered a TLS hello with something else (plain HTTP). */
const NOT_TLS_CODES = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST']);

/**
 * A clear account of a TLS failure (the engine's certificate is not trusted, or the engine refused
 * ours), or undefined when the error is something else. Such a request never reached the engine.
 */
export function describeTlsFailure(code: unknown, node: string): string | undefined {
  // Some errors carry a numeric `code` (or none): only OpenSSL's string codes say anything about TLS.
  if (typeof code !== 'string') return undefined;
  if (CERTIFICATE_CODES.has(code)) {
    const what = code === 'ERR_TLS_CERT_ALTNAME_INVALID' ? 'is not issued for this host name' : 'is not trusted';
    const fix =
      code === 'ERR_TLS_CERT_ALTNAME_INVALID'
        ? 'address the engine by a name its certificate lists'
        : code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID'
          ? 'renew the engine certificate'
          : 'set elasticsearch.tls.ca_file to the CA that signed it';
    return `the TLS certificate of ${node} ${what} (${code}): ${fix}`;
  }
  if (NOT_TLS_CODES.has(code)) {
    return `${node} does not answer with TLS (${code}): an engine without TLS needs an http:// address`;
  }
  if (code.startsWith('ERR_SSL_') || code === 'ERR_TLS_HANDSHAKE_TIMEOUT' || code === 'EPROTO') {
    return `TLS handshake with ${node} failed (${code}): if the engine asks for a client certificate, set elasticsearch.tls.cert_file and key_file`;
  }
  return undefined;
}
