//! The fake account's users, indexed by email address and by org user id.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use super::FakeUser;

/// Users in the order they were added, with one index per identifier kind,
/// so that adding, finding and removing stay cheap for 100,000 users. Emails
/// are indexed lowercased: lookups by email ignore case.
#[derive(Debug, Default)]
pub(super) struct Account {
    users: BTreeMap<u64, FakeUser>,
    by_email: HashMap<String, u64>,
    by_org_user_id: HashMap<String, u64>,
    next: u64,
}

impl Account {
    /// Adds a user, replacing any with the same email or org user id.
    pub(super) fn add(&mut self, email: &str, org_user_id: &str) {
        if let Some(seq) = self.find_email(email) {
            self.remove_seq(seq);
        }
        if let Some(seq) = self.find_org_user_id(org_user_id) {
            self.remove_seq(seq);
        }

        let seq = self.next;
        self.next += 1;
        if !email.is_empty() {
            self.by_email.insert(email_key(email).into_owned(), seq);
        }
        if !org_user_id.is_empty() {
            self.by_org_user_id.insert(org_user_id.to_owned(), seq);
        }
        self.users.insert(seq, FakeUser::new(email, org_user_id));
    }

    pub(super) fn users(&self) -> Vec<FakeUser> {
        self.users.values().cloned().collect()
    }

    pub(super) fn len(&self) -> usize {
        self.users.len()
    }

    pub(super) fn has_email(&self, email: &str) -> bool {
        self.find_email(email).is_some()
    }

    pub(super) fn has_org_user_id(&self, org_user_id: &str) -> bool {
        self.find_org_user_id(org_user_id).is_some()
    }

    /// Removes the user with this email address; false if there is none.
    pub(super) fn remove_email(&mut self, email: &str) -> bool {
        self.find_email(email)
            .map(|seq| self.remove_seq(seq))
            .is_some()
    }

    /// Removes the user with this org user id; false if there is none.
    pub(super) fn remove_org_user_id(&mut self, org_user_id: &str) -> bool {
        self.find_org_user_id(org_user_id)
            .map(|seq| self.remove_seq(seq))
            .is_some()
    }

    fn find_email(&self, email: &str) -> Option<u64> {
        self.by_email.get(email_key(email).as_ref()).copied()
    }

    fn find_org_user_id(&self, org_user_id: &str) -> Option<u64> {
        self.by_org_user_id.get(org_user_id).copied()
    }

    fn remove_seq(&mut self, seq: u64) {
        if let Some(user) = self.users.remove(&seq) {
            self.by_email.remove(email_key(&user.email).as_ref());
            self.by_org_user_id.remove(&user.org_user_id);
        }
    }
}

/// The index key of an email: lowercased, without allocating when it already
/// is.
fn email_key(email: &str) -> Cow<'_, str> {
    if email.is_ascii() && !email.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Borrowed(email)
    } else {
        Cow::Owned(email.to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_match_in_any_case_and_org_user_ids_exactly() {
        let mut account = Account::default();
        account.add("John.Doe@Example.com", "U-1");

        assert!(account.has_email("john.doe@example.com"));
        assert!(account.has_email("JOHN.DOE@EXAMPLE.COM"));
        assert!(account.has_org_user_id("U-1"));
        assert!(!account.has_org_user_id("u-1"));
        assert_eq!(account.users()[0].email, "John.Doe@Example.com");
    }

    #[test]
    fn removal_by_one_key_drops_the_other() {
        let mut account = Account::default();
        account.add("a@x.io", "u-a");
        account.add("b@x.io", "u-b");

        assert!(account.remove_email("A@X.IO"));
        assert!(!account.has_org_user_id("u-a"));
        assert!(!account.remove_email("a@x.io"));
        assert!(account.remove_org_user_id("u-b"));
        assert!(!account.has_email("b@x.io"));
        assert_eq!(account.len(), 0);
    }

    #[test]
    fn adding_a_known_identifier_replaces_the_user() {
        let mut account = Account::default();
        account.add("a@x.io", "u-1");
        account.add("b@x.io", "u-2");
        account.add("A@x.io", "u-3");
        account.add("c@x.io", "u-2");

        let emails: Vec<_> = account.users().into_iter().map(|u| u.email).collect();
        assert_eq!(emails, ["A@x.io", "c@x.io"]);
        assert!(!account.has_org_user_id("u-1"));
    }

    #[test]
    fn empty_identifiers_are_not_indexed() {
        let mut account = Account::default();
        account.add("a@x.io", "");
        account.add("b@x.io", "");

        assert_eq!(account.len(), 2);
        assert!(!account.has_org_user_id(""));
        assert!(!account.remove_org_user_id(""));
    }

    #[test]
    fn insertion_order_survives_removals() {
        let mut account = Account::default();
        for i in 0..5 {
            account.add(&format!("u{i}@x.io"), &format!("u-{i}"));
        }
        account.remove_org_user_id("u-1");
        account.remove_email("u3@x.io");
        account.add("u5@x.io", "u-5");

        let ids: Vec<_> = account.users().into_iter().map(|u| u.org_user_id).collect();
        assert_eq!(ids, ["u-0", "u-2", "u-4", "u-5"]);
    }
}
