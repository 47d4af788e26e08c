#!/usr/bin/env python3
"""A slow-header storm for tests/integration/test_access.sh (issue 14).

slow_headers.py HOST PORT SOURCE N SECONDS: opens N connections to
HOST:PORT from the address SOURCE (another loopback address, so the
prober's own address is not the storm's), sends a request line and then
one header byte per second on each, for SECONDS at most. Prints
"opened O refused R early E closed C": E counts the connections the
server closed within half a second of the last one opening (refused by
a per-address limit), C all it closed before the end. Bounded in time and in sockets; loopback only.
"""
import resource
import select
import socket
import sys
import time


def ended(socks):
    """The sockets the server has closed (readable at end of stream);
    poll, as select() stops at descriptor 1023."""
    p = select.poll()
    by_fd = {s.fileno(): s for s in socks}
    for fd in by_fd:
        p.register(fd, select.POLLIN)
    out = []
    for fd, _ in p.poll(0):
        s = by_fd[fd]
        try:
            data = s.recv(4096)
        except BlockingIOError:
            continue
        except OSError:
            data = b""
        if not data:
            out.append(s)
    return out


def main():
    host, port, source = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    n, seconds = int(sys.argv[4]), float(sys.argv[5])
    if not (host.startswith("127.") and source.startswith("127.")):
        sys.exit("slow_headers.py runs on loopback only")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, n + 64) if hard != resource.RLIM_INFINITY else n + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    socks, refused = [], 0
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(True)
        s.settimeout(2)
        try:
            s.bind((source, 0))
            s.connect((host, port))
            s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            s.setblocking(False)
            socks.append(s)
        except OSError:
            refused += 1
            s.close()
    opened, closed = len(socks), 0
    end = time.monotonic() + seconds
    time.sleep(0.5)
    for s in ended(socks):
        closed += 1
        socks.remove(s)
        s.close()
    early = closed
    while socks and time.monotonic() < end:
        alive = []
        for s in socks:
            try:
                s.send(b"a")
                alive.append(s)
            except OSError:
                closed += 1
                s.close()
        socks = alive
        for s in ended(socks):
            closed += 1
            socks.remove(s)
            s.close()
        time.sleep(1)
    for s in socks:
        s.close()
    print(f"opened {opened} refused {refused} early {early} closed {closed}")


if __name__ == "__main__":
    main()
