import { BerthError } from '../errors.js';
import { formatByteSize } from './byte-size.js';
import { HttpError } from './http-error.js';
import type { RequestContext } from './request-context.js';

/*
 * Request bodies for every route family: read as they stream in and never held beyond
 * the server's limit, cut off when the server shuts down.
 */

/** The 413 of a body over the limit (also used before reading, on Content-Length). */
export function bodyTooLarge(maxBodyBytes: number): HttpError {
  return new HttpError(
    413,
    'BODY_TOO_LARGE',
    `the request body is larger than this server accepts (${formatByteSize(maxBodyBytes)}); send less, or start berth serve with a larger --max-body`,
    { details: { maxBytes: maxBodyBytes } },
  );
}

/** The 503 of a request the server will not finish because it is shutting down. */
export function shuttingDown(): HttpError {
  return new HttpError(503, 'SHUTTING_DOWN', 'berth serve is shutting down; send the request again once it is back', {
    headers: { 'retry-after': '5' },
  });
}

/**
 * The whole request body, at most `ctx.maxBodyBytes`.
 * @throws HttpError BODY_TOO_LARGE (413) past the limit, SHUTTING_DOWN (503) when the
 * server stops meanwhile, BAD_REQUEST when the client goes away mid-body
 */
export function readBody(ctx: RequestContext): Promise<Buffer> {
  const { req, res, maxBodyBytes, signal } = ctx;
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err: Error | undefined): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
      signal.removeEventListener('abort', onShutdown);
      if (err) {
        // Stop taking data in; the server discards or cuts off the rest after answering.
        req.pause();
        reject(err);
      } else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBodyBytes) finish(bodyTooLarge(maxBodyBytes));
      else chunks.push(chunk);
    };
    const onEnd = (): void => finish(undefined);
    const onGone = (): void =>
      finish(new HttpError(400, 'BAD_REQUEST', 'the client closed the connection before the whole body arrived'));
    const onShutdown = (): void => finish(shuttingDown());
    if (signal.aborted) return onShutdown();
    if (req.readableEnded) return resolve(Buffer.alloc(0));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onGone);
    signal.addEventListener('abort', onShutdown, { once: true });
    // The client waits for this before sending (Expect: 100-continue): only now that the
    // body is wanted, so a refusal before reading saves it the upload.
    if (/^100-continue$/i.test(req.headers.expect ?? '') && !res.headersSent) res.writeContinue();
  });
}

/**
 * The request body parsed as JSON; undefined when it is empty.
 * @throws INVALID_ARGUMENT when it is not JSON (`expected` says what to send), and as
 * {@link readBody}
 */
export async function readJsonBody(ctx: RequestContext, expected: string): Promise<unknown> {
  const text = (await readBody(ctx)).toString('utf8');
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new BerthError('INVALID_ARGUMENT', `the request body is not JSON; send ${expected}`);
  }
}
