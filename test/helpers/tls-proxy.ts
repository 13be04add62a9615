/**
 * A secured engine for tests: an HTTPS endpoint with a certificate from a throwaway CA, in front of the
 * plain-HTTP test engine, that lets a request through only with the expected API key (as a default
 * Elasticsearch 8 or Elastic Cloud would), and optionally only with a client certificate of that CA.
 *
 * - `makeTestPki()` makes the CA, a server certificate for 127.0.0.1/localhost, a client certificate,
 *   and a second, unrelated CA, with Debian's `openssl`, in a temporary directory.
 * - `startTlsProxy()` listens on 127.0.0.1 (ephemeral port) and forwards every authorised request to
 *   `upstream`; the API key is taken off before forwarding. It counts what it let through and refused.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';

export interface TestPki {
  dir: string;
  /** The CA that signed the server and client certificates. */
  caFile: string;
  /** A CA that signed nothing here: trusting only it must fail. */
  otherCaFile: string;
  serverCert: string;
  serverKey: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** Removes the directory. */
  remove(): void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA and, signed by it, one certificate per `{ name, extensions }`. EC keys: fast to make. */
function makeCa(dir: string, name: string): void {
  openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=Tasques test ${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
}

function makeLeaf(dir: string, ca: string, name: string, extensions: string): void {
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, [
    'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`,
  ]);
  openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`,
  ]);
}

export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'tasques-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  makeLeaf(dir, 'ca', 'server', 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n');
  makeLeaf(dir, 'ca', 'client', 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n');
  return {
    dir,
    caFile: join(dir, 'ca.crt'),
    otherCaFile: join(dir, 'other-ca.crt'),
    serverCert: readFileSync(join(dir, 'server.crt'), 'utf8'),
    serverKey: readFileSync(join(dir, 'server.key'), 'utf8'),
    clientCertFile: join(dir, 'client.crt'),
    clientKeyFile: join(dir, 'client.key'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TlsProxyOptions {
  /** The plain-HTTP engine to forward to. */
  upstream: string;
  pki: TestPki;
  /** The `Authorization` value a request must carry, e.g. `ApiKey <base64>`. */
  authorization: string;
  /** Ask for a client certificate signed by the test CA, and refuse connections without one. */
  requireClientCert?: boolean;
}

export interface TlsProxy {
  /** https://127.0.0.1:<port> */
  url: string;
  /** Requests forwarded to the engine. */
  forwarded: number;
  /** Requests refused for a missing or wrong Authorization header. */
  unauthorized: number;
  /** TCP connections accepted (each attempt of a client that fails its TLS handshake is one). */
  connections: number;
  /** Whether every forwarded request came with a verified client certificate. */
  allHadClientCert: boolean;
  close(): Promise<void>;
}

const UNAUTHORIZED_BODY = JSON.stringify({
  error: {
    type: 'security_exception',
    reason: 'unable to authenticate with provided credentials',
    root_cause: [{ type: 'security_exception', reason: 'unable to authenticate with provided credentials' }],
  },
  status: 401,
});

export async function startTlsProxy(options: TlsProxyOptions): Promise<TlsProxy> {
  const upstream = new URL(options.upstream);
  const agent = new http.Agent({ keepAlive: true });
  const state = { forwarded: 0, unauthorized: 0, connections: 0, allHadClientCert: true };
  const server = https.createServer(
    {
      cert: options.pki.serverCert,
      key: options.pki.serverKey,
      ...(options.requireClientCert
        ? { requestCert: true, rejectUnauthorized: true, ca: readFileSync(options.pki.caFile, 'utf8') }
        : {}),
    },
    (req, res) => {
      if (req.headers.authorization !== options.authorization) {
        state.unauthorized++;
        req.resume();
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'ApiKey' }).end(UNAUTHORIZED_BODY);
        return;
      }
      state.forwarded++;
      if (!(req.socket as TLSSocket).authorized) state.allHadClientCert = false;
      const headers = { ...req.headers, host: upstream.host };
      delete headers.authorization;
      const forward = http.request(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers, agent },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      forward.on('error', (err) => res.destroy(err));
      req.pipe(forward);
    },
  );
  server.on('connection', () => state.connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    get forwarded() {
      return state.forwarded;
    },
    get unauthorized() {
      return state.unauthorized;
    },
    get connections() {
      return state.connections;
    },
    get allHadClientCert() {
      return state.allHadClientCert;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      agent.destroy();
      await closed;
    },
  };
}
