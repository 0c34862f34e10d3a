import { generate } from 'selfsigned';

/** A key and certificate in PEM, for a TLS emulator on loopback. */
export interface TlsCredentials {
  readonly key: string;
  readonly cert: string;
}

let cached: Promise<TlsCredentials> | undefined;

/**
 * A self-signed certificate for `127.0.0.1` and `localhost`, made once per process. The
 * OpenAI and AssemblyAI SDKs insist on `wss://`, so their emulators serve TLS with it; the
 * provider under test trusts it through its `ca` option (or `NODE_EXTRA_CA_CERTS`).
 */
export function loopbackCertificate(): Promise<TlsCredentials> {
  cached ??= generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    notAfterDate: new Date(Date.now() + 2 * 24 * 3600 * 1000),
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  }).then((pems) => ({ key: pems.private, cert: pems.cert }));
  return cached;
}
