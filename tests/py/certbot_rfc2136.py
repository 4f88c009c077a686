#!/usr/bin/python3
"""certbot's dns-rfc2136 plugin (Debian python3-certbot-dns-rfc2136) against a
running dynzone, driven by tests/update.rs (test `certbot_plugin_*`).

    certbot_rfc2136.py PORT KEY_NAME SECRET_BASE64 ALGORITHM

Uses the plugin's own client class, _RFC2136Client, exactly as its
Authenticator does for a dns-01 challenge; certbot itself (and so any ACME
server) is never involved. Checks: zone discovery for a name two labels below
the apex, two TXT values at one name, deletion of one exact value, and that a
client with a wrong secret fails and changes nothing. One line per check;
exit status 1 on any failure.
"""

import inspect
import os
import sys

# tsigwire.py beside this script, imported without leaving __pycache__ in tests/.
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    from certbot import errors
    from certbot_dns_rfc2136._internal import dns_rfc2136
except ImportError as e:
    sys.exit(f"certbot's plugin is missing ({e}); install the Debian package "
             "python3-certbot-dns-rfc2136")

import dns.flags  # noqa: E402
import dns.name  # noqa: E402
import dns.rcode  # noqa: E402

from tsigwire import ALGORITHM_BY_TEXT, Reply, exchange, query_wire  # noqa: E402

PORT = int(sys.argv[1])
KEY_NAME, SECRET, ALGORITHM = sys.argv[2], sys.argv[3], ALGORITHM_BY_TEXT[sys.argv[4]]
RECORD = "_acme-challenge.sub.example.test"
failures = []


def check(label, ok, detail=""):
    if ok:
        print(f"ok   {label}", flush=True)
    else:
        failures.append(label)
        print(f"FAIL {label}: {detail}", flush=True)


def txt():
    name = dns.name.from_text(RECORD)
    reply = Reply(exchange(query_wire(name, "TXT"), PORT))
    return (dns.rcode.to_text(reply.rcode), bool(reply.flags & dns.flags.AA),
            sorted(rd.to_text() for rrset in reply.answer() if rrset.name == name
                   for rd in rrset))


def serial():
    reply = Reply(exchange(query_wire("example.test.", "SOA"), PORT))
    return reply.answer()[0][0].serial


def client(secret=SECRET):
    return dns_rfc2136._RFC2136Client("127.0.0.1", PORT, KEY_NAME, secret, ALGORITHM, 5)


def main():
    params = list(inspect.signature(dns_rfc2136._RFC2136Client.__init__).parameters)
    check("_RFC2136Client(server, port, key_name, key_secret, key_algorithm, timeout)",
          params[:7] == ["self", "server", "port", "key_name", "key_secret", "key_algorithm",
                         "timeout"], str(params))
    c = client()
    try:
        domain = c._find_domain(RECORD)
        check("zone discovery finds example.test", domain.rstrip(".") == "example.test", domain)
    except errors.PluginError as e:
        check("zone discovery finds example.test", False, str(e))

    s0 = serial()
    for value in ("first-token", "second-token"):
        try:
            c.add_txt_record(RECORD, value, 120)
            check(f"add_txt_record {value}", True)
        except errors.PluginError as e:
            check(f"add_txt_record {value}", False, str(e))
    got = txt()
    check("both TXT values served, authoritative",
          got == ("NOERROR", True, ['"first-token"', '"second-token"']), str(got))
    check("serial +2 after two updates", serial() == s0 + 2, f"{s0} -> {serial()}")

    try:
        c.del_txt_record(RECORD, "first-token")
        check("del_txt_record first-token", True)
    except errors.PluginError as e:
        check("del_txt_record first-token", False, str(e))
    got = txt()
    check("the other value remains", got == ("NOERROR", True, ['"second-token"']), str(got))

    s1 = serial()
    wrong = client(secret="d3Jvbmcgc2VjcmV0IGZvciBjZXJ0Ym90IHRlc3Q=")
    try:
        wrong.add_txt_record(RECORD, "intruder", 120)
        check("wrong secret is rejected", False, "add_txt_record succeeded")
    except errors.PluginError as e:
        check("wrong secret is rejected", True)
        print(f"     ({e})", flush=True)
    got = txt()
    check("wrong secret changed nothing",
          got == ("NOERROR", True, ['"second-token"']) and serial() == s1, f"{got} {serial()}")

    try:
        c.del_txt_record(RECORD, "second-token")
        check("del_txt_record second-token", True)
    except errors.PluginError as e:
        check("del_txt_record second-token", False, str(e))
    got = txt()
    check("name gone after the last value", got[0] == "NXDOMAIN" and got[2] == [], str(got))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
