//! Splitting an `Exec*=` line of a systemd unit into words, as systemd does: shared by the
//! unit generator's unit tests and the integration tests that play a boot (std only).

/// Words of an `Exec*=` line as systemd splits them: single and double quotes, C escapes
/// (`\"`, `\\`, `\n`, `\t`, `\x20`, octal `\040`, `\u00e9`, ... as quadlet writes them),
/// then `$$` and `%%`; specifiers other than `%%` are not expanded (mlenv's units use none).
pub fn split_exec(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '"' | '\'' => {
                in_word = true;
                let quote = c;
                while let Some(c) = chars.next() {
                    match c {
                        c if c == quote => break,
                        '\\' => unescape(&mut chars, &mut cur),
                        other => cur.push(other),
                    }
                }
            }
            '\\' => {
                in_word = true;
                unescape(&mut chars, &mut cur);
            }
            other => {
                in_word = true;
                cur.push(other);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
        .into_iter()
        .map(|w| w.replace("$$", "$").replace("%%", "%"))
        .collect()
}

/// One C escape after its backslash (systemd's `cunescape_one`).
fn unescape(chars: &mut std::iter::Peekable<std::str::Chars>, out: &mut String) {
    let take = |n: usize, radix: u32, chars: &mut std::iter::Peekable<std::str::Chars>| {
        let digits: String = (0..n).filter_map(|_| chars.next()).collect();
        u32::from_str_radix(&digits, radix)
            .ok()
            .and_then(char::from_u32)
    };
    match chars.next() {
        Some('a') => out.push('\x07'),
        Some('b') => out.push('\x08'),
        Some('f') => out.push('\x0c'),
        Some('n') => out.push('\n'),
        Some('r') => out.push('\r'),
        Some('t') => out.push('\t'),
        Some('v') => out.push('\x0b'),
        Some('s') => out.push(' '),
        Some('x') => out.extend(take(2, 16, chars)),
        Some('u') => out.extend(take(4, 16, chars)),
        Some('U') => out.extend(take(8, 16, chars)),
        Some(d @ '0'..='7') => {
            let rest: String = (0..2).filter_map(|_| chars.next()).collect();
            out.extend(
                u32::from_str_radix(&format!("{d}{rest}"), 8)
                    .ok()
                    .and_then(char::from_u32),
            );
        }
        Some(other) => out.push(other),
        None => {}
    }
}
