/**
 * The requests a worker has in flight, by the connection they came on:
 * what the connection watcher (runtime/_watcher.ts) asks before it closes a
 * connection as idle or too slow. Listed from the worker's list
 * ({@link InFlightRequests}) only when a look has such a connection.
 * @module
 */
import { peerKey } from "./_tcp_info.ts";
import type { InFlightRequests } from "./types.ts";

/** The requests in flight by peer; `ports`: the peers that cannot be keyed, matched by port only. */
export interface RequestsByPeer {
  readonly byPeer: Map<string, Request>;
  readonly ports: Set<number>;
}

/**
 * A function giving the requests in flight of a list, each list read once
 * (one look's worth).
 */
export function requestsAtApp(): (inFlight: InFlightRequests | undefined) => RequestsByPeer {
  const seen = new Map<InFlightRequests | undefined, RequestsByPeer>();
  return (inFlight) => {
    let found = seen.get(inFlight);
    if (found === undefined) seen.set(inFlight, found = _byPeer(inFlight));
    return found;
  };
}

/**
 * The request in flight on the connection to `peer` (as runtime/_tcp_info.ts
 * keys it): the request; null when one may be (a peer matched only by its
 * port); else undefined.
 */
export function requestOf({ byPeer, ports }: RequestsByPeer, peer: string): Request | null | undefined {
  const peerPort = Number(peer.slice(peer.lastIndexOf("|") + 1));
  return byPeer.get(peer) ?? (ports.has(peerPort) ? null : undefined);
}

/** The requests in flight (and those whose response is being sent) by peer. */
function _byPeer(inFlight: InFlightRequests | undefined): RequestsByPeer {
  const byPeer = new Map<string, Request>();
  const ports = new Set<number>();
  inFlight?.forEach((request, info) => {
    let addr;
    try {
      addr = info.remoteAddr;
    } catch {
      return; // answered meanwhile
    }
    if (addr.transport !== "tcp") return;
    const key = peerKey(addr.hostname, addr.port);
    if (key === null) ports.add(addr.port);
    else byPeer.set(key, request);
  });
  return { byPeer, ports };
}
