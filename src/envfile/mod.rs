//! `--env-file`: KEY=VALUE lines, read by the rules Docker Compose uses for `.env` and
//! `env_file:` files, so that a file that works with `docker compose` works here. Compose's
//! reader is compose-go's `dotenv` package (`dotenv/parser.go`, with interpolation by
//! `template/template.go`); the rules below follow that source, and the tests quote its test
//! cases. We parse ourselves because dotenvy, used before, rejects lines Compose accepts
//! (`PLAIN=hello world`) and cannot say which line it rejected.
//!
//! Values are secrets: they go into the API request body and nowhere else (never argv, logs,
//! labels or unit files), and no error quotes one: errors give the line number and at most a
//! key name (and a `${VAR:?message}`'s own message).
//!
//! The rules, as compose-go implements them:
//! - A UTF-8 byte order mark at the start is skipped. Blank lines and lines whose first
//!   non-blank character is `#` are ignored. Line ends may be LF or CRLF.
//! - `KEY=VALUE`, or YAML-style `KEY: VALUE`: the name runs to the first `=` or `:`. Blank
//!   space before the name, around the separator and after an optional `export ` prefix is
//!   dropped. A name holds letters, digits, `_`, `.`, `-`, `[` and `]` (so `a[1]`, `VAR.X`,
//!   `456` and `árvíz` are names); any other character is an error.
//! - A line that is just a name takes that variable from the environment, and is left out
//!   when the environment does not set it.
//! - Unquoted values run to the line end, lose an inline comment (from ` #`, a space then
//!   `#`: `A=b#c` keeps `b#c`) and then trailing blank space, and are interpolated. They may
//!   hold spaces; backslashes are kept as they are.
//! - Single-quoted values are literal and may span lines; only `\'` is unescaped (to `'`).
//! - Double-quoted values may span lines; `\"` is unescaped, then the shell escapes `\a \b \f
//!   \n \r \t \v \\`, `\0NNN` (three octal digits), and `\$` (a literal `$`); any other
//!   backslash is kept as it is (`\x07` stays four characters). Then they are interpolated.
//! - Whatever follows a closing quote on its line is read as if it began a line (so a
//!   `# comment` there is dropped, and `A="x" B=2` sets both).
//! - Interpolation: `$$` is a literal `$`; `$NAME` and `${NAME}` (NAME is
//!   `[A-Za-z_][A-Za-z0-9_]*`) are the variable's value or empty; `${NAME:-default}`,
//!   `${NAME-default}`, `${NAME:?message}`, `${NAME?message}`, `${NAME:+other}` and
//!   `${NAME+other}` as in a shell (with `:` an empty value counts as unset), nesting in the
//!   default, message or other; a missing required variable is an error. A `$` before anything
//!   else is kept; a `${` that is not one of these forms is an error. Names are looked up in
//!   the environment first and then in the lines above: Compose gives the environment
//!   precedence (compose-go's `expandVariables`, and "project.env has precedence doing
//!   interpolation" in its `types/project.go`), so with `HOST` set in the shell, `HOST=x` then
//!   `URL=$HOST` gives the shell's `HOST`.
//! - A later line for a key replaces an earlier one; the key then sits at its last position.
//! - Unclosed quotes are errors.
//!
//! Where we differ from compose-go, on purpose:
//! - A name may not be empty (compose-go takes `="value"` as a variable named ""), and may not
//!   hold blank space of any kind (compose-go rejects only a plain space inside a name).
//! - A bare name on the last line without a line break is read like any bare name (compose-go
//!   then stores the name as the value of a variable named "").
//! - Errors name the line where the problem starts (compose-go names the file's last line for
//!   an unclosed quote, and no line for interpolation errors), never quote the line (it
//!   quotes the value of an unclosed quote, and the whole line of a bad name), and show a
//!   `${NAME:?message}`'s message as written, not interpolated (an interpolated message could
//!   carry another variable's secret).
//! - Compose warns of each unset variable it interpolates as empty; we stay quiet.
//! - Names in `$NAME` are ASCII only; Go's case-folding regexp would also take the Kelvin sign
//!   and the long s. Names of variables use Rust's `char::is_alphabetic` for Go's
//!   `unicode.IsLetter`, which also takes the few combining marks Unicode calls alphabetic.
//! - The file must be UTF-8 (Go reads arbitrary bytes).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Variables read from an env file, in file order.
#[derive(Clone, Default)]
pub struct EnvFile {
    pub path: PathBuf,
    pub vars: Vec<(String, String)>,
}

// Hand-written so that a `{:?}` in a log line can never print a value.
impl std::fmt::Debug for EnvFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvFile")
            .field("path", &self.path)
            .field("keys", &self.keys())
            .finish()
    }
}

impl EnvFile {
    pub fn read(path: &Path) -> Result<EnvFile, String> {
        let accepted = "expected KEY=VALUE lines (Docker Compose's .env syntax: # comments, \
                        quotes, `export`, ${VAR} interpolation)";
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("invalid --env-file {shown:?}: {e}; {accepted}"))?;
        let vars = parse(&text, |k| std::env::var(k).ok())
            .map_err(|e| format!("invalid --env-file {shown:?}: {e}; {accepted}"))?;
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        Ok(EnvFile { path, vars })
    }

    pub fn keys(&self) -> Vec<String> {
        self.vars.iter().map(|(k, _)| k.clone()).collect()
    }

    /// A digest of the values keyed by a secret only this user can read, so settings drift
    /// is detectable from a container label without the label giving the values away.
    /// Taken in key order: reordering the file's lines changes nothing in the container.
    pub fn digest(&self, key: &[u8]) -> String {
        let mut vars: Vec<&(String, String)> = self.vars.iter().collect();
        vars.sort();
        let mut h = Sha256::new();
        h.update(key);
        for (k, v) in vars {
            h.update(k.as_bytes());
            h.update([0]);
            h.update(v.as_bytes());
            h.update([0]);
        }
        h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// Variables looked up by name during interpolation.
type Mapping<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// Reads env file `text` by Compose's rules (see the module comment), in file order, a later
/// line for a key replacing an earlier one. `lookup` is the environment: bare names and
/// interpolation read it. The error names the line and never holds a value.
fn parse(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, String> {
    let mut vars: Vec<(String, String)> = Vec::new();
    let mut rest = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut line = 1;
    // Whether the statement starts a line, rather than following a closing quote: only then
    // is the text before its '=' known to be a name, and not part of the line's value.
    let mut line_start = true;
    loop {
        // Blank space and comments (compose-go's getStatementStart).
        let blank = rest.len() - rest.trim_start().len();
        let breaks = rest[..blank].matches('\n').count();
        line += breaks;
        line_start |= breaks > 0;
        rest = &rest[blank..];
        if rest.is_empty() {
            break;
        }
        if rest.starts_with('#') {
            rest = rest.find('\n').map_or("", |at| &rest[at..]);
            continue;
        }

        // The name (locateKeyName). Go's `^export\s+`: `\s` is [\t\n\f\r ].
        if let Some(after) = rest.strip_prefix("export") {
            if after.starts_with([' ', '\t', '\n', '\x0c', '\r']) {
                rest = after.trim_start_matches(is_space);
            }
        }
        let mut end = (rest.len(), '\n');
        for (i, c) in rest.char_indices() {
            match c {
                '=' | ':' | '\n' => {
                    end = (i, c);
                    break;
                }
                c if is_space(c) || is_name_char(c) => {}
                c => return Err(bad_name(rest, line, line_start, c)),
            }
        }
        let (name_end, separator) = end;
        let key = rest[..name_end].trim_end();
        let after = rest.get(name_end + 1..).unwrap_or("");
        let bare = separator == '\n';
        if key.contains(char::is_whitespace) {
            // Never the text itself: in a mistyped line (`TOKEN s3cr3t==`) what stands
            // before the separator is mostly the value.
            return Err(if bare || !line_start {
                not_a_statement(line, line_start)
            } else {
                format!("line {line}: the name before the '{separator}' holds a space (a name holds no spaces)")
            });
        }
        if key.is_empty() && !bare {
            return Err(format!("line {line}: no name before the '{separator}'"));
        }
        if bare {
            // Just a name: its value comes from the environment, if set there. (An empty
            // name is what is left of a line saying only `export`.)
            if !key.is_empty() {
                if let Some(value) = lookup(key) {
                    set(&mut vars, key, value);
                }
            }
            rest = after;
            line += 1;
            line_start = true;
            continue;
        }

        // The value (extractVarValue).
        let src = after.trim_start_matches(is_space);
        let of_key = if line_start {
            format!(" in the value of {key:?}")
        } else {
            String::new()
        };
        let at = line;
        let value = match src.as_bytes().first() {
            Some(&quote @ (b'"' | b'\'')) => {
                let Some((raw, close, breaks)) = quoted(src, quote) else {
                    let kind = if quote == b'"' { "double" } else { "single" };
                    return Err(format!("line {at}: unclosed {kind} quote{of_key}"));
                };
                rest = &src[close + 1..];
                line += breaks;
                line_start = false;
                if quote == b'\'' {
                    raw
                } else {
                    let mapping = |name: &str| lookup(name).or_else(|| get(&vars, name));
                    interpolate(&expand_escapes(&raw), &mapping, at, &of_key)?
                }
            }
            _ => {
                let (text, next) = src.split_once('\n').unwrap_or((src, ""));
                rest = next;
                line += 1;
                line_start = true;
                let text = text.split_once(" #").map_or(text, |(v, _)| v).trim_end();
                let mapping = |name: &str| lookup(name).or_else(|| get(&vars, name));
                interpolate(text, &mapping, at, &of_key)?
            }
        };
        set(&mut vars, key, value);
    }
    Ok(vars)
}

/// compose-go's isSpace: blank space other than a line break.
fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\u{0b}' | '\u{0c}' | '\r' | ' ' | '\u{85}' | '\u{a0}'
    )
}

fn is_name_char(c: char) -> bool {
    matches!(c, '_' | '.' | '-' | '[' | ']') || c.is_alphabetic() || c.is_numeric()
}

/// The error for character `c` in the name at the start of `src`. Neither the text before
/// the separator nor the character is shown: in a mistyped line (a PEM key's last line
/// pasted unquoted, `TOKEN s3cr3t==`) that text is mostly a value. The column says where.
fn bad_name(src: &str, line: usize, line_start: bool, c: char) -> String {
    let text = &src[..src.find('\n').unwrap_or(src.len())];
    match (text.find(['=', ':']), text.find(c)) {
        (Some(_), Some(at)) if line_start => format!(
            "line {line}: the name holds a character a name may not (its character {}; a name holds \
             letters, digits, '_', '.', '-', '[' and ']')",
            text[..at].chars().count() + 1
        ),
        _ => not_a_statement(line, line_start),
    }
}

fn not_a_statement(line: usize, line_start: bool) -> String {
    if line_start {
        format!("line {line}: not KEY=VALUE (no '=', and not a lone variable name)")
    } else {
        format!("line {line}: unexpected text after a closing quote")
    }
}

fn set(vars: &mut Vec<(String, String)>, key: &str, value: String) {
    // A later line overrides an earlier one, as in a shell.
    vars.retain(|(old, _)| old != key);
    vars.push((key.to_string(), value));
}

fn get(vars: &[(String, String)], key: &str) -> Option<String> {
    vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// The quoted value at the start of `src` (its first byte is `quote`), as compose-go reads
/// it: a backslash before the quote character is dropped, every other backslash kept. Returns
/// the text, the index of the closing quote and the line breaks inside; None if unclosed.
fn quoted(src: &str, quote: u8) -> Option<(String, usize, usize)> {
    let mut text = Vec::new();
    let mut escaped = false;
    let mut breaks = 0;
    for (i, &b) in src.as_bytes().iter().enumerate().skip(1) {
        if b == b'\n' {
            breaks += 1;
        }
        if b == quote {
            if !escaped {
                // Split only at ASCII bytes, so still UTF-8.
                return Some((String::from_utf8_lossy(&text).into_owned(), i, breaks));
            }
            escaped = false;
            text.push(b);
        } else if b == b'\\' && !escaped {
            escaped = true;
        } else {
            if escaped {
                escaped = false;
                text.push(b'\\');
            }
            text.push(b);
        }
    }
    None
}

/// compose-go's expandEscapes for double-quoted values: the matches of
/// `\\(?:[abcfnrtv$"\\]|0\d{0,3})` that Go's strconv.UnquoteChar accepts are replaced, the
/// rest kept. `\$` becomes `$$`, which interpolation turns into a literal `$`.
fn expand_escapes(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let (mut i, mut copied) = (0, 0);
    while i + 1 < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        let (replacement, len): (std::borrow::Cow<str>, usize) = match b[i + 1] {
            b'a' => ("\x07".into(), 2),
            b'b' => ("\x08".into(), 2),
            b'f' => ("\x0c".into(), 2),
            b'n' => ("\n".into(), 2),
            b'r' => ("\r".into(), 2),
            b't' => ("\t".into(), 2),
            b'v' => ("\x0b".into(), 2),
            b'\\' => ("\\".into(), 2),
            b'"' => ("\"".into(), 2),
            b'$' => ("$$".into(), 2),
            b'0' => {
                // `\0NNN` is Go's octal `\NNN`: exactly three octal digits, at most 0o377.
                let digits = b[i + 2..]
                    .iter()
                    .take(3)
                    .take_while(|d| d.is_ascii_digit())
                    .count();
                let len = 2 + digits;
                let octal = &s[i + 2..i + len];
                match u32::from_str_radix(octal, 8) {
                    Ok(v) if digits == 3 && v <= 0o377 => {
                        (char::from_u32(v).unwrap_or('\0').to_string().into(), len)
                    }
                    _ => (s[i..i + len].into(), len),
                }
            }
            // `\c` matches the pattern but is no Go escape: kept. So is any other.
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&s[copied..i]);
        out.push_str(&replacement);
        i += len;
        copied = i;
    }
    out.push_str(&s[copied..]);
    out
}

/// Why interpolation failed. Holds no value.
enum Interpolation {
    /// A `${` that is not `${NAME}` or `${NAME<op>...}`.
    Invalid,
    /// `${NAME:?message}` or `${NAME?message}` with NAME unset (or empty); the message as
    /// written.
    Missing { name: String, message: String },
}

fn interpolate(text: &str, mapping: &Mapping, line: usize, of_key: &str) -> Result<String, String> {
    substitute(text, mapping).map_err(|e| match e {
        Interpolation::Invalid => format!(
            "line {line}: invalid interpolation{of_key}: a \"${{\" must start ${{NAME}} or \
             ${{NAME:-default}} and the like, on one line (\"$$\" is a literal \"$\")"
        ),
        Interpolation::Missing { name, message } if message.is_empty() => {
            format!("line {line}: required variable {name} is missing a value")
        }
        Interpolation::Missing { name, message } => {
            format!("line {line}: required variable {name} is missing a value: {message}")
        }
    })
}

/// The six operators, in compose-go's order (ties cannot happen).
const OPERATORS: [&str; 6] = [":?", "?", ":-", "-", ":+", "+"];

/// compose-go's template.Substitute: every match of its pattern replaced, the first error
/// kept.
fn substitute(template: &str, mapping: &Mapping) -> Result<String, Interpolation> {
    let mut out = String::with_capacity(template.len());
    let mut first_error = None;
    let mut i = 0;
    while let Some(found) = template[i..].find('$') {
        let at = i + found;
        out.push_str(&template[i..at]);
        match token_at(template, at) {
            None => {
                out.push('$');
                i = at + 1;
            }
            Some((end, _)) => {
                match replace(&template[at..end], mapping) {
                    Ok(value) => out.push_str(&value),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
                i = end;
            }
        }
    }
    out.push_str(&template[i..]);
    first_error.map_or(Ok(out), Err)
}

enum Token<'a> {
    /// `$$`
    Escaped,
    /// `$NAME`
    Named(&'a str),
    /// What is between `${` and `}`.
    Braced(&'a str),
    /// `${` and nothing that makes it a braced form.
    Invalid,
}

/// The match at `t[at]` (a `$`) of compose-go's pattern
/// `\$(?i:(?P<escaped>\$)|(?P<named>[_a-z][_a-z0-9]*)|{(?:(?P<braced>[_a-z][_a-z0-9]*(?::?[-+?](.*))?)}|(?P<invalid>)))`,
/// with Go's leftmost-first backtracking spelled out: where it ends, and what it is. None
/// when nothing matches (a `$` kept as it is).
fn token_at(t: &str, at: usize) -> Option<(usize, Token<'_>)> {
    let b = t.as_bytes();
    let starts_name = |i: usize| {
        b.get(i)
            .is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_')
    };
    let name_end = |from: usize| {
        from + b[from..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count()
    };
    match *b.get(at + 1)? {
        b'$' => Some((at + 2, Token::Escaped)),
        _ if starts_name(at + 1) => {
            let end = name_end(at + 1);
            Some((end, Token::Named(&t[at + 1..end])))
        }
        b'{' => {
            let open = at + 2;
            if starts_name(open) {
                let r = name_end(open);
                // After an operator `(.*)}` takes the text up to the line's last '}' (`.`
                // stops at a line break).
                let line_end = t[r..].find('\n').map_or(t.len(), |n| r + n);
                let operator = match (b.get(r), b.get(r + 1)) {
                    (Some(b':'), Some(b'-' | b'+' | b'?')) => Some(2),
                    (Some(b'-' | b'+' | b'?'), _) => Some(1),
                    _ => None,
                };
                let close = operator
                    .filter(|n| r + n <= line_end)
                    .and_then(|n| t[r + n..line_end].rfind('}').map(|k| r + n + k));
                if let Some(close) = close {
                    return Some((close + 1, Token::Braced(&t[open..close])));
                }
                if b.get(r) == Some(&b'}') {
                    return Some((r + 1, Token::Braced(&t[open..r])));
                }
            }
            Some((at + 2, Token::Invalid))
        }
        _ => None,
    }
}

/// compose-go's DefaultReplacementAppliedFunc for one match `s`: the operator is the earliest
/// in `s`; `s` is cut at its first balanced '}' and what follows is substituted on its own.
fn replace(s: &str, mapping: &Mapping) -> Result<String, Interpolation> {
    let operator = OPERATORS
        .iter()
        .filter_map(|op| s.find(op).map(|at| (at, *op)))
        .min()
        .map(|(_, op)| op);
    let (s, rest) = match first_closing_brace(s) {
        Some(k) => (&s[..=k], &s[k + 1..]),
        None => (s, ""),
    };
    match token_at(s, 0).map(|(_, token)| token) {
        Some(Token::Escaped) => Ok("$".to_string()),
        Some(Token::Named(name)) => Ok(mapping(name).unwrap_or_default()),
        Some(Token::Braced(inner)) => {
            if let Some(op) = operator {
                if let Some(value) = apply(op, inner, mapping)? {
                    return Ok(value + &substitute(rest, mapping)?);
                }
            }
            Ok(mapping(inner).unwrap_or_default())
        }
        Some(Token::Invalid) | None => Err(Interpolation::Invalid),
    }
}

/// compose-go's getFirstBraceClosingIndex, byte for byte (it skips the byte after each '{').
fn first_closing_brace(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let (mut open, mut i) = (0i32, 0);
    while i < b.len() {
        if b[i] == b'}' {
            open -= 1;
            if open == 0 {
                return Some(i);
            }
        }
        if b[i] == b'{' {
            open += 1;
            i += 1;
        }
        i += 1;
    }
    None
}

/// `NAME<op>argument` for operator `op`; None when `inner` does not hold `op`.
fn apply(op: &str, inner: &str, mapping: &Mapping) -> Result<Option<String>, Interpolation> {
    let Some((name, argument)) = inner.split_once(op) else {
        return Ok(None);
    };
    let value = mapping(name);
    // With ':' an empty value counts as unset.
    let missing = value
        .as_deref()
        .is_none_or(|v| op.starts_with(':') && v.is_empty());
    let value = value.unwrap_or_default();
    Ok(Some(match op.trim_start_matches(':') {
        "-" if missing => substitute(argument, mapping)?,
        "+" if !missing => substitute(argument, mapping)?,
        "?" if missing => {
            // A nested error in the message comes first, as in compose-go.
            substitute(argument, mapping)?;
            return Err(Interpolation::Missing {
                name: name.to_string(),
                message: argument.to_string(),
            });
        }
        "+" => String::new(),
        _ => value,
    }))
}

#[cfg(test)]
mod tests;
