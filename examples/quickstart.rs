//! See the SDK work with no account and no network: this starts the crate's
//! fake Kore.ai server with a few users, builds a client the way you would
//! for the real host, and removes users by email and by org user id.
//!
//! Run it with `cargo run --example quickstart`.

use koreai_users::fake::FakeKore;
use koreai_users::{Client, RemoveReport, RemoveUsers};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fake = FakeKore::builder()
        .users([
            ("john.doe@example.com", "u-1001"),
            ("jane.roe@example.com", "u-1002"),
            ("max.mustermann@example.com", "u-1003"),
            ("erika.musterfrau@example.com", "u-1004"),
        ])
        .start()?;
    println!(
        "fake Kore.ai account at {} with {} users\n",
        fake.url(),
        fake.users().len()
    );

    // Against the real host this would be `Client::from_env()`, or the same
    // builder with "https://platform.kore.ai" and your app's credentials.
    let client = Client::builder()
        .host(fake.url())
        .credentials(fake.client_id(), fake.client_secret())
        .build()?;

    let by_email = RemoveUsers::emails([
        "john.doe@example.com",
        "jane.roe@example.com",
        "no.such.user@example.com",
    ]);
    print_report("by email", &client.remove_users(&by_email)?);

    let by_id = RemoveUsers::org_user_ids(["u-1003"]);
    print_report("by org user id", &client.remove_users(&by_id)?);

    let left: Vec<String> = fake.users().into_iter().map(|u| u.email).collect();
    println!("still in the account: {}", left.join(", "));
    Ok(())
}

fn print_report(title: &str, report: &RemoveReport) {
    println!("remove {title}: HTTP {}", report.status());
    for id in report.removed() {
        println!("  removed      {id}");
    }
    for failed in report.failed() {
        let id = failed.id().unwrap_or("(unnamed)");
        let why = failed.message().unwrap_or("no reason given");
        println!("  not removed  {id}: {why}");
    }
    for id in report.unconfirmed() {
        println!("  unconfirmed  {id}");
    }
    println!();
}
