//! `koreai-users`: remove users from a Kore.ai account, or mint an `auth`
//! token, from a shell script. Built with the `cli` feature.
//!
//! The modules: `config` turns flags and environment into a client, `input`
//! reads the users to remove, `output` shows progress and the report.

// A crate root resolves modules next to itself; these live in a folder
// named after the binary.
#[path = "koreai-users/config.rs"]
mod config;
#[path = "koreai-users/input.rs"]
mod input;
#[path = "koreai-users/output.rs"]
mod output;

use std::error::Error as StdError;
use std::fmt;
use std::io::{self, BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use koreai_users::{
    BulkPlan, BulkReport, Client, DEFAULT_BULK_BATCH_SIZE, MAX_BATCH_SIZE, REMOVE_USERS_PATH,
    StopCause,
};

use crate::config::{AuthArgs, ConnectArgs, Need, Secs};
use crate::input::InputArgs;
use crate::output::{Logger, Reporter, count};

const ABOUT: &str = "Remove users from a Kore.ai account, or mint an auth token";

// Prose is left for clap to wrap to the terminal; the tables below are laid
// out by hand, in lines of at most 80 characters.

const LONG_ABOUT: &str = "\
Remove users from a Kore.ai account through the Admin API's \"Remove Users from \
Account\" endpoint, or mint an auth token for other tools.

Large lists are sent in batches, paced under Kore.ai's rate limits, retried on rate \
limiting and outages, and every user is accounted for in the report.";

const TOKEN_LONG_ABOUT: &str = "\
Print a freshly minted JWT for the `auth` header of other tools:
  curl -H \"auth: $(koreai-users token)\" ...

Needs only the app's client id and secret: KORE_HOST is not read (the token names the \
app, not the environment), and neither is a ready KORE_JWT.";

const AFTER_HELP: &str = "\
Configuration (flags win over the environment):
  KORE_HOST           the environment URL, e.g. https://platform.kore.ai
                      (--host); `remove` only
  KORE_CLIENT_ID      the app's client id (--client-id)
  KORE_CLIENT_SECRET  the app's client secret (--client-secret-file)
  KORE_JWT            a ready token, used instead of the client id and secret
                      unless --client-secret-file is given; `remove` only
The secret is never taken as a command-line argument: other users of the
machine could read it in the process list.

Exit status:
  0  every user was removed; also a dry run, and a printed token
  1  some users were not removed (failed, rejected, not attempted or unknown)
     while others were sent
  2  usage, configuration or input error, no valid user given, or removal
     not confirmed: nothing was sent
  3  Kore.ai refused the credentials or the app's scope: the run stopped
  4  the run stopped before any user was removed: rate limiting, a transport
     or a server error, or --deadline";

const TOKEN_AFTER_HELP: &str = "\
Configuration (flags win over the environment):
  KORE_CLIENT_ID      the app's client id (--client-id)
  KORE_CLIENT_SECRET  the app's client secret (--client-secret-file)
The secret is never taken as a command-line argument: other users of the
machine could read it in the process list.

Exit status:
  0  the token was printed
  2  usage or configuration error, or the token could not be signed: nothing
     was printed";

#[derive(Debug, Parser)]
#[command(
    name = "koreai-users",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    propagate_version = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Remove users from the account, by email address or by org user id
    #[command(after_help = AFTER_HELP)]
    Remove(Box<RemoveArgs>),
    /// Print a freshly minted JWT, e.g. for curl -H "auth: $(koreai-users token)"
    #[command(long_about = TOKEN_LONG_ABOUT, after_help = TOKEN_AFTER_HELP)]
    Token(TokenArgs),
}

#[derive(Debug, Args)]
struct RemoveArgs {
    /// Print what would be sent, send nothing
    #[arg(long)]
    dry_run: bool,

    /// Users per request, 1 to 1000
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BULK_BATCH_SIZE,
          value_parser = batch_size)]
    batch_size: usize,

    /// Stop sending after SECS seconds; users not sent yet are reported as
    /// not attempted
    #[arg(long, value_name = "SECS")]
    deadline: Option<Secs>,

    /// Print the report (or, with --dry-run, the plan) as JSON on stdout
    #[arg(long)]
    json: bool,

    /// Remove without asking, however many users
    #[arg(short, long)]
    yes: bool,

    /// Ask for confirmation on a terminal before removing more than N users;
    /// without a terminal, refuse unless --yes is given
    #[arg(long, value_name = "N", default_value_t = 10)]
    confirm_over: usize,

    /// No progress on stderr (errors are still shown)
    #[arg(short, long, conflicts_with = "verbose")]
    quiet: bool,

    /// Log every request and wait of the library on stderr
    #[arg(short, long)]
    verbose: bool,

    #[command(flatten)]
    input: InputArgs,

    #[command(flatten)]
    auth: AuthArgs,

    #[command(flatten)]
    connection: ConnectArgs,
}

#[derive(Debug, Args)]
struct TokenArgs {
    /// How long the token is valid, in seconds: 1 to 3600
    #[arg(long, value_name = "SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=3_600))]
    lifetime: u64,

    #[command(flatten)]
    auth: AuthArgs,
}

fn batch_size(text: &str) -> Result<usize, String> {
    let size: usize = text.parse().map_err(|e| format!("{e}"))?;
    if (1..=MAX_BATCH_SIZE).contains(&size) {
        Ok(size)
    } else {
        Err(format!("must be between 1 and {MAX_BATCH_SIZE}"))
    }
}

/// How the tool ends; the numbers are the documented exit statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exit {
    Done = 0,
    NotAllRemoved = 1,
    Usage = 2,
    Unauthorized = 3,
    Stopped = 4,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// An error that ends the tool: one line on stderr, and an exit status.
#[derive(Debug)]
struct Failure {
    exit: Exit,
    context: Option<String>,
    error: Box<dyn StdError + 'static>,
}

impl Failure {
    /// A usage, configuration or input error (exit 2).
    fn usage(message: impl Into<String>) -> Self {
        Self::new(Exit::Usage, message.into().into())
    }

    fn new(exit: Exit, error: Box<dyn StdError + 'static>) -> Self {
        Self {
            exit,
            context: None,
            error,
        }
    }

    fn context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }
}

/// The library's errors reach the tool only from building the client or
/// minting a token: configuration errors.
impl From<koreai_users::Error> for Failure {
    fn from(error: koreai_users::Error) -> Self {
        Self::new(Exit::Usage, Box::new(error))
    }
}

impl fmt::Display for Failure {
    /// The context, the error and its `source()` chain, joined by ": ".
    /// A cause whose text the line already holds is not repeated.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut line = self.context.clone().unwrap_or_default();
        let mut next: Option<&(dyn StdError + 'static)> = Some(&*self.error);
        while let Some(error) = next {
            let text = error.to_string();
            if !text.is_empty() && !line.contains(&text) {
                if !line.is_empty() {
                    line.push_str(": ");
                }
                line.push_str(&text);
            }
            next = error.source();
        }
        f.write_str(&line)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Remove(args) => remove(*args),
        Command::Token(args) => token(&args),
    };
    match result {
        Ok(exit) => exit.into(),
        Err(failure) => {
            eprintln!("koreai-users: error: {failure}");
            failure.exit.into()
        }
    }
}

/// Mints a token from the credentials alone: no host, no client.
fn token(args: &TokenArgs) -> Result<Exit, Failure> {
    let builder = args.auth.apply(config::builder(), Need::Credentials)?;
    let token = builder
        .token_lifetime(Duration::from_secs(args.lifetime))
        .mint_token()?;
    println!("{token}");
    Ok(Exit::Done)
}

fn remove(args: RemoveArgs) -> Result<Exit, Failure> {
    if args.verbose {
        Logger::install();
    }
    let users = input::read(&args.input)?;
    let from_stdin = args.input.reads_stdin();

    let builder = args.connection.apply(config::builder())?;
    let client = args.auth.apply(builder, Need::Any)?.build()?;
    let mut bulk = client.bulk_remove(users).batch_size(args.batch_size);
    if let Some(deadline) = args.deadline {
        bulk = bulk.deadline(deadline.0);
    }

    let plan = bulk.plan();
    if args.dry_run {
        output::print_plan(&plan, args.json);
        return no_valid_user(&plan).map(|()| Exit::Done);
    }
    if plan.to_send > 0 {
        confirm(&client, &plan, &args, from_stdin)?;
    }

    let mut reporter = Reporter::new(&plan, args.quiet, args.verbose);
    let report = bulk.on_progress(|p| reporter.update(p)).run();
    reporter.finish();

    if args.json {
        println!("{}", report.to_json());
    } else {
        output::print_report(&report);
    }
    no_valid_user(&plan)?;
    exit_status(&report)
}

/// Refuses a run whose input held no valid user: an input error.
fn no_valid_user(plan: &BulkPlan) -> Result<(), Failure> {
    if plan.to_send > 0 {
        return Ok(());
    }
    let rejected = match plan.unique {
        1 => "the only entry was rejected".to_owned(),
        n => format!("all {n} entries were rejected"),
    };
    Err(Failure::usage(format!(
        "no valid {} to remove: {rejected}",
        plan.kind
    )))
}

/// The exit status of a run that sent something, with an error line when
/// the run stopped early.
fn exit_status(report: &BulkReport) -> Result<Exit, Failure> {
    let summary = report.summary();
    let Some(cause) = summary.stop_cause else {
        return Ok(if report.all_removed() {
            Exit::Done
        } else {
            Exit::NotAllRemoved
        });
    };

    let exit = match cause {
        StopCause::Unauthorized => Exit::Unauthorized,
        _ if summary.removed == 0 => Exit::Stopped,
        _ => Exit::NotAllRemoved,
    };
    let why = summary.stopped.as_deref().unwrap_or("no reason given");
    let error = format!("the run stopped: {why}");
    Err(Failure::new(exit, error.into()))
}

/// Asks before removing more than `--confirm-over` users, unless `--yes`.
fn confirm(
    client: &Client,
    plan: &BulkPlan,
    args: &RemoveArgs,
    from_stdin: bool,
) -> Result<(), Failure> {
    if args.yes || plan.to_send <= args.confirm_over {
        return Ok(());
    }
    let users = count(plan.to_send, "user", "users");
    let why = if from_stdin {
        "stdin holds the users"
    } else {
        "stdin is not a terminal"
    };
    if from_stdin || !io::stdin().is_terminal() {
        return Err(Failure::usage(format!(
            "refusing to remove {users} (more than --confirm-over {}) without \
             confirmation: {why}; pass --yes",
            args.confirm_over
        )));
    }

    eprint!(
        "Remove {users} by {} from the account at {}? [y/N] ",
        plan.kind,
        client.endpoint().trim_end_matches(REMOVE_USERS_PATH)
    );
    io::stderr().flush().ok();
    let mut answer = String::new();
    io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::new(Exit::Usage, Box::new(e)).context("cannot read the answer"))?;

    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(Failure::usage("not confirmed; nothing was sent")),
    }
}
