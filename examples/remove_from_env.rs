//! Removes the users named on the command line from a real Kore.ai account.
//!
//! ```text
//! export KORE_HOST=https://platform.kore.ai
//! export KORE_CLIENT_ID=cs-...
//! export KORE_CLIENT_SECRET=...
//! cargo run --example remove_from_env -- john.doe@example.com jane.roe@example.com
//! ```
//!
//! Without those variables it stops before sending anything, naming the one
//! that is missing. Prefix arguments with `--org-user-ids` to pass org user
//! ids instead of email addresses.

use std::process::ExitCode;

use koreai_users::{Client, RemoveUsers};

fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let by_org_user_id = args.first().is_some_and(|a| a == "--org-user-ids");
    if by_org_user_id {
        args.remove(0);
    }
    if args.is_empty() {
        eprintln!("usage: remove_from_env [--org-user-ids] ID...");
        return ExitCode::from(2);
    }

    let client = match Client::from_env() {
        Ok(client) => client,
        Err(err) => {
            eprintln!("error: {err}");
            return ExitCode::from(2);
        }
    };
    let users = if by_org_user_id {
        RemoveUsers::org_user_ids(&args)
    } else {
        RemoveUsers::emails(&args)
    };

    let report = client
        .bulk_remove(users)
        .on_progress(|p| {
            if let Some(wait) = p.wait() {
                eprintln!("waiting {:?}: {}", wait.duration, wait.cause);
            }
        })
        .run();

    for entry in report.entries() {
        println!("{:<14} {}  {}", entry.outcome(), entry.id(), entry.detail());
    }
    println!("{}", report.summary());
    if report.all_removed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
