/** Reading a peer's HTTP reply with a bound, for the calls our servers make to webhooks and extenders. */
import type { ClientRequest, IncomingMessage } from 'node:http';

/**
 * Collects `res`'s body as text and hands it to `done`; past `maxBytes` the request is destroyed with an error
 * naming the limit, so a peer cannot make us hold an unbounded reply.
 */
export function collectReplyBody(req: ClientRequest, res: IncomingMessage, maxBytes: number, done: (text: string) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > maxBytes) req.destroy(new Error(`the reply is larger than ${maxBytes} bytes`));
    else chunks.push(chunk);
  });
  res.on('end', () => done(Buffer.concat(chunks).toString('utf8')));
}
