#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into fuzz/corpus/<target>/.

The messages are annotated hex of what dig, kdig and nsupdate send and what an
authoritative server answers, offsets worked out by hand so that compression
pointers are real. Captures in ../tests/data/*.bin are added as they are. The
tcp_frame seeds are the same messages with RFC 1035 §4.2.2 length prefixes,
pipelined, plus a few incomplete frames.

Run from anywhere: python3 fuzz/make_seeds.py. It first empties the three
corpus directories, so what it writes is the whole committed corpus.
"""

import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
CAPTURES = HERE.parent / "tests" / "data"
TARGETS = ("parse_message", "roundtrip", "tcp_frame", "handle_query", "transfer")


def h(text):
    """Hex with spaces, newlines and '#' comments allowed."""
    lines = (line.split("#", 1)[0] for line in text.splitlines())
    return bytes.fromhex("".join("".join(lines).split()))


EXAMPLE_COM = "07 6578616d706c65 03 636f6d 00"  # example.com at offset 12

MESSAGES = {
    # dig example.com A (+cookie): RD AD, EDNS 1232 with a client COOKIE option.
    "query_a_edns_cookie": h(f"""
        1234 0120 0001 0000 0000 0001
        {EXAMPLE_COM} 0001 0001
        00 0029 04d0 00000000 000c  000a 0008 0123456789abcdef
    """),
    # A 0x20-randomised AAAA query without EDNS: WwW.eXaMplE.CoM.
    "query_aaaa_0x20": h("""
        abcd 0100 0001 0000 0000 0000
        03 577757 07 6558614d706c45 03 436f4d 00 001c 0001
    """),
    # Answer with compression: 2 A, 2 NS, 2 glue A, OPT.
    "response_compressed": h(f"""
        1234 8580 0001 0002 0002 0003
        {EXAMPLE_COM} 0001 0001                         # 12..29
        c00c 0001 0001 00000e10 0004 5db8d822           # 29
        c00c 0001 0001 00000e10 0004 5db8d823           # 45
        c00c 0002 0001 00015180 0006 036e7331 c00c      # 61, ns1 at 73
        c00c 0002 0001 00015180 0006 036e7332 c00c      # 79, ns2 at 91
        c049 0001 0001 00015180 0004 c0000201           # 97
        c05b 0001 0001 00015180 0004 c0000202           # 113
        00 0029 04d0 00000000 0000                      # 129
    """),
    # NXDOMAIN with the SOA in the authority section, names compressed into it.
    "response_nxdomain_soa": h("""
        beef 8583 0001 0000 0001 0001
        08 6e6f6e6578697374 07 6578616d706c65 03 636f6d 00 0001 0001  # example.com at 21
        c015 0006 0001 00000e10 0027
          03 6e7331 c015  0a 686f73746d6173746572 c015
          7848a1f3 00000e10 00000384 00093a80 0000012c
        00 0029 04d0 00000000 0000
    """),
    # nsupdate: zone example.com, prerequisite "host not in use", seven updates
    # (delete A RRset, add A/TXT/AAAA, delete one MX, add SRV and CAA), TSIG.
    "update_tsig": h(f"""
        5a5a 2800 0001 0001 0007 0001
        {EXAMPLE_COM} 0006 0001                                  # 12..29
        04 686f7374 c00c 00ff 00fe 00000000 0000                 # 29: host.example.com
        c01d 0001 00ff 00000000 0000                             # 46
        c01d 0001 0001 0000012c 0004 c000020a                    # 58
        c01d 0010 0001 0000012c 000c 0b 68656c6c6f20776f726c64   # 74
        c01d 001c 0001 0000012c 0010 20010db8000000000000000000000001  # 98
        c01d 000f 00fe 00000000 0007 000a 02 6d78 c00c           # 126
        04 5f736970 04 5f746370 c00c 0021 0001 0000012c 0017     # 145
          000a 0005 13c4 03 736970 {EXAMPLE_COM}
        c00c 0101 0001 0000012c 0016                             # 190
          00 05 6973737565 6c657473656e63727970742e6f7267
        0a 7570646174652d6b6579 00 00fa 00ff 00000000 003d       # 224
          0b 686d61632d736861323536 00 0000 6553f100 012c
          0020 8f3c1d2e4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0
          5a5a 0000 0000
    """),
    # NOTAUTH answer signed with TSIG error BADTIME and the server's time.
    "response_tsig_badtime": h(f"""
        5a5b 8009 0001 0000 0000 0001
        {EXAMPLE_COM} 0006 0001
        0a 7570646174652d6b6579 00 00fa 00ff 00000000 0023
          0b 686d61632d736861323536 00 0000 6553f100 012c 0000
          5a5b 0012 0006 00006553f200
    """),
    # ANY answer: CNAME, MX, TXT of three strings (one empty), PTR, SRV with a
    # compressed target, HINFO (kept as opaque bytes); EDNS with DO.
    "response_any_mixed": h("""
        0102 8400 0001 0006 0000 0001
        03 777777 07 6578616d706c65 03 636f6d 00 00ff 0001       # example.com at 16
        c00c 0005 0001 0000012c 0006 03 776562 c010              # 33, web at 45
        c010 000f 0001 00000e10 0009 000a 04 6d61696c c010       # 51, mail at 65
        c010 0010 0001 00000e10 0011                             # 72
          0b 763d73706631202d616c6c 00 03 616263
        c010 000c 0001 00000e10 0002 c02d                        # 101
        c010 0021 0001 00000e10 0008 0001 0002 0035 c041         # 115
        c010 000d 0001 00000e10 000a 03 783836 05 4c696e7578     # 135
        00 0029 1000 00008000 0000                               # 157
    """),
    # BADVERS: header RCODE 0, extended RCODE 1 in OPT.
    "response_badvers": h(f"""
        0103 8400 0001 0000 0000 0001
        {EXAMPLE_COM} 0001 0001
        00 0029 04d0 01000000 0000
    """),
    # EDNS version 1 query with client subnet and padding options.
    "query_edns1_options": h(f"""
        0104 0000 0001 0000 0000 0001
        {EXAMPLE_COM} 0001 0001
        00 0029 04d0 00010000 0013
          0008 0007 0001 18 00 c00002
          000c 0004 00000000
    """),
    # AXFR query.
    "query_axfr": h(f"""
        0105 0000 0001 0000 0000 0000
        {EXAMPLE_COM} 00fc 0001
    """),
    # NOTIFY for example.com with the new SOA in the answer section.
    "notify_soa": h(f"""
        0106 2400 0001 0001 0000 0000
        {EXAMPLE_COM} 0006 0001
        c00c 0006 0001 00000e10 0027
          03 6e7331 c00c  0a 686f73746d6173746572 c00c
          7848a1f4 00000e10 00000384 00093a80 0000012c
    """),
    # Labels holding '.', '\\', a space, a high octet and upper case: the
    # presentation form needs escapes.
    "query_escaped_labels": h("""
        0107 0000 0001 0000 0000 0000
        05 612e625c20 03 ff4142 00 0001 0001
    """),
    # Types whose RDATA embeds names without a view of their own (RFC 3597 §4):
    # MB, MINFO, RP, AFSDB, NAPTR, PX, RT, names compressed.
    "response_compound_types": h(f"""
        010b 8400 0001 0007 0000 0000
        {EXAMPLE_COM} 00ff 0001                                  # 12..29
        c00c 0007 0001 00000e10 0007 04 6d61696c c00c            # 29, mail at 41
        c00c 000e 0001 00000e10 0004 c029 c029                   # 48
        c00c 0011 0001 00000e10 000e 05 61646d696e c00c 03 747874 c00c  # 64
        c00c 0012 0001 00000e10 0008 0001 03 616673 c00c         # 90
        c00c 0023 0001 00000e10 002b 0064 000a 01 55             # 110
          07 4532552b736970
          1b 215e2e2a24217369703a696e666f406578616d706c652e636f6d21
          00
        c00c 001a 0001 00000e10 0006 000a c00c c029              # 165
        c00c 0015 0001 00000e10 0004 0005 c029                   # 183
    """),
    # Header only.
    "header_only": h("0108 0000 0000 0000 0000 0000"),
}


def name(text):
    out = b""
    for label in text.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def record(owner, rtype, rclass, ttl, rdata):
    return owner + struct.pack(">HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def generated():
    """A few messages easier to write as code than as hex."""
    seeds = {}
    # 70 owners, written uncompressed: more names than the builder's 64
    # compression slots.
    body = name("zone.example.") + struct.pack(">HH", 252, 1)
    for i in range(70):
        body += record(name(f"h{i}.zone.example."), 1, 1, 60, bytes([192, 0, 2, i]))
    seeds["response_many_owners"] = struct.pack(">6H", 0x0109, 0x8400, 1, 70, 0, 0) + body
    # The longest name (255 octets) and the deepest (127 labels).
    longest = b"".join(bytes([63]) + bytes([0x61 + i]) * 63 for i in range(3))
    longest += bytes([61]) + b"z" * 61 + b"\0"
    deepest = b"\x01a" * 127 + b"\0"
    body = longest + struct.pack(">HH", 1, 1)
    body += record(deepest, 2, 1, 60, b"\xc0\x0c")
    seeds["long_and_deep_names"] = struct.pack(">6H", 0x010A, 0x8400, 1, 1, 0, 0) + body
    return seeds


def transfer_seeds():
    """Seeds of the transfer target: a first byte that is a multiple of 4
    and a raw request, or another first byte and the choices of
    fuzz_targets/transfer.rs (flags byte: bit 0 the keyed ACL, bits 1-2 the
    peer, bit 3 IXFR, bit 4 RD, bits 5-6 the TSIG, bit 7 EDNS; then the
    QNAME, the QCLASS, an extra question, the authority SOAs and their
    serials, the EDNS version, payload, the clock skew and the ID)."""
    serial = 2024010101  # tests/data/zones/example.com.zone
    apex = bytes.fromhex(EXAMPLE_COM.replace(" ", ""))
    soa = lambda s: (  # noqa: E731
        b"\xc0\x0c" + struct.pack(">HHIH", 6, 1, 3600, 22 + 20)
        + name("ns1.example.com.") + b"\xc0\x0c"
        + struct.pack(">5I", s, 7200, 1800, 1382400, 300)
    )
    ixfr = lambda s: (  # noqa: E731
        struct.pack(">6H", 0x0251, 0, 1, 0, 1, 0) + apex + struct.pack(">HH", 251, 1) + soa(s)
    )
    seeds = {
        "raw_axfr": b"\x00" + MESSAGES["query_axfr"],
        "raw_ixfr_old": b"\x00" + ixfr(serial - 1),
        "raw_ixfr_current": b"\x04" + ixfr(serial),
        # Structured: flags, qname, qclass, extra, SOAs, serial choice...,
        # version, payload (2), skew, ID (2).
        "axfr": bytes([1, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 1, 5]),
        "ixfr_current": bytes([1, 0x08, 1, 0, 0, 1, 0, 0, 0, 0, 0, 2, 51]),
        "ixfr_old": bytes([1, 0x08, 2, 0, 0, 1, 1, 0, 0, 0, 0, 2, 52]),
        "ixfr_newer": bytes([1, 0x08, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 53]),
        "ixfr_other_owner": bytes([1, 0x08, 0, 0, 0, 3, 0, 0, 1, 0, 0, 0, 0, 2, 54]),
        "ixfr_signed_keyed": bytes([1, 0x29, 0, 0, 0, 1, 1, 0, 0, 0, 0, 2, 55]),
        "axfr_signed_edns": bytes([1, 0xa1, 0, 0, 0, 0, 0, 0x04, 0xd0, 0, 1, 6]),
        "axfr_refused_peer": bytes([1, 0x04, 0, 0, 0, 0, 0, 0, 0, 0, 1, 7]),
        "axfr_not_apex": bytes([1, 0x00, 4, 0, 0, 0, 0, 0, 0, 0, 1, 8]),
        "axfr_class_ch": bytes([1, 0x00, 0, 200, 0, 0, 0, 0, 0, 0, 1, 9]),
        # big.example.com: a zone below example.com, several messages.
        "axfr_big": bytes([1, 0x00, 3, 0, 0, 0, 0, 0, 0, 0, 1, 10]),
        "ixfr_big_old_signed": bytes([1, 0x29, 9, 0, 0, 1, 1, 0, 0, 0, 0, 2, 56]),
    }
    return seeds


def framed(*messages):
    return b"".join(struct.pack(">H", len(m)) + m for m in messages)


def main():
    messages = dict(MESSAGES)
    messages.update(generated())
    for capture in sorted(CAPTURES.glob("*.bin")):
        messages[f"capture_{capture.stem}"] = capture.read_bytes()

    for target in TARGETS:
        directory = CORPUS / target
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.iterdir():
            old.unlink()

    for stem, message in messages.items():
        for target in ("parse_message", "roundtrip"):
            (CORPUS / target / f"{stem}.bin").write_bytes(message)

    frames = {stem: framed(message) for stem, message in messages.items()}
    m = MESSAGES
    frames["pipelined_queries"] = framed(m["query_a_edns_cookie"], m["query_aaaa_0x20"])
    frames["pipelined_update_then_query"] = framed(m["update_tsig"], m["query_axfr"])
    frames["empty_frame_then_query"] = framed(b"", m["query_a_edns_cookie"])
    whole = framed(m["response_compressed"], m["query_a_edns_cookie"])
    frames["partial_second_frame"] = whole[:-7]
    frames["partial_prefix"] = framed(m["query_axfr"]) + b"\x01"
    for stem, stream in frames.items():
        (CORPUS / "tcp_frame" / f"{stem}.bin").write_bytes(stream)

    # handle_query: a selector byte (even: UDP, odd: TCP), then the request.
    for stem, message in messages.items():
        for selector, transport in ((0, "udp"), (1, "tcp")):
            path = CORPUS / "handle_query" / f"{stem}_{transport}.bin"
            path.write_bytes(bytes([selector]) + message)

    for stem, seed in transfer_seeds().items():
        (CORPUS / "transfer" / f"{stem}.bin").write_bytes(seed)

    for target in TARGETS:
        print(target, len(list((CORPUS / target).iterdir())), "seeds")


if __name__ == "__main__":
    main()
