# ansible-harness: stream what Ansible does as JSON lines, one event per line.
# (c) ansible-harness contributors, MIT License

from __future__ import (absolute_import, division, print_function)
__metaclass__ = type

DOCUMENTATION = '''
    name: harness_events
    type: aggregate
    short_description: write one JSON object per line for each playbook event
    description:
      - Writes playbook, play, task, per-host result and stats events as JSON lines to the file
        or FIFO named by the environment variable C(HARNESS_EVENTS_PATH), for ansible-harness.
      - Does nothing when the variable is unset.
    requirements:
      - enable in configuration (callbacks_enabled = harness_events)
'''

# The wire format (stable; parsed by lib/ansible/events.ts). Every line is an object with
# `event` (the kind) and `time` (ms since the epoch), and by kind:
#   playbook_start: playbook
#   play_start:     play, play_id, patterns
#   task_start:     play, task, task_id, action, path, handler
#   host_result:    play, task, task_id, action, host, status, ignored, rescued, duration (s),
#                   message?, item?, counts?, result
#                   (counts: what this result added to Ansible's own stats for the host, bucket
#                   by bucket, e.g. {"ok": 1, "ignored": 1}; absent for loop items and when the
#                   stats cannot be seen; rescued: a failure a block's `rescue` caught)
#   host_start:     task_id, host (a task began on a host; lets the harness name a hung task)
#   stats:          hosts {host: {ok, changed, failures, unreachable, skipped, rescued, ignored}},
#                   custom (set_stats data: by host, or under `_run` for per_host: false)
#   warning:        message

import json
import math
import os
import sys
import time

from ansible.plugins.callback import CallbackBase

EVENTS_PATH_ENV = 'HARNESS_EVENTS_PATH'
# Lists of enabled callbacks: our name is taken out of them at load (with the channel's variable),
# so an ansible-playbook a task starts on the controller neither finds our channel nor loads us
# (only the stage's own run writes to the stage's channel). The variable beats any ansible.cfg.
ENABLED_ENVS = ('ANSIBLE_CALLBACKS_ENABLED', 'ANSIBLE_CALLBACK_WHITELIST')
# Ansible's per-host stats buckets as summarize() names them.
STAT_KEYS = ('ok', 'changed', 'failures', 'unreachable', 'skipped', 'rescued', 'ignored')
# Each string in a result is cut to this many characters.
MAX_STRING = 64 * 1024
# A line longer than this loses its `result` (the message stays).
MAX_LINE = 1024 * 1024
MAX_DEPTH = 40
# A failure's stderr joins its message up to this many (last) characters.
MAX_MESSAGE = 4096
CENSORED = "the output has been hidden due to the fact that 'no_log: true' was specified for this result"
CENSORED_ITEM = '(censored due to no_log)'
# Bulky or internal keys dropped from results; stdout and stderr stay (capped).
DROP_KEYS = frozenset(('invocation', 'stdout_lines', 'stderr_lines'))
# The only keys a censored (no_log) result keeps.
CENSORED_KEEP = ('changed', 'attempts', 'retries')


def _now_ms():
    return int(time.time() * 1000)


def _plain(value, depth=0):
    '''Turns anything into JSON-safe data: str keys, finite numbers, capped strings.'''
    if depth > MAX_DEPTH:
        return '(too deep)'
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        value = value.decode('utf-8', errors='replace')
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            return value[:MAX_STRING] + '\n... [truncated %d characters]' % (len(value) - MAX_STRING)
        return str(value)
    if isinstance(value, dict):
        return dict((str(k), _plain(v, depth + 1)) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v, depth + 1) for v in value]
    return _plain(str(value), depth + 1)


def _forget_harness_env():
    '''Drops our channel and our name from os.environ (workers and their children inherit it after this).'''
    os.environ.pop(EVENTS_PATH_ENV, None)
    for name in ENABLED_ENVS:
        value = os.environ.get(name)
        if value is None:
            continue
        kept = [c.strip() for c in value.split(',') if c.strip() and c.strip() not in ('harness_events', 'ansible_harness.harness_events')]
        if name == 'ANSIBLE_CALLBACKS_ENABLED' or kept:
            os.environ[name] = ','.join(kept)
        else:
            os.environ.pop(name, None)


def _find_stats():
    '''The run's AggregateStats, from the caller's frames (the TaskQueueManager sending callbacks).'''
    try:
        from ansible.executor.stats import AggregateStats
        frame = sys._getframe(1)
        while frame is not None:
            owner = frame.f_locals.get('self')
            stats = getattr(owner, '_stats', None)
            if isinstance(stats, AggregateStats):
                return stats
            frame = frame.f_back
    except Exception:
        pass
    return None


def _censored(result):
    data = result._result if isinstance(result._result, dict) else {}
    no_log = getattr(result._task, 'no_log', False)
    return (isinstance(no_log, bool) and no_log) or bool(data.get('_ansible_no_log')) or 'censored' in data


class CallbackModule(CallbackBase):
    '''Writes one JSON line per playbook event to $HARNESS_EVENTS_PATH.'''

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'harness_events'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._path = os.environ.get(EVENTS_PATH_ENV) or None
        # The process that loaded us: a fork (worker) or a child run never writes.
        self._pid = os.getpid()
        _forget_harness_env()
        self._stats = None
        # host -> the stats counts last seen for it
        self._seen = {}
        self._fd = None
        self._broken = False
        self._play = ''
        # task uuid -> start (s); (host, task uuid) -> start on the host, last loop item's end
        self._task_started = {}
        self._host_started = {}
        self._item_mark = {}

    # -- the channel ---------------------------------------------------------------------

    def _open(self):
        if self._fd is None and not self._broken and self._path:
            try:
                self._fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            except OSError as e:
                self._broken = True
                self._display.warning('harness_events: cannot open %s: %s' % (self._path, e))
        return self._fd

    def _emit(self, kind, **fields):
        if self._broken or not self._path or os.getpid() != self._pid:
            return
        try:
            obj = {'event': kind, 'time': _now_ms()}
            obj.update(fields)
            line = json.dumps(obj, default=str, allow_nan=False, sort_keys=False)
            if len(line) > MAX_LINE and 'result' in obj:
                obj['result'] = {'_harness_truncated': len(line)}
                line = json.dumps(obj, default=str, allow_nan=False)
            data = (line + '\n').encode('utf-8')
        except Exception as e:  # never break the run over an odd value
            data = (json.dumps({'event': 'warning', 'time': _now_ms(),
                                'message': 'harness_events: could not encode a %s event: %s' % (kind, e)}) + '\n').encode('utf-8')
        fd = self._open()
        if fd is None:
            return
        try:
            view = memoryview(data)
            while len(view):
                n = os.write(fd, view)
                view = view[n:]
        except OSError as e:  # the reader went away (EPIPE): stop writing, keep Ansible running
            self._broken = True
            self._display.warning('harness_events: cannot write to %s: %s' % (self._path, e))

    # -- helpers -------------------------------------------------------------------------

    def _task_fields(self, task):
        return {
            'play': self._play,
            'task': task.get_name().strip(),
            'task_id': str(task._uuid),
            'action': str(task.action),
        }

    def _duration(self, host, task_id, item):
        '''Seconds since the task started on the host (for a loop item: since the last item).'''
        now = time.time()
        key = (host, task_id)
        start = self._host_started.get(key) or self._task_started.get(task_id) or now
        if item:
            start = self._item_mark.get(key) or start
            self._item_mark[key] = now
        return round(max(0.0, now - start), 3)

    def _item_label(self, result, censored):
        if censored:
            return CENSORED_ITEM
        data = result._result
        label = data.get('_ansible_item_label', data.get('item'))
        if label is None:
            return None
        if isinstance(label, str):
            return label
        try:
            return json.dumps(_plain(label), sort_keys=True)
        except Exception:
            return str(label)

    def _trimmed(self, result, censored, loop_done):
        data = result._result if isinstance(result._result, dict) else {}
        if censored:
            kept = dict((k, data[k]) for k in CENSORED_KEEP if k in data)
            kept['censored'] = CENSORED
            return _plain(kept)
        out = {}
        for key, value in data.items():
            key = str(key)
            if key in DROP_KEYS or key.startswith('_ansible_'):
                continue
            if loop_done and key == 'results':  # the items came as their own events
                continue
            out[key] = value
        return _plain(out)

    def _message(self, result, status, censored):
        '''msg, else stderr, else the skip reason; a failure with both gets msg and stderr.'''
        data = result._result if isinstance(result._result, dict) else {}
        if censored:
            return CENSORED if status in ('failed', 'unreachable') else None
        texts = {}
        for key in ('msg', 'reason', 'stderr', 'skip_reason'):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                texts[key] = value.strip()
        text = None
        if status == 'failed' and 'msg' in texts and 'stderr' in texts and texts['stderr'] not in texts['msg']:
            text = texts['msg'] + '\n' + texts['stderr'][-MAX_MESSAGE:]
        else:
            for key in ('msg', 'reason', 'stderr', 'skip_reason'):
                if key in texts:
                    text = texts[key]
                    break
        if status == 'failed' and data.get('failed_when_result'):
            # The module's own msg ("OK (50 bytes)") does not say why: the condition does.
            cond = getattr(result._task, 'failed_when', None)
            cond = ' and '.join(str(c) for c in cond) if isinstance(cond, (list, tuple)) else (str(cond) if cond else '')
            why = 'failed_when condition met' + (': ' + cond if cond else '')
            text = why + ('\n' + text if text else '')
        if text is not None:
            return _plain(text)
        if status == 'failed' and data.get('exception'):
            return _plain(str(data.get('exception')).strip().splitlines()[-1])
        return None

    def _counts(self, host):
        '''What Ansible's stats for `host` gained since the last result (it counts just before calling us).'''
        if self._stats is None:
            return None
        try:
            s = self._stats.summarize(host)
        except Exception:
            return None
        now = dict((k, int(s.get(k, 0))) for k in STAT_KEYS)
        before = self._seen.get(host) or dict((k, 0) for k in STAT_KEYS)
        self._seen[host] = now
        return dict((k, now[k] - before[k]) for k in STAT_KEYS if now[k] != before[k])

    @staticmethod
    def _in_rescued_block(task):
        '''Without the stats: a failure inside a block that has a rescue (the task not itself in a rescue or always).'''
        try:
            parent = task._parent
            while parent is not None:
                rescue = getattr(parent, 'rescue', None)
                block = getattr(parent, 'block', None)
                if rescue and isinstance(block, list):
                    return True
                parent = getattr(parent, '_parent', None)
        except Exception:
            pass
        return False

    def _host_result(self, result, status, ignored=False, item=False):
        try:
            task = result._task
            host = result._host.get_name()
            fields = self._task_fields(task)
            censored = _censored(result)
            loop_done = bool(getattr(task, 'loop', None)) and not item
            counts = None if item else self._counts(host)
            rescued = False
            if status == 'failed' and not item and not ignored:
                rescued = bool(counts.get('rescued')) if counts is not None else self._in_rescued_block(task)
            out = dict(fields)
            out.update({
                'host': host,
                'status': status,
                'ignored': bool(ignored),
                'rescued': rescued,
                'duration': self._duration(host, fields['task_id'], item),
            })
            if counts is not None:
                out['counts'] = counts
            message = self._message(result, status, censored)
            if message is not None:
                out['message'] = message
            if item:
                label = self._item_label(result, censored)
                if label is not None:
                    out['item'] = label
            out['result'] = self._trimmed(result, censored, loop_done)
            self._emit('host_result', **out)
            if not censored:
                for w in (result._result.get('warnings') or []):
                    self._emit('warning', message='%s: %s: %s' % (host, fields['task'], _plain(w)))
        except Exception as e:
            self._emit('warning', message='harness_events: could not report a result: %s' % e)

    def _task_start(self, task, handler):
        try:
            fields = self._task_fields(task)
            self._task_started[fields['task_id']] = time.time()
            path = task.get_path()
            if path:
                fields['path'] = str(path)
            fields['handler'] = bool(handler)
            self._emit('task_start', **fields)
        except Exception as e:
            self._emit('warning', message='harness_events: could not report a task start: %s' % e)

    # -- Ansible's hooks -----------------------------------------------------------------

    def v2_playbook_on_start(self, playbook):
        if self._stats is None:
            self._stats = _find_stats()
        name = getattr(playbook, '_file_name', None) or ''
        self._emit('playbook_start', playbook=os.path.abspath(name) if name else '')

    def v2_playbook_on_play_start(self, play):
        self._play = play.get_name().strip()
        hosts = play.hosts
        patterns = [str(h) for h in hosts] if isinstance(hosts, (list, tuple)) else ([str(hosts)] if hosts else [])
        self._emit('play_start', play=self._play, play_id=str(play._uuid), patterns=patterns)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._task_start(task, handler=False)

    def v2_playbook_on_cleanup_task_start(self, task):
        self._task_start(task, handler=False)

    def v2_playbook_on_handler_task_start(self, task):
        self._task_start(task, handler=True)

    def v2_runner_on_start(self, host, task):
        key = (host.get_name(), str(task._uuid))
        self._host_started[key] = time.time()
        self._item_mark.pop(key, None)
        self._emit('host_start', task_id=key[1], host=key[0])

    def v2_runner_on_ok(self, result):
        changed = isinstance(result._result, dict) and bool(result._result.get('changed', False))
        self._host_result(result, 'changed' if changed else 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._host_result(result, 'failed', ignored=ignore_errors)

    def v2_runner_on_skipped(self, result):
        self._host_result(result, 'skipped')

    def v2_runner_on_unreachable(self, result):
        self._host_result(result, 'unreachable', ignored=bool(getattr(result._task, 'ignore_unreachable', False)))

    def v2_runner_item_on_ok(self, result):
        changed = isinstance(result._result, dict) and bool(result._result.get('changed', False))
        self._host_result(result, 'changed' if changed else 'ok', item=True)

    def v2_runner_item_on_failed(self, result):
        ignored = bool(getattr(result._task, 'ignore_errors', False))
        self._host_result(result, 'failed', ignored=ignored, item=True)

    def v2_runner_item_on_skipped(self, result):
        self._host_result(result, 'skipped', item=True)

    def v2_playbook_on_no_hosts_matched(self):
        self._emit('warning', message='no hosts matched the play %r' % self._play)

    def v2_playbook_on_stats(self, stats):
        try:
            hosts = {}
            for host in sorted(stats.processed.keys()):
                s = stats.summarize(host)
                hosts[str(host)] = dict((k, int(s.get(k, 0))) for k in
                                        ('ok', 'changed', 'failures', 'unreachable', 'skipped', 'rescued', 'ignored'))
            self._emit('stats', hosts=hosts, custom=_plain(getattr(stats, 'custom', {}) or {}))
        except Exception as e:
            self._emit('warning', message='harness_events: could not report stats: %s' % e)
