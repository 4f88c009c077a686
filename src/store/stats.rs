//! What the metrics endpoint reports of each zone, read when it is scraped
//! (never on the request path).

use crate::wire::{NameBuf, RData, Rtype};

use super::key::{self, DataType, NameKey};
use super::value::Rrset;
use super::{Store, StoreError, decode_name_buf, zone_meta};

/// One zone as the store holds it now.
#[derive(Debug, Clone)]
pub struct ZoneStats {
    /// The apex.
    pub apex: NameBuf,
    /// The apex SOA's serial; 0 if the zone has none (a damaged zone).
    pub serial: u32,
    /// Records in the zone, from its metadata.
    pub records: u64,
}

impl Store {
    /// Every zone with its serial and record count, from one read
    /// transaction.
    pub fn zone_stats(&self) -> Result<Vec<ZoneStats>, StoreError> {
        let rtxn = self.env.read_txn()?;
        let mut out = Vec::new();
        for item in self.zones.iter(&rtxn)? {
            let (zone_key, meta) = item?;
            let apex = decode_name_buf(key::zone_key_apex(zone_key))?;
            let name = NameKey::new(apex.as_name());
            let mut buf = [0u8; key::MAX_KEY];
            let serial = match DataType::new(Rtype::Soa) {
                Some(soa) => {
                    let k = name.rrset_key(name.labels(), soa, &mut buf)?;
                    self.records
                        .get(&rtxn, k)?
                        .and_then(Rrset::from_value)
                        .and_then(|set| set.iter().next())
                        .and_then(|rdata| match RData::from_wire(Rtype::Soa, rdata) {
                            Ok(RData::Soa(soa)) => Some(soa.serial),
                            _ => None,
                        })
                        .unwrap_or(0)
                }
                None => 0,
            };
            out.push(ZoneStats {
                apex,
                serial,
                records: zone_meta::records(meta).unwrap_or(0),
            });
        }
        Ok(out)
    }
}
