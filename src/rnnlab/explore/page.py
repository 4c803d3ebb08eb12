"""Assemble the self-contained HTML page and write it; serve it on 127.0.0.1 when asked.

Everything is inline: the JSON description, the arrays (deflate-compressed,
base64), the script and the styles. The page opens from file:// with no
network; it decompresses with the browser's own DecompressionStream.
"""

import base64
import functools
import json
import os
import zlib
from importlib import resources

from ..io.atomic import write_text

GENERATOR = "rnnlab explore"


@functools.cache
def _asset(name):
    return resources.files(__package__).joinpath("assets", name).read_text(encoding="utf-8")


def _script_safe(json_text):
    # inside <script>, "</script>" or "<!--" in the text would end or confuse the element; "<" occurs
    # in JSON only inside strings, where \u003c is the same character
    return json_text.replace("<", "\\u003c")


def html(meta, blob, title):
    """The page as a string. meta: JSON-ready dict (data.py); blob: the bytes it points into."""
    data = base64.b64encode(zlib.compress(blob, 6)).decode("ascii")
    parts = {
        "@CSS@": _asset("explore.css"),
        "@JS@": _asset("explore.js"),
        "@META@": _script_safe(json.dumps(meta, ensure_ascii=False, separators=(",", ":"), allow_nan=False)),
        "@BLOB@": data,
        "@ENCODING@": "deflate",
    }
    page = _asset("page.html").replace("@TITLE@", _escape(title))
    # one pass over the template, so that no inserted text is itself searched for placeholders
    out, rest = [], page
    while True:
        hits = [(rest.find(k), k) for k in parts if rest.find(k) >= 0]
        if not hits:
            out.append(rest)
            return "".join(out)
        at, key = min(hits)
        out += [rest[:at], parts[key]]
        rest = rest[at + len(key) :]


def _escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def write(path, meta, blob, title):
    """Write the page to path atomically (a temporary file beside it, then a rename); returns path."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path}: folder {folder} does not exist")
    write_text(path, html(meta, blob, title))
    return path


def serve(path, port=0):
    """Serve the one page on 127.0.0.1 with the standard library; returns (server, url).

    Only the page is served (at / and at its name); every other path is a 404,
    so nothing else in its folder is exposed. Call server.serve_forever() to
    answer requests and server.server_close() to stop.
    """
    import http.server  # only when serving

    path = os.path.abspath(path)
    with open(path, "rb") as fh:
        body = fh.read()
    name = "/" + os.path.basename(path)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path.split("?")[0] not in ("/", name):
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # quiet: the command prints the address once
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    return server, f"http://127.0.0.1:{server.server_address[1]}{name}"
