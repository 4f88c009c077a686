//! What the handler fuzz targets share: a real LMDB store in a fresh
//! directory, holding `tests/data/zones/example.com.zone`.

use dynzone::store::Store;

const ZONE: &str = include_str!("../../../tests/data/zones/example.com.zone");

/// Opens a store in `dynzone-fuzz-<tag>-<pid>` under the temp directory,
/// emptied first, and loads the example.com zone into it.
pub fn example_store(tag: &str) -> Store {
    let dir = std::env::temp_dir().join(format!("dynzone-fuzz-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&dir, 64 << 20).expect("store opens");
    let zone = dynzone::zonefile::parse(ZONE, None).expect("the test zone parses");
    store
        .replace_zone(zone.apex.as_name(), &zone.records)
        .expect("the test zone loads");
    store
}
