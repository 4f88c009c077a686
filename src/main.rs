//! The `dynzone` command. Serving, importing and key handling arrive with the
//! following issues; for now it only describes itself.

use argh::FromArgs;

/// dynzone: an authoritative DNS server for dynamic DNS (RFC 2136 UPDATE signed
/// with TSIG, records in LMDB).
#[derive(FromArgs)]
struct Args {
    /// print the version and exit
    #[argh(switch)]
    version: bool,
}

fn main() {
    let args: Args = argh::from_env();
    if args.version {
        println!("dynzone {}", env!("CARGO_PKG_VERSION"));
    } else {
        println!(
            "dynzone {}: run `dynzone --help` for usage",
            env!("CARGO_PKG_VERSION")
        );
    }
}
