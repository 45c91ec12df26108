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
what it expects. It exits quietly when the harness goes away before sending anything.
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


def main():
    fifo, script = sys.argv[1], sys.argv[2]
    parent = os.getppid()
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
    runpy.run_path(script, run_name='__main__')


main()
