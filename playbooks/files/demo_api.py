#!/usr/bin/env python3
"""demo-api: the small service the demo scenario deploys on its undercloud.

Overcloud nodes register with it over HTTP and receive their config. Python 3.7+ stdlib only.

  GET  /health         {"status": "ok", "release": "1.0", "nodes": 2}
  GET  /version        {"release": "2.0", "history": ["1.0", "2.0"]}
  GET  /nodes          {"nodes": [NODE, ...]}  (sorted by name)
  GET  /nodes/NAME     NODE, or 404
  POST /register       {"name", "role", "address"?, "settings"?} -> NODE (201 new, 200 known)
                       as user `admin` (HTTP Basic) when the config has admin_password_sha256

  NODE = {"node_id", "name", "role", "address", "settings", "registered_release"}

A node's settings are its role's settings from the config, with the ones it asked for on top
(only settings its role has, of the same type). Registrations live in a JSON state file, written
atomically, so a restart or an upgrade to another release keeps them.

Usage: demo_api.py --config FILE [--daemon]
  --daemon  detach (new session, stdio to the log file) and return once the server listens;
            exits 1 with the reason if it cannot start.
The config file (JSON) names: release, listen {address, port}, state_file, log_file, pid_file,
roles {ROLE: {SETTING: VALUE}}, and admin_password_sha256 (the hex SHA-256 of the admin password
registering needs, or null for open registration; the password itself is never stored).
SIGTERM or SIGINT stops the server and removes its pid file.
"""

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import signal
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOG = logging.getLogger('demo-api')
NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$')
SHA256_RE = re.compile(r'^[0-9a-f]{64}$')
MAX_BODY = 64 * 1024
STATE_SCHEMA = 1


class ConfigError(Exception):
    """The config file is missing, unreadable or wrong."""


class StateError(Exception):
    """The state file exists but cannot be used."""


class RequestError(Exception):
    """A client error, answered with its HTTP status and message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Shutdown(BaseException):
    """Raised in the main thread by SIGTERM/SIGINT to leave serve_forever."""


def load_config(path):
    """Reads and checks the config file; raises ConfigError naming the file and the field."""
    try:
        with open(path, encoding='utf-8') as f:
            config = json.load(f)
    except (OSError, ValueError) as e:
        raise ConfigError(f'{path}: cannot read the config: {e}') from e
    problems = []
    if not isinstance(config, dict):
        raise ConfigError(f'{path}: the config must be a JSON object')
    for key in ('release', 'state_file', 'log_file', 'pid_file'):
        if not isinstance(config.get(key), str) or not config[key]:
            problems.append(f'"{key}" must be a non-empty string')
    listen = config.get('listen')
    if not isinstance(listen, dict) or not isinstance(listen.get('address'), str):
        problems.append('"listen.address" must be a string')
    elif not isinstance(listen.get('port'), int) or not 0 < listen['port'] < 65536:
        problems.append(f'"listen.port" must be a port number, not {listen.get("port")!r}')
    password_hash = config.get('admin_password_sha256')
    if password_hash is not None and not (isinstance(password_hash, str) and SHA256_RE.match(password_hash)):
        problems.append('"admin_password_sha256" must be null or a hex SHA-256 digest')
    roles = config.get('roles')
    if not isinstance(roles, dict) or not roles or not all(isinstance(v, dict) for v in roles.values()):
        problems.append('"roles" must map each role name to an object of settings')
    if problems:
        raise ConfigError(f'{path}: ' + '; '.join(problems))
    return config


def same_type(default, value):
    """Whether a requested setting may replace its role default (ints may stand for floats)."""
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return type(default) is type(value)


class Store:
    """The registrations, kept in memory and saved to the state file on every change."""

    def __init__(self, path, release, roles):
        self.path = path
        self.release = release
        self.roles = roles
        self.lock = threading.Lock()
        self.state = self._load()
        history = self.state['history']
        if not history or history[-1] != release:
            history.append(release)
            self._save()

    def _load(self):
        try:
            with open(self.path, encoding='utf-8') as f:
                state = json.load(f)
        except FileNotFoundError:
            return {'schema': STATE_SCHEMA, 'next_id': 1, 'nodes': {}, 'history': []}
        except (OSError, ValueError) as e:
            raise StateError(f'{self.path}: cannot read the state file: {e}; fix or remove it') from e
        if not isinstance(state, dict) or state.get('schema') != STATE_SCHEMA:
            raise StateError(f'{self.path}: not a demo-api state file of schema {STATE_SCHEMA}')
        return state

    def _save(self):
        tmp = f'{self.path}.{os.getpid()}.tmp'
        with open(tmp, 'w', encoding='utf-8') as f:
            json.dump(self.state, f, indent=2, sort_keys=True)
            f.write('\n')
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def history(self):
        with self.lock:
            return list(self.state['history'])

    def nodes(self):
        with self.lock:
            return [self.state['nodes'][name] for name in sorted(self.state['nodes'])]

    def node(self, name):
        with self.lock:
            return self.state['nodes'].get(name)

    def register(self, request):
        """Registers (or re-registers) a node; returns (node, created)."""
        if not isinstance(request, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, 'the body must be a JSON object')
        name, role = request.get('name'), request.get('role')
        address, wanted = request.get('address', ''), request.get('settings', {})
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise RequestError(HTTPStatus.BAD_REQUEST, f'"name" must be a host name, not {name!r}')
        if role not in self.roles:
            raise RequestError(HTTPStatus.BAD_REQUEST, f'"role" must be one of {sorted(self.roles)}, not {role!r}')
        if not isinstance(address, str):
            raise RequestError(HTTPStatus.BAD_REQUEST, f'"address" must be a string, not {address!r}')
        if not isinstance(wanted, dict):
            raise RequestError(HTTPStatus.BAD_REQUEST, '"settings" must be an object')
        defaults = self.roles[role]
        for key, value in wanted.items():
            if key not in defaults:
                raise RequestError(HTTPStatus.BAD_REQUEST, f'role {role} has no setting "{key}" (it has {sorted(defaults)})')
            if not same_type(defaults[key], value):
                raise RequestError(HTTPStatus.BAD_REQUEST, f'setting "{key}" must be of type {type(defaults[key]).__name__}, not {value!r}')
        settings = {**defaults, **wanted}
        with self.lock:
            known = self.state['nodes'].get(name)
            if known and known['role'] != role:
                raise RequestError(HTTPStatus.CONFLICT, f'{name} is already registered as {known["role"]}')
            if known and known['address'] == address and known['settings'] == settings:
                return known, False
            node = {
                'node_id': known['node_id'] if known else f'node-{self.state["next_id"]:04d}',
                'name': name,
                'role': role,
                'address': address,
                'settings': settings,
                'registered_release': known['registered_release'] if known else self.release,
            }
            if not known:
                self.state['next_id'] += 1
            self.state['nodes'][name] = node
            self._save()
            return node, known is None


class DemoServer(ThreadingHTTPServer):
    """The HTTP server, with the release it serves and the store of registrations."""

    daemon_threads = True

    def __init__(self, address, release, password_hash=None):
        super().__init__(address, Handler)
        self.release = release
        self.password_hash = password_hash
        self.store = None

    def authorized(self, header):
        """Whether an Authorization header is user admin's Basic credentials (always, if no password is set)."""
        if self.password_hash is None:
            return True
        scheme, _, credentials = (header or '').partition(' ')
        try:
            user, _, password = base64.b64decode(credentials.strip(), validate=True).decode('utf-8').partition(':')
        except (binascii.Error, UnicodeDecodeError):
            return False
        digest = hashlib.sha256(password.encode('utf-8')).hexdigest()
        return scheme.lower() == 'basic' and user == 'admin' and hmac.compare_digest(digest, self.password_hash)


class Handler(BaseHTTPRequestHandler):
    """Routes the API's requests and answers JSON."""

    protocol_version = 'HTTP/1.1'

    def version_string(self):
        return f'demo-api/{self.server.release}'

    def do_GET(self):
        self._answer(self._get)

    def do_POST(self):
        self._answer(self._post)

    def _get(self):
        store, release = self.server.store, self.server.release
        path = self.path.split('?', 1)[0].rstrip('/') or '/'
        if path == '/health':
            return HTTPStatus.OK, {'status': 'ok', 'release': release, 'nodes': len(store.nodes())}
        if path == '/version':
            return HTTPStatus.OK, {'release': release, 'history': store.history()}
        if path == '/nodes':
            return HTTPStatus.OK, {'nodes': store.nodes()}
        if path.startswith('/nodes/'):
            node = store.node(path[len('/nodes/'):])
            if node is None:
                raise RequestError(HTTPStatus.NOT_FOUND, f'no node {path[len("/nodes/"):]!r} is registered')
            return HTTPStatus.OK, node
        raise RequestError(HTTPStatus.NOT_FOUND, f'no such resource: GET {path}')

    def _post(self):
        if self.path.rstrip('/') != '/register':
            raise RequestError(HTTPStatus.NOT_FOUND, f'no such resource: POST {self.path}')
        if not self.server.authorized(self.headers.get('Authorization')):
            raise RequestError(HTTPStatus.UNAUTHORIZED, 'registering needs the admin password (HTTP Basic, user admin)')
        try:
            length = int(self.headers.get('Content-Length', ''))
        except ValueError:
            raise RequestError(HTTPStatus.LENGTH_REQUIRED, 'send a Content-Length') from None
        if not 0 <= length <= MAX_BODY:
            raise RequestError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f'the body must be at most {MAX_BODY} bytes')
        try:
            request = json.loads(self.rfile.read(length) or b'null')
        except ValueError as e:
            raise RequestError(HTTPStatus.BAD_REQUEST, f'the body is not JSON: {e}') from None
        node, created = self.server.store.register(request)
        if created:
            LOG.info('registered %s (%s) as %s', node['name'], node['role'], node['node_id'])
        return (HTTPStatus.CREATED if created else HTTPStatus.OK), node

    def _answer(self, route):
        try:
            status, body = route()
        except RequestError as e:
            status, body = e.status, {'error': str(e)}
        except Exception as e:  # a bug: answer 500 and keep serving
            LOG.exception('%s %s failed', self.command, self.path)
            status, body = HTTPStatus.INTERNAL_SERVER_ERROR, {'error': f'internal error: {e}'}
        data = (json.dumps(body, indent=2, sort_keys=True) + '\n').encode('utf-8')
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        if status >= 400:  # a request body may be left unread: do not reuse the connection
            self.send_header('Connection', 'close')
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        LOG.info('%s %s', self.address_string(), format % args)



def daemonize(log_file):
    """Detaches into a new session; the caller's process waits for `ready` and exits with it.

    Returns, in the daemon, the pipe to report readiness on (see `report`)."""
    read_end, write_end = os.pipe()
    child = os.fork()
    if child > 0:
        os.close(write_end)
        with os.fdopen(read_end, 'rb') as pipe:
            message = pipe.read().decode('utf-8', 'replace')
        os.waitpid(child, 0)
        if message.startswith('ready '):
            print(message[len('ready '):], end='', flush=True)
            os._exit(0)
        sys.stderr.write(message or f'demo-api: the server exited while starting; see {log_file}\n')
        os._exit(1)
    os.close(read_end)
    os.setsid()
    if os.fork() > 0:
        os._exit(0)
    os.chdir('/')
    null = os.open(os.devnull, os.O_RDONLY)
    log = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(null)
    os.close(log)
    return write_end


def report(pipe, message):
    """Tells the waiting parent (if daemonized) that the server is ready."""
    if pipe is not None:
        os.write(pipe, message.encode('utf-8'))
        os.close(pipe)


def fail(pipe, message):
    """Ends a server that cannot start; a daemon's parent reports `message` once this process is gone."""
    if pipe is None:
        print(message, end='', file=sys.stderr)
        return 1
    os.write(pipe, message.encode('utf-8'))
    logging.shutdown()
    os._exit(1)  # the pipe closes as the process ends: the parent exits after it


def write_pid_file(path):
    tmp = f'{path}.{os.getpid()}.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(f'{os.getpid()}\n')
    os.replace(tmp, path)


def remove_pid_file(path):
    """Removes the pid file if it still names this process."""
    try:
        with open(path, encoding='utf-8') as f:
            if f.read().strip() == str(os.getpid()):
                os.remove(path)
    except OSError:
        pass


def stop(signum, frame):
    raise Shutdown(signal.Signals(signum).name)


def main(argv=None):
    parser = argparse.ArgumentParser(description='The demo scenario\'s registration API.')
    parser.add_argument('--config', required=True, help='the JSON config file')
    parser.add_argument('--daemon', action='store_true', help='detach and return once listening')
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(f'demo-api: {e}', file=sys.stderr)
        return 2

    pipe = daemonize(config['log_file']) if args.daemon else None
    logging.basicConfig(filename=config['log_file'], level=logging.INFO,
                        format='%(asctime)s %(levelname)s [%(process)d] %(message)s')
    release, address, port = config['release'], config['listen']['address'], config['listen']['port']
    server = None
    try:
        server = DemoServer((address, port), release, config.get('admin_password_sha256'))  # a second instance stops here
        server.store = Store(config['state_file'], release, config['roles'])
    except (OSError, StateError) as e:
        if server is not None:
            server.server_close()
        LOG.error('cannot start release %s on %s:%s: %s', release, address, port, e)
        return fail(pipe, f'demo-api: cannot start release {release} on {address}:{port}: {e}\n')
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        write_pid_file(config['pid_file'])
        LOG.info('release %s listening on http://%s:%s (pid %d, state %s)',
                 release, address, port, os.getpid(), config['state_file'])
        report(pipe, f'ready demo-api {release} listening on http://{address}:{port} (pid {os.getpid()})\n')
        server.serve_forever()
    except Shutdown as e:
        LOG.info('stopping on %s', e)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        server.server_close()
        with server.store.lock:  # let a registration being saved finish
            remove_pid_file(config['pid_file'])
        LOG.info('stopped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
