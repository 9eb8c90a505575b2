/**
 * The peers' app on node:http, for Node's cluster module (node_cluster.mjs)
 * and PM2's cluster mode: the routes and bytes of app.ts. Listens on $PORT,
 * or on argv[2].
 *
 * `PORT=8000 node scripts/bench/peers/node_app.mjs`
 * @module
 */
import { createServer } from "node:http";
import process from "node:process";

const HELLO = Buffer.from("Hello, world!\n");
const LARGE = Buffer.alloc(65_536, 0x78);

/** Reads the whole request body. */
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function send(res, status, type, body) {
  res.writeHead(status, { "content-type": type, "content-length": body.length });
  res.end(body);
}

async function handle(req, res) {
  if (req.url === "/" && req.method === "GET") return send(res, 200, "text/plain", HELLO);
  if (req.url === "/64k" && req.method === "GET") return send(res, 200, "application/octet-stream", LARGE);
  if (req.url === "/echo" && req.method === "POST") {
    const body = JSON.stringify(JSON.parse((await readBody(req)).toString("utf8")));
    return send(res, 200, "application/json", Buffer.from(body));
  }
  send(res, 404, "text/plain", Buffer.from("Not Found\n"));
}

const port = Number(process.env.PORT ?? process.argv[2] ?? 8000);
createServer((req, res) => {
  handle(req, res).catch(() => send(res, 400, "text/plain", Buffer.from("Bad Request\n")));
}).listen(port, "127.0.0.1");
