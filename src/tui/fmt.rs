//! Number, money, time and text formatting for the views.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::model::Cost;

/// Tokens in a compact form: `950`, `12.3K`, `4.56M`, `1.2B`.
pub fn tokens(n: u64) -> String {
    let f = n as f64;
    if n < 1_000 {
        n.to_string()
    } else if n < 1_000_000 {
        format!("{:.1}K", f / 1e3)
    } else if n < 1_000_000_000 {
        format!("{:.2}M", f / 1e6)
    } else {
        format!("{:.2}B", f / 1e9)
    }
}

/// A float rate in the compact token form.
pub fn rate(x: f64) -> String {
    if x < 10.0 {
        format!("{x:.1}")
    } else {
        tokens(x.round().max(0.0) as u64)
    }
}

/// US dollars: `$0.42`, `$12.30`, `$1.2K`.
pub fn usd(x: f64) -> String {
    if x.abs() >= 10_000.0 {
        format!("${:.1}K", x / 1e3)
    } else if x.abs() >= 100.0 {
        format!("${x:.0}")
    } else {
        format!("${x:.2}")
    }
}

/// A cost: unknown as `—` (never `$0`), partly known with a trailing `+`.
pub fn cost(c: Cost) -> String {
    match c.amount() {
        None => "—".to_owned(),
        Some(x) if c.unpriced > 0 => format!("{}+", usd(x)),
        Some(x) => usd(x),
    }
}

/// An optional amount, `—` when unknown.
pub fn opt_usd(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_owned(), usd)
}

/// A percentage of a fraction, `—` when unknown.
pub fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_owned(), |f| format!("{:.0}%", f * 100.0))
}

/// How long ago: `12s`, `5m`, `3h`, `2d`.
pub fn ago(now_ms: i64, ts_ms: i64) -> String {
    let s = ((now_ms - ts_ms) / 1000).max(0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3_600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        format!("{}h", s / 3_600)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// A duration: `45s`, `12m`, `1h05m`, `3d04h`.
pub fn duration(ms: i64) -> String {
    let s = (ms / 1000).max(0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3_600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        format!("{}h{:02}m", s / 3_600, (s % 3_600) / 60)
    } else {
        format!("{}d{:02}h", s / 86_400, (s % 86_400) / 3_600)
    }
}

/// Time until a reset: `now`, `42m`, `3h 12m`, `2d 4h`.
pub fn countdown(now_ms: i64, at_ms: i64) -> String {
    let s = (at_ms - now_ms) / 1000;
    if s <= 0 {
        "now".to_owned()
    } else if s < 3_600 {
        format!("{}m", (s + 59) / 60)
    } else if s < 86_400 {
        format!("{}h {}m", s / 3_600, (s % 3_600) / 60)
    } else {
        format!("{}d {}h", s / 86_400, (s % 86_400) / 3_600)
    }
}

/// Local clock time `HH:MM:SS` (or `HH:MM` when `short`).
pub fn clock(ms: i64, tz: &TimeZone, short: bool) -> String {
    let Ok(t) = Timestamp::from_millisecond(ms) else {
        return "--:--".to_owned();
    };
    let dt = tz.to_datetime(t);
    if short {
        format!("{:02}:{:02}", dt.hour(), dt.minute())
    } else {
        format!("{:02}:{:02}:{:02}", dt.hour(), dt.minute(), dt.second())
    }
}

/// Local date and time `MM-DD HH:MM`.
pub fn date_time(ms: i64, tz: &TimeZone) -> String {
    let Ok(t) = Timestamp::from_millisecond(ms) else {
        return "?".to_owned();
    };
    let dt = tz.to_datetime(t);
    format!("{:02}-{:02} {:02}:{:02}", dt.month(), dt.day(), dt.hour(), dt.minute())
}

/// Cuts text to `max` characters, ending with `…` when cut.
pub fn trunc(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Cuts text to `max` characters in the middle: `Refact…leware`.
pub fn trunc_middle(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_owned();
    }
    if max < 4 {
        return trunc(s, max);
    }
    let head = (max - 1) / 2;
    let tail = max - 1 - head;
    let mut out: String = s.chars().take(head).collect();
    out.push('…');
    out.extend(s.chars().skip(n - tail));
    out
}

/// A path with the home directory as `~` and long middles folded: `~/src/…/app`.
pub fn short_path(path: &str, home: Option<&str>, max: usize) -> String {
    let p = match home {
        Some(h) if !h.is_empty() && path.starts_with(h) => format!("~{}", &path[h.len()..]),
        _ => path.to_owned(),
    };
    if p.chars().count() <= max {
        return p;
    }
    let parts: Vec<&str> = p.split('/').collect();
    if parts.len() > 3 {
        let folded = format!("{}/…/{}", parts[0], parts[parts.len() - 1]);
        if folded.chars().count() <= max {
            return folded;
        }
    }
    trunc_middle(&p, max)
}

/// A horizontal bar of `width` cells filled to `fraction` with eighth blocks.
pub fn bar(fraction: f64, width: usize) -> (String, String) {
    let f = fraction.clamp(0.0, 1.0);
    let eighths = (f * width as f64 * 8.0).round() as usize;
    let full = eighths / 8;
    let rem = eighths % 8;
    let mut filled = "█".repeat(full);
    if rem > 0 && full < width {
        filled.push([' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'][rem]);
    }
    let used = full + usize::from(rem > 0 && full < width);
    (filled, "·".repeat(width.saturating_sub(used)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(tokens(999), "999");
        assert_eq!(tokens(12_345), "12.3K");
        assert_eq!(tokens(4_560_000), "4.56M");
        assert_eq!(usd(0.4), "$0.40");
        assert_eq!(
            cost(Cost {
                usd: 0.0,
                unpriced: 2,
                ..Cost::default()
            }),
            "—"
        );
        assert_eq!(
            cost(Cost {
                usd: 1.5,
                unpriced: 2,
                ..Cost::default()
            }),
            "$1.50+"
        );
        assert_eq!(
            cost(Cost {
                usd: 1.5,
                unpriced: 0,
                ..Cost::default()
            }),
            "$1.50"
        );
        assert_eq!(cost(Cost::default()), "$0.00");
    }

    #[test]
    fn times_and_text() {
        assert_eq!(ago(100_000, 40_000), "1m");
        assert_eq!(duration(3_900_000), "1h05m");
        assert_eq!(countdown(0, 90 * 60_000), "1h 30m");
        assert_eq!(trunc("abcdef", 4), "abc…");
        assert_eq!(trunc_middle("abcdefghij", 7), "abc…hij");
        assert_eq!(short_path("/home/a/src/deep/app", Some("/home/a"), 12), "~/…/app");
        let (f, e) = bar(0.5, 10);
        assert_eq!(f.chars().count() + e.chars().count(), 10);
    }
}

/// A sparkline in the configured style (braille packs two values per cell) and direction,
/// scaled to `max` (the values' maximum when `None`). With `baseline`, empty cells show
/// the lowest mark instead of a blank.
pub fn spark(values: &[f64], width: usize, max: Option<f64>, cfg: &crate::config::Sparkline) -> String {
    use crate::config::{SparklineDirection, SparklineStyle};
    let down = cfg.direction == SparklineDirection::Down;
    let per_cell = if cfg.style == SparklineStyle::Braille { 2 } else { 1 };
    // Fold to at most `width * per_cell` values (means of neighbours).
    let slots = width * per_cell;
    let vals: Vec<f64> = if values.len() > slots && slots > 0 {
        let mut sum = vec![0.0; slots];
        let mut count = vec![0u32; slots];
        for (i, v) in values.iter().enumerate() {
            let b = i * slots / values.len();
            sum[b] += v;
            count[b] += 1;
        }
        sum.iter().zip(&count).map(|(s, &c)| s / f64::from(c.max(1))).collect()
    } else {
        values.to_vec()
    };
    let max = max.unwrap_or_else(|| vals.iter().cloned().fold(0.0, f64::max));
    let level = |v: f64, steps: f64| -> usize {
        if max <= 0.0 || v <= 0.0 {
            0
        } else {
            ((v / max) * steps).ceil().clamp(1.0, steps) as usize
        }
    };
    match cfg.style {
        SparklineStyle::Block => vals
            .iter()
            .map(|&v| match (level(v, 8.0), down) {
                (0, _) if cfg.baseline => {
                    if down {
                        '▔'
                    } else {
                        '▁'
                    }
                }
                (0, _) => ' ',
                (n, false) => [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'][n],
                (n, true) => [' ', '▔', '▔', '▀', '▀', '▀', '█', '█', '█'][n],
            })
            .collect(),
        SparklineStyle::Braille => {
            // Dot bits from the bottom row up, for the left and right columns.
            const LEFT: [u32; 4] = [0x40, 0x04, 0x02, 0x01];
            const RIGHT: [u32; 4] = [0x80, 0x20, 0x10, 0x08];
            let dots = |n: usize, col: &[u32; 4]| -> u32 {
                let n = if n == 0 && cfg.baseline { 1 } else { n };
                (0..n)
                    .map(|i| if down { col[3 - i] } else { col[i] })
                    .fold(0, |a, b| a | b)
            };
            vals.chunks(2)
                .map(|pair| {
                    let l = dots(level(pair[0], 4.0), &LEFT);
                    let r = pair.get(1).map_or(0, |&v| dots(level(v, 4.0), &RIGHT));
                    char::from_u32(0x2800 + (l | r)).unwrap_or(' ')
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod spark_tests {
    use super::*;
    use crate::config::{Sparkline, SparklineDirection, SparklineStyle};

    #[test]
    fn braille_packs_two_values_and_blocks_one() {
        let braille = Sparkline::default();
        assert_eq!(braille.style, SparklineStyle::Braille);
        // 0 → baseline dot, 4 → full column.
        assert_eq!(spark(&[0.0, 4.0], 1, None, &braille), "\u{28f8}");
        let block = Sparkline {
            style: SparklineStyle::Block,
            direction: SparklineDirection::Up,
            baseline: false,
        };
        assert_eq!(spark(&[0.0, 1.0, 2.0], 3, None, &block), " ▄█");
        let down = Sparkline {
            direction: SparklineDirection::Down,
            ..block
        };
        assert_eq!(spark(&[2.0], 1, None, &down), "█");
    }
}
