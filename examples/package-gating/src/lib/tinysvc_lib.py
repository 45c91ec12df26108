"""tinysvc: a tiny HTTP service and its command line (the example package of the gating flow).

The service answers GET /health, GET /version (package, version, node) and GET /cluster (the
version every peer of its cluster reports). The command line prints its own version and asks a
running service. Python 3.7+ standard library only.
"""
import argparse
import json
import os
import signal
import socket
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PACKAGE = "tinysvc"
VERSION = "@VERSION@"
DEFAULT_CONFIG = "/etc/tinysvc/tinysvc.json"
DEFAULTS = {"listen": "127.0.0.1", "port": 8090, "node": None, "peers": [], "log": None, "pidfile": None}


def load_config(path):
    """The service's settings: the defaults, then the JSON file `path` (the package's conffile),
    then every `conf.d/*.json` beside it in name order (the site's own settings)."""
    config = dict(DEFAULTS)
    files = [path] if os.path.exists(path) else []
    conf_d = os.path.join(os.path.dirname(path), "conf.d")
    if os.path.isdir(conf_d):
        files += [os.path.join(conf_d, n) for n in sorted(os.listdir(conf_d)) if n.endswith(".json")]
    for name in files:
        with open(name, encoding="utf-8") as f:
            config.update(json.load(f))
    config["node"] = config["node"] or socket.gethostname()
    return config


def fetch(url, timeout=5.0):
    """GET `url` and decode its JSON answer."""
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return json.loads(answer.read().decode("utf-8"))


class Handler(BaseHTTPRequestHandler):
    config = DEFAULTS

    def _send(self, code, body):
        data = (json.dumps(body, sort_keys=True) + "\n").encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 (the http.server name)
        me = {"package": PACKAGE, "version": VERSION, "node": self.config["node"]}
        if self.path == "/health":
            self._send(200, {"status": "ok"})
        elif self.path == "/version":
            self._send(200, me)
        elif self.path == "/cluster":
            nodes = {me["node"]: me["version"]}
            for peer in self.config["peers"]:
                try:
                    other = fetch(peer.rstrip("/") + "/version")
                    nodes[other["node"]] = other["version"]
                except (OSError, ValueError, KeyError) as err:
                    nodes[peer] = "unreachable: %s" % err
            self._send(200, {"node": me["node"], "nodes": nodes})
        else:
            self._send(404, {"error": "no such path: %s" % self.path})

    def log_message(self, fmt, *args):
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))
        sys.stderr.flush()


def serve(argv):
    """tinysvcd [--config FILE] [--daemon]: runs the service until SIGTERM."""
    parser = argparse.ArgumentParser(prog="tinysvcd", description="The tinysvc HTTP service.")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="settings (JSON; default %(default)s)")
    parser.add_argument("--daemon", action="store_true", help="detach (new session) once listening; write the pidfile")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    Handler.config = config
    server = ThreadingHTTPServer((config["listen"], int(config["port"])), Handler)
    if args.daemon:
        if os.fork():
            os._exit(0)
        os.setsid()
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
    if config["log"]:
        out = os.open(config["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
    if config["pidfile"]:
        with open(config["pidfile"], "w", encoding="utf-8") as f:
            f.write("%d\n" % os.getpid())
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stderr.write("tinysvc %s on %s listening on %s:%s\n" % (VERSION, config["node"], config["listen"], config["port"]))
    sys.stderr.flush()
    try:
        server.serve_forever()
    finally:
        server.server_close()
        if config["pidfile"] and os.path.exists(config["pidfile"]):
            os.unlink(config["pidfile"])
    return 0


def cli(argv):
    """tinysvc --version | status URL | cluster URL."""
    parser = argparse.ArgumentParser(prog="tinysvc", description="Ask a tinysvc service.")
    parser.add_argument("--version", action="version", version="%s %s" % (PACKAGE, VERSION))
    sub = parser.add_subparsers(dest="command")
    for name, help_text in (("status", "print what the service at URL reports"), ("cluster", "check every node of URL's cluster runs this version")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("url", nargs="?", default="http://127.0.0.1:8090")
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_usage()
        return 2
    path = "/version" if args.command == "status" else "/cluster"
    try:
        answer = fetch(args.url.rstrip("/") + path)
    except (OSError, ValueError) as err:
        print("tinysvc: %s: %s" % (args.url, err), file=sys.stderr)
        return 1
    print(json.dumps(answer, sort_keys=True))
    if args.command == "cluster":
        wrong = {n: v for n, v in answer["nodes"].items() if v != VERSION}
        if wrong:
            print("tinysvc: nodes not at %s: %s" % (VERSION, json.dumps(wrong, sort_keys=True)), file=sys.stderr)
            return 1
    return 0
