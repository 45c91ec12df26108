"""ansible-harness: an `ansible-playbook` started ahead of its stage (lib/ansible/warm.ts).

Run as `PYTHON warm_start.py GO_FIFO SCRIPT` in the stage's terminal, with the interpreter that
SCRIPT (the `ansible-playbook` to run) names on its `#!` line. It imports what Ansible imports
that does not depend on Ansible's configuration (Jinja2, cryptography, YAML, importlib.metadata,
ansible.config.manager, ...: about half of Ansible's start-up), then waits for one JSON line on
GO_FIFO: {"args": [...], "env": {...}, "cwd": "..."}. Then it becomes that `ansible-playbook`
run: the environment, folder and argv given, SCRIPT run as __main__ -- the very code a cold
start runs, after the same imports. Whatever it cannot vouch for becomes a cold start in the same
process (os.execve of SCRIPT with the given env): the interpreter's own settings (PYTHON*, the
locale) differ from its start, a preload imported Ansible's configuration, or the message is not
what it expects. It exits quietly when the harness goes away before sending anything. Once the run is over, it
ends as the interpreter's exit would, less the freeing of every object (see finish()).
"""
import importlib
import json
import os
import select
import sys
import time

# Configuration-independent (checked: none imports ansible.constants, which reads ansible.cfg).
PRELOAD = (
    'jinja2',
    'jinja2.nativetypes',
    'yaml',
    'importlib.metadata',
    'cryptography.hazmat.backends.openssl',
    'cryptography.hazmat.primitives.hmac',
    'cryptography.hazmat.primitives.ciphers',
    'cryptography.x509',
    'packaging.specifiers',
    'ansible.config.manager',
    'ansible.module_utils.basic',
    'ansible.module_utils.compat.version',
    'ansible.module_utils.common.file',
    'ansible.utils.collection_loader',
    'ansible.utils.collection_loader._collection_finder',
    'ansible.utils.helpers',
    'ansible.utils.unsafe_proxy',
    'ansible.release',
)
# What the interpreter reads only as it starts: a change means a cold start.
STARTUP_ENV = ('LANG', 'LANGUAGE')
STARTUP_PREFIXES = ('PYTHON', 'LC_')
WAIT_SECONDS = 600


def startup_env(env):
    return {k: v for k, v in env.items() if k in STARTUP_ENV or k.startswith(STARTUP_PREFIXES)}


def read_go(fifo, parent):
    """The go message, or None when the parent went away or nothing came in time."""
    # Read-write, so that no writer yet is not an end of file.
    fd = os.open(fifo, os.O_RDWR)
    data = b''
    deadline = time.monotonic() + WAIT_SECONDS
    try:
        while time.monotonic() < deadline:
            if os.getppid() != parent:
                return None
            ready, _, _ = select.select([fd], [], [], 0.25)
            if not ready:
                continue
            data += os.read(fd, 65536)
            if b'\n' in data:
                return json.loads(data.split(b'\n', 1)[0].decode('utf-8'))
        return None
    finally:
        os.close(fd)


def make_fifo(fifo):
    """The go FIFO, made here first thing (the harness makes it only when asked to go before)."""
    try:
        os.mkfifo(fifo, 0o600)
    except FileExistsError:
        pass


def exit_code(code):
    """The status `sys.exit(code)` gives: None is 0, a number itself, anything else printed and 1."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        sys.stderr.write('%s\n' % (code,))
    except Exception:
        pass
    return 1


def finish(code):
    """What the interpreter's exit does once the script returned -- other threads joined, the
    atexit handlers run (Ansible's temporary folders, logging's flush), the standard streams
    flushed -- then the process ends without freeing every object one by one, which takes
    Python ~70 ms after an ansible-playbook run and that no one waits for."""
    import atexit
    import threading
    current = threading.current_thread()
    for t in threading.enumerate():
        if t is not current and not t.daemon:
            t.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    os._exit(code)


def main():
    fifo, script = sys.argv[1], sys.argv[2]
    parent = os.getppid()
    make_fifo(fifo)
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except Exception:
            pass
    # A preload that read Ansible's configuration read it with this process's environment.
    clean = 'ansible.constants' not in sys.modules
    go = read_go(fifo, parent)
    if go is None:
        os._exit(0)
    try:
        os.unlink(fifo)
    except OSError:
        pass
    args, env, cwd = go['args'], go['env'], go['cwd']
    os.chdir(cwd)
    if not clean or startup_env(env) != startup_env(os.environ) or go.get('script') != script:
        os.execve(go.get('script') or script, [go.get('script') or script] + args, env)
    os.environ.clear()
    os.environ.update(env)
    sys.argv = [script] + args
    sys.path[0] = os.path.dirname(os.path.realpath(script))
    import runpy
    try:
        runpy.run_path(script, run_name='__main__')
    except SystemExit as e:
        finish(exit_code(e.code))
    finish(0)


main()
