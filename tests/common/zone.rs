//! A test zone built in code (no zone-file parser involved) and a store for it in
//! a temporary directory: real LMDB, real handler.
use std::net::{Ipv4Addr, Ipv6Addr};

use dynzone::store::Store;
use dynzone::wire::{Name, NameBuf, RData, Rtype, Soa, Txt, write_rdata};
use dynzone::zone::ZoneRecord;

pub use super::wire::name;

fn rdata(data: &RData<'_>) -> Vec<u8> {
    let mut out = [0u8; 65535];
    let n = write_rdata(&mut out, data).unwrap();
    out[..n].to_vec()
}

pub fn rec(owner: &str, rtype: Rtype, ttl: u32, data: RData<'_>) -> ZoneRecord {
    ZoneRecord {
        owner: name(owner),
        rtype,
        ttl,
        rdata: rdata(&data),
    }
}

pub fn a(owner: &str, ip: [u8; 4]) -> ZoneRecord {
    rec(owner, Rtype::A, 300, RData::A(Ipv4Addr::from(ip)))
}

pub fn aaaa(owner: &str, ip: &str) -> ZoneRecord {
    rec(
        owner,
        Rtype::Aaaa,
        300,
        RData::Aaaa(ip.parse::<Ipv6Addr>().unwrap()),
    )
}

pub fn with_name<T>(text: &str, f: impl FnOnce(Name<'_>) -> T) -> T {
    let n = name(text);
    f(n.as_name())
}

pub fn ns(owner: &str, target: &str) -> ZoneRecord {
    with_name(target, |t| rec(owner, Rtype::Ns, 3600, RData::Ns(t)))
}

pub fn cname(owner: &str, target: &str) -> ZoneRecord {
    with_name(target, |t| rec(owner, Rtype::Cname, 300, RData::Cname(t)))
}

pub fn txt(owner: &str, text: &str) -> ZoneRecord {
    let mut raw = vec![text.len() as u8];
    raw.extend_from_slice(text.as_bytes());
    rec(owner, Rtype::Txt, 300, RData::Txt(Txt::new(&raw).unwrap()))
}

pub fn soa(apex: &str, serial: u32) -> ZoneRecord {
    let m = name(&format!("ns1.{apex}"));
    let r = name(&format!("hostmaster.{apex}"));
    rec(
        apex,
        Rtype::Soa,
        3600,
        RData::Soa(Soa {
            mname: m.as_name(),
            rname: r.as_name(),
            serial,
            refresh: 3600,
            retry: 900,
            expire: 1_209_600,
            minimum: 300,
        }),
    )
}

/// `example.test`: every shape of answer the query path knows.
pub fn example_zone() -> (NameBuf, Vec<ZoneRecord>) {
    let z = "example.test";
    let mut records = vec![
        soa(z, 1),
        ns(z, "ns1.example.test"),
        ns(z, "ns2.example.test"),
        a("ns1.example.test", [192, 0, 2, 1]),
        aaaa("ns2.example.test", "2001:db8::2"),
        a("www.example.test", [192, 0, 2, 10]),
        a("www.example.test", [192, 0, 2, 11]),
        aaaa("www.example.test", "2001:db8::10"),
        cname("alias.example.test", "www.example.test"),
        cname("chain.example.test", "alias.example.test"),
        cname("outside.example.test", "www.elsewhere.net"),
        cname("dangling.example.test", "nothere.example.test"),
        cname("loop1.example.test", "loop2.example.test"),
        cname("loop2.example.test", "loop1.example.test"),
        txt("a.b.c.example.test", "deep"),
        a("*.wild.example.test", [192, 0, 2, 99]),
        txt("*.wild.example.test", "wild"),
        a("exists.wild.example.test", [192, 0, 2, 98]),
        cname("*.cnwild.example.test", "www.example.test"),
        ns("sub.example.test", "ns.sub.example.test"),
        ns("sub.example.test", "ns1.example.test"),
        a("ns.sub.example.test", [192, 0, 2, 53]),
        a("occluded.sub.example.test", [192, 0, 2, 54]),
    ];
    for i in 0..40 {
        records.push(txt(
            "big.example.test",
            &format!("{i:02}-{}", "x".repeat(60)),
        ));
    }
    (name(z), records)
}

pub fn open_store(dir: &std::path::Path) -> Store {
    let store = Store::open(dir, 64 << 20).unwrap();
    let (apex, records) = example_zone();
    store.replace_zone(apex.as_name(), &records).unwrap();
    store
}
