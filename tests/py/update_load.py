#!/usr/bin/python3
"""Update load against a running dynzone, driven by tests/update.rs.

    update_load.py crash PORT KEY COUNT [PREFIX]
        COUNT signed updates over UDP, one at a time, message i adding
        P<i>-a.example.test TXT "a<i>" and P<i>-b.example.test TXT "b<i>"
        (P is PREFIX, default c).
        Prints `ok I` (flushed) for each NOERROR reply; when the server stops
        answering (the test kills it with SIGKILL) prints `stopped I: ERROR`
        and exits 0; any other rcode prints `rcode I RCODE` and exits 1.

    update_load.py workers PORT KEY ROUNDS QUERIES
        ROUNDS times: replace the TXT at seen.example.test with "round-R",
        then at once QUERIES queries over UDP, each from a new socket (so a
        new source port, spread over the server's workers by SO_REUSEPORT),
        alternately TXT at seen and SOA: every answer must show the new value
        and the new serial. Prints one line per mismatch; exits 1 on any.

    update_load.py pipeline PORT KEY COUNT
        One TCP connection, one write: COUNT signed updates (update i adds
        pipe<i>.example.test TXT "p<i>"), then a query for the TXT of the
        last one. The answers must come back in request order (by ID), every
        update NOERROR, and the query must see the last update. Prints
        `pipeline COUNT ok`; a mismatch prints a line and exits 1.

KEY is ALGORITHM:NAME:SECRET_BASE64 (see tests/py/tsigwire.py).
"""

import os
import sys

# tsigwire.py beside this script, imported without leaving __pycache__ in tests/.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.name  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.update  # noqa: E402

from tsigwire import Key, Reply, exchange, query_wire  # noqa: E402

ZONE = dns.name.from_text("example.test.")


def send(key, port, build, tcp=False, timeout=2.0):
    u = dns.update.UpdateMessage(ZONE)
    build(u)
    u.use_tsig(key.dnspython())
    return (dns.query.tcp if tcp else dns.query.udp)(u, "127.0.0.1", timeout=timeout, port=port)


def crash(port, key, count, prefix):
    for i in range(count):
        def build(u, i=i):
            u.add(dns.name.from_text(f"{prefix}{i}-a", ZONE), 300, "TXT", f'"a{i}"')
            u.add(dns.name.from_text(f"{prefix}{i}-b", ZONE), 300, "TXT", f'"b{i}"')
        try:
            reply = send(key, port, build, timeout=1.0)
        except Exception as e:  # noqa: BLE001 - the server was killed
            print(f"stopped {i}: {type(e).__name__}: {e}", flush=True)
            return 0
        if reply.rcode() != dns.rcode.NOERROR:
            print(f"rcode {i} {dns.rcode.to_text(reply.rcode())}", flush=True)
            return 1
        print(f"ok {i}", flush=True)
    print("done", flush=True)
    return 0


def lookup(port, name, rtype, tcp=False):
    reply = Reply(exchange(query_wire(name, rtype), port, tcp=tcp))
    return dns.rcode.to_text(reply.rcode), sorted(
        rd.to_text() for rrset in reply.answer() if rrset.name == name for rd in rrset)


def workers(port, key, rounds, queries):
    seen = dns.name.from_text("seen", ZONE)
    mismatches = 0
    answered = 0
    start_serial = int(lookup(port, ZONE, "SOA")[1][0].split()[2])
    for r in range(rounds):
        reply = send(key, port, lambda u, r=r: u.replace(seen, 300, "TXT", f'"round-{r}"'),
                     tcp=bool(r % 2))
        if reply.rcode() != dns.rcode.NOERROR:
            print(f"round {r}: update {dns.rcode.to_text(reply.rcode())}", flush=True)
            return 1
        want_txt = ("NOERROR", [f'"round-{r}"'])
        want_serial = start_serial + r + 1
        for q in range(queries):
            tcp = q % 10 == 9
            if q % 2 == 0:
                got = lookup(port, seen, "TXT", tcp)
                ok = got == want_txt
                want = want_txt
            else:
                got = lookup(port, ZONE, "SOA", tcp)
                ok = got[0] == "NOERROR" and int(got[1][0].split()[2]) == want_serial
                want = f"serial {want_serial}"
            answered += 1
            if not ok:
                mismatches += 1
                print(f"round {r} query {q} ({'TCP' if tcp else 'UDP'}): got {got}, "
                      f"expected {want}", flush=True)
    print(f"{answered} answers after {rounds} updates, {mismatches} stale", flush=True)
    return 1 if mismatches else 0


def pipeline(port, key, count):
    import socket
    import struct

    import dns.message  # noqa: E402
    import dns.rdatatype  # noqa: E402

    wires = []
    for i in range(count):
        u = dns.update.UpdateMessage(ZONE, id=1000 + i)
        u.add(dns.name.from_text(f"pipe{i}", ZONE), 300, "TXT", f'"p{i}"')
        u.use_tsig(key.dnspython())
        wires.append(u.to_wire())
    last = dns.name.from_text(f"pipe{count - 1}", ZONE)
    q = dns.message.make_query(last, "TXT", id=1000 + count)
    wires.append(q.to_wire())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"".join(struct.pack("!H", len(w)) + w for w in wires))
        buf = b""
        replies = []
        while len(replies) < len(wires):
            while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
                chunk = s.recv(65536)
                if not chunk:
                    print(f"connection closed after {len(replies)} answers", flush=True)
                    return 1
                buf += chunk
            n = struct.unpack("!H", buf[:2])[0]
            replies.append(buf[2:2 + n])
            buf = buf[2 + n:]
    bad = 0
    for i, wire in enumerate(replies):
        msg_id, flags = struct.unpack("!HH", wire[:4])
        rcode = flags & 0xF
        if msg_id != 1000 + i or rcode != 0:
            print(f"answer {i}: id {msg_id} rcode {rcode}, expected id {1000 + i} NOERROR",
                  flush=True)
            bad += 1
    answer = dns.message.from_wire(replies[-1])
    txt = [r.to_text() for rrset in answer.answer for r in rrset]
    if txt != [f'"p{count - 1}"']:
        print(f"the query after the updates saw {txt}", flush=True)
        bad += 1
    if bad:
        return 1
    print(f"pipeline {count} ok", flush=True)
    return 0


def main():
    mode, port, key = sys.argv[1], int(sys.argv[2]), Key(sys.argv[3])
    if mode == "crash":
        return crash(port, key, int(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else "c")
    if mode == "workers":
        return workers(port, key, int(sys.argv[4]), int(sys.argv[5]))
    if mode == "pipeline":
        return pipeline(port, key, int(sys.argv[4]))
    sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main())
