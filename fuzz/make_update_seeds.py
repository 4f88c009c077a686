#!/usr/bin/env python3
"""Writes the seed corpus of the handle_update fuzz target into
fuzz/corpus/handle_update/: unsigned UPDATE messages for example.com (the zone of
tests/data/zones/example.com.zone) built with dnspython, one per kind of
prerequisite and update operation. The target signs each input itself.

Run: /usr/bin/python3 fuzz/make_update_seeds.py (needs python3-dnspython).
"""

import pathlib

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.update

OUT = pathlib.Path(__file__).resolve().parent / "corpus" / "handle_update"


def seeds():
    u = dns.update.UpdateMessage("example.com")
    u.add("home", 60, "A", "198.51.100.7")
    u.add("home", 60, "AAAA", "2001:db8::7")
    yield "add", u
    u = dns.update.UpdateMessage("example.com")
    u.add("_acme-challenge", 60, "TXT", '"token one"')
    u.add("_acme-challenge", 60, "TXT", '"token two"')
    yield "txt", u
    u = dns.update.UpdateMessage("example.com")
    u.delete("www", "A", "192.0.2.1")
    u.delete("mail")
    u.delete("www", "AAAA")
    yield "deletes", u
    u = dns.update.UpdateMessage("example.com")
    u.present("www")
    u.absent("nothere")
    u.present("www", "A")
    u.absent("www", "TXT")
    u.add("new", 300, "CNAME", "www.example.com.")
    yield "prereqs", u
    u = dns.update.UpdateMessage("example.com")
    u.present("www", "A", "192.0.2.1")
    u.replace("www", 120, "A", "192.0.2.9")
    yield "value-prereq", u
    u = dns.update.UpdateMessage("example.com")
    u.add("x.y.z", 60, "MX", "10 mail.example.com.")
    u.add("srv", 60, "SRV", "0 5 443 www.example.com.")
    u.add("caa", 60, "CAA", '0 issue "ca.example"')
    u.add("t", 60, dns.rdatatype.from_text("TYPE65280"), r"\# 3 010203")
    yield "types", u
    u = dns.update.UpdateMessage("example.com")
    u.delete("@", "NS")
    u.delete("@", "SOA")
    u.delete("@")
    yield "apex", u
    u = dns.update.UpdateMessage("example.org")
    u.add("www.example.org.", 60, "A", "192.0.2.1")
    yield "notauth", u
    # The crafted messages of issue 9. Type 0 keys the store's node entry:
    # a class ANY or NONE delete of TYPE0 and a TYPE0 prerequisite.
    type0 = dns.rdatatype.from_text("TYPE0")
    u = dns.update.UpdateMessage("example.com")
    u.delete("mail", type0)
    yield "type0-delete-any", u
    u = dns.update.UpdateMessage("example.com")
    u.delete("mail", dns.rdata.from_text("IN", type0, r"\# 0"))
    yield "type0-delete-none", u
    u = dns.update.UpdateMessage("example.com")
    u.present("mail", type0)
    u.add("home", 60, "A", "198.51.100.7")
    yield "type0-prereq", u
    # An SOA with the current serial beside another change.
    u = dns.update.UpdateMessage("example.com")
    u.add("@", 3600, "SOA", "ns1 hostmaster 2024010101 1 1 1 1")
    u.add("home", 60, "A", "198.51.100.7")
    yield "soa-equal-serial", u
    # SIG (24) and NXT (30).
    u = dns.update.UpdateMessage("example.com")
    u.add("home", 60, dns.rdatatype.from_text("TYPE24"), r"\# 4 01020304")
    u.add("home", 60, dns.rdatatype.from_text("TYPE30"), r"\# 4 01020304")
    yield "sig-nxt", u
    # Many prerequisites of a few interleaved groups.
    u = dns.update.UpdateMessage("example.com")
    for _ in range(200):
        u.present("ns1", "A", "192.0.2.1")
        u.present("ns1", "AAAA", "2001:db8::1")
    u.add("home", 60, "A", "198.51.100.7")
    yield "prereq-groups", u
    # A CNAME beside data, and data beside a CNAME.
    u = dns.update.UpdateMessage("example.com")
    u.add("www", 60, "A", "192.0.2.1")
    u.add("mail", 60, "CNAME", "www")
    yield "cname-rules", u
    # Deletes that leave empty non-terminals behind.
    u = dns.update.UpdateMessage("example.com")
    u.add("a.b.c.d", 60, "A", "192.0.2.1")
    u.delete("a.b.c.d")
    u.add("b.c.d", 60, "TXT", "x")
    yield "empty-non-terminals", u


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    for name, msg in seeds():
        (OUT / name).write_bytes(msg.to_wire())


if __name__ == "__main__":
    main()
