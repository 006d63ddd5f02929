//! The `koreai-users` command-line tool, run as a process against the fake
//! server. Needs the `cli` feature (`cargo test --all-features`); without
//! it the binary is not built and this file compiles to nothing.
#![cfg(feature = "cli")]

use std::ffi::OsStr;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use koreai_users::Claims;
use koreai_users::fake::{FakeKore, Fault};

const BIN: &str = env!("CARGO_BIN_EXE_koreai-users");

/// A fake account and a way to run the tool against it.
struct Kit {
    fake: FakeKore,
}

/// What one run of the tool gave.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Kit {
    fn new() -> Self {
        Self {
            fake: FakeKore::start(),
        }
    }

    /// A fake holding `count` users, `user{i}@example.com` / `u-{i}`.
    fn with_users(count: usize) -> Self {
        let kit = Self::new();
        kit.fake
            .add_users((0..count).map(|i| (format!("user{i}@example.com"), format!("u-{i}"))));
        kit
    }

    /// The tool with nothing of the parent's environment but the fake's
    /// host, client id and secret.
    fn command(&self) -> Command {
        let mut command = Command::new(BIN);
        command
            .env_clear()
            .env("KORE_HOST", self.fake.url())
            .env("KORE_CLIENT_ID", self.fake.client_id())
            .env("KORE_CLIENT_SECRET", self.fake.client_secret());
        command
    }

    /// Runs `remove` with the given arguments and no pacing, stdin empty.
    fn remove<S: AsRef<OsStr>>(&self, args: &[S]) -> Run {
        let mut command = self.command();
        command.args(["remove", "--rate-limit", "none"]).args(args);
        self.run(command, None)
    }

    /// Runs a command, feeding `stdin` if given (else stdin is null), and
    /// checks that the secret appears in no output.
    fn run(&self, mut command: Command, stdin: Option<&str>) -> Run {
        command
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the binary starts");
        if let Some(text) = stdin {
            let mut pipe = child.stdin.take().expect("stdin is piped");
            pipe.write_all(text.as_bytes())
                .expect("stdin takes the input");
        }

        let output = child.wait_with_output().expect("the binary ends");
        let run = Run {
            code: output.status.code().expect("the binary exits, not killed"),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        };
        let secret = self.fake.client_secret();
        assert!(
            !run.stdout.contains(secret),
            "the secret on stdout: {run:?}"
        );
        assert!(
            !run.stderr.contains(secret),
            "the secret on stderr: {run:?}"
        );
        assert!(!run.stderr.contains("panicked"), "a panic: {run:?}");
        run
    }
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    /// The single error line on stderr.
    fn error_line(&self) -> &str {
        let line = self
            .stderr
            .lines()
            .find(|l| l.starts_with("koreai-users: error: "))
            .unwrap_or_else(|| panic!("no error line: {self:?}"));
        assert!(
            !line.contains("Error {") && !line.contains("Config("),
            "{line}"
        );
        line
    }
}

/// A file under the temp dir with a unique name, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, content: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let unique = format!(
            "koreai-users-cli-{}-{}-{name}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(unique);
        std::fs::write(&path, content).expect("the temp file is written");
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temp path")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn outcome_of<'a>(report: &'a Value, id: &str) -> &'a str {
    let entries = report["entries"].as_array().expect("entries");
    let entry = entries
        .iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("{id} not in the report: {report}"));
    entry["outcome"].as_str().expect("an outcome")
}

#[test]
fn removing_known_users_exits_0() {
    let kit = Kit::with_users(3);

    let run = kit.remove(&[
        "--email",
        "user0@example.com",
        "--email",
        "USER1@example.com",
        "--email",
        "user0@example.com",
    ]);

    assert_eq!(run.code, 0, "{run:?}");
    assert!(!kit.fake.has_email("user0@example.com"));
    assert!(!kit.fake.has_email("user1@example.com"));
    assert!(kit.fake.has_email("user2@example.com"));
    assert!(
        run.stdout.starts_with(
            "2 removed, 0 failed, 0 rejected, 0 not attempted, 0 unknown (1 request, 0 retries"
        ),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("\n1 duplicate entry ignored\n"),
        "{run:?}"
    );
}

#[test]
fn removing_by_org_user_id_exits_0() {
    let kit = Kit::with_users(2);

    let run = kit.remove(&["--org-user-id", "u-0", "--org-user-id", "u-1"]);

    assert_eq!(run.code, 0, "{run:?}");
    assert!(kit.fake.users().is_empty());
    let body = kit.fake.requests()[0].json().expect("a JSON body");
    assert_eq!(body, serde_json::json!({"orgUserIds": ["u-0", "u-1"]}));
}

#[test]
fn an_unknown_user_fails_with_kores_reason_and_exits_1() {
    let kit = Kit::with_users(1);

    let run = kit.remove(&[
        "--email",
        "user0@example.com",
        "--email",
        "ghost@example.com",
    ]);

    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.starts_with("1 removed, 1 failed"), "{run:?}");
    assert!(run.stdout.contains("failed (1):"), "{run:?}");
    assert!(
        run.stdout.contains("  ghost@example.com: User not found"),
        "{run:?}"
    );
}

#[test]
fn json_report_accounts_for_every_line_of_the_file() {
    let kit = Kit::with_users(3);
    let file = TempFile::new(
        "leavers.txt",
        "# leavers of May\n\
         user0@example.com\n\
         \n\
         \x20 user1@example.com \r\n\
         USER0@EXAMPLE.COM\n\
         not-an-email\n\
         ghost@example.com\n\
         user1@example.com\n\
         \n",
    );

    let run = kit.remove(&["--file", file.path(), "--json"]);

    assert_eq!(run.code, 1, "{run:?}");
    let report = run.json();
    let entries = report["entries"].as_array().expect("entries");
    let summary = &report["summary"];
    // Six lines hold an entry: four distinct ones and two repeats.
    assert_eq!(entries.len(), 4, "{report}");
    assert_eq!(summary["duplicates"], 2, "{report}");
    assert_eq!(outcome_of(&report, "user0@example.com"), "removed");
    assert_eq!(outcome_of(&report, "user1@example.com"), "removed");
    assert_eq!(outcome_of(&report, "not-an-email"), "rejected");
    assert_eq!(outcome_of(&report, "ghost@example.com"), "failed");
    assert_eq!(
        (
            &summary["removed"],
            &summary["failed"],
            &summary["rejected"]
        ),
        (&Value::from(2), &Value::from(1), &Value::from(1))
    );
    assert!(kit.fake.has_email("user2@example.com"));
}

#[test]
fn a_csv_column_is_read_by_name() {
    let kit = Kit::with_users(3);
    let file = TempFile::new(
        "leavers.csv",
        "name,Email,org id\n\
         # exported from HR\n\
         Ann,user0@example.com,u-0\n\
         Bob,,u-1\n\
         \"Roe, Cy\", user2@example.com ,u-2\n",
    );

    let run = kit.remove(&["--file", file.path(), "--column", "email", "--json"]);

    assert_eq!(run.code, 0, "{run:?}");
    let report = run.json();
    assert_eq!(report["summary"]["total"], 2, "{report}");
    assert_eq!(report["summary"]["removed"], 2, "{report}");
    assert!(kit.fake.has_email("user1@example.com"));

    let kit = Kit::with_users(3);
    let args = [
        "--file",
        file.path(),
        "--column",
        "org id",
        "--kind",
        "org-user-id",
    ];
    let run = kit.remove(&args);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(kit.fake.users().is_empty());
}

#[test]
fn a_missing_csv_column_is_an_input_error() {
    let kit = Kit::with_users(1);
    let file = TempFile::new("leavers.csv", "name,email\nAnn,user0@example.com\n");

    let run = kit.remove(&["--file", file.path(), "--column", "mail"]);

    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.error_line().contains("name, email"), "{run:?}");
    assert_eq!(kit.fake.request_count(), 0);
}

#[test]
fn users_are_read_from_stdin() {
    let kit = Kit::with_users(2);
    let mut command = kit.command();
    command.args(["remove", "--rate-limit", "none", "--file", "-"]);

    let run = kit.run(
        command,
        Some("user0@example.com\n# done\nuser1@example.com\n"),
    );

    assert_eq!(run.code, 0, "{run:?}");
    assert!(kit.fake.users().is_empty());
}

#[test]
fn mixing_kinds_of_identifier_is_a_usage_error() {
    let kit = Kit::with_users(1);
    let ids = TempFile::new("ids.txt", "u-0\n");

    let flags = kit.remove(&["--email", "user0@example.com", "--org-user-id", "u-0"]);
    let file = kit.remove(&[
        "--file",
        ids.path(),
        "--kind",
        "org-user-id",
        "--email",
        "user0@example.com",
    ]);

    assert_eq!(flags.code, 2, "{flags:?}");
    assert_eq!(file.code, 2, "{file:?}");
    assert!(
        file.error_line().contains("one kind of identifier"),
        "{file:?}"
    );
    assert_eq!(kit.fake.request_count(), 0);
}

#[test]
fn bad_usage_exits_2_and_sends_nothing() {
    let kit = Kit::with_users(1);
    let empty = TempFile::new("empty.txt", "# nobody left\n\n");

    // `remove` passes `--rate-limit none`, which no other limit may join.
    let cases: [&[&str]; 6] = [
        &[],
        &["--email", "user0@example.com", "--batch-size", "0"],
        &["--email", "user0@example.com", "--rate-limit", "0/5"],
        &["--email", "user0@example.com", "--rate-limit", "5/1"],
        &["--email", "user0@example.com", "--timeout", "soon"],
        &["--file", empty.path()],
    ];
    for args in cases {
        let run = kit.remove(args);
        assert_eq!(run.code, 2, "{args:?}: {run:?}");
    }
    assert_eq!(kit.fake.request_count(), 0);
    assert!(kit.fake.has_email("user0@example.com"));
}

#[test]
fn input_with_no_valid_user_exits_2_and_lists_the_rejected() {
    let kit = Kit::with_users(1);

    let run = kit.remove(&["--email", "not-an-email", "--email", "a b@example.com"]);

    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.error_line()
            .ends_with("no valid email to remove: all 2 entries were rejected"),
        "{run:?}"
    );
    assert!(run.stdout.contains("rejected (2):"), "{run:?}");
    assert_eq!(kit.fake.request_count(), 0);
}

#[test]
fn missing_configuration_names_the_setting() {
    let kit = Kit::with_users(1);
    let cases = [
        ("KORE_HOST", "KORE_HOST"),
        ("KORE_CLIENT_ID", "KORE_CLIENT_ID"),
        ("KORE_CLIENT_SECRET", "KORE_CLIENT_SECRET"),
    ];

    for (unset, named) in cases {
        let mut command = kit.command();
        command
            .env_remove(unset)
            .args(["remove", "--email", "user0@example.com"]);
        let run = kit.run(command, None);
        assert_eq!(run.code, 2, "{unset}: {run:?}");
        assert!(run.error_line().contains(named), "{unset}: {run:?}");
    }

    let mut command = kit.command();
    command.args([
        "remove",
        "--host",
        "ftp://example.com",
        "--email",
        "a@example.com",
    ]);
    let run = kit.run(command, None);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(
        run.error_line().contains("invalid configuration"),
        "{run:?}"
    );
    assert_eq!(kit.fake.request_count(), 0);
}

#[test]
fn the_secret_is_read_from_a_file_and_flags_win_over_the_environment() {
    let kit = Kit::with_users(1);
    let secret = TempFile::new("secret", &format!("{}\n", kit.fake.client_secret()));
    let mut command = kit.command();
    command
        .env_remove("KORE_CLIENT_SECRET")
        .env("KORE_HOST", "https://nowhere.invalid")
        .env("KORE_CLIENT_ID", "cs-wrong")
        .args([
            "remove",
            "--rate-limit",
            "none",
            "--email",
            "user0@example.com",
        ])
        .args([
            "--host",
            &kit.fake.url(),
            "--client-id",
            kit.fake.client_id(),
        ])
        .args(["--client-secret-file", secret.path()]);

    let run = kit.run(command, None);

    assert_eq!(run.code, 0, "{run:?}");
    assert!(kit.fake.users().is_empty());
}

#[test]
fn an_unreadable_secret_file_is_a_configuration_error() {
    let kit = Kit::with_users(1);
    let gone = TempFile::new("gone", "");
    let path = gone.0.clone();
    drop(gone);
    let mut command = kit.command();
    command
        .args([
            "remove",
            "--email",
            "user0@example.com",
            "--client-secret-file",
        ])
        .arg(&path);

    let run = kit.run(command, None);

    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.error_line().contains("client secret file"), "{run:?}");
    assert_eq!(kit.fake.request_count(), 0);
}

#[test]
fn a_ready_jwt_from_the_environment_is_used() {
    let kit = Kit::with_users(1);
    let token = kit
        .fake
        .client_builder()
        .build()
        .unwrap()
        .mint_token()
        .unwrap();
    let mut command = kit.command();
    command
        .env_remove("KORE_CLIENT_ID")
        .env_remove("KORE_CLIENT_SECRET")
        .env("KORE_JWT", &token);
    command.args([
        "remove",
        "--rate-limit",
        "none",
        "--email",
        "user0@example.com",
    ]);

    let run = kit.run(command, None);

    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stdout.contains(&token) && !run.stderr.contains(&token));
    assert!(kit.fake.users().is_empty());
}

#[test]
fn a_wrong_secret_exits_3() {
    let kit = Kit::with_users(2);
    let mut command = kit.command();
    command
        .env("KORE_CLIENT_SECRET", "not-the-secret")
        .args(["remove", "--rate-limit", "none"])
        .args([
            "--email",
            "user0@example.com",
            "--email",
            "user1@example.com",
        ]);

    let run = kit.run(command, None);

    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.error_line().contains("Invalid SDK credentials"),
        "{run:?}"
    );
    assert!(run.stdout.contains("not attempted (2):"), "{run:?}");
    assert_eq!(kit.fake.user_count(), 2);
}

#[test]
fn a_revoked_scope_exits_3() {
    let kit = Kit::with_users(2);
    kit.fake.set_scope_revoked(true);

    let run = kit.remove(&["--org-user-id", "u-0", "--json"]);

    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.error_line().contains("Scope is incorrect"), "{run:?}");
    let report = run.json();
    assert_eq!(outcome_of(&report, "u-0"), "not_attempted");
    assert_eq!(report["summary"]["stop_cause"], "unauthorized", "{report}");
    assert_eq!(kit.fake.user_count(), 2);
}

#[test]
fn a_server_that_stays_unavailable_exits_4() {
    let kit = Kit::with_users(1);
    kit.fake.push_fault(Fault::status(503));
    kit.fake.push_fault(Fault::status(503));

    let run = kit.remove(&["--email", "user0@example.com", "--max-retries", "1"]);

    assert_eq!(run.code, 4, "{run:?}");
    assert_eq!(kit.fake.request_count(), 2);
    assert!(run.stderr.contains(": server unavailable"), "{run:?}");
    assert!(run.error_line().contains("503"), "{run:?}");
    assert!(kit.fake.has_email("user0@example.com"));
}

#[test]
fn a_long_retry_after_exits_4_at_once_with_or_without_retries() {
    // Without retries there is no second attempt; with them, the run still
    // does not wait the hour the server asks for.
    for retries in ["0", "3"] {
        let kit = Kit::with_users(1);
        kit.fake
            .push_fault(Fault::rate_limited(Some(Duration::from_secs(3_600))));
        let started = Instant::now();

        let run = kit.remove(&[
            "--email",
            "user0@example.com",
            "--max-retries",
            retries,
            "--json",
        ]);

        assert_eq!(run.code, 4, "{retries} retries: {run:?}");
        assert!(started.elapsed() < Duration::from_secs(20), "{run:?}");
        assert!(run.error_line().contains("rate limited"), "{run:?}");
        assert_eq!(run.json()["summary"]["stop_cause"], "rate_limited");
        assert_eq!(kit.fake.request_count(), 1, "{retries} retries");
        assert!(kit.fake.has_email("user0@example.com"));
    }
}

#[test]
fn a_run_stopped_after_some_were_removed_exits_1() {
    let kit = Kit::with_users(2);
    let mut command = kit.command();
    // The second request could not start before the deadline.
    command
        .args(["remove", "--rate-limit", "1/60", "--batch-size", "1"])
        .args(["--deadline", "5", "--org-user-id", "u-0", "--org-user-id"])
        .args(["u-1", "--json"]);

    let run = kit.run(command, None);

    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.error_line().contains("deadline"), "{run:?}");
    let report = run.json();
    assert_eq!(report["summary"]["stop_cause"], "deadline", "{report}");
    assert_eq!(outcome_of(&report, "u-0"), "removed");
    assert_eq!(outcome_of(&report, "u-1"), "not_attempted");
    assert_eq!(kit.fake.request_count(), 1);
}

#[test]
fn a_dry_run_sends_nothing() {
    let kit = Kit::with_users(30);
    let file = TempFile::new(
        "many.txt",
        &(0..30)
            .map(|i| format!("user{i}@example.com\n"))
            .collect::<String>(),
    );

    let text = kit.remove(&["--file", file.path(), "--dry-run", "--batch-size", "7"]);
    let json = kit.remove(&["--file", file.path(), "--dry-run", "--json"]);
    let one = kit.remove(&["--email", "user0@example.com", "--dry-run"]);

    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout.contains("30 emails to remove in 5 requests"),
        "{text:?}"
    );
    assert_eq!(one.code, 0, "{one:?}");
    assert!(
        one.stdout
            .contains("1 email to remove in 1 request of up to"),
        "{one:?}"
    );
    assert_eq!(json.code, 0, "{json:?}");
    assert_eq!(json.json()["to_send"], 30, "{json:?}");
    assert_eq!(kit.fake.request_count(), 0);
    assert_eq!(kit.fake.user_count(), 30);
}

#[test]
fn a_dry_run_lists_the_entries_it_would_reject() {
    let kit = Kit::with_users(2);
    let file = TempFile::new(
        "mixed.txt",
        "user0@example.com\nnot-an-email\nuser1@example.com\n",
    );

    let text = kit.remove(&["--file", file.path(), "--dry-run"]);
    let json = kit.remove(&["--file", file.path(), "--dry-run", "--json"]);

    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout
            .contains("rejected (1):\n  not-an-email: not an email"),
        "{text:?}"
    );
    let rejected = &json.json()["rejected_entries"];
    assert_eq!(rejected[0]["id"], "not-an-email", "{json:?}");
    assert_eq!(rejected[0]["why"], "not_an_email", "{json:?}");
    assert_eq!(kit.fake.request_count(), 0);
}

#[test]
fn removing_many_users_without_a_terminal_needs_yes() {
    let kit = Kit::with_users(12);
    let mut args: Vec<String> = (0..12)
        .flat_map(|i| ["--email".to_owned(), format!("user{i}@example.com")])
        .collect();

    let refused = kit.remove(&args);
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.error_line().contains("--yes"), "{refused:?}");
    assert_eq!(kit.fake.request_count(), 0);
    assert_eq!(kit.fake.user_count(), 12);

    args.push("--yes".to_owned());
    let confirmed = kit.remove(&args);
    assert_eq!(confirmed.code, 0, "{confirmed:?}");
    assert!(kit.fake.users().is_empty());
}

#[test]
fn the_confirmation_threshold_can_be_raised() {
    let kit = Kit::with_users(12);
    let file = TempFile::new(
        "twelve.txt",
        &(0..12).map(|i| format!("u-{i}\n")).collect::<String>(),
    );
    let args = ["--file", file.path(), "--kind", "org-user-id"];

    let refused = kit.remove(&[&args[..], &["--confirm-over", "11"]].concat());
    let allowed = kit.remove(&[&args[..], &["--confirm-over", "12"]].concat());

    assert_eq!(refused.code, 2, "{refused:?}");
    assert_eq!(allowed.code, 0, "{allowed:?}");
    assert!(kit.fake.users().is_empty());
}

#[test]
fn progress_lines_show_each_batch_and_wait() {
    let kit = Kit::with_users(3);
    let mut command = kit.command();
    command
        .args(["remove", "--rate-limit", "1/0.2", "--batch-size", "1"])
        .args([
            "--org-user-id",
            "u-0",
            "--org-user-id",
            "u-1",
            "--org-user-id",
            "u-2",
        ]);

    let run = kit.run(command, None);

    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .contains("3 org user ids to remove in 3 requests"),
        "{run:?}"
    );
    assert!(run.stderr.contains("batch 3/3 answered"), "{run:?}");
    assert!(
        run.stderr.contains(": pacing under the rate limits"),
        "{run:?}"
    );
    assert!(
        run.stderr.lines().all(|l| l.starts_with("koreai-users: ")),
        "{run:?}"
    );

    let quiet = kit.remove(&["--org-user-id", "u-9", "--quiet"]);
    assert_eq!(quiet.code, 1, "{quiet:?}");
    assert_eq!(quiet.stderr, "", "{quiet:?}");
}

#[test]
fn token_prints_a_jwt_signed_with_the_secret() {
    let kit = Kit::new();
    // Installs the library's crypto provider in this process.
    kit.fake.client_builder().build().unwrap();
    let mut command = kit.command();
    command.args(["token", "--lifetime", "120"]);

    let run = kit.run(command, None);

    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout.lines().count(), 1, "{run:?}");
    let key = DecodingKey::from_secret(kit.fake.client_secret().as_bytes()).unwrap();
    let validation = Validation::new(Algorithm::HS256);
    let claims = jsonwebtoken::decode::<Claims>(run.stdout.trim(), &key, &validation)
        .expect("the token verifies")
        .claims;
    assert_eq!(claims.app_id, kit.fake.client_id());
    assert_eq!(claims.exp.unwrap() - claims.iat.unwrap(), 120);
    assert!(claims.jti.is_some());
}

#[test]
fn token_needs_no_host() {
    let kit = Kit::new();
    // Installs the library's crypto provider in this process.
    kit.fake.client_builder().build().unwrap();
    let key = DecodingKey::from_secret(kit.fake.client_secret().as_bytes()).unwrap();
    let validation = Validation::new(Algorithm::HS256);

    // Unset, or set to a host no client would accept: either way unread.
    for host in [None, Some("ftp://example.com")] {
        let mut command = kit.command();
        match host {
            Some(host) => command.env("KORE_HOST", host),
            None => command.env_remove("KORE_HOST"),
        };
        command.arg("token");

        let run = kit.run(command, None);

        assert_eq!(run.code, 0, "{host:?}: {run:?}");
        let claims = jsonwebtoken::decode::<Claims>(run.stdout.trim(), &key, &validation)
            .expect("the token verifies")
            .claims;
        assert_eq!(claims.app_id, kit.fake.client_id());
        assert_eq!(claims.exp.unwrap() - claims.iat.unwrap(), 300);
    }
    assert_eq!(kit.fake.request_count(), 0);
}

#[test]
fn token_needs_the_client_id_and_secret() {
    let kit = Kit::new();

    // A ready token does not stand in for them.
    for unset in ["KORE_CLIENT_ID", "KORE_CLIENT_SECRET"] {
        let mut command = kit.command();
        command
            .env_remove(unset)
            .env("KORE_JWT", "a.b.c")
            .arg("token");

        let run = kit.run(command, None);

        assert_eq!(run.code, 2, "{unset}: {run:?}");
        assert!(run.error_line().contains(unset), "{unset}: {run:?}");
        assert_eq!(run.stdout, "", "{unset}");
    }

    let mut command = kit.command();
    command.args(["token", "--lifetime", "3601"]);
    assert_eq!(kit.run(command, None).code, 2);
}
