//! Splits a master file into entries (RFC 1035 §5.1): one entry per line, or
//! per group of lines held together by parentheses, each a list of tokens.
//!
//! A token keeps its escapes (`\.`, `\DDD`) as written: a name and a
//! character-string decode them differently. Comments (`;` to the end of the
//! line) and parentheses are dropped; a quoted string is one token without its
//! quotes, spaces and `;` included.

use super::ZoneFileError;

/// One word or quoted string of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token<'a> {
    /// The text as written, escapes kept, quotes removed.
    pub(super) text: &'a str,
    /// Whether it was a quoted string.
    pub(super) quoted: bool,
    /// Line it is on, counting from 1.
    pub(super) line: usize,
}

/// The tokens of one logical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Entry<'a> {
    /// Line the entry starts on.
    pub(super) line: usize,
    /// Whether the line starts with a space or tab: the owner is left out and
    /// is the previous record's (RFC 1035 §5.1).
    pub(super) blank_owner: bool,
    /// Its tokens, at least one.
    pub(super) tokens: Vec<Token<'a>>,
}

/// Iterator over the entries of a master file; stops after the first error.
pub(super) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
    line: usize,
    failed: bool,
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `src`.
    pub(super) fn new(src: &'a str) -> Lexer<'a> {
        Lexer {
            src,
            pos: 0,
            line: 1,
            failed: false,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn slice(&self, start: usize, end: usize) -> Result<&'a str, ZoneFileError> {
        self.src
            .get(start..end)
            .ok_or_else(|| ZoneFileError::new(self.line, "text is not valid UTF-8 here"))
    }

    /// Reads a quoted string; `pos` is just after the opening quote.
    fn quoted(&mut self) -> Result<Token<'a>, ZoneFileError> {
        let start = self.pos;
        let line = self.line;
        loop {
            match self.peek() {
                None | Some(b'\n') => {
                    return Err(ZoneFileError::new(
                        line,
                        "quoted string without closing '\"'",
                    ));
                }
                Some(b'"') => break,
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        None | Some(b'\n') => {
                            return Err(ZoneFileError::new(
                                line,
                                "quoted string without closing '\"'",
                            ));
                        }
                        Some(_) => self.pos += 1,
                    }
                }
                Some(_) => self.pos += 1,
            }
        }
        let text = self.slice(start, self.pos)?;
        self.pos += 1; // the closing quote
        Ok(Token {
            text,
            quoted: true,
            line,
        })
    }

    /// Reads a word up to white space, a newline, `;`, `(`, `)` or `"`.
    fn word(&mut self) -> Result<Token<'a>, ZoneFileError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' | b'"' => break,
                b'\\' => {
                    self.pos += 1;
                    match self.peek() {
                        None | Some(b'\n') => {
                            return Err(ZoneFileError::new(
                                self.line,
                                "'\\' at the end of a line escapes nothing",
                            ));
                        }
                        Some(_) => self.pos += 1,
                    }
                }
                _ => self.pos += 1,
            }
        }
        Ok(Token {
            text: self.slice(start, self.pos)?,
            quoted: false,
            line: self.line,
        })
    }

    /// Reads the next entry, or `None` at the end of the text.
    fn entry(&mut self) -> Result<Option<Entry<'a>>, ZoneFileError> {
        loop {
            if self.pos >= self.src.len() {
                return Ok(None);
            }
            let line = self.line;
            let blank_owner = matches!(self.peek(), Some(b' ' | b'\t'));
            let mut tokens = Vec::new();
            // Line of the outermost open parenthesis, while one is open.
            let mut open: Option<usize> = None;
            let mut depth = 0usize;
            loop {
                match self.peek() {
                    None => {
                        if let Some(open) = open {
                            return Err(ZoneFileError::new(
                                open,
                                "'(' without a matching ')' before the end of the file",
                            ));
                        }
                        break;
                    }
                    Some(b'\n') => {
                        self.pos += 1;
                        self.line += 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    Some(b' ' | b'\t' | b'\r') => self.pos += 1,
                    Some(b';') => {
                        while !matches!(self.peek(), None | Some(b'\n')) {
                            self.pos += 1;
                        }
                    }
                    Some(b'(') => {
                        self.pos += 1;
                        depth += 1;
                        open.get_or_insert(self.line);
                    }
                    Some(b')') => {
                        self.pos += 1;
                        if depth == 0 {
                            return Err(ZoneFileError::new(
                                self.line,
                                "')' without a matching '('",
                            ));
                        }
                        depth -= 1;
                        if depth == 0 {
                            open = None;
                        }
                    }
                    Some(b'"') => {
                        self.pos += 1;
                        tokens.push(self.quoted()?);
                    }
                    Some(_) => tokens.push(self.word()?),
                }
            }
            if !tokens.is_empty() {
                return Ok(Some(Entry {
                    line,
                    blank_owner,
                    tokens,
                }));
            }
        }
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Result<Entry<'a>, ZoneFileError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.entry().transpose();
        if matches!(item, Some(Err(_))) {
            self.failed = true;
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entries(src: &str) -> Vec<Entry<'_>> {
        Lexer::new(src).collect::<Result<Vec<_>, _>>().unwrap()
    }

    fn texts<'a>(e: &Entry<'a>) -> Vec<&'a str> {
        e.tokens.iter().map(|t| t.text).collect()
    }

    #[test]
    fn words_comments_and_blank_lines() {
        let src = "a 1 IN A 192.0.2.1 ; comment\n\n; only a comment\n\tTXT x\n";
        let e = entries(src);
        assert_eq!(e.len(), 2);
        assert_eq!(texts(&e[0]), ["a", "1", "IN", "A", "192.0.2.1"]);
        assert!(!e[0].blank_owner);
        assert_eq!(e[0].line, 1);
        assert_eq!(texts(&e[1]), ["TXT", "x"]);
        assert!(e[1].blank_owner);
        assert_eq!(e[1].line, 4);
    }

    #[test]
    fn parentheses_join_lines_and_tokens_keep_their_line() {
        let src = "@ SOA ns host (\n 1 ; serial\n 2 3 ( 4 )\n 5 )\nx A 1.2.3.4";
        let e = entries(src);
        assert_eq!(e.len(), 2);
        assert_eq!(
            texts(&e[0]),
            ["@", "SOA", "ns", "host", "1", "2", "3", "4", "5"]
        );
        assert_eq!(e[0].tokens[4].line, 2);
        assert_eq!(e[0].tokens[8].line, 4);
        assert_eq!(e[1].line, 5);
    }

    #[test]
    fn quoted_strings_hold_spaces_semicolons_and_escaped_quotes() {
        let e = entries("t TXT \"a b; c\" \"say \\\"hi\\\"\" plain\"next\"\n");
        let t = &e[0].tokens;
        assert_eq!(t[2].text, "a b; c");
        assert!(t[2].quoted);
        assert_eq!(t[3].text, "say \\\"hi\\\"");
        assert_eq!(t[4].text, "plain");
        assert!(!t[4].quoted);
        assert_eq!(t[5].text, "next");
    }

    #[test]
    fn escapes_keep_delimiters_inside_a_word() {
        let e = entries("a\\;b\\ c\\(d A 1.2.3.4\n");
        assert_eq!(e[0].tokens[0].text, "a\\;b\\ c\\(d");
    }

    #[test]
    fn errors_carry_the_line() {
        let err = |src: &str| Lexer::new(src).find_map(Result::err).unwrap();
        assert_eq!(err("a A 1.2.3.4\nb SOA ( x\ny\n").line, 2);
        assert_eq!(err("a A 1.2.3.4\n\nb A 1.2.3.4 )\n").line, 3);
        assert_eq!(err("a TXT \"open\nb A 1.2.3.4\n").line, 1);
        assert_eq!(err("a\nb TXT x\\\n").line, 2);
        let msg = err("(").message;
        assert!(msg.contains("'('"), "{msg}");
    }

    #[test]
    fn crlf_line_ends() {
        let e = entries("a A 1.2.3.4\r\n b A 1.2.3.5\r\n");
        assert_eq!(texts(&e[0]), ["a", "A", "1.2.3.4"]);
        assert!(e[1].blank_owner);
    }

    proptest! {
        #[test]
        fn never_panics_and_lines_only_grow(src in "[ a-z0-9();\"\\\\\n\t.@$]{0,200}") {
            let mut last = 0;
            for item in Lexer::new(&src) {
                match item {
                    Ok(entry) => {
                        prop_assert!(entry.line >= last);
                        prop_assert!(!entry.tokens.is_empty());
                        last = entry.line;
                        for t in &entry.tokens {
                            prop_assert!(t.line >= entry.line);
                        }
                    }
                    Err(e) => prop_assert!(e.line >= 1),
                }
            }
        }
    }
}
