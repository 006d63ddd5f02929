//! The users to remove: from flags, a file of lines, a CSV column, or stdin.

use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{ArgGroup, Args, ValueEnum};
use koreai_users::{IdKind, RemoveUsers};

use crate::{Exit, Failure};

/// Where the users come from. One kind of identifier per run.
#[derive(Debug, Args)]
#[command(next_help_heading = "Users")]
#[command(group(
    ArgGroup::new("users")
        .required(true)
        .multiple(true)
        .args(["emails", "org_user_ids", "file"])
))]
pub struct InputArgs {
    /// A user's email address; repeatable
    #[arg(long = "email", value_name = "EMAIL", conflicts_with = "org_user_ids")]
    emails: Vec<String>,

    /// A user's org user id; repeatable
    #[arg(long = "org-user-id", value_name = "ID")]
    org_user_ids: Vec<String>,

    /// Read users from a file, or from stdin with `-`: one per line; blank
    /// lines and lines starting with # are skipped
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,

    /// What --file holds
    #[arg(long, value_enum, value_name = "KIND", default_value_t = Kind::Email,
          requires = "file")]
    kind: Kind,

    /// Read --file as CSV with a header row and take the users from the
    /// column NAME; empty cells and lines starting with # are skipped
    #[arg(long, value_name = "NAME", requires = "file")]
    column: Option<String>,
}

impl InputArgs {
    /// Whether the users come from stdin, which then cannot answer a
    /// confirmation prompt.
    pub fn reads_stdin(&self) -> bool {
        self.file.as_deref().is_some_and(is_stdin)
    }
}

/// The kind of identifier `--file` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    /// Email addresses
    Email,
    /// Org user ids
    OrgUserId,
}

impl From<Kind> for IdKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::Email => IdKind::Email,
            Kind::OrgUserId => IdKind::OrgUserId,
        }
    }
}

/// Gathers the users from the flags and the file, refusing to mix kinds.
pub fn read(args: &InputArgs) -> Result<RemoveUsers, Failure> {
    let flags_kind = if !args.emails.is_empty() {
        Some(IdKind::Email)
    } else if !args.org_user_ids.is_empty() {
        Some(IdKind::OrgUserId)
    } else {
        None
    };
    let file_kind = args.file.as_ref().map(|_| IdKind::from(args.kind));
    let kind = match (flags_kind, file_kind) {
        (Some(flags), Some(file)) if flags != file => {
            return Err(Failure::usage(format!(
                "one kind of identifier per run: --file holds {file}s (see --kind), \
                 the flags give {flags}s"
            )));
        }
        (Some(kind), _) | (None, Some(kind)) => kind,
        (None, None) => {
            return Err(Failure::usage(
                "no users given: pass --email, --org-user-id or --file",
            ));
        }
    };

    let mut ids: Vec<String> = args
        .emails
        .iter()
        .chain(&args.org_user_ids)
        .cloned()
        .collect();
    if let Some(path) = &args.file {
        let name = source_name(path);
        let text = read_text(path, &name)?;
        let from_file = match &args.column {
            Some(column) => csv_column(&text, column, &name)?,
            None => lines(&text),
        };
        if from_file.is_empty() {
            return Err(Failure::usage(format!("no users in {name}")));
        }
        ids.extend(from_file);
    }
    Ok(RemoveUsers::new(kind, ids))
}

fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

fn source_name(path: &Path) -> String {
    if is_stdin(path) {
        "stdin".to_owned()
    } else {
        path.display().to_string()
    }
}

/// The whole file (or stdin) as UTF-8 text, without a byte order mark.
fn read_text(path: &Path, name: &str) -> Result<String, Failure> {
    let cannot_read = |e: std::io::Error| {
        Failure::new(Exit::Usage, Box::new(e)).context(format!("cannot read {name}"))
    };
    let bytes = if is_stdin(path) {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(cannot_read)?;
        bytes
    } else {
        std::fs::read(path).map_err(cannot_read)?
    };

    let text = String::from_utf8(bytes).map_err(|e| {
        Failure::new(Exit::Usage, Box::new(e)).context(format!("{name} is not UTF-8 text"))
    })?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}

/// One identifier per line, trimmed; blank lines and `#` comments skipped.
fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// The non-empty cells of one column of a CSV text with a header row. The
/// column is matched exactly, else ignoring case if that is unambiguous.
fn csv_column(text: &str, column: &str, name: &str) -> Result<Vec<String>, Failure> {
    let bad_csv = |e: csv::Error| {
        Failure::new(Exit::Usage, Box::new(e)).context(format!("cannot read {name} as CSV"))
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .comment(Some(b'#'))
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());

    let headers = reader.headers().map_err(bad_csv)?.clone();
    let wanted = column.trim();
    let exact = headers.iter().position(|h| h == wanted);
    let loose: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| h.eq_ignore_ascii_case(wanted))
        .map(|(i, _)| i)
        .collect();
    let index = match (exact, loose.as_slice()) {
        (Some(i), _) | (None, &[i]) => i,
        _ => {
            let known: Vec<&str> = headers.iter().collect();
            return Err(Failure::usage(format!(
                "no column {wanted:?} in {name}; its columns: {}",
                known.join(", ")
            )));
        }
    };

    let mut ids = Vec::new();
    for record in reader.records() {
        let record = record.map_err(bad_csv)?;
        if let Some(cell) = record.get(index).filter(|cell| !cell.is_empty()) {
            ids.push(cell.to_owned());
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_skip_blanks_and_comments() {
        let text = "a@x.io\n\n  # leavers of May\n b@x.io \r\n#c@x.io\n";
        assert_eq!(lines(text), ["a@x.io", "b@x.io"]);
    }

    #[test]
    fn csv_column_is_found_by_name() {
        let text = "name,Email\n# a comment\nAnn,ann@x.io\nBob,\nCy, cy@x.io \n";
        assert_eq!(
            csv_column(text, "email", "t").unwrap(),
            ["ann@x.io", "cy@x.io"]
        );
        let err = csv_column(text, "mail", "t").unwrap_err();
        assert!(err.to_string().contains("name, Email"), "{err}");
    }
}
