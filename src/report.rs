//! Report formatting: an aligned table for people, JSON and CSV for programs.
//!
//! The formatters only read a [`Report`]; they never query or price anything. Costs
//! come filled in by [`crate::pricing::price_report`]: a row whose cost is unknown shows
//! `-` (JSON `null`), never `$0`, and the totals say how many tokens have no price.

use crate::store::{CostBreakdown, Group, Report, ReportRow};

/// What to show beyond the default columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// Each row's cost split into input, output, cache read, cache write (5-minute and
    /// 1-hour) and agent-reported costs.
    pub breakdown: bool,
}

/// The breakdown components: table label, machine name, value.
type Component = (&'static str, &'static str, fn(&CostBreakdown) -> f64);

const COMPONENTS: &[Component] = &[
    ("input", "input", |b| b.input),
    ("output", "output", |b| b.output),
    ("cache read", "cache_read", |b| b.cache_read),
    ("cache write", "cache_write", |b| b.cache_write),
    ("1h cache write", "cache_write_1h", |b| b.cache_write_1h),
    ("reported", "reported", |b| b.reported),
];

/// A numeric column: table heading, machine name (JSON and CSV), value.
type Column = (&'static str, &'static str, fn(&ReportRow) -> u64);

/// The numeric columns, in display order.
const NUMERIC_COLUMNS: &[Column] = &[
    ("Input", "input", |r| r.input),
    ("Output", "output", |r| r.output),
    ("Cache read", "cache_read", |r| r.cache_read),
    ("Cache write", "cache_write", |r| r.cache_write),
    ("Reasoning", "reasoning", |r| r.reasoning),
    ("Total", "total_tokens", |r| r.total_tokens),
    ("Requests", "requests", |r| r.requests),
];

/// An aligned table with a header, thousands separators and a totals line.
pub fn render_table(report: &Report, group: Group) -> String {
    render_table_with(report, group, &RenderOptions::default())
}

/// [`render_table`] with options: `breakdown` adds a line of cost components under each
/// row. A note under the table tells how many tokens have no price.
pub fn render_table_with(report: &Report, group: Group, opts: &RenderOptions) -> String {
    let mut lines: Vec<Vec<String>> = Vec::with_capacity(report.rows.len() + 2);
    let mut header = vec![group.label().to_owned()];
    header.extend(NUMERIC_COLUMNS.iter().map(|(title, _, _)| (*title).to_owned()));
    header.push("Cost".to_owned());
    lines.push(header);
    let cells = |row: &ReportRow, key: &str| {
        let mut cells = vec![key.to_owned()];
        cells.extend(NUMERIC_COLUMNS.iter().map(|(_, _, value)| thousands(value(row))));
        cells.push(row.cost_usd.map_or_else(|| "-".to_owned(), dollars));
        cells
    };
    for row in &report.rows {
        lines.push(cells(row, &row.key));
    }
    let totals = cells(&report.totals, "Total");

    let columns = lines[0].len();
    let mut widths = vec![0; columns];
    for line in lines.iter().chain(std::iter::once(&totals)) {
        for (width, cell) in widths.iter_mut().zip(line) {
            *width = (*width).max(cell.chars().count());
        }
    }

    let mut out = String::new();
    let write_line = |out: &mut String, line: &[String]| {
        let mut text = String::new();
        for (index, (cell, width)) in line.iter().zip(&widths).enumerate() {
            if index > 0 {
                text.push_str("  ");
            }
            let pad = " ".repeat(width - cell.chars().count());
            // The key column is left-aligned; numbers are right-aligned.
            if index == 0 {
                text.push_str(cell);
                text.push_str(&pad);
            } else {
                text.push_str(&pad);
                text.push_str(cell);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    let rule: String = "-".repeat(widths.iter().sum::<usize>() + 2 * (columns - 1));
    write_line(&mut out, &lines[0]);
    out.push_str(&rule);
    out.push('\n');
    for (line, row) in lines[1..].iter().zip(&report.rows) {
        write_line(&mut out, line);
        if opts.breakdown {
            out.push_str(&breakdown_line(row));
        }
    }
    out.push_str(&rule);
    out.push('\n');
    write_line(&mut out, &totals);
    if opts.breakdown {
        out.push_str(&breakdown_line(&report.totals));
    }
    if report.totals.unpriced_tokens > 0 {
        out.push_str(&format!(
            "{} tokens have no price: their rows show '-' and the total leaves them out.\n",
            thousands(report.totals.unpriced_tokens)
        ));
    }
    out
}

/// `    input $0.0012  output $0.3400 ...` for the non-zero components of a row.
fn breakdown_line(row: &ReportRow) -> String {
    let Some(b) = &row.cost_breakdown else {
        return String::new();
    };
    let parts: Vec<String> = COMPONENTS
        .iter()
        .filter(|(_, _, value)| value(b) != 0.0)
        .map(|(label, _, value)| format!("{label} {}", precise_dollars(value(b))))
        .collect();
    if parts.is_empty() {
        return String::new();
    }
    format!("    {}\n", parts.join("  "))
}

/// A component cost: four decimals below a dollar, where two would round most to zero.
fn precise_dollars(value: f64) -> String {
    if value.abs() < 1.0 {
        format!("${value:.4}")
    } else {
        dollars(value)
    }
}

fn json_number(value: f64) -> serde_json::Value {
    serde_json::Number::from_f64(value).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// `{"rows":[{"key":..,"input":..,..,"cost_usd":..}],"totals":{..,"unpriced_tokens":..}}`,
/// pretty printed.
pub fn render_json(report: &Report) -> String {
    render_json_with(report, &RenderOptions::default())
}

/// [`render_json`] with options: `breakdown` adds `cost_breakdown` to every row.
pub fn render_json_with(report: &Report, opts: &RenderOptions) -> String {
    let fields = |row: &ReportRow, key: Option<&str>| {
        let mut object = serde_json::Map::new();
        if let Some(key) = key {
            object.insert("key".to_owned(), key.into());
        }
        for (_, name, value) in NUMERIC_COLUMNS {
            object.insert((*name).to_owned(), value(row).into());
        }
        let cost = row
            .cost_usd
            .and_then(serde_json::Number::from_f64)
            .map_or(serde_json::Value::Null, serde_json::Value::Number);
        object.insert("cost_usd".to_owned(), cost);
        if opts.breakdown {
            let b = row.cost_breakdown.unwrap_or_default();
            let parts: serde_json::Map<String, serde_json::Value> = COMPONENTS
                .iter()
                .map(|(_, name, value)| ((*name).to_owned(), json_number(value(&b))))
                .collect();
            object.insert("cost_breakdown".to_owned(), serde_json::Value::Object(parts));
        }
        serde_json::Value::Object(object)
    };
    let rows: Vec<serde_json::Value> = report.rows.iter().map(|row| fields(row, Some(&row.key))).collect();
    let mut totals = fields(&report.totals, None);
    if let serde_json::Value::Object(object) = &mut totals {
        object.insert("unpriced_tokens".to_owned(), report.totals.unpriced_tokens.into());
    }
    let document = serde_json::json!({
        "rows": rows,
        "totals": totals,
    });
    format!("{document:#}\n")
}

/// One header line, then one line per row (no totals line), quoted per RFC 4180.
/// A missing cost is an empty field.
pub fn render_csv(report: &Report) -> String {
    render_csv_with(report, &RenderOptions::default())
}

/// [`render_csv`] with options: `breakdown` adds a `cost_<component>` column each.
pub fn render_csv_with(report: &Report, opts: &RenderOptions) -> String {
    let mut out = String::from("key");
    for (_, name, _) in NUMERIC_COLUMNS {
        out.push(',');
        out.push_str(name);
    }
    out.push_str(",cost_usd");
    if opts.breakdown {
        for (_, name, _) in COMPONENTS {
            out.push_str(",cost_");
            out.push_str(name);
        }
    }
    out.push('\n');
    for row in &report.rows {
        out.push_str(&csv_field(&row.key));
        for (_, _, value) in NUMERIC_COLUMNS {
            out.push(',');
            out.push_str(&value(row).to_string());
        }
        out.push(',');
        if let Some(cost) = row.cost_usd {
            out.push_str(&cost.to_string());
        }
        if opts.breakdown {
            let b = row.cost_breakdown.unwrap_or_default();
            for (_, _, value) in COMPONENTS {
                out.push(',');
                out.push_str(&value(&b).to_string());
            }
        }
        out.push('\n');
    }
    out
}

/// Quotes a CSV field when it holds a comma, a quote or a line break; quotes inside are
/// doubled.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// `1234567` as `1,234,567`.
fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// A cost as `$1,234.56`.
fn dollars(value: f64) -> String {
    let cents = (value.abs() * 100.0).round();
    // The float-to-int cast saturates, which is the right thing for absurd values.
    let cents = cents as u64;
    let sign = if value < 0.0 && cents > 0 { "-" } else { "" };
    format!("{sign}${}.{:02}", thousands(cents / 100), cents % 100)
}

#[cfg(test)]
// Tests fail loudly on unexpected errors; unwrap and expect are the clearest way to do so.
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn row(key: &str, input: u64, cost: Option<f64>) -> ReportRow {
        ReportRow {
            key: key.to_owned(),
            input,
            output: 2,
            cache_read: 3,
            cache_write: 4,
            cache_write_1h: 1,
            reasoning: 1,
            total_tokens: input + 9,
            requests: 1,
            cost_usd: cost,
            parts: Vec::new(),
            ..ReportRow::default()
        }
    }

    fn report() -> Report {
        Report {
            rows: vec![row("2024-03-10", 1_234_567, Some(12.5)), row("2024-03-11", 12, None)],
            totals: row("total", 1_234_579, None),
        }
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(u64::MAX), "18,446,744,073,709,551,615");
        assert_eq!(dollars(1234.567), "$1,234.57");
        assert_eq!(dollars(0.004), "$0.00");
        assert_eq!(dollars(-2.5), "-$2.50");
    }

    #[test]
    fn table_is_aligned_with_totals() {
        let expected = "\
Date            Input  Output  Cache read  Cache write  Reasoning      Total  Requests    Cost
----------------------------------------------------------------------------------------------
2024-03-10  1,234,567       2           3            4          1  1,234,576         1  $12.50
2024-03-11         12       2           3            4          1         21         1       -
----------------------------------------------------------------------------------------------
Total       1,234,579       2           3            4          1  1,234,588         1       -
";
        assert_eq!(render_table(&report(), Group::Daily), expected);
    }

    #[test]
    fn json_shape_is_exact() {
        let json = render_json(&report());
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            value.to_string(),
            r#"{"rows":[{"key":"2024-03-10","input":1234567,"output":2,"cache_read":3,"cache_write":4,"reasoning":1,"total_tokens":1234576,"requests":1,"cost_usd":12.5},{"key":"2024-03-11","input":12,"output":2,"cache_read":3,"cache_write":4,"reasoning":1,"total_tokens":21,"requests":1,"cost_usd":null}],"totals":{"input":1234579,"output":2,"cache_read":3,"cache_write":4,"reasoning":1,"total_tokens":1234588,"requests":1,"cost_usd":null,"unpriced_tokens":0}}"#
        );
    }

    #[test]
    fn csv_quotes_per_rfc_4180() {
        let report = Report {
            rows: vec![
                row("plain", 1, Some(0.125)),
                row("a,b", 2, None),
                row("say \"hi\"", 3, None),
                row("two\nlines", 4, None),
            ],
            totals: row("total", 10, None),
        };
        assert_eq!(
            render_csv(&report),
            "key,input,output,cache_read,cache_write,reasoning,total_tokens,requests,cost_usd\n\
             plain,1,2,3,4,1,10,1,0.125\n\
             \"a,b\",2,2,3,4,1,11,1,\n\
             \"say \"\"hi\"\"\",3,2,3,4,1,12,1,\n\
             \"two\nlines\",4,2,3,4,1,13,1,\n"
        );
    }
}
