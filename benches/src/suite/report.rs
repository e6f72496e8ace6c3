//! The results of a bench run: rows of a markdown table, the lines printed
//! above it, and the table's place in BENCHMARKS.md (between two markers,
//! so a run rewrites the figures and leaves the prose alone).

/// Where the generated table starts and ends in BENCHMARKS.md.
pub const START_MARKER: &str = "<!-- tracemesh bench: results start -->";
pub const END_MARKER: &str = "<!-- tracemesh bench: results end -->";

/// One measured figure.
#[derive(Debug, Clone)]
pub struct Row {
    /// overhead, efficiency, ingest or readiness.
    pub part: &'static str,
    pub measure: String,
    pub result: String,
    /// The target, or empty when the figure is for information.
    pub target: String,
    /// Whether the target is met; `None` when there is no target.
    pub met: Option<bool>,
}

impl Row {
    pub fn info(part: &'static str, measure: impl Into<String>, result: impl Into<String>) -> Row {
        Row {
            part,
            measure: measure.into(),
            result: result.into(),
            target: String::new(),
            met: None,
        }
    }

    pub fn target(
        part: &'static str,
        measure: impl Into<String>,
        result: impl Into<String>,
        target: impl Into<String>,
        met: bool,
    ) -> Row {
        Row {
            part,
            measure: measure.into(),
            result: result.into(),
            target: target.into(),
            met: Some(met),
        }
    }
}

/// Everything a run reports.
#[derive(Debug, Clone, Default)]
pub struct Results {
    /// The headline ratios, printed before the table.
    pub ratios: Vec<String>,
    pub rows: Vec<Row>,
}

/// A table cell: pipes escaped, one line.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The markdown table: a line saying how and where it was measured, then
/// one row per figure.
pub fn markdown(context: &str, rows: &[Row]) -> String {
    let mut out = format!("{context}\n\n");
    out.push_str("| part | measurement | result | target | met |\n");
    out.push_str("|---|---|---|---|---|\n");
    for row in rows {
        let met = match row.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            row.part,
            cell(&row.measure),
            cell(&row.result),
            cell(&row.target),
            met
        ));
    }
    out
}

/// `document` with the text between the markers replaced by `table`.
pub fn replace_between_markers(document: &str, table: &str) -> Result<String, String> {
    let start = document
        .find(START_MARKER)
        .ok_or_else(|| format!("has no {START_MARKER} line"))?;
    let after_start = start + START_MARKER.len();
    let end = document[after_start..]
        .find(END_MARKER)
        .map(|at| after_start + at)
        .ok_or_else(|| format!("has no {END_MARKER} line after {START_MARKER}"))?;
    Ok(format!(
        "{}\n{}{}",
        &document[..after_start],
        table,
        &document[end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_a_header_and_one_line_per_row() {
        let rows = [
            Row::info("ingest", "spans/s", "123"),
            Row::target("overhead", "loss | ratio", "3%", "<= 10%", true),
        ];
        let table = markdown("measured here", &rows);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "measured here");
        assert_eq!(lines[2], "| part | measurement | result | target | met |");
        assert_eq!(lines.len(), 6);
        assert!(lines[5].contains("loss \\| ratio"));
        assert!(lines[5].ends_with("| yes |"));
    }

    #[test]
    fn only_the_text_between_the_markers_is_replaced() {
        let doc = format!("intro\n{START_MARKER}\nold\n{END_MARKER}\noutro\n");
        let new = replace_between_markers(&doc, "new\n").unwrap();
        assert_eq!(
            new,
            format!("intro\n{START_MARKER}\nnew\n{END_MARKER}\noutro\n")
        );
        // Replacing again gives the same document: the markers survive.
        assert_eq!(replace_between_markers(&new, "new\n").unwrap(), new);
        assert!(replace_between_markers("no markers", "x").is_err());
    }
}
