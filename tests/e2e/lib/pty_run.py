#!/usr/bin/env python3
# pty_run.py — run a program on a pseudo-terminal of a given size and type
# into it, as a person at a terminal would (node has no pty module).
#
#   pty_run.py STEPS_JSON PROGRAM [ARG...]
#
# STEPS_JSON is a list of steps, done in order:
#   {"expect": "text", "timeout": 30}   wait until the output (since the
#                                       start) contains text, else fail;
#                                       with "after": "mark", the text must
#                                       come after mark's last occurrence
#   {"send": "text"}                    type text (\r for Enter)
#   {"size": [rows, cols]}              set the window size (the program
#                                       gets SIGWINCH from the kernel)
#   {"until": "text", "send": "...", "tries": 50}  type send, wait for the
#                                       output after it to settle on a prompt
#                                       ("wait" text) and repeat until the
#                                       output since the first try contains
#                                       "until"
#   {"termios": "name"}                 record the terminal's mode (raw or
#                                       cooked) under name
#   {"signal": "TERM"}                  send a signal to the program
# The size starts as $PTY_ROWS x $PTY_COLS (default 24 x 80). Prints one JSON
# line: {"output", "exit" (code, or null), "signal" (or null), "modes":
# {name: {"icanon", "echo"}}, "failed": null or why}.
import json, os, pty, select, signal, struct, sys, termios, fcntl, time

steps = json.loads(sys.argv[1])
argv = sys.argv[2:]
rows = int(os.environ.get('PTY_ROWS', '24'))
cols = int(os.environ.get('PTY_COLS', '80'))

pid, fd = pty.fork()
if pid == 0:
    try:
        os.execvp(argv[0], argv)
    finally:
        os._exit(127)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))

out = b''
eof = False
failed = None
modes = {}


def pump(timeout):
    global out, eof
    if eof:
        return
    r, _, _ = select.select([fd], [], [], timeout)
    if fd in r:
        try:
            d = os.read(fd, 65536)
        except OSError:
            d = b''
        if not d:
            eof = True
        out += d


def wait_for(text, since, timeout):
    end = time.monotonic() + timeout
    while text.encode() not in out[since:]:
        if eof or time.monotonic() > end:
            return False
        pump(0.1)
    return True


for st in steps:
    t = st.get('timeout', 30)
    if 'until' in st:
        start = len(out)
        ok = False
        for _ in range(st.get('tries', 50)):
            mark = len(out)
            os.write(fd, st['send'].encode())
            if not wait_for(st['wait'], mark + 1, t):
                break
            if st['until'].encode() in out[start:]:
                ok = True
                break
        if not ok:
            failed = 'never saw %r' % st['until']
            break
    elif 'expect' in st:
        since = 0
        if 'after' in st:
            if not wait_for(st['after'], 0, t):
                failed = 'never saw %r' % st['after']
                break
            since = out.rindex(st['after'].encode()) + len(st['after'])
        if not wait_for(st['expect'], since, t):
            failed = 'never saw %r' % st['expect']
            break
    elif 'send' in st:
        os.write(fd, st['send'].encode())
    elif 'size' in st:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', st['size'][0], st['size'][1], 0, 0))
    elif 'termios' in st:
        lflag = termios.tcgetattr(fd)[3]
        modes[st['termios']] = {'icanon': bool(lflag & termios.ICANON), 'echo': bool(lflag & termios.ECHO)}
    elif 'signal' in st:
        os.kill(pid, getattr(signal, 'SIG' + st['signal']))

if failed:
    os.kill(pid, signal.SIGKILL)
# read to the end, then reap
deadline = time.monotonic() + 60
while not eof and time.monotonic() < deadline:
    pump(0.2)
try:
    lflag = termios.tcgetattr(fd)[3]
    modes['end'] = {'icanon': bool(lflag & termios.ICANON), 'echo': bool(lflag & termios.ECHO)}
except termios.error:
    pass
_, status = os.waitpid(pid, 0)
print(json.dumps({
    'output': out.decode('utf-8', 'replace'),
    'exit': os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
    'signal': signal.Signals(os.WTERMSIG(status)).name if os.WIFSIGNALED(status) else None,
    'modes': modes,
    'failed': failed,
}))
