//! One colour per service, the same in every chart and table of a report,
//! so a reader learns "purple is inventory" once.
//!
//! The five mesh services have fixed colours (the same across runs, so two
//! reports side by side agree); any other service takes the next free
//! colour in name order. Red is left out of the palette: it means error.

use std::collections::BTreeMap;

use crate::report::RunReport;

/// Fixed colours of the mesh's services (Tableau 10, colour-blind safe).
const KNOWN: [(&str, &str); 5] = [
    ("gateway", "#4e79a7"),
    ("user", "#59a14f"),
    ("order", "#f28e2b"),
    ("inventory", "#b07aa1"),
    ("payment", "#76b7b2"),
];

/// For services outside the mesh (cycled if there are more).
const SPARE: [&str; 5] = ["#edc948", "#9c755f", "#ff9da7", "#bab0ac", "#86bcb6"];

/// The colour for errors, never a service's.
pub const ERROR: &str = "#d62728";

#[derive(Debug, Clone)]
pub struct ServiceColors {
    colors: BTreeMap<String, &'static str>,
}

impl ServiceColors {
    /// Colours for every service named anywhere in `report`.
    pub fn for_report(report: &RunReport) -> ServiceColors {
        let named = report
            .attribution
            .iter()
            .map(|a| a.service.as_str())
            .chain(report.critical_path.iter().map(|c| c.service.as_str()))
            .chain(
                report
                    .waterfalls
                    .iter()
                    .flat_map(|w| w.spans.iter().map(|s| s.service.as_str())),
            );
        ServiceColors::for_services(named)
    }

    /// Colours for these services (the collector's page: one trace's).
    pub fn for_services<'a>(named: impl Iterator<Item = &'a str>) -> ServiceColors {
        let mut colors: BTreeMap<String, &'static str> = BTreeMap::new();
        for service in named {
            colors.entry(service.to_string()).or_insert("");
        }
        // Name order (BTreeMap) makes the spare colours deterministic.
        let mut spare = SPARE.iter().cycle();
        for (service, color) in colors.iter_mut() {
            *color = match KNOWN.iter().find(|(name, _)| name == service) {
                Some((_, known)) => known,
                None => spare.next().copied().unwrap_or("#888888"),
            };
        }
        ServiceColors { colors }
    }

    /// The service's colour; grey for a service the report never named.
    pub fn of(&self, service: &str) -> &'static str {
        self.colors.get(service).copied().unwrap_or("#888888")
    }
}
