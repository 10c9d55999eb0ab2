//! Small formatting helpers shared by the text renderers: thousands separators, durations,
//! timestamps, colour.

/// Text styling. `color` is decided by the binary (a terminal, and `NO_COLOR` unset).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// Emit ANSI colour codes.
    pub color: bool,
}

/// Colours used by the text renderers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    /// Headings.
    Bold,
    /// Dimmed secondary text.
    Dim,
    /// Critical.
    Red,
    /// Warning.
    Yellow,
    /// OK / info.
    Green,
    /// Names, keys.
    Cyan,
}

impl Style {
    /// `text` wrapped in the colour's escape codes when colour is on.
    pub fn paint(&self, p: Paint, text: &str) -> String {
        if !self.color {
            return text.to_string();
        }
        let code = match p {
            Paint::Bold => "1",
            Paint::Dim => "2",
            Paint::Red => "1;31",
            Paint::Yellow => "33",
            Paint::Green => "32",
            Paint::Cyan => "36",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

pub use tcpdoctor_model::thousands;

/// Milliseconds as ss prints timers: `59sec`, `1min59sec`, `2h1min`, `350ms`.
pub fn duration_ms(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    if s < 60 {
        return format!("{s}sec");
    }
    let m = s / 60;
    if m < 60 {
        return format!("{m}min{}sec", s % 60);
    }
    format!("{}h{}min", m / 60, m % 60)
}

/// Unix milliseconds as `2026-11-25 15:50:01 UTC` (proleptic Gregorian, no time zone data).
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Percentage of `part` in `whole` with one decimal, `-` when `whole` is 0.
pub fn percent(part: u64, whole: u64) -> String {
    if whole == 0 {
        return "-".into();
    }
    format!("{:.1}", part as f64 * 100.0 / whole as f64)
}

/// Pads `s` to `width` display columns (ANSI codes excluded from the count).
pub fn pad(s: &str, width: usize, right: bool) -> String {
    let visible = visible_len(s);
    let fill = " ".repeat(width.saturating_sub(visible));
    if right {
        format!("{fill}{s}")
    } else {
        format!("{s}{fill}")
    }
}

/// Length of `s` in characters, not counting ANSI escape sequences.
pub fn visible_len(s: &str) -> usize {
    let mut n = 0;
    let mut esc = false;
    for c in s.chars() {
        if esc {
            if c == 'm' {
                esc = false;
            }
        } else if c == '\x1b' {
            esc = true;
        } else {
            n += 1;
        }
    }
    n
}

/// A simple aligned table: header, rows, per-column right alignment.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles; `right[i]` right-aligns column i (numbers).
    pub fn new(header: &[&str], right: &[bool]) -> Table {
        Table {
            header: header.iter().map(|s| s.to_string()).collect(),
            right: right.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders with two spaces between columns; the header painted bold.
    pub fn render(&self, style: &Style, indent: &str) -> String {
        let cols = self.header.len();
        let mut w = vec![0usize; cols];
        for (i, h) in self.header.iter().enumerate() {
            w[i] = visible_len(h);
        }
        for r in &self.rows {
            for (i, c) in r.iter().enumerate().take(cols) {
                w[i] = w[i].max(visible_len(c));
            }
        }
        let line = |cells: &[String]| {
            let mut out = String::from(indent);
            for (i, c) in cells.iter().enumerate().take(cols) {
                let right = self.right.get(i).copied().unwrap_or(false);
                let last = i + 1 == cols;
                if last && !right {
                    out.push_str(c);
                } else {
                    out.push_str(&pad(c, w[i], right));
                }
                if !last {
                    out.push_str("  ");
                }
            }
            out.trim_end().to_string()
        };
        let mut out = String::new();
        let head = line(&self.header);
        out.push_str(&style.paint(Paint::Bold, &head));
        out.push('\n');
        for r in &self.rows {
            out.push_str(&line(r));
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_times() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(duration_ms(350), "350ms");
        assert_eq!(duration_ms(59_400), "59sec");
        assert_eq!(duration_ms(119 * 60_000 + 5_000), "1h59min");
        assert_eq!(duration_ms(61_000), "1min1sec");
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_795_621_801_000), "2026-11-25 15:50:01 UTC");
        assert_eq!(percent(1, 3), "33.3");
        assert_eq!(percent(1, 0), "-");
    }

    #[test]
    fn table_aligns_and_ignores_ansi() {
        let mut t = Table::new(&["State", "Count"], &[false, true]);
        t.row(vec!["TIME_WAIT".into(), "1,000".into()]);
        t.row(vec![
            Style { color: true }.paint(Paint::Red, "LISTEN"),
            "7".into(),
        ]);
        let s = t.render(&Style::default(), "");
        assert_eq!(
            s,
            "State      Count\nTIME_WAIT  1,000\nLISTEN         7\n"
                .replace("LISTEN   ", "\x1b[1;31mLISTEN\x1b[0m   ")
        );
    }
}
