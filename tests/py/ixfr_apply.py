"""An IXFR from dynzone applied strictly to an older copy of the zone, as a
secondary applies it, then compared record for record with the zone now.

Usage: ixfr_apply.py HOST PORT ZONE OLD_EXPORT SERIAL NEW_EXPORT EXPECT

OLD_EXPORT is `dynzone export` at serial SERIAL, NEW_EXPORT the export
afterwards. EXPECT is `incremental` (the answer must be RFC 1995 §4 deltas)
or `whole` (it must be the whole zone, AXFR-style). Each delta must be
exact: its old SOA is the zone's SOA at that point, every record it deletes
is in the zone (same TTL and RDATA) and every record it adds is not, as
Knot and BIND require of an IXFR (an inexact one makes them drop it and
fetch the whole zone). Prints the shape, the number of deltas and records;
exits non-zero on any mismatch.
"""

import sys

try:
    import dns.name
    import dns.query
    import dns.rdatatype
    import dns.zone
except ImportError as e:  # pragma: no cover - environment problem
    sys.exit(f"dnspython is missing ({e}): install the Debian package python3-dnspython")


def records_of(path, origin):
    zone = dns.zone.from_file(path, origin, relativize=False, check_origin=False)
    out = set()
    for name, rdataset in zone.iterate_rdatasets():
        for rdata in rdataset:
            out.add((name.to_text().lower(), rdataset.rdtype, rdataset.ttl, rdata.to_text()))
    return out


def soa_serial(record):
    return int(record[3].split()[2])


def main():
    host, port, zone, old_path, serial, new_path, expect = sys.argv[1:8]
    origin = dns.name.from_text(zone)
    have = records_of(old_path, origin)
    want = records_of(new_path, origin)
    stream = []
    for msg in dns.query.xfr(
        host,
        origin,
        rdtype=dns.rdatatype.IXFR,
        serial=int(serial),
        port=int(port),
        lifetime=60,
        relativize=False,
    ):
        for rrset in msg.answer:
            for rdata in rrset:
                stream.append((rrset.name.to_text().lower(), rrset.rdtype, rrset.ttl, rdata.to_text()))
    if len(stream) < 2 or stream[0][1] != dns.rdatatype.SOA:
        sys.exit(f"not a transfer: {stream[:3]}")
    current = stream[0]
    incremental = stream[1][1] == dns.rdatatype.SOA and len(stream) > 2
    shape = "incremental" if incremental else "whole"
    if shape != expect:
        sys.exit(f"expected {expect}, got {shape}: {len(stream)} records")
    if not incremental:
        got = set(stream[:-1])
        if stream[-1] != current:
            sys.exit("the last record is not the first SOA")
        diff(got, want)
        print(f"whole zone: {len(got)} records")
        return
    if stream[-1] != current:
        sys.exit("the last record is not the first SOA")
    body = stream[1:-1]
    deltas = 0
    i = 0
    while i < len(body):
        old_soa = body[i]
        if old_soa[1] != dns.rdatatype.SOA:
            sys.exit(f"record {i + 1}: a delta must start with a SOA, not {old_soa}")
        zone_soa = [r for r in have if r[1] == dns.rdatatype.SOA]
        if zone_soa != [old_soa]:
            sys.exit(f"delta {deltas + 1}: old SOA {old_soa} but the zone has {zone_soa}")
        i += 1
        while i < len(body) and body[i][1] != dns.rdatatype.SOA:
            if body[i] not in have:
                sys.exit(f"delta {deltas + 1} deletes {body[i]}, which the zone does not hold")
            have.remove(body[i])
            i += 1
        if i >= len(body):
            sys.exit(f"delta {deltas + 1} has no new SOA")
        new_soa = body[i]
        have.remove(old_soa)
        have.add(new_soa)
        i += 1
        while i < len(body) and body[i][1] != dns.rdatatype.SOA:
            if body[i] in have:
                sys.exit(f"delta {deltas + 1} adds {body[i]}, which the zone holds already")
            have.add(body[i])
            i += 1
        deltas += 1
    if soa_serial(current) != soa_serial([r for r in have if r[1] == dns.rdatatype.SOA][0]):
        sys.exit("the deltas do not end at the current serial")
    diff(have, want)
    print(f"incremental: {deltas} deltas, {len(body)} records, zone of {len(have)} records")


def diff(got, want):
    if got != want:
        missing = sorted(want - got)[:5]
        extra = sorted(got - want)[:5]
        sys.exit(f"zones differ: missing {missing}, extra {extra}")


if __name__ == "__main__":
    main()
