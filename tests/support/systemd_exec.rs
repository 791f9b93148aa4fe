//! Splitting an `Exec*=` line of a systemd unit into words, as systemd does: shared by the
//! unit generator's unit tests and the integration tests that play a boot (std only).

/// Words of an `Exec*=` line as systemd splits them (quotes, backslash escapes, `$$`, `%%`);
/// specifiers other than `%%` are not expanded (mlenv's units use none).
pub fn split_exec(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
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
                        '\\' if quote == '"' => match chars.next() {
                            Some('n') => cur.push('\n'),
                            Some(other) => cur.push(other),
                            None => {}
                        },
                        other => cur.push(other),
                    }
                }
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
