//! What the demo counts and checks: every result read back, by outcome, and every expectation,
//! so that the summary line counts everything and the exit status says whether all held.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

use super::show::print_wrapped;

/// The order outcomes are listed in the summary.
const OUTCOMES: [&str; 8] = [
    "EXECUTED",
    "REJECTED",
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "FANNED_OUT",
    "DRY_RUN",
    "other",
];

/// Counts and expectations of the whole demo.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Results read back from the results queues, per outcome.
    outcomes: BTreeMap<&'static str, usize>,
    /// Invocations the demo made itself (cargo lambda invoke, direct invocations).
    invocations: usize,
    /// What the event source mapping did: invocations, records delivered, records handed back.
    mapping: Option<(u64, u64, u64)>,
    checked: usize,
    unmet: Vec<String>,
}

impl Report {
    /// Checks one expectation; an unmet one is printed at once (and listed again at the end).
    pub(crate) fn expect(&mut self, holds: bool, what: impl Into<String>) -> bool {
        self.checked += 1;
        if !holds {
            let what = what.into();
            println!("   ✗ NOT AS EXPECTED: {what}");
            self.unmet.push(what);
        }
        holds
    }

    /// Something that stopped a section (an AWS call that failed, a loop that did not start).
    pub(crate) fn stopped(&mut self, section: &str, why: &str) {
        println!("   ✗ {section} stopped: {why}");
        self.unmet.push(format!("{section} stopped: {why}"));
    }

    /// Counts results read back from a results queue.
    pub(crate) fn count<'a>(&mut self, results: impl IntoIterator<Item = &'a Value>) {
        for result in results {
            let outcome = result["outcome"].as_str().unwrap_or("other");
            let key = OUTCOMES.iter().find(|o| **o == outcome).copied().unwrap_or("other");
            *self.outcomes.entry(key).or_default() += 1;
        }
    }

    /// Counts an invocation the demo made.
    pub(crate) fn invoked(&mut self) {
        self.invocations += 1;
    }

    /// What the event source mapping did over the demo.
    pub(crate) fn mapping(&mut self, invocations: u64, records: u64, handed_back: u64) {
        self.mapping = Some((invocations, records, handed_back));
    }

    /// The closing lines: everything counted, and whether every expectation held.
    pub(crate) fn print_summary(&self, elapsed: Duration) {
        let total: usize = self.outcomes.values().sum();
        let by_outcome: Vec<String> = OUTCOMES
            .iter()
            .filter_map(|o| self.outcomes.get(o).map(|n| format!("{n} {o}")))
            .collect();
        let mapping = self.mapping.map_or(String::new(), |(invocations, records, handed_back)| {
            format!(
                ", and the event source mapping made {invocations} more, with {records} records ({handed_back} handed back)"
            )
        });
        println!();
        print_wrapped(
            0,
            &format!(
                "Done in {:.0} s: {total} results read back from the results queues ({}). The demo invoked the function {} times{mapping}.",
                elapsed.as_secs_f64(),
                by_outcome.join(", "),
                self.invocations,
            ),
        );
        if self.unmet.is_empty() {
            println!("All {} expectations met.", self.checked);
        } else {
            eprintln!(
                "FAILED: {} of {} expectations not met:",
                self.unmet.len(),
                self.checked.max(self.unmet.len())
            );
            for what in &self.unmet {
                eprintln!("  - {what}");
            }
        }
    }

    pub(crate) fn exit_code(&self) -> ExitCode {
        if self.unmet.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_unmet_expectation_fails_the_demo_and_counts_are_by_outcome() {
        let mut report = Report::default();
        report.count(&[
            json!({"outcome": "EXECUTED"}),
            json!({"outcome": "EXECUTED"}),
            json!({"x": 1}),
        ]);
        assert!(report.expect(true, "holds"));
        assert_eq!(report.exit_code(), ExitCode::SUCCESS);
        assert!(!report.expect(false, "does not hold"));
        assert_eq!(report.outcomes.get("EXECUTED"), Some(&2));
        assert_eq!(report.outcomes.get("other"), Some(&1));
        assert_eq!(report.exit_code(), ExitCode::FAILURE);
    }
}
