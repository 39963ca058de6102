import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { ServerOptions } from 'node:https';
import { createSecureContext } from 'node:tls';
import { BerthError } from '../errors.js';

/*
 * The TLS side of `berth serve`: PEM certificate and key, and optionally the CA whose
 * client certificates are required. Checked before anything is bound, so a wrong file
 * is a startup error that names it rather than a handshake failure later.
 */

/** PEM contents (not paths) of the server's certificate chain, its key and the client CA. */
export interface ServeTls {
  cert: string | Buffer;
  key: string | Buffer;
  /** When given, clients must present a certificate signed by one of these CAs. */
  clientCa?: string | Buffer;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function certificates(pem: string | Buffer, what: string): X509Certificate[] {
  const blocks = String(pem).match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) {
    throw new BerthError('INVALID_ARGUMENT', `the ${what} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return blocks.map((block) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      throw new BerthError('INVALID_ARGUMENT', `the ${what} holds a damaged certificate: ${(err as Error).message}`, {
        cause: err,
      });
    }
  });
}

/**
 * Node's https options for `tls`, after checking that each part is what it claims.
 * @throws INVALID_ARGUMENT naming the part that is not a usable certificate, key or CA
 */
export function secureServerOptions(tls: ServeTls): ServerOptions {
  certificates(tls.cert, 'TLS certificate (--tls-cert)');
  try {
    createPrivateKey(tls.key);
  } catch (err) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `the TLS key (--tls-key) is not an unencrypted PEM private key: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (tls.clientCa !== undefined) certificates(tls.clientCa, 'client CA (--tls-client-ca)');
  const options: ServerOptions = {
    cert: tls.cert,
    key: tls.key,
    minVersion: 'TLSv1.2',
    ...(tls.clientCa !== undefined ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
  };
  try {
    createSecureContext(options);
  } catch (err) {
    throw new BerthError(
      'INVALID_ARGUMENT',
      `the TLS certificate (--tls-cert) and key (--tls-key) do not work together (is the key the certificate's?): ${(err as Error).message}`,
      { cause: err },
    );
  }
  return options;
}
