//! What to remove: a list of email addresses or of org user ids.

use std::collections::HashSet;
use std::fmt;

use serde::Serialize;

use crate::error::InvalidRequest;

/// The longest email address accepted (RFC 5321's path limit).
const MAX_EMAIL_LEN: usize = 254;

/// The longest org user id accepted.
const MAX_ORG_USER_ID_LEN: usize = 256;

/// Which kind of identifier a request carries. One request never mixes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    /// Email addresses, sent as `deleteEmailIds`.
    Email,
    /// Org user ids, sent as `orgUserIds`.
    OrgUserId,
}

impl IdKind {
    /// The JSON key of the request body.
    pub fn wire_key(self) -> &'static str {
        match self {
            IdKind::Email => "deleteEmailIds",
            IdKind::OrgUserId => "orgUserIds",
        }
    }
}

impl fmt::Display for IdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdKind::Email => "email",
            IdKind::OrgUserId => "org user id",
        })
    }
}

/// The users to remove: email addresses or org user ids, never both.
///
/// Building one never fails; entries are checked when the request is made.
/// [`Client::remove_users`](crate::Client::remove_users) refuses the whole
/// request if any entry is bad, while
/// [`Client::bulk_remove`](crate::Client::bulk_remove) reports bad entries as
/// rejected and sends the rest.
///
/// ```
/// use koreai_users::RemoveUsers;
///
/// let by_email = RemoveUsers::emails(["john.doe@example.com", "jane@example.com"]);
/// let by_id = RemoveUsers::org_user_ids(vec![String::from("u-1234")]);
/// assert_eq!(by_email.len(), 2);
/// assert_eq!(by_id.ids(), ["u-1234"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoveUsers {
    kind: IdKind,
    ids: Vec<String>,
}

impl RemoveUsers {
    /// Users named by email address (`deleteEmailIds`).
    pub fn emails<I>(ids: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Self::new(IdKind::Email, ids)
    }

    /// Users named by org user id (`orgUserIds`).
    pub fn org_user_ids<I>(ids: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Self::new(IdKind::OrgUserId, ids)
    }

    /// Users of either kind.
    pub fn new<I>(kind: IdKind, ids: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let ids = ids.into_iter().map(|id| id.as_ref().to_owned()).collect();
        Self { kind, ids }
    }

    /// The kind of identifier.
    pub fn kind(&self) -> IdKind {
        self.kind
    }

    /// The identifiers as given, unchecked.
    pub fn ids(&self) -> &[String] {
        &self.ids
    }

    /// How many identifiers were given.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no identifier was given.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Each entry with its position, as given, and as checked: trimmed and
    /// valid, a repeat of an earlier valid one, or invalid.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (usize, &str, Checked)> {
        let mut seen = Dedup::new(self.kind);
        self.ids.iter().enumerate().map(move |(index, raw)| {
            let checked = match normalize(self.kind, raw) {
                Ok(id) if seen.first(&id) => Checked::New(id),
                Ok(_) => Checked::Repeat,
                Err(why) => Checked::Invalid(why),
            };
            (index, raw.as_str(), checked)
        })
    }

    /// Normalises every entry for a single request: all must be valid,
    /// duplicates are dropped, order is kept.
    pub(crate) fn checked(&self, max_len: usize) -> Result<Vec<String>, InvalidRequest> {
        let refuse = |problem: String| InvalidRequest {
            problem: Some(problem),
            entries: vec![],
        };
        if self.ids.is_empty() {
            return Err(refuse(format!("the list of {}s is empty", self.kind)));
        }

        let mut valid = Vec::with_capacity(self.ids.len());
        let mut bad = Vec::new();
        for (index, raw, checked) in self.entries() {
            match checked {
                Checked::New(id) => valid.push(id),
                Checked::Repeat => {}
                Checked::Invalid(why) => bad.push((index, raw.to_owned(), why)),
            }
        }

        if !bad.is_empty() {
            return Err(InvalidRequest {
                problem: None,
                entries: bad,
            });
        }
        if valid.len() > max_len {
            return Err(refuse(format!(
                "{} users in one request, more than the {max_len} allowed; \
                 use bulk_remove, which splits them into batches",
                valid.len()
            )));
        }
        Ok(valid)
    }
}

/// One entry of a [`RemoveUsers`], checked.
pub(crate) enum Checked {
    /// Valid, trimmed, and not seen before.
    New(String),
    /// Valid, but the same user as an earlier entry.
    Repeat,
    /// Refused.
    Invalid(Rejection),
}

/// Why an entry is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Rejection {
    /// Empty, or only white space.
    Blank,
    /// Not of the form `local@domain`.
    NotAnEmail,
    /// Holds a control character or, for an email, white space inside.
    BadCharacter,
    /// Longer than the limit for its kind.
    TooLong,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rejection::Blank => "blank",
            Rejection::NotAnEmail => "not an email address of the form local@domain",
            Rejection::BadCharacter => "contains white space or a control character",
            Rejection::TooLong => "too long",
        })
    }
}

/// Trims one entry and checks it.
fn normalize(kind: IdKind, raw: &str) -> Result<String, Rejection> {
    let id = raw.trim();
    if id.is_empty() {
        return Err(Rejection::Blank);
    }
    if id.chars().any(char::is_control) {
        return Err(Rejection::BadCharacter);
    }

    match kind {
        IdKind::Email => {
            if id.len() > MAX_EMAIL_LEN {
                return Err(Rejection::TooLong);
            }
            if id.chars().any(char::is_whitespace) {
                return Err(Rejection::BadCharacter);
            }
            let (local, domain) = id.rsplit_once('@').ok_or(Rejection::NotAnEmail)?;
            let domain_ok = !domain.is_empty()
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains("..")
                && !domain.contains('@');
            if local.is_empty() || !domain_ok {
                return Err(Rejection::NotAnEmail);
            }
        }
        IdKind::OrgUserId => {
            if id.len() > MAX_ORG_USER_ID_LEN {
                return Err(Rejection::TooLong);
            }
        }
    }
    Ok(id.to_owned())
}

/// The identity under which two entries are the same user: emails compare
/// case-insensitively, org user ids exactly.
pub(crate) fn identity(kind: IdKind, id: &str) -> String {
    match kind {
        IdKind::Email => id.to_lowercase(),
        IdKind::OrgUserId => id.to_owned(),
    }
}

/// Remembers identities already seen.
struct Dedup {
    kind: IdKind,
    seen: HashSet<String>,
}

impl Dedup {
    fn new(kind: IdKind) -> Self {
        Self {
            kind,
            seen: HashSet::new(),
        }
    }

    /// True the first time an identity is seen.
    fn first(&mut self, id: &str) -> bool {
        self.seen.insert(identity(self.kind, id))
    }
}

/// The request body, exactly as documented: one key, a list of strings.
pub(crate) fn body(kind: IdKind, ids: &[String]) -> Vec<u8> {
    #[derive(Serialize)]
    struct Emails<'a> {
        #[serde(rename = "deleteEmailIds")]
        ids: &'a [String],
    }
    #[derive(Serialize)]
    struct OrgUserIds<'a> {
        #[serde(rename = "orgUserIds")]
        ids: &'a [String],
    }

    // Serialising a slice of strings cannot fail.
    let result = match kind {
        IdKind::Email => serde_json::to_vec(&Emails { ids }),
        IdKind::OrgUserId => serde_json::to_vec(&OrgUserIds { ids }),
    };
    result.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_checked() {
        let ok = |s| normalize(IdKind::Email, s);
        assert_eq!(ok("  john@example.com\t"), Ok("john@example.com".into()));
        assert_eq!(ok("a@b"), Ok("a@b".into()));
        assert_eq!(ok("   "), Err(Rejection::Blank));
        assert_eq!(ok("john.example.com"), Err(Rejection::NotAnEmail));
        assert_eq!(ok("@example.com"), Err(Rejection::NotAnEmail));
        assert_eq!(ok("john@"), Err(Rejection::NotAnEmail));
        assert_eq!(ok("john@.example.com"), Err(Rejection::NotAnEmail));
        assert_eq!(ok("john@example..com"), Err(Rejection::NotAnEmail));
        assert_eq!(ok("jo hn@example.com"), Err(Rejection::BadCharacter));
        assert_eq!(ok("john@exa\u{0}mple.com"), Err(Rejection::BadCharacter));
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(ok(&long), Err(Rejection::TooLong));
    }

    #[test]
    fn org_user_ids_are_trimmed_and_checked() {
        assert_eq!(normalize(IdKind::OrgUserId, " u-1 "), Ok("u-1".into()));
        assert_eq!(normalize(IdKind::OrgUserId, ""), Err(Rejection::Blank));
        assert_eq!(
            normalize(IdKind::OrgUserId, "u\n1"),
            Err(Rejection::BadCharacter)
        );
    }

    #[test]
    fn checked_drops_duplicates_case_insensitively_and_keeps_order() {
        let request = RemoveUsers::emails(["B@x.io", "a@x.io", "b@X.IO", " a@x.io "]);
        assert_eq!(request.checked(100).unwrap(), ["B@x.io", "a@x.io"]);

        let request = RemoveUsers::org_user_ids(["U-1", "u-1", "U-1"]);
        assert_eq!(request.checked(100).unwrap(), ["U-1", "u-1"]);
    }

    #[test]
    fn checked_names_every_bad_entry() {
        let request = RemoveUsers::emails(["ok@x.io", "", "nope", "ok@x.io"]);
        let err = request.checked(100).unwrap_err();
        assert_eq!(
            err.entries,
            [
                (1, String::new(), Rejection::Blank),
                (2, "nope".into(), Rejection::NotAnEmail)
            ]
        );
        let text = err.to_string();
        assert!(text.contains("#2 \"nope\""), "{text}");
    }

    #[test]
    fn checked_refuses_empty_and_oversized_lists() {
        let empty = RemoveUsers::emails(Vec::<String>::new());
        assert!(
            empty
                .checked(10)
                .unwrap_err()
                .problem
                .unwrap()
                .contains("empty")
        );

        let many = RemoveUsers::org_user_ids((0..11).map(|i| format!("u-{i}")));
        assert!(
            many.checked(10)
                .unwrap_err()
                .problem
                .unwrap()
                .contains("bulk_remove")
        );
    }

    #[test]
    fn body_has_exactly_one_documented_key() {
        let ids = vec!["a@x.io".to_owned()];
        assert_eq!(
            body(IdKind::Email, &ids),
            br#"{"deleteEmailIds":["a@x.io"]}"#
        );
        assert_eq!(
            body(IdKind::OrgUserId, &ids),
            br#"{"orgUserIds":["a@x.io"]}"#
        );
    }
}
