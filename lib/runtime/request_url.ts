/**
 * Gives a request the runtime served another URL, for the app and for its
 * clones: the scheme and host a trusted proxy named (worker/front/proxy.ts),
 * an absolute URL for a Bun request without a usable Host (_bun_server.ts).
 * The request itself is kept, with its body, its signal and the runtime's
 * fast paths: a new `Request` cost 27 µs a request on Deno (measured with a
 * hello-world app: 39 µs against 12), most of it in following the
 * original's signal. `new Request(request)` starts again from the URL the
 * runtime parsed, as before.
 *
 * Where `Request.prototype`'s `url` and `clone` can be redefined (Deno),
 * they are, once, the first time a URL is given: the getter returns the
 * URL given to a request if there is one, else the runtime's, and a clone
 * keeps it. A request then costs one store of a symbol-keyed property.
 * Two `Object.defineProperty` calls on each request instead cost 0.26 and
 * 0.19 µs on a request Deno.serve gave (`scripts/bench/request_costs.ts`).
 * Bun's are not configurable; there the two calls cost 0.04 and 0.02 µs.
 * @module
 */

/** The URL given to a request, read by the redefined getter. */
const _URL = Symbol("corral.url");

type _WithUrl = Request & { [_URL]?: string };

/** Whether the prototype's getter reads {@link _URL}: undefined until a first URL is given. */
let _patched: boolean | undefined;

function _patchPrototype(): boolean {
  const proto = Request.prototype;
  const url = Object.getOwnPropertyDescriptor(proto, "url");
  const clone = Object.getOwnPropertyDescriptor(proto, "clone");
  const runtimeUrl = url?.get;
  const runtimeClone = clone?.value as ((this: Request) => Request) | undefined;
  if (!url?.configurable || !clone?.configurable || !runtimeUrl || typeof runtimeClone !== "function") {
    return false;
  }
  // Object literals, so that the functions keep the names the runtime's have ("get url", "clone").
  const get = Object.getOwnPropertyDescriptor({
    get url() {
      return (this as _WithUrl | null)?.[_URL] ?? runtimeUrl.call(this);
    },
  }, "url")?.get as () => string;
  const methods = {
    clone(this: _WithUrl): Request {
      const copy = runtimeClone.call(this) as _WithUrl;
      const given = this[_URL];
      if (given !== undefined) copy[_URL] = given;
      return copy;
    },
  };
  Object.defineProperty(proto, "url", { ...url, get });
  Object.defineProperty(proto, "clone", { ...clone, value: methods.clone });
  return true;
}

function _cloneWithUrl(this: Request): Request {
  return withUrl(Request.prototype.clone.call(this), this.url);
}

/**
 * `request`, with `url` as its `url` and its clones'.
 *
 * @example
 * ```ts
 * const seen = withUrl(request, "https://shop.example/cart");
 * ```
 */
export function withUrl(request: Request, url: string): Request {
  _patched ??= _patchPrototype();
  if (_patched) {
    (request as _WithUrl)[_URL] = url;
    return request;
  }
  // Two defineProperty calls and a shared clone: measured cheaper than
  // defineProperties or a closure per request, on both runtimes.
  Object.defineProperty(request, "url", { value: url, enumerable: true, configurable: true });
  Object.defineProperty(request, "clone", { value: _cloneWithUrl, configurable: true });
  return request;
}
