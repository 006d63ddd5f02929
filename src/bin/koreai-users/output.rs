//! What the tool shows: progress on stderr, the plan and the report on
//! stdout, and the library's log lines with `--verbose`.

use std::io::{self, IsTerminal};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use koreai_users::{BulkPlan, BulkReport, Outcome, Progress};
use log::{Level, LevelFilter, Log, Metadata, Record};

const BAR_TEMPLATE: &str = "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} users  {wide_msg}";

/// Prints a dry run's plan on stdout.
pub fn print_plan(plan: &BulkPlan, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(plan).unwrap_or_default());
    } else {
        println!("dry run, nothing sent: {plan}");
        if !plan.rejected_entries.is_empty() {
            println!("rejected ({}):", plan.rejected_entries.len());
            for entry in &plan.rejected_entries {
                println!("  {}: {}", entry.id, entry.why);
            }
        }
    }
}

/// Prints the summary line, then every user not removed, with why.
pub fn print_report(report: &BulkReport) {
    let summary = report.summary();
    println!("{summary}");
    if summary.duplicates > 0 {
        let entries = count(summary.duplicates, "duplicate entry", "duplicate entries");
        println!("{entries} ignored");
    }

    let not_removed = [
        Outcome::Failed,
        Outcome::Rejected,
        Outcome::NotAttempted,
        Outcome::Unknown,
    ];
    for outcome in not_removed {
        let entries: Vec<_> = report.with_outcome(outcome).collect();
        if entries.is_empty() {
            continue;
        }
        println!("{outcome} ({}):", entries.len());
        for entry in entries {
            println!("  {}: {}", entry.id(), entry.detail());
        }
    }
}

/// Shows a run's progress on stderr: a bar on a terminal when there is more
/// than one batch, else one line per batch and per wait.
pub struct Reporter {
    mode: Mode,
}

enum Mode {
    Quiet,
    Lines,
    Bar(ProgressBar),
}

impl Reporter {
    /// A reporter for the planned run; `verbose` log lines would garble a
    /// bar, so they get plain lines.
    pub fn new(plan: &BulkPlan, quiet: bool, verbose: bool) -> Self {
        if quiet {
            return Self { mode: Mode::Quiet };
        }
        eprintln!("koreai-users: {plan}");
        if verbose || plan.batches <= 1 || !io::stderr().is_terminal() {
            return Self { mode: Mode::Lines };
        }

        let style = ProgressStyle::with_template(BAR_TEMPLATE)
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        let bar =
            ProgressBar::with_draw_target(Some(plan.unique as u64), ProgressDrawTarget::stderr())
                .with_style(style);
        bar.set_position(plan.rejected as u64);
        bar.set_message(format!("{} requests to send", plan.batches));
        bar.enable_steady_tick(Duration::from_millis(200));
        Self {
            mode: Mode::Bar(bar),
        }
    }

    /// Called by the run after every batch and before every wait.
    pub fn update(&mut self, progress: &Progress) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines => eprintln!("koreai-users: {}", describe(progress, true)),
            Mode::Bar(bar) => {
                bar.set_position(progress.done() as u64);
                bar.set_message(describe(progress, false));
            }
        }
    }

    /// Clears the bar, if any, before the report is printed.
    pub fn finish(&mut self) {
        if let Mode::Bar(bar) = &self.mode {
            bar.finish_and_clear();
        }
    }
}

/// A wait with its length and cause, or where the run stands; `users`
/// adds the users done, which a bar shows by itself.
fn describe(progress: &Progress, users: bool) -> String {
    if let Some(wait) = progress.wait() {
        return format!("waiting {wait}");
    }
    let done = if users {
        format!(
            " answered, {}/{} users done",
            progress.done(),
            progress.total()
        )
    } else {
        String::new()
    };
    let counts = progress.counts();
    format!(
        "batch {}/{}{done}: {} removed, {} failed, {} unknown",
        progress.batches_done(),
        progress.batches_total(),
        counts.removed,
        counts.failed,
        counts.unknown
    )
}

/// A number with its noun, singular or plural: `1 user`, `2 users`.
pub fn count(n: usize, one: &str, many: &str) -> String {
    let noun = if n == 1 { one } else { many };
    format!("{n} {noun}")
}

/// Writes the library's debug log lines to stderr. Trace lines (bodies) are
/// left out; the library never logs a token or the secret.
pub struct Logger;

static LOGGER: Logger = Logger;

impl Logger {
    /// Installs the logger for this process.
    pub fn install() {
        if log::set_logger(&LOGGER).is_ok() {
            log::set_max_level(LevelFilter::Debug);
        }
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= Level::Debug && metadata.target().starts_with("koreai_users")
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            let level = record.level().as_str().to_ascii_lowercase();
            eprintln!("koreai-users: {level}: {}", record.args());
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_noun() {
        assert_eq!(count(1, "user", "users"), "1 user");
        assert_eq!(count(0, "user", "users"), "0 users");
        assert_eq!(count(2, "user", "users"), "2 users");
    }
}
