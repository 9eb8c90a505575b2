/**
 * A WebSocket echo on either runtime, each through its own API:
 * `Deno.upgradeWebSocket`, or Bun's `server.upgrade()` with the export's
 * `websocket` handlers. Any other request is answered "plain".
 */
interface BunSocket {
  send(message: string | Uint8Array): void;
}

interface BunServer {
  upgrade(request: Request): boolean;
}

export default {
  fetch(request: Request, server: BunServer): Response | undefined {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") return new Response("plain");
    if ("Bun" in globalThis) {
      return server.upgrade(request) ? undefined : new Response("no upgrade", { status: 400 });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.onmessage = (event) => socket.send(event.data);
    return response;
  },
  websocket: {
    message(ws: BunSocket, message: string | Uint8Array): void {
      ws.send(message);
    },
  },
};
