//! Key specs and key files (start-up input, but read from files an operator
//! may have edited by hand): `parse_file` and `parse_spec` on arbitrary text
//! (bytes read as lossy UTF-8) must not panic. Every key they return must
//! format back (`format_key`) into a file that parses to the same key, and no
//! error message may contain a secret the input carried.

#![no_main]

use dynzone::tsig::{format_key, parse_file, parse_spec};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match parse_file(&text) {
        Ok(keys) => {
            for key in &keys {
                let again = parse_file(&format_key(key)).expect("format_key output parses");
                assert_eq!(again.len(), 1);
                assert_eq!(again[0].name(), key.name());
                assert_eq!(again[0].algorithm(), key.algorithm());
                assert_eq!(again[0].secret(), key.secret());
            }
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            assert!(e.line.is_some());
        }
    }
    for line in text.lines().take(4) {
        match parse_spec(line) {
            Ok(key) => assert!(!key.secret().is_empty()),
            Err(e) => assert!(e.line.is_none() && !e.to_string().is_empty()),
        }
    }
});
