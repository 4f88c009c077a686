#!/usr/bin/python3
"""Independent second opinion on dynzone's wire format, driven by tests/crosscheck.rs.

Uses dnspython (Debian package python3-dnspython), nothing else outside the
standard library. Two modes:

  describe   reads one message per stdin line, as `HEX` or, for a TSIG-signed
             message, `HEX ALGORITHM SECRET_BASE64 NOW`, parses each with
             dns.message.from_wire and prints its description (below).
  generate   builds messages with dnspython and prints, per message,
             `message LABEL`, `wire HEX`, for signed ones `signed HEX` (what the
             MAC covers, re-derived here and checked against the MAC with
             hmac), then the description.

A description is one line per item, ending with `end`:

  header id=ID flags=FLAGS opcode=OPCODE rcode=RCODE     (rcode with EDNS bits)
  SECTION name=HEX type=N class=N                       (question / zone)
  SECTION owner=HEX type=N class=N ttl=N rdata=HEX      (one line per record)
  edns payload=N ext_rcode=N version=N flags=N
  option code=N data=HEX
  tsig key=HEX algorithm=HEX time=N fudge=N mac=HEX original_id=N error=N other=HEX

Names are in uncompressed wire form with their case kept; RDATA is uncompressed
(rdata.to_wire() without a compression table). SECTION is question, answer,
authority, additional, or for UPDATE zone, prereq, update, additional. OPT and
TSIG never appear as records: dnspython keeps them in message.opt / message.tsig.
"""

import base64
import hashlib
import hmac
import struct
import sys

try:
    import dns.edns
    import dns.flags
    import dns.message
    import dns.name
    import dns.opcode
    import dns.rcode
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset
    import dns.tsig
    import dns.update
except ImportError as e:
    sys.exit(f"dnspython is missing ({e}); install the Debian package python3-dnspython")

KEY_NAME = dns.name.from_text("key.example.")
# Made-up 32-byte secret, the same as tests/data/README.md documents.
SECRET = base64.b64encode(b"dynzone-fixture-secret-32-bytes!").decode()
DIGESTS = {
    dns.tsig.HMAC_SHA256: hashlib.sha256,
    dns.tsig.HMAC_MD5: hashlib.md5,
}


def section_names(msg):
    if isinstance(msg, dns.update.UpdateMessage):
        return ["zone", "prereq", "update", "additional"]
    return ["question", "answer", "authority", "additional"]


def describe(msg):
    """The description of a parsed dnspython message, as a list of lines."""
    lines = [
        f"header id={msg.id} flags={int(msg.flags)} "
        f"opcode={int(msg.opcode())} rcode={int(msg.rcode())}"
    ]
    names = section_names(msg)
    for rrset in msg.sections[0]:
        lines.append(
            f"{names[0]} name={rrset.name.to_wire().hex()} "
            f"type={int(rrset.rdtype)} class={int(rrset.rdclass)}"
        )
    for number in (1, 2, 3):
        for rrset in msg.sections[number]:
            # UPDATE: dnspython moves class ANY/NONE into `deleting` and keeps the
            # zone's class in rdclass; the wire carries the former.
            rdclass = rrset.deleting if rrset.deleting is not None else rrset.rdclass
            owner = rrset.name.to_wire().hex()
            head = f"{names[number]} owner={owner} type={int(rrset.rdtype)} class={int(rdclass)}"
            if len(rrset) == 0:
                # RDLENGTH 0 (RFC 2136 deletes and prerequisites): dnspython keeps
                # no rdata and no TTL for it; the rrset's TTL is 0.
                lines.append(f"{head} ttl={rrset.ttl} rdata=")
            for rd in rrset:
                lines.append(f"{head} ttl={rrset.ttl} rdata={rd.to_wire().hex()}")
    if msg.opt is not None:
        ttl = msg.opt.ttl
        lines.append(
            f"edns payload={msg.opt.rdclass} ext_rcode={(ttl >> 24) & 0xFF} "
            f"version={(ttl >> 16) & 0xFF} flags={ttl & 0xFFFF}"
        )
        for option in msg.opt[0].options:
            lines.append(f"option code={int(option.otype)} data={option.to_wire().hex()}")
    if msg.tsig is not None:
        t = msg.tsig[0]
        lines.append(
            f"tsig key={msg.tsig.name.to_wire().hex()} algorithm={t.algorithm.to_wire().hex()} "
            f"time={t.time_signed} fudge={t.fudge} mac={t.mac.hex()} "
            f"original_id={t.original_id} error={t.error} other={t.other.hex()}"
        )
    lines.append("end")
    return lines


def parse(wire, keyring=None):
    return dns.message.from_wire(wire, keyring=keyring, one_rr_per_rrset=True)


def skip_name(wire, pos):
    while True:
        length = wire[pos]
        if length == 0:
            return pos + 1
        if length & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + length


def last_record_start(wire):
    """Offset of the last record (the TSIG one), walked here without dnspython."""
    qd, an, ns, ar = struct.unpack_from("!HHHH", wire, 4)
    pos = 12
    for _ in range(qd):
        pos = skip_name(wire, pos) + 4
    start = None
    for _ in range(an + ns + ar):
        start = pos
        pos = skip_name(wire, pos)
        (rdlen,) = struct.unpack_from("!H", wire, pos + 8)
        pos += 10 + rdlen
    assert pos == len(wire), "trailing bytes"
    return start


def signed_parts(wire, msg):
    """RFC 8945 §4.3.1: the message as signed (original ID, ARCOUNT without the
    TSIG record, no TSIG record), checked against the MAC with hmac."""
    t = msg.tsig[0]
    start = last_record_start(wire)
    (arcount,) = struct.unpack_from("!H", wire, 10)
    parts = (
        struct.pack("!H", t.original_id)
        + wire[2:10]
        + struct.pack("!H", arcount - 1)
        + wire[12:start]
    )
    variables = (
        msg.tsig.name.canonicalize().to_wire()
        + struct.pack("!HI", dns.rdataclass.ANY, 0)
        + t.algorithm.canonicalize().to_wire()
        + struct.pack("!HIH", t.time_signed >> 32, t.time_signed & 0xFFFFFFFF, t.fudge)
        + struct.pack("!HH", t.error, len(t.other))
        + t.other
    )
    digest = DIGESTS[t.algorithm]
    mac = hmac.new(base64.b64decode(SECRET), parts + variables, digest).digest()
    if not hmac.compare_digest(mac, t.mac):
        sys.exit("crosscheck.py: signed parts re-derived here do not match the MAC")
    return parts


def keyring_for(algorithm):
    return {KEY_NAME: dns.tsig.Key(KEY_NAME, SECRET, algorithm)}


def mode_describe():
    for line in sys.stdin:
        fields = line.split()
        if not fields:
            continue
        wire = bytes.fromhex(fields[0])
        if len(fields) == 4:
            # A signed message captured earlier: dnspython validates the MAC against
            # `now`, so the caller passes a time inside the fudge window.
            algorithm, secret, now = fields[1], fields[2], int(fields[3])
            key = dns.tsig.Key(KEY_NAME, secret, dns.name.from_text(algorithm))
            real_time = dns.message.time.time
            dns.message.time.time = lambda: now
            try:
                msg = parse(wire, keyring={KEY_NAME: key})
            finally:
                dns.message.time.time = real_time
        else:
            msg = parse(wire)
        print("\n".join(describe(msg)))


def rr(name, ttl, rdtype, text, rdclass="IN"):
    return dns.rrset.from_text(name, ttl, rdclass, rdtype, text)


def generated():
    """(label, dnspython message, keyring or None)."""
    out = []

    query = dns.message.make_query(
        "www.Example.TEST.",
        "AAAA",
        use_edns=0,
        want_dnssec=True,
        payload=1400,
        options=[
            dns.edns.GenericOption(10, bytes.fromhex("0102030405060708")),
            dns.edns.ECSOption("192.0.2.0", 24),
            dns.edns.GenericOption(65001, b""),
        ],
        id=0x1234,
    )
    out.append(("query-edns-options", query, None))

    response = dns.message.make_response(query)
    response.flags |= dns.flags.AA
    response.answer += [
        rr("www.Example.TEST.", 300, "CNAME", "host.example.test."),
        rr("host.example.test.", 300, "AAAA", "2001:db8::53"),
        rr("host.example.test.", 300, "A", "192.0.2.53"),
        rr("example.test.", 3600, "MX", "10 mail.example.test."),
        rr("example.test.", 3600, "TXT", '"v=spf1 -all" "" "second"'),
        rr("_sip._tcp.example.test.", 300, "SRV", "10 20 5060 sip.example.test."),
        rr("example.test.", 3600, "CAA", '128 issue "ca.example.net; account=1"'),
        rr("53.2.0.192.in-addr.arpa.", 300, "PTR", "host.example.test."),
        rr("host.example.test.", 300, "TYPE65280", r"\# 4 deadbeef"),
    ]
    response.authority += [
        rr(
            "example.test.",
            3600,
            "SOA",
            "ns1.example.test. hostmaster.example.test. 2024010101 7200 900 1209600 300",
        ),
        rr("example.test.", 3600, "NS", "ns1.example.test."),
    ]
    response.additional += [rr("ns1.example.test.", 3600, "A", "192.0.2.1")]
    out.append(("response-compressed", response, None))

    badvers = dns.message.make_response(query)
    badvers.set_rcode(dns.rcode.BADVERS)
    out.append(("response-badvers", badvers, None))

    update = dns.update.UpdateMessage("example.test.", id=0x4242)
    update.present("host.example.test.")
    update.present("host.example.test.", "A")
    update.present(
        "host.example.test.", dns.rdata.from_text("IN", "A", "192.0.2.53")
    )
    update.absent("new.example.test.")
    update.absent("new.example.test.", "AAAA")
    update.add("new.example.test.", 300, "A", "192.0.2.7")
    update.add("new.example.test.", 300, "TXT", '"hello" "world"')
    update.delete("old.example.test.")
    update.delete("old.example.test.", "AAAA")
    update.delete("host.example.test.", "A", "192.0.2.9")
    update.replace("www.example.test.", 600, "CNAME", "host.example.test.")
    out.append(("update-unsigned", update, None))

    for label, algorithm in [
        ("update-hmac-sha256", dns.tsig.HMAC_SHA256),
        ("update-hmac-md5", dns.tsig.HMAC_MD5),
    ]:
        keyring = keyring_for(algorithm)
        signed = dns.update.UpdateMessage(
            "example.test.", keyring=keyring, keyname=KEY_NAME, keyalgorithm=algorithm
        )
        signed.add("host.example.test.", 300, "A", "192.0.2.53")
        signed.add("host.example.test.", 300, "MX", "10 mail.example.test.")
        signed.delete("old.example.test.", "A")
        out.append((label, signed, keyring))

    keyring = keyring_for(dns.tsig.HMAC_SHA256)
    signed_query = dns.message.make_query("example.test.", "SOA", use_edns=0, id=0x0BAD)
    signed_query.use_tsig(keyring, KEY_NAME, fudge=600, algorithm=dns.tsig.HMAC_SHA256)
    out.append(("query-signed-edns-sha256", signed_query, keyring))
    return out


def mode_generate():
    for label, msg, keyring in generated():
        wire = msg.to_wire()
        # Parse our own output back: the description is what dnspython reads,
        # and for a signed message this validates the MAC.
        parsed = parse(wire, keyring=keyring)
        print(f"message {label}")
        print(f"wire {wire.hex()}")
        if parsed.tsig is not None:
            print(f"signed {signed_parts(wire, parsed).hex()}")
        print("\n".join(describe(parsed)))


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("describe", "generate"):
        sys.exit("usage: crosscheck.py describe|generate")
    if sys.argv[1] == "describe":
        mode_describe()
    else:
        mode_generate()


if __name__ == "__main__":
    main()
