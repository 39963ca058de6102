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
 * Answers `err` as `{"error":{"code","message","details"}}` with its status. A response
 * already under way (a stream) cannot change its status: its connection is cut instead.
 */
export function sendError(res: ServerResponse, err: unknown): ErrorAnswer {
  const answer = errorAnswer(err);
  if (res.headersSent || res.destroyed) res.destroy();
  else sendJson(res, answer.status, { error: answer.error }, answer.headers);
  return answer;
}
