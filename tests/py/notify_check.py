"""NOTIFY (RFC 1996) sent to dynzone as a primary's secondary would send it,
over UDP and TCP, unsigned and TSIG-signed; prints one line per case with what
the answer holds, for tests/transfer.rs to judge.

Usage: notify_check.py PORT KEYSPEC WRONG_SECRET_BASE64

KEYSPEC is `ALGORITHM:NAME:SECRET_BASE64`, the text the server got with
--tsig. A signed answer is checked by dnspython (dns.message.from_wire with
the keyring and the request MAC), and the same answer with one MAC octet
changed must be rejected by it, so that "verified" means something.

Each line: `CASE: rcode=R opcode=O qr=0|1 aa=0|1 id=same|other
question=NAME CLASS TYPE[, ...] records=AN/NS/AR tsig=...`, where records
leave out OPT and TSIG, and tsig is `none`, `verified tamper=rejected`, or
`error=N mac_len=N` for an answer dnspython cannot verify (a TSIG error).
"""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import dns.exception
    import dns.flags
    import dns.message
    import dns.name
    import dns.opcode
    import dns.rcode
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset
    import dns.tsig
except ImportError as e:  # pragma: no cover - environment problem
    sys.exit(f"dnspython is missing ({e}); install the Debian package python3-dnspython")

from tsigwire import Key, Reply, exchange  # noqa: E402


def notify(zone, rdtype="SOA", serial=None, key=None, secret=None):
    """A NOTIFY as RFC 1996 §3.7 has it: opcode NOTIFY, AA, the question
    ZONE IN SOA, optionally the new SOA in the answer section; signed with
    `key` (with `secret` instead of the key's own when given)."""
    q = dns.message.make_query(zone, rdtype)
    q.flags = dns.flags.AA
    q.set_opcode(dns.opcode.NOTIFY)
    if serial is not None:
        q.answer.append(dns.rrset.from_text(
            zone, 3600, "IN", "SOA", f"ns1.{zone} hostmaster.{zone} {serial} 3600 900 1209600 300"))
    if key is not None:
        signing = dns.tsig.Key(key.name, secret or key.secret_b64, key.algorithm)
        q.use_tsig(signing)
    return q


def describe(q, wire, key):
    reply = Reply(wire)
    id_same = wire[:2] == struct.pack("!H", q.id)
    _, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", wire[:12])
    questions = []
    off = 12
    for _ in range(qd):
        name, used = dns.name.from_wire(wire, off)
        off += used
        rtype, rclass = struct.unpack("!HH", wire[off:off + 4])
        off += 4
        questions.append(f"{name} {dns.rdataclass.to_text(rclass)} {dns.rdatatype.to_text(rtype)}")
    extra = ar
    if reply.tsig is not None:
        extra -= 1
    if reply.message is not None and reply.message.opt is not None:
        extra -= 1
    text = (f"rcode={dns.rcode.to_text(reply.rcode)} opcode={dns.opcode.to_text((flags >> 11) & 0xF)} "
            f"qr={int(bool(flags & 0x8000))} aa={int(bool(flags & 0x0400))} "
            f"id={'same' if id_same else 'other'} question={', '.join(questions)} "
            f"records={an}/{ns}/{extra}")
    if reply.tsig is None:
        return text + " tsig=none"
    if reply.tsig["error"] != 0 or not reply.tsig["mac"]:
        return text + f" tsig=error={reply.tsig['error']} mac_len={len(reply.tsig['mac'])}"
    keyring = {key.name: key.dnspython()}
    try:
        dns.message.from_wire(wire, keyring=keyring, request_mac=q.mac)
    except dns.exception.DNSException as e:
        return text + f" tsig=unverified({type(e).__name__}: {e})"
    # One octet of the MAC changed (the MAC ends 6 octets before the end:
    # original ID, error, other length): dnspython must reject it.
    tampered = bytearray(wire)
    tampered[-7] ^= 0x01
    try:
        dns.message.from_wire(bytes(tampered), keyring=keyring, request_mac=q.mac)
        tamper = "accepted"
    except dns.exception.DNSException:
        tamper = "rejected"
    return text + f" tsig=verified tamper={tamper}"


def raw_two_questions(zone):
    """A NOTIFY with QDCOUNT 2 (the same question twice), which dnspython
    will not build."""
    name = dns.name.from_text(zone).to_wire()
    q = name + struct.pack("!HH", 6, 1)
    return struct.pack("!HHHHHH", 0x1996, (4 << 11) | 0x0400, 2, 0, 0, 0) + q + q


def main():
    port = int(sys.argv[1])
    key = Key(sys.argv[2])
    wrong = sys.argv[3]
    cases = [
        ("udp", False, notify("example.test.", serial=7)),
        ("tcp", True, notify("example.test.")),
        ("udp signed", False, notify("example.test.", serial=7, key=key)),
        ("tcp signed", True, notify("example.test.", serial=7, key=key)),
        ("udp unknown zone", False, notify("nothere.test.")),
        ("tcp signed unknown zone", True, notify("nothere.test.", key=key)),
        ("udp not the apex", False, notify("www.example.test.")),
        ("udp type A", False, notify("example.test.", rdtype="A")),
        ("udp wrong secret", False, notify("example.test.", key=key, secret=wrong)),
    ]
    for label, tcp, q in cases:
        wire = q.to_wire()
        print(f"{label}: {describe(q, exchange(wire, port, tcp=tcp), key)}")
    wire = raw_two_questions("example.test.")
    reply = exchange(wire, port)
    q = dns.message.make_query("example.test.", "SOA")
    q.id = 0x1996
    print(f"udp two questions: {describe(q, reply, key)}")


if __name__ == "__main__":
    main()
