#!/usr/bin/python3
"""Capture the first DNS message real clients send, for tests/fixtures.rs.

Run from anywhere with /usr/bin/python3 (standard library only):

    /usr/bin/python3 tests/data/capture.py

It listens on 127.0.0.1 only (UDP, and TCP on the same port), runs dig, kdig and
nsupdate against that address with short timeouts, writes the first message each
client sends to tests/data/<name>.bin (TCP messages without the 2-byte length
prefix) and answers every message with a minimal SERVFAIL (same ID and opcode, QR
set, question section copied) so that the clients give up at once.

When `unshare` works (root, or unprivileged user namespaces), the script first
re-runs itself in a fresh network namespace that has nothing but loopback, so no
client can reach any other address even by accident (nsupdate reads
/etc/resolv.conf). Without it, every client is still pointed at 127.0.0.1
explicitly. Pass --no-isolate to skip the namespace.

The TSIG secret is made up and documented in tests/data/README.md.
"""

import base64
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LOOPBACK = "127.0.0.1"

# 32 made-up bytes; base64 "ZHluem9uZS1maXh0dXJlLXNlY3JldC0zMi1ieXRlcyE=".
SECRET = base64.b64encode(b"dynzone-fixture-secret-32-bytes!").decode()
KEY_NAME = "key.example."

HARD_TIMEOUT = 10  # seconds per client run, whatever its own timeouts say
SERVFAIL = 2


def question_end(msg):
    """Offset just after the question section, or None if it is malformed."""
    if len(msg) < 12:
        return None
    (qdcount,) = struct.unpack_from("!H", msg, 4)
    pos = 12
    for _ in range(qdcount):
        while True:
            if pos >= len(msg):
                return None
            length = msg[pos]
            if length == 0:
                pos += 1
                break
            if length & 0xC0 == 0xC0:
                pos += 2
                break
            if length & 0xC0:
                return None
            pos += 1 + length
        pos += 4
        if pos > len(msg):
            return None
    return pos


def servfail(msg):
    """A minimal SERVFAIL answer to `msg`: same ID, opcode and RD, QR set,
    questions copied, no other records. None when `msg` has no header."""
    if len(msg) < 12:
        return None
    msg_id, flags = struct.unpack_from("!HH", msg, 0)
    end = question_end(msg)
    if end is None:
        qdcount, questions = 0, b""
    else:
        (qdcount,) = struct.unpack_from("!H", msg, 4)
        questions = msg[12:end]
    reply_flags = 0x8000 | (flags & 0x7800) | (flags & 0x0100) | SERVFAIL
    return struct.pack("!HHHHHH", msg_id, reply_flags, qdcount, 0, 0, 0) + questions


class Responder:
    """Answers every message on a UDP socket and a TCP listener bound to the same
    loopback port, and records what arrives, in order, as (transport, bytes)."""

    def __init__(self):
        for _ in range(20):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind((LOOPBACK, 0))
            port = udp.getsockname()[1]
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                tcp.bind((LOOPBACK, port))
            except OSError:
                udp.close()
                tcp.close()
                continue
            tcp.listen(8)
            self.udp, self.tcp, self.port = udp, tcp, port
            break
        else:
            raise SystemExit("no free port on 127.0.0.1 for both UDP and TCP")
        self.lock = threading.Lock()
        self.received = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def take(self):
        """Everything received since the last call."""
        with self.lock:
            got, self.received = self.received, []
        return got

    def record(self, transport, msg):
        with self.lock:
            self.received.append((transport, msg))

    def run(self):
        conns = {}  # socket -> bytes buffered
        while not self.stop.is_set():
            readable, _, _ = select.select([self.udp, self.tcp, *conns], [], [], 0.1)
            for sock in readable:
                if sock is self.udp:
                    msg, peer = self.udp.recvfrom(65535)
                    self.record("udp", msg)
                    reply = servfail(msg)
                    if reply is not None:
                        self.udp.sendto(reply, peer)
                elif sock is self.tcp:
                    conn, _ = self.tcp.accept()
                    conn.settimeout(2)
                    conns[conn] = b""
                else:
                    try:
                        data = sock.recv(65535)
                    except OSError:
                        data = b""
                    if not data:
                        del conns[sock]
                        sock.close()
                        continue
                    buf = conns[sock] + data
                    while len(buf) >= 2:
                        (length,) = struct.unpack_from("!H", buf, 0)
                        if len(buf) < 2 + length:
                            break
                        msg, buf = buf[2 : 2 + length], buf[2 + length :]
                        self.record("tcp", msg)
                        reply = servfail(msg)
                        if reply is not None:
                            try:
                                sock.sendall(struct.pack("!H", len(reply)) + reply)
                            except OSError:
                                pass
                    conns[sock] = buf
        for conn in conns:
            conn.close()

    def close(self):
        self.stop.set()
        self.thread.join()
        self.udp.close()
        self.tcp.close()


def run_client(argv, stdin_text=None):
    """Runs one client with a hard timeout; returns its exit status."""
    try:
        done = subprocess.run(
            argv,
            input=stdin_text,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=HARD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        print(f"  {argv[0]}: killed after {HARD_TIMEOUT}s", file=sys.stderr)
        return None
    for line in done.stdout.splitlines():
        print(f"  | {line}")
    return done.returncode


def update_script(port, zone_line):
    """The nsupdate input: prerequisite, adds of six types, two kinds of delete."""
    lines = [f"server {LOOPBACK} {port}"]
    if zone_line:
        lines.append("zone example.test.")
    lines += [
        "prereq yxdomain example.test.",
        "update add host.example.test. 300 IN A 192.0.2.1",
        "update add host.example.test. 300 IN AAAA 2001:db8::1",
        'update add host.example.test. 300 IN TXT "hello world" "second string"',
        "update add example.test. 3600 IN MX 10 mail.example.test.",
        "update add _sip._tcp.example.test. 300 IN SRV 10 20 5060 sip.example.test.",
        'update add example.test. 3600 IN CAA 0 issue "ca.example.net"',
        "update delete old.example.test. A",
        "update delete host.example.test. A 192.0.2.9",
        "send",
        "",
    ]
    return "\n".join(lines)


def soa_discovery_script(port):
    """No `zone` line: nsupdate first asks for the SOA of the first update name."""
    return "\n".join(
        [
            f"server {LOOPBACK} {port}",
            "update add host.example.test. 300 IN A 192.0.2.1",
            "send",
            "",
        ]
    )


def captures(port):
    """(file name, transport, argv, stdin) for every fixture."""
    p = str(port)
    dig = ["dig", f"@{LOOPBACK}", "-p", p, "+tries=1", "+time=1"]
    kdig = ["kdig", f"@{LOOPBACK}", "-p", p, "+retry=0", "+timeout=1"]
    nsupdate = ["nsupdate", "-t", "2", "-u", "1", "-r", "0"]
    return [
        ("dig-a.bin", "udp", dig + ["example.test.", "A"], None),
        ("dig-noedns.bin", "udp", dig + ["+noedns", "example.test.", "A"], None),
        ("dig-txt-mixedcase.bin", "udp", dig + ["MiXeD.ExAmPlE.TeSt.", "TXT"], None),
        ("kdig-aaaa.bin", "udp", kdig + ["example.test.", "AAAA"], None),
        ("kdig-tcp.bin", "tcp", kdig + ["+tcp", "example.test.", "SOA"], None),
        (
            "nsupdate-update-sha256.bin",
            "udp",
            nsupdate + ["-y", f"hmac-sha256:{KEY_NAME}:{SECRET}"],
            update_script(port, zone_line=True),
        ),
        (
            "nsupdate-update-md5.bin",
            "udp",
            nsupdate + ["-y", f"hmac-md5:{KEY_NAME}:{SECRET}"],
            update_script(port, zone_line=True),
        ),
        (
            "nsupdate-soa-discovery.bin",
            "udp",
            nsupdate + ["-y", f"hmac-sha256:{KEY_NAME}:{SECRET}"],
            soa_discovery_script(port),
        ),
    ]


def capture_all():
    for tool in ("dig", "kdig", "nsupdate"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found (Debian: bind9-dnsutils, knot-dnsutils)")
    responder = Responder()
    print(f"listening on {LOOPBACK}:{responder.port} (udp+tcp)")
    failed = []
    try:
        for name, transport, argv, stdin_text in captures(responder.port):
            print(f"{name}: {' '.join(argv)}")
            responder.take()
            status = run_client(argv, stdin_text)
            time.sleep(0.2)  # let the responder thread record the last datagram
            got = responder.take()
            first = next((m for t, m in got if t == transport), None)
            print(f"  exit {status}, {len(got)} message(s) received")
            if first is None:
                failed.append(name)
                continue
            with open(os.path.join(HERE, name), "wb") as f:
                f.write(first)
            print(f"  wrote {len(first)} bytes")
    finally:
        responder.close()
    if failed:
        raise SystemExit(f"nothing captured for: {', '.join(failed)}")


def main():
    if "--no-isolate" in sys.argv or os.environ.get("DYNZONE_CAPTURE_ISOLATED") == "1":
        capture_all()
        return
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if unshare and ip:
        env = dict(os.environ, DYNZONE_CAPTURE_ISOLATED="1")
        inner = f"{ip} link set lo up && exec {sys.executable} {os.path.abspath(__file__)}"
        probe = subprocess.run(
            [unshare, "-rn", "true"], stderr=subprocess.DEVNULL, check=False
        )
        if probe.returncode == 0:
            print("running in a network namespace with loopback only")
            sys.exit(subprocess.run([unshare, "-rn", "sh", "-c", inner], env=env).returncode)
    print("unshare unavailable: running in the current network namespace (loopback only)")
    capture_all()


if __name__ == "__main__":
    main()
