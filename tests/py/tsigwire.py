"""Raw DNS and TSIG helpers shared by the UPDATE test scripts (tests/update.rs).

Independent of dynzone and, for the MAC itself, of dnspython: TSIG (RFC 8945
§4.3) is computed here with hashlib/hmac so that a test can sign with any time,
MAC, algorithm name or key name, and can check a reply's MAC even when
dnspython refuses to (it raises on any reply whose TSIG error is set, before
looking at the MAC). `self_test()` checks both directions against dnspython.

Keys are given on the command line as `ALGORITHM:NAME:SECRET_BASE64`, the same
text the server gets with --tsig.
"""

import base64
import hashlib
import hmac
import random
import socket
import struct
import time

try:
    import dns.exception
    import dns.message
    import dns.name
    import dns.rcode
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.tsig
except ImportError as e:  # pragma: no cover - environment problem
    raise SystemExit(f"dnspython is missing ({e}); install the Debian package python3-dnspython")

HOST = "127.0.0.1"

# Algorithm name → (hash constructor, digest size in bytes).
ALGORITHMS = {
    dns.tsig.HMAC_MD5: (hashlib.md5, 16),
    dns.tsig.HMAC_SHA1: (hashlib.sha1, 20),
    dns.tsig.HMAC_SHA224: (hashlib.sha224, 28),
    dns.tsig.HMAC_SHA256: (hashlib.sha256, 32),
    dns.tsig.HMAC_SHA384: (hashlib.sha384, 48),
    dns.tsig.HMAC_SHA512: (hashlib.sha512, 64),
}
ALGORITHM_BY_TEXT = {
    "hmac-md5": dns.tsig.HMAC_MD5,
    "hmac-sha1": dns.tsig.HMAC_SHA1,
    "hmac-sha224": dns.tsig.HMAC_SHA224,
    "hmac-sha256": dns.tsig.HMAC_SHA256,
    "hmac-sha384": dns.tsig.HMAC_SHA384,
    "hmac-sha512": dns.tsig.HMAC_SHA512,
}

TSIG = 250
CLASS_ANY = 255
BADSIG, BADKEY, BADTIME = 16, 17, 18


class Key:
    """One TSIG key: name, algorithm name, secret bytes."""

    def __init__(self, spec):
        alg, name, secret = spec.split(":", 2)
        self.text = spec
        self.algorithm = ALGORITHM_BY_TEXT[alg]
        self.name = dns.name.from_text(name)
        self.secret_b64 = secret
        self.secret = base64.b64decode(secret)

    def dnspython(self):
        """The same key as a dns.tsig.Key, for dnspython's own signing/checking."""
        return dns.tsig.Key(self.name, self.secret, self.algorithm)

    def __repr__(self):
        return f"Key({self.name} {self.algorithm})"


def now():
    return int(time.time())


def mac_of(secret, algorithm, signed_wire, key_name, time_signed, fudge, error=0,
           other=b"", request_mac=None, hash_algorithm=None):
    """RFC 8945 §4.3.3: the HMAC over [request MAC], the message (TSIG removed,
    original ID in place) and the TSIG variables in canonical form."""
    hashfn = ALGORITHMS[hash_algorithm or algorithm][0]
    h = hmac.new(secret, digestmod=hashfn)
    if request_mac is not None:
        h.update(struct.pack("!H", len(request_mac)) + request_mac)
    h.update(signed_wire)
    h.update(key_name.to_digestable())
    h.update(struct.pack("!HI", CLASS_ANY, 0))
    h.update(algorithm.to_digestable())
    h.update(struct.pack("!HIH", time_signed >> 32, time_signed & 0xFFFFFFFF, fudge))
    h.update(struct.pack("!HH", error, len(other)) + other)
    return h.digest()


def add_additional(wire, rr_bytes, count=1):
    arcount = struct.unpack("!H", wire[10:12])[0] + count
    return wire[:10] + struct.pack("!H", arcount) + wire[12:] + rr_bytes


def tsig_rr(owner, algorithm, time_signed, fudge, mac, original_id, error=0, other=b"",
            rclass=CLASS_ANY, ttl=0, cut=None):
    rdata = (
        algorithm.to_wire()
        + struct.pack("!HIHH", time_signed >> 32, time_signed & 0xFFFFFFFF, fudge, len(mac))
        + mac
        + struct.pack("!HHH", original_id, error, len(other))
        + other
    )
    if cut is not None:
        rdata = rdata[:cut]
    return owner.to_wire() + struct.pack("!HHIH", TSIG, rclass, ttl, len(rdata)) + rdata


def sign(wire, key, *, time_signed=None, fudge=300, mac=None, algorithm=None, key_name=None,
         secret=None, rclass=CLASS_ANY, ttl=0, cut=None, mac_len=None):
    """Appends a TSIG RR to `wire`; returns (signed wire, the MAC sent).

    By default a correct signature; each keyword changes one thing: the time,
    the MAC itself, the algorithm named (the MAC then uses that algorithm's
    hash), the key name written (the MAC uses it too, canonical), the secret,
    the class/TTL of the TSIG RR, a cut of the rdata, a truncation of the MAC."""
    algorithm = algorithm or key.algorithm
    key_name = key_name or key.name
    time_signed = now() if time_signed is None else time_signed
    original_id = struct.unpack("!H", wire[:2])[0]
    if mac is None:
        mac = mac_of(secret if secret is not None else key.secret, algorithm, wire, key_name,
                     time_signed, fudge)
        if mac_len is not None:
            mac = mac[:mac_len]
    rr = tsig_rr(key_name, algorithm, time_signed, fudge, mac, original_id, rclass=rclass,
                 ttl=ttl, cut=cut)
    return add_additional(wire, rr), mac


# ------------------------------------------------------------------ messages


def rr_bytes(name, rtype, rclass, ttl, rdata=b""):
    if isinstance(name, str):
        name = dns.name.from_text(name)
    return name.to_wire() + struct.pack("!HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def rdata(rtype, text):
    """Uncompressed wire RDATA of `text` (type given as text or number)."""
    return dns.rdata.from_text(dns.rdataclass.IN, rtype, text).to_wire()


def update_wire(zones, prereqs=(), updates=(), additional=(), msg_id=None):
    """A raw UPDATE (opcode 5). zones: (name, type, class) tuples; the rest: RR bytes."""
    msg_id = random.randrange(65536) if msg_id is None else msg_id
    header = struct.pack("!HHHHHH", msg_id, 5 << 11, len(zones), len(prereqs), len(updates),
                         len(additional))
    body = b""
    for name, rtype, rclass in zones:
        if isinstance(name, str):
            name = dns.name.from_text(name)
        body += name.to_wire() + struct.pack("!HH", rtype, rclass)
    return header + body + b"".join(prereqs) + b"".join(updates) + b"".join(additional)


def query_wire(name, rtype, msg_id=None):
    msg_id = random.randrange(65536) if msg_id is None else msg_id
    if isinstance(name, str):
        name = dns.name.from_text(name)
    return struct.pack("!HHHHHH", msg_id, 0, 1, 0, 0, 0) + name.to_wire() + struct.pack(
        "!HH", dns.rdatatype.from_text(rtype) if isinstance(rtype, str) else rtype, 1)


# ----------------------------------------------------------------- transport


def exchange(wire, port, tcp=False, timeout=3.0):
    """Sends one message to 127.0.0.1:port and returns the reply bytes."""
    if tcp:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(struct.pack("!H", len(wire)) + wire)
            length = struct.unpack("!H", recv_exact(s, 2))[0]
            return recv_exact(s, length)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(wire, (HOST, port))
        deadline = time.monotonic() + timeout
        while True:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            data, _ = s.recvfrom(65535)
            if data[:2] == wire[:2]:
                return data


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise EOFError(f"connection closed after {len(out)} of {n} bytes")
        out += chunk
    return out


# ------------------------------------------------------------------- replies


class Reply:
    """A reply taken apart by hand: header, the TSIG RR (if any) and the rest,
    parsed by dnspython with the TSIG removed."""

    def __init__(self, wire):
        self.wire = wire
        if len(wire) < 12:
            raise ValueError(f"reply of {len(wire)} bytes")
        self.id, self.flags, qd, an, ns, ar = struct.unpack("!HHHHHH", wire[:12])
        off = 12
        for _ in range(qd):
            off = skip_name(wire, off) + 4
        records = []
        for i in range(an + ns + ar):
            start = off
            off = skip_name(wire, off)
            rtype, rclass, ttl, rdlen = struct.unpack("!HHIH", wire[off:off + 10])
            records.append((start, rtype, rclass, ttl, off + 10, rdlen, i >= an + ns))
            off += 10 + rdlen
        if off != len(wire):
            raise ValueError(f"{len(wire) - off} bytes after the last record")
        tsigs = [r for r in records if r[1] == TSIG]
        self.tsig = None
        stripped = wire
        if tsigs:
            last = records[-1]
            if len(tsigs) != 1 or tsigs[0] is not last or not last[6]:
                raise ValueError("TSIG in a reply is not the one last additional record")
            start, _, rclass, ttl, rdstart, rdlen, _ = last
            owner, _ = dns.name.from_wire(wire, start)
            algorithm, used = dns.name.from_wire(wire, rdstart)
            p = rdstart + used
            hi, lo, fudge, maclen = struct.unpack("!HIHH", wire[p:p + 10])
            p += 10
            mac = wire[p:p + maclen]
            p += maclen
            original_id, error, otherlen = struct.unpack("!HHH", wire[p:p + 6])
            p += 6
            other = wire[p:p + otherlen]
            p += otherlen
            if p != rdstart + rdlen:
                raise ValueError("TSIG rdata length does not match its fields")
            self.tsig = dict(owner=owner, algorithm=algorithm, time=(hi << 32) | lo,
                             fudge=fudge, mac=mac, original_id=original_id, error=error,
                             other=other, rclass=rclass, ttl=ttl)
            stripped = wire[:10] + struct.pack("!H", ar - 1) + wire[12:start]
        self.stripped = stripped
        # The rcode by hand (header and OPT's extended bits), so that a reply
        # dnspython will not take (an UPDATE reply echoing two zones, say)
        # can still be judged.
        self.rcode = self.flags & 0xF
        for _, rtype, _, ttl, _, _, in_additional in records:
            if rtype == 41 and in_additional:
                self.rcode |= (ttl >> 24) << 4
        try:
            self.message = dns.message.from_wire(stripped)
            self.parse_error = None
        except dns.exception.DNSException as e:
            self.message = None
            self.parse_error = f"{type(e).__name__}: {e}"

    def answer(self):
        """The answer section (dnspython RRsets); the reply must parse."""
        if self.message is None:
            raise ValueError(f"dnspython cannot parse the reply: {self.parse_error}")
        return self.message.answer

    def signed_by(self, key, request_mac):
        """Whether the TSIG is a valid signature by `key` over this reply
        answering a request whose MAC was `request_mac`."""
        t = self.tsig
        if t is None or not t["mac"]:
            return False
        if t["owner"] != key.name or t["algorithm"] != key.algorithm:
            return False
        digest_wire = struct.pack("!H", t["original_id"]) + self.stripped[2:]
        expected = mac_of(key.secret, key.algorithm, digest_wire, key.name, t["time"],
                          t["fudge"], t["error"], t["other"], request_mac=request_mac)
        return hmac.compare_digest(expected, t["mac"])

    def describe(self):
        text = f"rcode={dns.rcode.to_text(self.rcode)} aa={bool(self.flags & 0x0400)}"
        if self.tsig is None:
            return text + " tsig=none"
        t = self.tsig
        return text + (f" tsig(error={t['error']} mac_len={len(t['mac'])} "
                       f"original_id={t['original_id']} other={t['other'].hex()})")


def skip_name(wire, off):
    while True:
        if off >= len(wire):
            raise ValueError("name runs past the end")
        length = wire[off]
        if length == 0:
            return off + 1
        if length & 0xC0 == 0xC0:
            return off + 2
        if length & 0xC0:
            raise ValueError("reserved label type")
        off += 1 + length


def self_test(key):
    """Our signer against dnspython's checker, and our checker against
    dnspython's signer: a wrong harness must not make the server look wrong."""
    wire = update_wire([("example.test.", 6, 1)],
                       updates=[rr_bytes("x.example.test.", 16, 1, 300, rdata("TXT", '"t"'))])
    signed, _ = sign(wire, key)
    msg = dns.message.from_wire(signed, keyring={key.name: key.dnspython()})
    assert msg.had_tsig, "dnspython did not see our TSIG"
    q = dns.message.make_query("example.test.", "SOA")
    q.use_tsig(key.dnspython())
    qwire = q.to_wire()
    r = dns.message.make_response(q)
    rwire = r.to_wire()
    reply = Reply(rwire)
    assert reply.signed_by(key, q.mac), "our checker rejects a dnspython-signed reply"
    tampered = bytearray(rwire)
    tampered[3] ^= 0x01
    assert not Reply(bytes(tampered)).signed_by(key, q.mac), "our checker accepts a tampered reply"
    assert len(qwire) > 12
