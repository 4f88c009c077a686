//! Key files and key specs, read at start-up (allocation is fine here).
//!
//! Two formats, both accepted by [`parse_file`]:
//! - BIND's, as `tsig-keygen` prints it and `nsupdate -k` reads it:
//!   `key "name" { algorithm hmac-sha256; secret "base64"; };`
//! - one line `alg:name:secret`, the form of `nsupdate -y`, `knsupdate -y` and
//!   of the file `knsupdate -k` reads (first line only).
//!
//! No error message ever contains the secret or text that could be part of it.

use core::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::algorithm::Algorithm;
use super::key::Key;
use crate::wire::NameBuf;

/// What is wrong in a key spec or key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyErrorKind {
    /// Not `[alg:]name:secret`.
    BadSpec,
    /// An algorithm name we do not know (shown: algorithm names are not secret).
    UnknownAlgorithm,
    /// A key name that is not a valid domain name (shown).
    BadName(String),
    /// The secret is not base64 (the secret is never shown).
    BadSecret,
    /// The secret is empty.
    EmptySecret,
    /// A one-line key in a file without an algorithm: `nsupdate` would assume
    /// hmac-md5 and `knsupdate` hmac-sha256, so it must be written.
    MissingAlgorithmInFile,
    /// A `key` statement without `algorithm` (named after the key).
    NoAlgorithm(String),
    /// A `key` statement without `secret` (named after the key).
    NoSecret(String),
    /// `algorithm` or `secret` twice in one `key` statement.
    Repeated(&'static str),
    /// The same key name twice (case ignored).
    Duplicate(String),
    /// Something else was expected here.
    Expected(&'static str),
    /// A statement inside `key { }` other than `algorithm` and `secret`.
    UnknownStatement(String),
    /// A `"` string or `/*` comment that never ends.
    Unterminated(&'static str),
}

/// An error in a key spec or key file, with the line it was found on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// 1-based line number in the file; `None` for a spec.
    pub line: Option<usize>,
    /// What is wrong.
    pub kind: KeyErrorKind,
}

impl KeyError {
    fn at(line: usize, kind: KeyErrorKind) -> KeyError {
        KeyError {
            line: Some(line),
            kind,
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        match &self.kind {
            KeyErrorKind::BadSpec => f.write_str("expected [algorithm:]name:secret"),
            // The field is never shown: a secret typed in the wrong place
            // would be echoed (issue 11).
            KeyErrorKind::UnknownAlgorithm => f.write_str(
                "unknown TSIG algorithm (expected hmac-md5, hmac-sha1, hmac-sha224, \
                 hmac-sha256, hmac-sha384 or hmac-sha512; the field is not shown)",
            ),
            KeyErrorKind::BadName(n) if n.is_empty() => f.write_str("invalid key name (not shown)"),
            KeyErrorKind::BadName(n) => write!(f, "invalid key name {n:?}"),
            KeyErrorKind::BadSecret => {
                f.write_str("the secret is not valid base64 (standard alphabet, with padding)")
            }
            KeyErrorKind::EmptySecret => f.write_str("the secret is empty"),
            KeyErrorKind::MissingAlgorithmInFile => f.write_str(
                "write the algorithm (alg:name:secret): nsupdate would assume hmac-md5 \
                 and knsupdate hmac-sha256",
            ),
            KeyErrorKind::NoAlgorithm(k) => write!(f, "key {k:?} has no algorithm"),
            KeyErrorKind::NoSecret(k) => write!(f, "key {k:?} has no secret"),
            KeyErrorKind::Repeated(what) => write!(f, "{what} given twice in one key"),
            KeyErrorKind::Duplicate(k) => write!(f, "key {k:?} defined twice"),
            KeyErrorKind::Expected(what) => write!(f, "expected {what}"),
            KeyErrorKind::UnknownStatement(s) => write!(
                f,
                "unknown statement {s:?} in a key (expected algorithm or secret)"
            ),
            KeyErrorKind::Unterminated(what) => write!(f, "unterminated {what}"),
        }
    }
}

impl std::error::Error for KeyError {}

/// Parses `[alg:]name:secret`, the syntax of `nsupdate -y` and `knsupdate -y`.
/// Without `alg`, hmac-md5, as `nsupdate` assumes (`knsupdate` assumes
/// hmac-sha256: write the algorithm when both are used).
pub fn parse_spec(spec: &str) -> Result<Key, KeyError> {
    parse_one_line(spec.trim(), Some(Algorithm::HmacMd5)).map_err(|kind| KeyError {
        line: None,
        // Typed on a command line, the name field may be a misplaced
        // secret: it is not shown either.
        kind: match kind {
            KeyErrorKind::BadName(_) => KeyErrorKind::BadName(String::new()),
            other => other,
        },
    })
}

fn parse_one_line(spec: &str, default: Option<Algorithm>) -> Result<Key, KeyErrorKind> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (algorithm, name, secret) = match parts.as_slice() {
        [name, secret] => (
            default.ok_or(KeyErrorKind::MissingAlgorithmInFile)?,
            *name,
            *secret,
        ),
        [alg, name, secret] => (
            Algorithm::from_text(alg).ok_or(KeyErrorKind::UnknownAlgorithm)?,
            *name,
            *secret,
        ),
        _ => return Err(KeyErrorKind::BadSpec),
    };
    make_key(name, algorithm, secret)
}

fn make_key(name: &str, algorithm: Algorithm, secret: &str) -> Result<Key, KeyErrorKind> {
    let name_buf = match NameBuf::from_text(name) {
        Ok(n) if !name.is_empty() && !n.as_name().is_root() => n,
        _ => return Err(KeyErrorKind::BadName(shown(name))),
    };
    // BIND's base64 reader skips white space inside the string; so do we.
    let compact: String = secret.chars().filter(|c| !c.is_whitespace()).collect();
    if compact.is_empty() {
        return Err(KeyErrorKind::EmptySecret);
    }
    let bytes = STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| KeyErrorKind::BadSecret)?;
    if bytes.is_empty() {
        return Err(KeyErrorKind::EmptySecret);
    }
    Key::new(name_buf.as_name(), algorithm, bytes).map_err(|_| KeyErrorKind::BadSecret)
}

/// Text from the input that an error message may show: names and algorithm
/// names, cut short so a misplaced secret is never shown whole.
fn shown(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", text.get(..cut).unwrap_or("")),
        None => text.to_string(),
    }
}

/// Parses a key file: any number of BIND `key` statements (as `tsig-keygen`
/// prints them; name quoted or not; `algorithm` and `secret` in any order;
/// `#`, `//` and `/* */` comments) and of one-line `alg:name:secret` keys
/// (one per line, `#` comments). A key name given twice is an error.
pub fn parse_file(text: &str) -> Result<Vec<Key>, KeyError> {
    let mut lexer = Lexer::new(text);
    let mut keys: Vec<(Key, usize)> = Vec::new();
    loop {
        lexer.skip_blank()?;
        let line = lexer.line;
        if lexer.at_end() {
            break;
        }
        let key = if lexer.at_key_statement() {
            lexer.key_statement()?
        } else {
            let spec = lexer.rest_of_line();
            let spec = spec.split('#').next().unwrap_or("").trim();
            parse_one_line(spec, None).map_err(|kind| KeyError::at(line, kind))?
        };
        if keys.iter().any(|(k, _)| k.name() == key.name()) {
            return Err(KeyError::at(
                line,
                KeyErrorKind::Duplicate(key.name().to_string()),
            ));
        }
        keys.push((key, line));
    }
    Ok(keys.into_iter().map(|(k, _)| k).collect())
}

/// A key in the format `tsig-keygen` prints, which `nsupdate -k`, BIND's
/// `named.conf` and [`parse_file`] read (the two inner lines start with a tab):
///
/// ```text
/// key "name" {
///     algorithm hmac-sha256;
///     secret "base64";
/// };
/// ```
pub fn format_key(key: &Key) -> String {
    let name = key.name().to_string();
    let name = match name.strip_suffix('.') {
        Some(n) if !n.is_empty() => n,
        _ => name.as_str(),
    };
    format!(
        "key \"{name}\" {{\n\talgorithm {};\n\tsecret \"{}\";\n}};\n",
        key.algorithm().mnemonic(),
        STANDARD.encode(key.secret())
    )
}

#[derive(Debug, PartialEq, Eq)]
enum Token<'t> {
    Word(&'t str),
    Quoted(&'t str),
    Open,
    Close,
    Semicolon,
}

struct Lexer<'t> {
    text: &'t str,
    pos: usize,
    line: usize,
}

impl<'t> Lexer<'t> {
    fn new(text: &'t str) -> Lexer<'t> {
        Lexer {
            text,
            pos: 0,
            line: 1,
        }
    }

    fn rest(&self) -> &'t str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn at_end(&self) -> bool {
        self.rest().is_empty()
    }

    fn advance(&mut self, n: usize) {
        let taken = self.rest().get(..n).unwrap_or("");
        self.line += taken.matches('\n').count();
        self.pos += taken.len();
    }

    /// Skips white space and comments.
    fn skip_blank(&mut self) -> Result<(), KeyError> {
        loop {
            let rest = self.rest();
            let Some(c) = rest.chars().next() else {
                return Ok(());
            };
            if c.is_whitespace() {
                self.advance(c.len_utf8());
            } else if rest.starts_with('#') || rest.starts_with("//") {
                let end = rest.find('\n').unwrap_or(rest.len());
                self.advance(end);
            } else if rest.starts_with("/*") {
                let start = self.line;
                match rest.get(2..).and_then(|r| r.find("*/")) {
                    Some(end) => self.advance(end + 4),
                    None => {
                        return Err(KeyError::at(start, KeyErrorKind::Unterminated("comment")));
                    }
                }
            } else {
                return Ok(());
            }
        }
    }

    /// Whether the next word is the keyword `key` (not `key:…`, a one-line key
    /// named "key").
    fn at_key_statement(&self) -> bool {
        let rest = self.rest();
        let Some(head) = rest.get(..3) else {
            return false;
        };
        head.eq_ignore_ascii_case("key")
            && rest
                .get(3..)
                .and_then(|r| r.chars().next())
                .is_some_and(|c| c.is_whitespace() || c == '"' || c == '{')
    }

    fn rest_of_line(&mut self) -> &'t str {
        let rest = self.rest();
        let end = rest.find('\n').unwrap_or(rest.len());
        self.advance(end);
        rest.get(..end).unwrap_or("")
    }

    fn token(&mut self) -> Result<Option<Token<'t>>, KeyError> {
        self.skip_blank()?;
        let rest = self.rest();
        let Some(c) = rest.chars().next() else {
            return Ok(None);
        };
        let token = match c {
            '{' => {
                self.advance(1);
                Token::Open
            }
            '}' => {
                self.advance(1);
                Token::Close
            }
            ';' => {
                self.advance(1);
                Token::Semicolon
            }
            '"' => {
                let start = self.line;
                let body = rest.get(1..).unwrap_or("");
                let mut escaped = false;
                let mut end = None;
                for (i, ch) in body.char_indices() {
                    match ch {
                        _ if escaped => escaped = false,
                        '\\' => escaped = true,
                        '"' => {
                            end = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                let Some(end) = end else {
                    return Err(KeyError::at(start, KeyErrorKind::Unterminated("string")));
                };
                self.advance(end + 2);
                Token::Quoted(body.get(..end).unwrap_or(""))
            }
            _ => {
                let end = rest
                    .find(|ch: char| ch.is_whitespace() || "{};\"#".contains(ch))
                    .unwrap_or(rest.len());
                let end = match rest.find("//") {
                    Some(comment) if comment < end => comment,
                    _ => end,
                }
                .max(c.len_utf8());
                self.advance(end);
                Token::Word(rest.get(..end).unwrap_or(""))
            }
        };
        Ok(Some(token))
    }

    fn expect(&mut self, wanted: Token<'static>, what: &'static str) -> Result<(), KeyError> {
        self.skip_blank()?;
        let line = self.line;
        match self.token()? {
            Some(t) if t == wanted => Ok(()),
            _ => Err(KeyError::at(line, KeyErrorKind::Expected(what))),
        }
    }

    /// `key NAME { algorithm ALG; secret "B64"; };`, the keyword not yet read.
    fn key_statement(&mut self) -> Result<Key, KeyError> {
        self.advance(3);
        self.skip_blank()?;
        let line = self.line;
        let name = match self.token()? {
            Some(Token::Word(w) | Token::Quoted(w)) => w,
            _ => return Err(KeyError::at(line, KeyErrorKind::Expected("a key name"))),
        };
        self.expect(Token::Open, "`{` after the key name")?;
        let mut algorithm: Option<Algorithm> = None;
        let mut secret: Option<(&str, usize)> = None;
        loop {
            self.skip_blank()?;
            let line = self.line;
            match self.token()? {
                Some(Token::Close) => break,
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("algorithm") => {
                    self.skip_blank()?;
                    let line = self.line;
                    let value = match self.token()? {
                        Some(Token::Word(v) | Token::Quoted(v)) => v,
                        _ => {
                            return Err(KeyError::at(line, KeyErrorKind::Expected("an algorithm")));
                        }
                    };
                    let alg = Algorithm::from_text(value)
                        .ok_or(KeyError::at(line, KeyErrorKind::UnknownAlgorithm))?;
                    if algorithm.replace(alg).is_some() {
                        return Err(KeyError::at(line, KeyErrorKind::Repeated("algorithm")));
                    }
                    self.expect(Token::Semicolon, "`;` after the algorithm")?;
                }
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("secret") => {
                    self.skip_blank()?;
                    let line = self.line;
                    let value = match self.token()? {
                        Some(Token::Word(v) | Token::Quoted(v)) => v,
                        _ => return Err(KeyError::at(line, KeyErrorKind::Expected("a secret"))),
                    };
                    if secret.replace((value, line)).is_some() {
                        return Err(KeyError::at(line, KeyErrorKind::Repeated("secret")));
                    }
                    self.expect(Token::Semicolon, "`;` after the secret")?;
                }
                Some(Token::Word(w)) => {
                    // Show the word only when it looks like a misspelt keyword,
                    // never when it could be a bare secret.
                    let looks_like_keyword =
                        w.len() <= 16 && w.chars().all(|c| c.is_ascii_lowercase() || c == '-');
                    let shown_word = if looks_like_keyword {
                        w.to_string()
                    } else {
                        String::from("…")
                    };
                    return Err(KeyError::at(
                        line,
                        KeyErrorKind::UnknownStatement(shown_word),
                    ));
                }
                _ => {
                    return Err(KeyError::at(
                        line,
                        KeyErrorKind::Expected("algorithm, secret or `}`"),
                    ));
                }
            }
        }
        self.expect(Token::Semicolon, "`;` after `}`")?;
        let Some(algorithm) = algorithm else {
            return Err(KeyError::at(line, KeyErrorKind::NoAlgorithm(shown(name))));
        };
        let Some((secret, secret_line)) = secret else {
            return Err(KeyError::at(line, KeyErrorKind::NoSecret(shown(name))));
        };
        make_key(name, algorithm, secret).map_err(|kind| {
            let at = match kind {
                KeyErrorKind::BadSecret | KeyErrorKind::EmptySecret => secret_line,
                _ => line,
            };
            KeyError::at(at, kind)
        })
    }
}
