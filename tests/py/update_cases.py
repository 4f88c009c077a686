#!/usr/bin/python3
"""RFC 2136 UPDATE and RFC 8945 TSIG against a running dynzone, driven by
tests/update.rs (test `dnspython_update_cases`).

    update_cases.py PORT KEY...      KEY = ALGORITHM:NAME:SECRET_BASE64

The first key must be hmac-sha256 (the main key); every key given must be
configured on the server, which serves the zone `ZONE` of tests/update.rs
(example.test, serial any) on 127.0.0.1:PORT and nothing else.

Every operation goes through dnspython's own client path (dns.update +
dns.query.udp/tcp, which checks the TSIG on the reply); every bad input is
built byte by byte (tests/py/tsigwire.py) so that the TSIG and the sections can
be wrong in exactly one way. After each case the SOA serial and a snapshot of
the zone (queried over UDP) are compared with what the case allows to change.
One line per case (`ok` or `FAIL`); the exit status is 1 when any case failed.
"""

import os
import socket
import struct
import sys
import time

# tsigwire.py beside this script, imported without leaving __pycache__ in tests/.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.name  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.update  # noqa: E402

from tsigwire import (  # noqa: E402
    ALGORITHMS, BADKEY, BADSIG, BADTIME, Key, Reply, add_additional, exchange, now, query_wire,
    rdata, recv_exact, rr_bytes, self_test, sign, update_wire,
)

ZONE = dns.name.from_text("example.test.")
SOA, IN, ANY, NONE, CH = 6, 1, 255, 254, 3
NOERROR = dns.rcode.NOERROR
FORMERR = dns.rcode.FORMERR
NXDOMAIN = dns.rcode.NXDOMAIN
REFUSED = dns.rcode.REFUSED
YXDOMAIN = dns.rcode.YXDOMAIN
YXRRSET = dns.rcode.YXRRSET
NXRRSET = dns.rcode.NXRRSET
NOTAUTH = dns.rcode.NOTAUTH
NOTZONE = dns.rcode.NOTZONE

PORT = int(sys.argv[1])
KEYS = [Key(spec) for spec in sys.argv[2:]]
MAIN = KEYS[0]
assert MAIN.algorithm == dns.tsig.HMAC_SHA256, "the first key must be hmac-sha256"

failures = []


def n(text):
    """An absolute name in the zone: 'www' → www.example.test., '@' → apex."""
    if text == "@":
        return ZONE
    return dns.name.from_text(text, ZONE)


# What a snapshot looks at: every name and type the cases touch.
WATCHED = [
    ("@", "SOA"), ("@", "NS"), ("@", "MX"), ("www", "A"), ("www", "AAAA"), ("www", "TXT"),
    ("www", "CNAME"), ("multi", "A"), ("multi", "TXT"), ("alias", "CNAME"), ("alias", "A"),
    ("mail", "A"), ("ns1", "A"), ("marker", "TXT"), ("marker", "A"), ("marker", "RRSIG"),
    ("marker", "NSEC"), ("marker", "NSEC3"), ("marker", "DNSKEY"), ("marker", "TYPE65280"),
    ("two", "TXT"), ("op", "A"), ("unk", "TYPE65280"), ("*.wild", "A"), ("x.wild", "A"),
    ("mixed", "TXT"), ("dup", "A"), ("ent", "A"), ("y.ent", "A"),
]


def lookup(name, rtype, port=None):
    """(rcode text, AA, sorted rdata texts of `rtype` at `name`) from an
    unsigned UDP query."""
    reply = Reply(exchange(query_wire(name, rtype), port or PORT))
    rt = dns.rdatatype.from_text(rtype)
    data = sorted(
        rd.to_text().strip()  # dnspython writes an empty unknown rdata as "\\# 0 "
        for rrset in reply.answer()
        if rrset.name == name and rrset.rdtype == rt
        for rd in rrset
    )
    return dns.rcode.to_text(reply.rcode), bool(reply.flags & dns.flags.AA), data


def state(owner, rtype):
    rcode, aa, data = lookup(n(owner), rtype)
    if not aa:
        return ("NOT-AUTHORITATIVE", rcode, data)
    return (rcode, data)


def snapshot():
    return {(o, t): state(o, t) for o, t in WATCHED}


def serial():
    rcode, aa, data = lookup(ZONE, "SOA")
    if rcode != "NOERROR" or not aa or len(data) != 1:
        raise RuntimeError(f"apex SOA query: {rcode} aa={aa} {data}")
    return int(data[0].split()[2])


def diff(before, after):
    return [f"{k[0]}/{k[1]}: {before[k]} -> {after[k]}" for k in before if before[k] != after[k]]


def report(label, problems):
    if problems:
        failures.append(label)
        print(f"FAIL {label}: " + "; ".join(problems), flush=True)
    else:
        print(f"ok   {label}", flush=True)


# ------------------------------------------------------------ operations


def op(label, build, expect, delta, key=None, tcp=False):
    """An update through dnspython's client; `expect` maps (owner, type) to the
    state wanted afterwards; the serial must move by exactly `delta`."""
    key = key or MAIN
    problems = []
    try:
        s0 = serial()
        u = dns.update.UpdateMessage(ZONE)
        build(u)
        u.use_tsig(key.dnspython())
        send = dns.query.tcp if tcp else dns.query.udp
        resp = send(u, "127.0.0.1", timeout=3, port=PORT)  # checks the reply's TSIG
        if resp.rcode() != NOERROR:
            problems.append(f"rcode {dns.rcode.to_text(resp.rcode())}, expected NOERROR")
        if not resp.had_tsig:
            problems.append("reply not signed")
        s1 = serial()
        if s1 - s0 != delta:
            problems.append(f"serial {s0} -> {s1}, expected +{delta}")
        for (owner, rtype), want in expect.items():
            got = state(owner, rtype)
            if got != want:
                problems.append(f"{owner}/{rtype}: {got}, expected {want}")
    except Exception as e:  # noqa: BLE001 - any failure is the case's failure
        problems.append(f"{type(e).__name__}: {e}")
    report(label, problems)


def has(*texts):
    return ("NOERROR", sorted(texts))


NODATA = ("NOERROR", [])
GONE = ("NXDOMAIN", [])


def operations():
    # Signed queries get signed, authoritative answers (dnspython checks the MAC).
    for key, tcp in [(MAIN, False)] + [(k, True) for k in KEYS[1:]]:
        problems = []
        try:
            q = dns.message.make_query(ZONE, "SOA")
            q.flags &= ~dns.flags.RD
            q.use_tsig(key.dnspython())
            r = (dns.query.tcp if tcp else dns.query.udp)(q, "127.0.0.1", timeout=3, port=PORT)
            if r.rcode() != NOERROR or not (r.flags & dns.flags.AA) or not r.had_tsig:
                problems.append(f"rcode {r.rcode()} flags {r.flags:#x} signed {r.had_tsig}")
            if not r.get_rrset(r.answer, ZONE, IN, SOA):
                problems.append("no SOA in the answer")
        except Exception as e:  # noqa: BLE001
            problems.append(f"{type(e).__name__}: {e}")
        report(f"signed SOA query, {key.algorithm} over {'TCP' if tcp else 'UDP'}", problems)

    op("add A, AAAA and TXT in one message",
       lambda u: (u.add(n("op"), 300, "A", "192.0.2.50"),
                  u.add(n("op"), 300, "AAAA", "2001:db8::50"),
                  u.add(n("op"), 300, "TXT", '"added"')),
       {("op", "A"): has("192.0.2.50"), ("op", "AAAA"): has("2001:db8::50"),
        ("op", "TXT"): has('"added"')}, 1)
    for i, key in enumerate(KEYS):
        op(f"add TXT signed with {key.algorithm}",
           lambda u, i=i, key=key: u.add(n(f"alg{i}"), 300, "TXT", f'"{key.algorithm}"'),
           {(f"alg{i}", "TXT"): has(f'"{key.algorithm}"')}, 1, key=key, tcp=bool(i % 2))
    op("add two TXT at one name (TCP)",
       lambda u: u.add(n("two"), 300, "TXT", '"a"', '"b"'),
       {("two", "TXT"): has('"a"', '"b"')}, 1, tcp=True)
    op("delete one RR (class NONE)",
       lambda u: u.delete(n("two"), "TXT", '"b"'),
       {("two", "TXT"): has('"a"')}, 1)
    op("delete an RRset (class ANY, type A)",
       lambda u: u.delete(n("multi"), "A"),
       {("multi", "A"): NODATA, ("multi", "TXT"): has('"one"')}, 1)
    op("delete a name (class ANY, type ANY)",
       lambda u: u.delete(n("op")),
       {("op", "A"): GONE, ("op", "TXT"): GONE}, 1, tcp=True)
    op("add an unknown type (TYPE65280)",
       lambda u: u.add(n("unk"), 300, "TYPE65280", r"\# 4 deadbeef"),
       {("unk", "TYPE65280"): has(r"\# 4 deadbeef")}, 1)
    op("add and delete in one message bump the serial once",
       lambda u: (u.add(n("combo"), 300, "TXT", '"x"'), u.delete(n("two"), "TXT"),
                  u.add(n("combo"), 300, "A", "192.0.2.77")),
       {("combo", "TXT"): has('"x"'), ("combo", "A"): has("192.0.2.77"),
        ("two", "TXT"): GONE}, 1)
    op("key name in other case (K-name), digest over the canonical name",
       lambda u: u.add(n("case"), 300, "TXT", '"c"'), {("case", "TXT"): has('"c"')}, 1,
       key=upper_case_key(MAIN))

    # No effective change: NOERROR, serial unchanged.
    op("delete an RR that is not there",
       lambda u: u.delete(n("www"), "TXT", '"nope"'), {("www", "TXT"): has('"web server"')}, 0)
    op("delete a name that is not there",
       lambda u: u.delete(n("nothere")), {}, 0)
    op("delete an RRset that is not there",
       lambda u: u.delete(n("www"), "AAAA"), {("www", "A"): has("192.0.2.10")}, 0)
    op("add an RR that is already there",
       lambda u: u.add(n("www"), 300, "A", "192.0.2.10"), {("www", "A"): has("192.0.2.10")}, 0)

    # The apex SOA and the last apex NS stay (RFC 2136 §3.4.2.3, §3.4.2.4).
    soa_before = state("@", "SOA")
    op("delete the apex SOA RRset is ignored",
       lambda u: u.delete(ZONE, "SOA"), {("@", "SOA"): soa_before}, 0)
    op("delete the apex SOA RR (class NONE) is ignored",
       lambda u: u.delete(ZONE, "SOA", soa_before[1][0]), {("@", "SOA"): soa_before}, 0)
    both_ns = has("ns1.example.test.", "ns2.example.test.")
    op("delete the apex NS RRset is ignored",
       lambda u: u.delete(ZONE, "NS"), {("@", "NS"): both_ns}, 0)
    op("delete one of two apex NS",
       lambda u: u.delete(ZONE, "NS", "ns1.example.test."),
       {("@", "NS"): has("ns2.example.test.")}, 1)
    op("delete the last apex NS is ignored",
       lambda u: u.delete(ZONE, "NS", "ns2.example.test."),
       {("@", "NS"): has("ns2.example.test.")}, 0)
    op("add the apex NS back",
       lambda u: u.add(ZONE, 3600, "NS", "ns1.example.test."), {("@", "NS"): both_ns}, 1)

    # CNAME and other data (RFC 2136 §3.4.2.2): silently ignored.
    op("add A where a CNAME is is ignored",
       lambda u: u.add(n("alias"), 300, "A", "192.0.2.99"),
       {("alias", "CNAME"): has("www.example.test."), ("alias", "A"): state("alias", "A")}, 0)
    op("add CNAME where other data is is ignored",
       lambda u: u.add(n("www"), 300, "CNAME", "mail.example.test."),
       {("www", "CNAME"): NODATA, ("www", "A"): has("192.0.2.10")}, 0)

    # Prerequisites that hold (RFC 2136 §2.4).
    op("prereq yxdomain holds",
       lambda u: (u.present(n("www")), u.add(n("pre1"), 300, "TXT", '"1"')),
       {("pre1", "TXT"): has('"1"')}, 1)
    op("prereq nxdomain holds",
       lambda u: (u.absent(n("nothere")), u.add(n("pre2"), 300, "TXT", '"2"')),
       {("pre2", "TXT"): has('"2"')}, 1)
    op("prereq yxrrset (value-independent) holds",
       lambda u: (u.present(n("www"), "A"), u.add(n("pre3"), 300, "TXT", '"3"')),
       {("pre3", "TXT"): has('"3"')}, 1)
    op("prereq yxrrset (value-dependent) holds",
       lambda u: (u.present(ZONE, "NS", "ns1.example.test.", "ns2.example.test."),
                  u.add(n("pre4"), 300, "TXT", '"4"')),
       {("pre4", "TXT"): has('"4"')}, 1, tcp=True)
    op("prereq nxrrset holds",
       lambda u: (u.absent(n("www"), "AAAA"), u.add(n("pre5"), 300, "TXT", '"5"')),
       {("pre5", "TXT"): has('"5"')}, 1)

    # Wildcards and aliases are not followed (RFC 2136 §1.1.3, §1.1.4).
    op("prereq nxdomain holds for a name only a wildcard covers",
       lambda u: (u.absent(n("x.wild")), u.add(n("pre6"), 300, "TXT", '"6"')),
       {("pre6", "TXT"): has('"6"')}, 1)
    op("delete a name only a wildcard covers changes nothing",
       lambda u: u.delete(n("x.wild")), {("*.wild", "A"): has("192.0.2.99")}, 0)
    op("prereq nxrrset holds for A at a CNAME (no aliasing)",
       lambda u: (u.absent(n("alias"), "A"), u.add(n("pre7"), 300, "TXT", '"7"')),
       {("pre7", "TXT"): has('"7"')}, 1)
    op("add CNAME where a CNAME is replaces it (§1.1.5)",
       lambda u: u.add(n("alias"), 300, "CNAME", "mail.example.test."),
       {("alias", "CNAME"): has("mail.example.test.")}, 1)
    op("and back",
       lambda u: u.add(n("alias"), 300, "CNAME", "www.example.test."),
       {("alias", "CNAME"): has("www.example.test.")}, 1)

    # Names compare case-insensitively.
    op("add at a mixed-case owner",
       lambda u: u.add(dns.name.from_text("MiXeD.Example.TEST."), 300, "TXT", '"m"'),
       {("mixed", "TXT"): has('"m"')}, 1)
    op("delete it by another case",
       lambda u: u.delete(dns.name.from_text("mIxEd.eXample.test."), "TXT"),
       {("mixed", "TXT"): GONE}, 1)
    raw_ok("zone section in upper case",
           update_wire([(dns.name.from_text("EXAMPLE.TEST."), SOA, IN)],
                       updates=[rr("upper", "TXT", IN, 300, '"u"')]),
           {("upper", "TXT"): has('"u"')}, 1)

    # Messages that change nothing, or many things at once.
    op("empty update", lambda u: None, {}, 0)
    op("prerequisites only", lambda u: u.present(n("www"), "A"), {}, 0)
    raw_ok("the same RR twice in one message is stored once",
           upd([rr("dup", "A", IN, 300, "192.0.2.5"), rr("dup", "A", IN, 300, "192.0.2.5")]),
           {("dup", "A"): has("192.0.2.5")}, 1)
    op("delete both apex NS in one message keeps the last one (§3.4.2.4)",
       lambda u: u.delete(ZONE, "NS", "ns1.example.test.", "ns2.example.test."),
       {("@", "NS"): has("ns2.example.test.")}, 1)
    op("add the apex NS back again",
       lambda u: u.add(ZONE, 3600, "NS", "ns1.example.test."), {("@", "NS"): both_ns}, 1)
    op("500 names in one message over TCP",
       lambda u: [u.add(n(f"bulk{i}"), 300, "A", f"192.0.2.{i % 250 + 1}") for i in range(500)],
       {("bulk0", "A"): has("192.0.2.1"), ("bulk251", "A"): has("192.0.2.2"),
        ("bulk499", "A"): has("192.0.2.250")}, 1, tcp=True)
    two_on_one_connection()

    # RDATA names compressed by dnspython (MX, CNAME) must be read back whole.
    op("add MX and CNAME whose targets dnspython compresses",
       lambda u: (u.add(n("mx"), 300, "MX", "10 mail.example.test."),
                  u.add(n("cn"), 300, "CNAME", "www.example.test.")),
       {("mx", "MX"): has("10 mail.example.test."), ("cn", "CNAME"): has("www.example.test.")},
       1)
    op("add an unknown type with empty rdata",
       lambda u: u.add(n("unk0"), 300, "TYPE65281", r"\# 0"),
       {("unk0", "TYPE65281"): has(r"\# 0")}, 1)
    # Empty non-terminals appear and disappear with the names below them.
    op("add a name three labels down",
       lambda u: u.add(n("x.y.ent"), 300, "TXT", '"deep"'),
       {("x.y.ent", "TXT"): has('"deep"'), ("y.ent", "A"): NODATA, ("ent", "A"): NODATA}, 1)
    op("delete it: the empty non-terminals go too",
       lambda u: u.delete(n("x.y.ent")),
       {("x.y.ent", "TXT"): GONE, ("y.ent", "A"): GONE, ("ent", "A"): GONE}, 1)
    # EDNS and TSIG together: OPT first, TSIG last, both in the reply.
    problems = []
    try:
        s0 = serial()
        u = dns.update.UpdateMessage(ZONE)
        u.add(n("edns"), 300, "TXT", '"with OPT"')
        u.use_edns(0, payload=1232)
        u.use_tsig(MAIN.dnspython())
        resp = dns.query.udp(u, "127.0.0.1", timeout=3, port=PORT)
        if resp.rcode() != NOERROR or not resp.had_tsig or resp.edns < 0:
            problems.append(f"rcode {resp.rcode()} signed {resp.had_tsig} edns {resp.edns}")
        if serial() != s0 + 1 or state("edns", "TXT") != has('"with OPT"'):
            problems.append(f"serial {s0} -> {serial()}, {state('edns', 'TXT')}")
    except Exception as e:  # noqa: BLE001
        problems.append(f"{type(e).__name__}: {e}")
    report("signed update with EDNS", problems)
    truncated_answers_stay_signed()

    # Delete all at the apex: everything but SOA and NS goes (§3.4.2.3).
    op("delete the apex name keeps SOA and NS",
       lambda u: u.delete(ZONE),
       {("@", "MX"): NODATA, ("@", "NS"): both_ns}, 1)


def raw_ok(label, wire, expect, delta, tcp=False):
    """A hand-built update signed with the main key: NOERROR, signed reply,
    the serial moved by `delta`, and `expect` served afterwards."""
    problems = []
    try:
        s0 = serial()
        w, mac = signed(wire)
        reply = Reply(exchange(w, PORT, tcp=tcp))
        if reply.rcode != NOERROR:
            problems.append(f"{reply.describe()}, expected NOERROR")
        if not reply.signed_by(MAIN, mac):
            problems.append(f"reply not signed by the key: {reply.describe()}")
        s1 = serial()
        if s1 - s0 != delta:
            problems.append(f"serial {s0} -> {s1}, expected +{delta}")
        for (owner, rtype), want in expect.items():
            got = state(owner, rtype)
            if got != want:
                problems.append(f"{owner}/{rtype}: {got}, expected {want}")
    except Exception as e:  # noqa: BLE001
        problems.append(f"{type(e).__name__}: {e}")
    report(label, problems)


def two_on_one_connection():
    """Two signed updates written back to back on one TCP connection: two
    signed NOERROR replies in order, both applied, two increments."""
    problems = []
    try:
        s0 = serial()
        first, mac1 = signed(upd([rr("pipe1", "TXT", IN, 300, '"1"')]))
        second, mac2 = signed(upd([rr("pipe2", "TXT", IN, 300, '"2"')]))
        with socket.create_connection(("127.0.0.1", PORT), timeout=3) as sock:
            sock.sendall(b"".join(struct.pack("!H", len(w)) + w for w in (first, second)))
            for w, mac in ((first, mac1), (second, mac2)):
                length = struct.unpack("!H", recv_exact(sock, 2))[0]
                reply = Reply(recv_exact(sock, length))
                if reply.id != int.from_bytes(w[:2], "big"):
                    problems.append("replies out of order")
                if reply.rcode != NOERROR or not reply.signed_by(MAIN, mac):
                    problems.append(reply.describe())
        if serial() != s0 + 2:
            problems.append(f"serial {s0} -> {serial()}, expected +2")
        for owner, value in (("pipe1", '"1"'), ("pipe2", '"2"')):
            if state(owner, "TXT") != has(value):
                problems.append(f"{owner}: {state(owner, 'TXT')}")
    except Exception as e:  # noqa: BLE001
        problems.append(f"{type(e).__name__}: {e}")
    report("two updates pipelined on one TCP connection", problems)


def truncated_answers_stay_signed():
    """A signed query whose answer does not fit in UDP: TC set and still a
    valid TSIG (RFC 8945 §5.3: the signature is never dropped to make room);
    over TCP the whole RRset, signed."""
    values = [f'"{i:02d} padding padding padding padding padding padding"' for i in range(40)]
    op("add 40 TXT at one name (TCP)",
       lambda u: u.add(n("big"), 300, "TXT", *values), {}, 1, tcp=True)
    for label, build, tcp in [
        ("no EDNS, UDP", lambda: query_wire(n("big"), "TXT"), False),
        ("EDNS 1232, UDP",
         lambda: dns.message.make_query(n("big"), "TXT", use_edns=0, payload=1232).to_wire(),
         False),
        ("TCP", lambda: query_wire(n("big"), "TXT"), True),
    ]:
        problems = []
        try:
            w, mac = signed(build())
            reply = Reply(exchange(w, PORT, tcp=tcp))
            tc = bool(reply.flags & 0x0200)
            if reply.rcode != NOERROR:
                problems.append(reply.describe())
            if tc == tcp:
                problems.append(f"TC={tc} over {'TCP' if tcp else 'UDP'}")
            if not reply.signed_by(MAIN, mac):
                problems.append(f"reply not signed: {reply.describe()}")
            if tcp and (reply.message is None or sum(len(r) for r in reply.answer()) != 40):
                problems.append("not all 40 records over TCP")
            if not tcp and len(reply.wire) > (512 if "no EDNS" in label else 1232):
                problems.append(f"UDP reply of {len(reply.wire)} bytes")
        except Exception as e:  # noqa: BLE001
            problems.append(f"{type(e).__name__}: {e}")
        report(f"signed query of a large RRset, {label}", problems)


def upper_case_key(key):
    k = Key(key.text)
    k.name = dns.name.from_text(key.name.to_text().upper())
    return k


# ------------------------------------------------------------ bad input

MARKER = rr_bytes(n("marker"), 16, IN, 300, rdata("TXT", '"must not appear"'))
Z = [(ZONE, SOA, IN)]


def bad(label, wire, rcode, tsig, key=None, request_mac=None, tcp=False):
    """Sends `wire`; the reply must have `rcode` and the TSIG form `tsig`:
      ("none",)            no TSIG RR at all (unsigned request)
      ("unsigned", error)  a TSIG RR with that error and an empty MAC
      ("not-signed",)      no TSIG RR, or one with an empty MAC
      ("signed", error)    a TSIG RR with that error, valid under `key` over the
                           reply and `request_mac`
    and neither the serial nor anything watched may change."""
    key = key or MAIN
    problems = []
    try:
        before = snapshot()
        s0 = serial()
        reply = Reply(exchange(wire, PORT, tcp=tcp))
        if reply.rcode != rcode:
            problems.append(f"rcode {dns.rcode.to_text(reply.rcode)}, expected "
                            f"{dns.rcode.to_text(rcode)}")
        if reply.id != int.from_bytes(wire[:2], "big"):
            problems.append("reply id differs")
        t = reply.tsig
        kind = tsig[0]
        if kind == "none" and t is not None:
            problems.append(f"unexpected TSIG in the reply: {reply.describe()}")
        elif kind == "unsigned":
            if t is None:
                problems.append(f"no TSIG RR with error {tsig[1]} in the reply")
            else:
                if t["error"] != tsig[1]:
                    problems.append(f"TSIG error {t['error']}, expected {tsig[1]}")
                if t["mac"]:
                    problems.append(f"reply signed (MAC of {len(t['mac'])} bytes), must not be")
        elif kind == "not-signed-or-signed":
            pass
        elif kind == "not-signed" and t is not None and t["mac"]:
            problems.append(f"reply signed (MAC of {len(t['mac'])} bytes), must not be")
        elif kind == "signed":
            if t is None:
                problems.append("reply not signed")
            else:
                if t["error"] != tsig[1]:
                    problems.append(f"TSIG error {t['error']}, expected {tsig[1]}")
                if not reply.signed_by(key, request_mac):
                    problems.append(f"reply's TSIG does not verify: {reply.describe()}")
                if t["original_id"] != reply.id:
                    problems.append("TSIG original id differs from the id")
        if tsig == ("signed", BADTIME):
            other = t["other"] if t else b""
            if len(other) != 6:
                problems.append(f"BADTIME other data {other.hex()}, expected 6 bytes of time")
            elif abs(int.from_bytes(other, "big") - now()) > 60:
                problems.append(f"BADTIME other data {int.from_bytes(other, 'big')} is not now")
        s1 = serial()
        if s1 != s0:
            problems.append(f"serial {s0} -> {s1}")
        problems += diff(before, snapshot())
    except Exception as e:  # noqa: BLE001
        problems.append(f"{type(e).__name__}: {e}")
    report(label, problems)


def signed(wire, key=None, **kw):
    return sign(wire, key or MAIN, **kw)


def upd(updates=(), prereqs=(), zones=None):
    return update_wire(Z if zones is None else zones, prereqs=prereqs, updates=updates)


def bad_tsig():
    plain = upd([MARKER])
    bad("unsigned update", plain, REFUSED, ("none",))
    bad("unsigned update over TCP", upd([MARKER]), REFUSED, ("none",), tcp=True)

    stranger = Key("hmac-sha256:no-such-key.:" + MAIN.secret_b64)
    w, mac = signed(upd([MARKER]), stranger)
    bad("unknown key name", w, NOTAUTH, ("unsigned", BADKEY))
    w, mac = signed(upd([MARKER]), algorithm=dns.tsig.HMAC_SHA512)
    bad("known key, other algorithm (hmac-sha512 for an hmac-sha256 key)", w, NOTAUTH,
        ("unsigned", BADKEY))
    w, mac = signed(upd([MARKER]), secret=b"not the secret at all, 32 bytes")
    bad("wrong secret", w, NOTAUTH, ("unsigned", BADSIG))
    w, mac = signed(upd([MARKER]), secret=b"not the secret at all, 32 bytes")
    bad("wrong secret over TCP", w, NOTAUTH, ("unsigned", BADSIG), tcp=True)
    w, mac = signed(upd([MARKER]))
    tampered = bytearray(w)
    tampered[w.index(b"must not appear")] ^= 0x20
    bad("message changed after signing", bytes(tampered), NOTAUTH, ("unsigned", BADSIG))
    for k in KEYS[1:]:
        w, mac = signed(upd([MARKER]), k, secret=b"wrong secret for " + k.name.to_text().encode())
        bad(f"wrong secret, {k.algorithm}", w, NOTAUTH, ("unsigned", BADSIG))

    w, mac = signed(upd([MARKER]), time_signed=now() - 3600)
    bad("good MAC, time an hour ago", w, NOTAUTH, ("signed", BADTIME), request_mac=mac)
    w, mac = signed(upd([MARKER]), time_signed=now() + 3600, fudge=60)
    bad("good MAC, time an hour ahead", w, NOTAUTH, ("signed", BADTIME), request_mac=mac,
        tcp=True)
    # Time is checked after the MAC: a stale request with a bad MAC is BADSIG.
    w, mac = signed(upd([MARKER]), time_signed=now() - 3600, secret=b"wrong")
    bad("bad MAC and bad time: BADSIG first", w, NOTAUTH, ("unsigned", BADSIG))

    sizes = [(MAIN, 33), (MAIN, 64), (MAIN, 15), (MAIN, 0)]
    for k in KEYS[1:]:
        # One byte over the hash, one byte under max(10, half the hash).
        sizes += [(k, mac_size(k) + 1), (k, max(10, mac_size(k) // 2) - 1)]
    for k, length in sizes:
        w, mac = signed(upd([MARKER]), k, mac=bytes((i * 7 + 1) % 256 for i in range(length)))
        bad(f"MAC of {length} bytes for {k.algorithm}", w, FORMERR, ("not-signed",))

    base = upd([MARKER])
    w, mac = signed(base)
    after = rr_bytes(n("www"), 1, IN, 300, rdata("A", "192.0.2.200"))
    bad("TSIG not the last record", add_additional(w, after), FORMERR, ("not-signed",))
    w2, _ = signed(w)
    bad("two TSIG records", w2, FORMERR, ("not-signed",))
    for cut in (5, 14, 20, 30):
        w, mac = signed(upd([MARKER]), cut=cut)
        bad(f"TSIG rdata cut to {cut} bytes", w, FORMERR, ("not-signed",))
    w, mac = signed(upd([MARKER]), rclass=IN)
    bad("TSIG of class IN", w, FORMERR, ("not-signed",))
    w, mac = signed(upd([MARKER]), ttl=60)
    bad("TSIG with TTL 60", w, FORMERR, ("not-signed",))

    # Queries are checked the same way.
    w, mac = signed(query_wire(ZONE, "SOA"), stranger)
    bad("signed query, unknown key", w, NOTAUTH, ("unsigned", BADKEY))
    w, mac = signed(query_wire(ZONE, "SOA"), secret=b"wrong")
    bad("signed query, wrong secret", w, NOTAUTH, ("unsigned", BADSIG))


def mac_size(key):
    return ALGORITHMS[key.algorithm][1]


def bad_signed(label, wire, rcode, tcp=False, tsig_form=None):
    """A correctly signed request the UPDATE rules reject: signed reply, TSIG
    error 0."""
    w, mac = signed(wire)
    bad(label, w, rcode, tsig_form or ("signed", 0), request_mac=mac, tcp=tcp)


def rr(owner, rtype, rclass=IN, ttl=300, text=None):
    rt = dns.rdatatype.from_text(rtype) if isinstance(rtype, str) else rtype
    data = rdata(rtype, text) if text is not None else b""
    return rr_bytes(owner if isinstance(owner, dns.name.Name) else n(owner), rt, rclass, ttl, data)


def bad_update():
    # Zone section (RFC 2136 §3.1.1).
    bad_signed("zone section empty", update_wire([], updates=[MARKER]), FORMERR)
    bad_signed("zone section with two zones", update_wire(Z + Z, updates=[MARKER]), FORMERR)
    bad_signed("zone section of type A", update_wire([(ZONE, 1, IN)], updates=[MARKER]), FORMERR)
    other = dns.name.from_text("other.example.")
    bad_signed("zone not ours", update_wire(
        [(other, SOA, IN)], updates=[rr_bytes(dns.name.from_text("x.other.example."), 1, IN, 300,
                                              rdata("A", "192.0.2.1"))]), NOTAUTH)
    bad_signed("zone is a name inside ours", update_wire([(n("www"), SOA, IN)],
                                                         updates=[MARKER]), NOTAUTH)
    bad_signed("zone is our parent", update_wire([(dns.name.from_text("test."), SOA, IN)],
                                                 updates=[MARKER]), NOTAUTH, tcp=True)

    # NOTZONE (§3.1.2, §3.4.1.1): outside the zone, compared label by label.
    dotted = dns.name.Name([b"marker.example", b"test", b""])  # text: marker\.example.test.
    for label, owner in [
        ("owner in another zone", dns.name.from_text("www.other.example.")),
        ("owner is the zone's parent", dns.name.from_text("test.")),
        ("owner ends with the zone's text (xexample.test)", dns.name.from_text("xexample.test.")),
        ("owner label 'marker.example' under test.", dotted),
        ("owner is the root", dns.name.root),
    ]:
        bad_signed(f"NOTZONE: {label}", upd(
            [MARKER, rr_bytes(owner, 16, IN, 300, rdata("TXT", '"x"'))]), NOTZONE)
    bad_signed("NOTZONE: prerequisite owner outside", upd(
        [MARKER], prereqs=[rr_bytes(dns.name.from_text("other.example."), 255, ANY, 0)]), NOTZONE)
    bad_signed("NOTZONE: prerequisite owner label 'www.example' under test.", upd(
        [MARKER], prereqs=[rr_bytes(dns.name.Name([b"www.example", b"test", b""]), 255, ANY, 0)]),
        NOTZONE)

    # Prerequisites: form (§3.2.1–3.2.4).
    bad_signed("prereq with TTL 5", upd([MARKER], prereqs=[rr("www", 255, ANY, 5)]), FORMERR)
    bad_signed("prereq yxrrset with TTL 5", upd([MARKER], prereqs=[rr("www", "A", ANY, 5)]),
               FORMERR)
    bad_signed("prereq class ANY with rdata",
               upd([MARKER], prereqs=[rr("www", "A", ANY, 0, "192.0.2.10")]), FORMERR)
    bad_signed("prereq class NONE with rdata",
               upd([MARKER], prereqs=[rr("www", "A", NONE, 0, "192.0.2.10")]), FORMERR)
    bad_signed("prereq value-dependent with TTL 300",
               upd([MARKER], prereqs=[rr("www", "A", IN, 300, "192.0.2.10")]), FORMERR)
    bad_signed("prereq of class CH", upd([MARKER], prereqs=[rr("www", "A", CH, 0)]), FORMERR)

    # Prerequisites that fail (§3.2.5 rcodes): nothing applied.
    bad_signed("prereq yxdomain on a missing name", upd(
        [MARKER], prereqs=[rr("nothere", 255, ANY, 0)]), NXDOMAIN)
    bad_signed("prereq nxdomain on an existing name", upd(
        [MARKER], prereqs=[rr("www", 255, NONE, 0)]), YXDOMAIN)
    bad_signed("prereq nxdomain on an existing name (TCP)", upd(
        [MARKER], prereqs=[rr("mail", 255, NONE, 0)]), YXDOMAIN, tcp=True)
    bad_signed("prereq yxrrset (value-independent) on a missing RRset", upd(
        [MARKER], prereqs=[rr("www", "AAAA", ANY, 0)]), NXRRSET)
    bad_signed("prereq yxrrset (value-dependent), other value", upd(
        [MARKER], prereqs=[rr("www", "A", IN, 0, "192.0.2.11")]), NXRRSET)
    bad_signed("prereq yxrrset (value-dependent), part of the RRset", upd(
        [MARKER], prereqs=[rr(ZONE, "NS", IN, 0, "ns1.example.test.")]), NXRRSET)
    bad_signed("prereq yxrrset (value-dependent), RRset plus one more", upd(
        [MARKER], prereqs=[rr(ZONE, "NS", IN, 0, "ns1.example.test."),
                           rr(ZONE, "NS", IN, 0, "ns2.example.test."),
                           rr(ZONE, "NS", IN, 0, "ns3.example.test.")]), NXRRSET)
    bad_signed("prereq yxdomain on a name only a wildcard covers", upd(
        [MARKER], prereqs=[rr("x.wild", 255, ANY, 0)]), NXDOMAIN)
    bad_signed("prereq yxrrset A at a CNAME whose target has A (no aliasing)", upd(
        [MARKER], prereqs=[rr("alias", "A", ANY, 0)]), NXRRSET)
    bad_signed("prereq nxrrset on an existing RRset", upd(
        [MARKER], prereqs=[rr("www", "A", NONE, 0)]), YXRRSET)
    bad_signed("prereqs: one holds, one fails", upd(
        [MARKER], prereqs=[rr("www", 255, ANY, 0), rr("www", "TXT", NONE, 0)]), YXRRSET)

    # Update section form (§3.4.1.3).
    bad_signed("delete RRset with TTL 60", upd([MARKER, rr("www", "A", ANY, 60)]), FORMERR)
    bad_signed("delete name with TTL 60", upd([MARKER, rr("www", 255, ANY, 60)]), FORMERR)
    bad_signed("delete RRset with rdata", upd([MARKER, rr("www", "A", ANY, 0, "192.0.2.10")]),
               FORMERR)
    bad_signed("delete one RR with TTL 60", upd([MARKER, rr("www", "A", NONE, 60, "192.0.2.10")]),
               FORMERR)
    bad_signed("update of class CH", upd([MARKER, rr("www", "A", CH, 300, "192.0.2.10")]), FORMERR)
    bad_signed("delete one RR of type ANY (class NONE)", upd([MARKER, rr("www", 255, NONE, 0)]),
               FORMERR)
    for rtype in (255, 252, 251, 254, 253, 249):
        bad_signed(f"add meta type {dns.rdatatype.to_text(rtype)}",
                   upd([MARKER, rr_bytes(n("marker"), rtype, IN, 300, b"")]), FORMERR)
    for rtype in (41, 250):
        # OPT or TSIG in the update section: a FORMERR, signed or not.
        bad_signed(f"add meta type {dns.rdatatype.to_text(rtype)}",
                   upd([MARKER, rr_bytes(n("marker"), rtype, IN, 300, b"")]), FORMERR,
                   tsig_form=("not-signed-or-signed",))
    for rtype, text in [
        ("RRSIG", "A 13 3 300 20301231000000 20200101000000 12345 example.test. dGVzdHNpZw=="),
        ("NSEC", "www.example.test. A TXT RRSIG NSEC"),
        ("NSEC3", "1 0 10 aabbccdd 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG"),
        ("DNSKEY", "257 3 13 dGVzdGtleWRhdGE="),
    ]:
        bad_signed(f"add DNSSEC type {rtype}", upd([MARKER, rr("marker", rtype, IN, 300, text)]),
                   REFUSED)

    # All or nothing: good records before and after one bad one.
    www_delete = rr("www", "A", ANY, 0)
    good = rr("marker", "A", IN, 300, "192.0.2.123")
    bad_signed("good adds + RRSIG add: nothing applied",
               upd([MARKER, www_delete, rr("marker", "RRSIG", IN, 300,
                    "A 13 3 300 20301231000000 20200101000000 1 example.test. dGVzdA=="), good]),
               REFUSED)
    bad_signed("good adds + AXFR add: nothing applied",
               upd([MARKER, www_delete, rr_bytes(n("x"), 252, IN, 300, b""), good]), FORMERR)
    bad_signed("good adds + owner outside the zone: nothing applied",
               upd([MARKER, www_delete, good, rr_bytes(dns.name.from_text("y.other.example."), 1,
                                                        IN, 300, rdata("A", "192.0.2.1"))]),
               NOTZONE)
    bad_signed("good adds + delete with TTL: nothing applied",
               upd([MARKER, www_delete, good, rr("mail", "A", ANY, 10)]), FORMERR, tcp=True)
    bad_signed("good adds + unknown-type add with class NONE TTL 1: nothing applied",
               upd([MARKER, good, rr_bytes(n("marker"), 65280, NONE, 1, b"\x01")]), FORMERR)


def main():
    self_test(MAIN)
    start = time.monotonic()
    bad_tsig()
    bad_update()
    operations()
    print(f"{len(failures)} failed; {time.monotonic() - start:.1f}s", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
