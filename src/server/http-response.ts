import type { ServerResponse } from 'node:http';
import { errorAnswer, type ErrorAnswer } from './http-error.js';

/** Answers with a JSON document (and its length, so keep-alive clients need no chunking). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string | readonly string[]> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * Resolves once `res` can take more (its socket drained) or `signal` aborts: a stream to a
 * slow reader waits here instead of buffering without bound.
 */
export function drained(res: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    res.once('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * How a protocol words its errors (Docker's `{"message"}`, libpod's `{"cause", "message",
 * "response"}`): the body of an error and the headers of every answer, sent as exactly
 * `application/json` (the docker CLI reads an error's message only under that type).
 */
export interface ErrorShape {
  body(error: { code: string; message: string }, status: number): unknown;
  headers: Record<string, string>;
}

/**
 * Answers `err` as `{"error":{"code","message","details"}}` with its status, or in the
 * protocol's own `shape`. A response already under way (a stream) cannot change its
 * status: its connection is cut instead.
 */
export function sendError(res: ServerResponse, err: unknown, shape?: ErrorShape): ErrorAnswer {
  const answer = errorAnswer(err);
  // Answered before the whole body arrived (a 413, a refusal before reading): Node would
  // close the connection as soon as the answer is out when the client asked for
  // `Connection: close`, and the client, still sending, could meet a reset before it read
  // the answer. Kept open, the server discards the rest first (http-server.ts, cutOff).
  if (!res.headersSent && res.req !== undefined && !res.req.complete) res.shouldKeepAlive = true;
  if (res.headersSent || res.destroyed) res.destroy();
  else if (shape === undefined) sendJson(res, answer.status, { error: answer.error }, answer.headers);
  else {
    const text = JSON.stringify(shape.body(answer.error, answer.status));
    res.writeHead(answer.status, {
      ...answer.headers,
      ...shape.headers,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  }
  return answer;
}
