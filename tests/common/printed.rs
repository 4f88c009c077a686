//! `dig` (bind9-dnsutils) and `kdig` (knot-dnsutils) against a test server,
//! and one reader of what both print.

use super::{TestServer, run_tool};

/// One response as dig or kdig printed it.
#[derive(Debug, Default)]
pub struct Printed {
    /// The `status:` of the header line (`NOERROR`, `NXDOMAIN`, ...).
    pub status: String,
    /// The header flags, lower case as printed (`qr`, `aa`, ...).
    pub flags: Vec<String>,
    /// The answer section, each record split at whitespace.
    pub answer: Vec<Vec<String>>,
    /// The authority section, each record split at whitespace.
    pub authority: Vec<Vec<String>>,
    /// The additional section, each record split at whitespace.
    pub additional: Vec<Vec<String>>,
    /// The `udp:` payload size of the OPT pseudo-section, if printed.
    pub udp_size: Option<u16>,
    /// Everything printed, for failure messages.
    pub text: String,
}

impl Printed {
    /// Reads the text both dig and kdig print: a `status:` header line, a
    /// flags line, and `;; X SECTION:` blocks of whitespace-separated
    /// records, each ended by an empty line.
    pub fn parse(text: &str) -> Printed {
        let mut p = Printed {
            text: text.to_string(),
            ..Printed::default()
        };
        let mut section: Option<&str> = None;
        for line in text.lines() {
            let lower = line.to_ascii_lowercase();
            if let Some(i) = lower.find("status: ") {
                let rest = &line[i + 8..];
                let end = rest.find([',', ';']).unwrap_or(rest.len());
                p.status = rest[..end].trim().to_string();
            }
            if lower.starts_with(";; flags: ") {
                let rest = &line[10..];
                let end = rest.find(';').unwrap_or(rest.len());
                p.flags = rest[..end].split_whitespace().map(str::to_string).collect();
            }
            if let Some(i) = lower.find("udp: ") {
                let digits: String = line[i + 5..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                p.udp_size = digits.parse().ok();
            }
            if line.starts_with(";; ") && line.ends_with("SECTION:") {
                section = line.split_whitespace().nth(1);
                continue;
            }
            if line.trim().is_empty() {
                section = None;
                continue;
            }
            if line.starts_with(';') {
                continue;
            }
            let fields: Vec<String> = line.split_whitespace().map(str::to_string).collect();
            match section {
                Some("ANSWER") => p.answer.push(fields),
                Some("AUTHORITY") => p.authority.push(fields),
                Some("ADDITIONAL") => p.additional.push(fields),
                _ => {}
            }
        }
        p
    }

    /// Whether the header has `flag` (`aa`, `tc`, ...).
    pub fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// The answer section as `(owner, type, rdata)`, owners lower case,
    /// sorted.
    pub fn answer_rdata(&self) -> Vec<(String, String, String)> {
        let mut out: Vec<_> = self
            .answer
            .iter()
            .map(|f| {
                let (owner, _, rtype, rdata) = rr(f);
                (owner, rtype, rdata)
            })
            .collect();
        out.sort();
        out
    }
}

/// `owner ttl class type rdata...` → (owner lower case, ttl, type, rdata
/// joined by single spaces).
pub fn rr(fields: &[String]) -> (String, u32, String, String) {
    assert!(fields.len() >= 4, "not a record: {fields:?}");
    (
        fields[0].to_ascii_lowercase(),
        fields[1].parse().expect("a TTL"),
        fields[3].clone(),
        fields[4..].join(" "),
    )
}

/// Runs `tool @AT -p PORT OPTIONS ARGS` and reads what it printed; fails
/// the test when it exits non-zero.
fn ask(tool: &str, at: &str, server: &TestServer, options: &[&str], args: &[&str]) -> Printed {
    let port = server.port().to_string();
    let at = format!("@{at}");
    let mut all = vec![at.as_str(), "-p", &port];
    all.extend_from_slice(options);
    all.extend_from_slice(args);
    let out = run_tool(tool, &all);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{tool} {args:?} failed:\n{text}");
    Printed::parse(&text)
}

/// `dig ARGS` at `server`, no recursion asked, one try of two seconds.
pub fn dig(server: &TestServer, args: &[&str]) -> Printed {
    dig_at("127.0.0.1", server, args)
}

/// [`dig`] at address `at` of `server` (one it listens on, or a loopback
/// address its wildcard listen covers).
pub fn dig_at(at: &str, server: &TestServer, args: &[&str]) -> Printed {
    ask("dig", at, server, &["+time=2", "+tries=1", "+norec"], args)
}

/// `kdig ARGS` at `server`, no recursion asked, one try of two seconds.
pub fn kdig(server: &TestServer, args: &[&str]) -> Printed {
    ask(
        "kdig",
        "127.0.0.1",
        server,
        &["+timeout=2", "+retry=0", "+norec"],
        args,
    )
}
