"""A second opinion on a multi-message TSIG stream: dnspython checks what a
client of dynzone received on one TCP connection (src/server/conn.rs, the
stream test), the way its zone-transfer client (dns.query.inbound_xfr) does.

Usage: stream_chain.py SECRET_BASE64 REQUESTS RESPONSES

REQUESTS and RESPONSES are files of TCP frames (two-octet length, message),
as sent by the client and as received by it. The key is `xfr-key.`,
hmac-sha256. Each response is matched to its request by ID; the responses to
a request whose QTYPE is 65280 (the synthetic stream of test builds) are one
stream: the first is verified against the request MAC, every later one with
the running TSIG context of RFC 8945 §5.3.1 (dnspython's `multi`). Every
message must carry a TSIG. Prints one line per response and exits non-zero on
the first failure. dnspython checks the time signed against the clock, so the
messages must be signed with the current time.
"""

import base64
import struct
import sys

try:
    import dns.message
    import dns.name
    import dns.tsig
    import dns.tsigkeyring
except ImportError as e:  # pragma: no cover - environment problem
    sys.exit(f"dnspython is missing ({e}): install the Debian package python3-dnspython")

SYNTHETIC = 65280


def frames(path):
    data = open(path, "rb").read()
    out = []
    while data:
        (length,) = struct.unpack("!H", data[:2])
        out.append(data[2 : 2 + length])
        data = data[2 + length :]
    return out


def main():
    secret, requests_path, responses_path = sys.argv[1:4]
    keyring = {dns.name.from_text("xfr-key."): dns.tsig.Key("xfr-key.", secret, dns.tsig.HMAC_SHA256)}
    requests = {}
    for wire in frames(requests_path):
        q = dns.message.from_wire(wire, keyring=keyring)
        assert q.had_tsig, "request unsigned"
        requests[q.id] = (q.mac, q.question[0].rdtype == SYNTHETIC)
    ctx = None
    current = None
    count = 0
    for wire in frames(responses_path):
        (qid,) = struct.unpack("!H", wire[:2])
        request_mac, stream = requests[qid]
        if qid != current:
            # A new response: the chain starts again from its request's MAC.
            current, ctx, count = qid, None, 0
        m = dns.message.from_wire(
            wire,
            keyring=keyring,
            request_mac=request_mac,
            xfr=stream,
            tsig_ctx=ctx,
            multi=stream,
        )
        assert m.had_tsig, f"message {count} of response {qid} unsigned"
        ctx = m.tsig_ctx
        count += 1
        print(f"{qid} {count} {len(m.answer)}")


main()
