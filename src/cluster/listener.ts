/**
 * One port, two protocols: TLS for anyone, plain HTTP only from loopback peers. kubectl and other processes reach
 * the embedded API server over HTTPS (kubectl sends credentials only over TLS, and a token must not cross a
 * network in the clear); clients in the same process or on the same machine may skip the handshake, which costs
 * more than the request itself because client-node opens a new connection per call. Each connection's first byte
 * decides: 0x16 opens a TLS handshake; anything else is plain HTTP, refused unless the peer is loopback.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type Server, type Socket } from 'node:net';

const TLS_HANDSHAKE = 0x16;

const REFUSED = 'HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\nClient sent an HTTP request to an HTTPS server.\n';

/** 127.0.0.0/8 and ::1, as a socket reports its peer (IPv4 peers of a dual-stack socket as ::ffff:127.x). */
function isLoopbackPeer(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || /^(::ffff:)?127\./.test(address);
}

export function dualProtocolServer(handler: (request: IncomingMessage, response: ServerResponse) => void, tls: { cert: string; key: string }): Server {
  const plain = createHttpServer(handler);
  const secure = createHttpsServer(tls, handler);
  return createServer((socket: Socket) => {
    socket.once('readable', () => {
      const first = socket.read(1) as Buffer | null;
      if (first === null) {
        socket.destroy();
        return;
      }
      socket.unshift(first);
      if (first[0] === TLS_HANDSHAKE) secure.emit('connection', socket);
      else if (isLoopbackPeer(socket.remoteAddress)) plain.emit('connection', socket);
      else socket.end(REFUSED);
    });
  });
}
