"""A zone transfer from dynzone as dnspython's transfer client takes it
(dns.query.xfr: every message's TSIG verified along the RFC 8945 §5.3.1
chain, SOA first and last), compared record for record with a zone file
(`dynzone export` of the same database).

Usage: axfr_check.py HOST PORT ZONE EXPORT_FILE RDTYPE [SERIAL] [KEYNAME SECRET_BASE64]

RDTYPE is AXFR or IXFR (with SERIAL: the client's serial). Prints the number
of messages and records, and exits non-zero when the transfer fails or the
zones differ.
"""

import sys

try:
    import dns.message
    import dns.name
    import dns.query
    import dns.rdatatype
    import dns.tsig
    import dns.tsigkeyring
    import dns.zone
except ImportError as e:  # pragma: no cover - environment problem
    sys.exit(f"dnspython is missing ({e}): install the Debian package python3-dnspython")


def main():
    host, port, zone, export_path, rdtype = sys.argv[1:6]
    rest = sys.argv[6:]
    serial = 0
    if rdtype == "IXFR":
        serial = int(rest.pop(0))
    keyring = keyname = None
    if rest:
        keyname = dns.name.from_text(rest[0])
        keyring = {keyname: dns.tsig.Key(keyname, rest[1], dns.tsig.HMAC_SHA256)}
    origin = dns.name.from_text(zone)
    messages = 0
    records = 0
    received = dns.zone.Zone(origin, relativize=False)
    soas = []
    for msg in dns.query.xfr(
        host,
        origin,
        rdtype=dns.rdatatype.from_text(rdtype),
        serial=serial,
        port=int(port),
        keyring=keyring,
        keyname=keyname,
        keyalgorithm=dns.tsig.HMAC_SHA256,
        lifetime=60,
        relativize=False,
    ):
        messages += 1
        if keyring is not None and not msg.had_tsig:
            sys.exit(f"message {messages} is not signed")
        for rrset in msg.answer:
            for rdata in rrset:
                records += 1
                if rrset.rdtype == dns.rdatatype.SOA:
                    soas.append(rdata.serial)
                node = received.find_node(rrset.name, create=True)
                node.find_rdataset(rrset.rdclass, rrset.rdtype, create=True).add(rdata, rrset.ttl)
    exported = dns.zone.from_file(export_path, origin, relativize=False)
    print(f"{messages} messages, {records} records, SOA serials {soas[:1]}…{soas[-1:]}")
    if received != exported:
        ours = {(n, r.rdtype): r for n, node in received.nodes.items() for r in node}
        theirs = {(n, r.rdtype): r for n, node in exported.nodes.items() for r in node}
        for k in sorted(set(ours) | set(theirs), key=str):
            if ours.get(k) != theirs.get(k):
                print(f"differs at {k}: transfer {ours.get(k)} export {theirs.get(k)}")
        sys.exit("the transferred zone differs from dynzone export")


if __name__ == "__main__":
    main()
