"""The peers' app as WSGI, for Gunicorn: the routes and bytes of app.ts.

`gunicorn -w 2 -b 127.0.0.1:8000 --chdir scripts/peers wsgi_app:app`
"""
import json

HELLO = b"Hello, world!\n"
LARGE = b"x" * 65536


def _reply(start_response, status, content_type, body):
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    method = environ["REQUEST_METHOD"]
    if path == "/" and method == "GET":
        return _reply(start_response, "200 OK", "text/plain", HELLO)
    if path == "/64k" and method == "GET":
        return _reply(start_response, "200 OK", "application/octet-stream", LARGE)
    if path == "/echo" and method == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        data = json.loads(environ["wsgi.input"].read(length))
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        return _reply(start_response, "200 OK", "application/json", body)
    return _reply(start_response, "404 Not Found", "text/plain", b"Not Found\n")
