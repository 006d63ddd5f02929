//! What a removal did, user by user, and the wire types behind it.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Deserializer, Serialize};

use crate::Error;
use crate::error::{ErrorDetail, lenient_i64, lenient_string};
use crate::request::{IdKind, identity};

/// The body of an answer to `DELETE /api/public/users`, decoded leniently:
/// every field may be missing, unknown fields are ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RemoveUsersResponse {
    /// `"Users are removed Successfully"` on success.
    #[serde(default, deserialize_with = "lenient_string")]
    pub msg: Option<String>,
    /// The users that were not removed.
    #[serde(default, deserialize_with = "lenient_list")]
    pub failed_user_details: Option<Vec<FailedUser>>,
    /// Newer platform versions: whether more results are available.
    #[serde(default)]
    pub more_available: Option<bool>,
    /// Newer platform versions: a total count.
    #[serde(default)]
    pub total: Option<serde_json::Number>,
    /// The error envelope, when the body carries one.
    #[serde(default, deserialize_with = "lenient_list")]
    pub errors: Option<Vec<ErrorDetail>>,
}

/// A user Kore.ai did not remove: one entry of `failedUserDetails`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FailedUser {
    /// The email address, when the server names it.
    #[serde(default, deserialize_with = "lenient_string")]
    pub email_id: Option<String>,
    /// The org user id, when the server names it.
    #[serde(default, deserialize_with = "lenient_string")]
    pub org_user_id: Option<String>,
    /// Why, as Kore.ai tells it.
    #[serde(default, deserialize_with = "lenient_reason")]
    pub reason: Option<FailureReason>,
}

impl FailedUser {
    /// The identifier that names this user in a request of `kind`: the
    /// email address, or for org user ids the org user id, else the email
    /// address (Kore.ai does not document which it sends).
    pub(crate) fn named(&self, kind: IdKind) -> Option<&str> {
        match kind {
            IdKind::Email => self.email_id.as_deref(),
            IdKind::OrgUserId => self.org_user_id.as_deref().or(self.email_id.as_deref()),
        }
    }

    /// The identifier the server named: the email address, else the org
    /// user id.
    pub fn id(&self) -> Option<&str> {
        self.email_id.as_deref().or(self.org_user_id.as_deref())
    }

    /// The most telling message of the reason, if any.
    pub fn message(&self) -> Option<&str> {
        let reason = self.reason.as_ref()?;
        reason
            .errors
            .iter()
            .find_map(|e| e.msg.as_deref())
            .or(reason.message.as_deref())
    }

    /// Whether the reason says the user does not exist (or no longer does).
    pub fn is_not_found(&self) -> bool {
        let mut texts = self.reason.iter().flat_map(|r| {
            r.errors
                .iter()
                .filter_map(|e| e.msg.as_deref())
                .chain(r.message.as_deref())
        });
        texts.any(|text| {
            let text = text.to_ascii_lowercase();
            [
                "not found",
                "does not exist",
                "doesn't exist",
                "not exist",
                "no such user",
            ]
            .iter()
            .any(|needle| text.contains(needle))
        }) || self
            .reason
            .as_ref()
            .is_some_and(|r| r.status_code == Some(404))
    }
}

/// The `reason` of a failed user, field by field as documented.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FailureReason {
    /// An HTTP-like status, 400 in the samples.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub status_code: Option<i64>,
    /// The same status again, as the samples show it.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub status: Option<i64>,
    /// A Kore.ai code.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub custom_code: Option<i64>,
    /// The error envelope.
    #[serde(default, deserialize_with = "lenient_errors")]
    pub errors: Vec<ErrorDetail>,
    /// A message.
    #[serde(default, deserialize_with = "lenient_string")]
    pub message: Option<String>,
    /// An error name such as `"BadRequest"`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub name: Option<String>,
}

fn lenient_list<'de, D, T>(d: D) -> Result<Option<Vec<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = serde_json::Value::deserialize(d)?;
    Ok(match value {
        serde_json::Value::Array(items) => Some(
            items
                .into_iter()
                .filter_map(|item| serde_json::from_value(item).ok())
                .collect(),
        ),
        _ => None,
    })
}

fn lenient_errors<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ErrorDetail>, D::Error> {
    Ok(lenient_list(d)?.unwrap_or_default())
}

/// A reason object, or a bare string taken as its message.
fn lenient_reason<'de, D: Deserializer<'de>>(d: D) -> Result<Option<FailureReason>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(match value {
        serde_json::Value::String(message) => Some(FailureReason {
            message: Some(message),
            ..FailureReason::default()
        }),
        value @ serde_json::Value::Object(_) => serde_json::from_value(value).ok(),
        _ => None,
    })
}

/// What one removal request did, user by user.
///
/// Every identifier sent is in exactly one of [`removed`](Self::removed),
/// [`failed`](Self::failed) (by the server's naming) or
/// [`unconfirmed`](Self::unconfirmed).
#[derive(Debug, Clone, PartialEq)]
#[must_use = "a report may list users that were not removed"]
pub struct RemoveReport {
    kind: IdKind,
    status: u16,
    removed: Vec<String>,
    failed: Vec<FailedUser>,
    /// The identity of each identifier sent that failed, and its entry in
    /// `failed`.
    failed_by_id: HashMap<String, usize>,
    unconfirmed: Vec<String>,
    message: Option<String>,
    more_available: Option<bool>,
}

impl RemoveReport {
    /// Matches the server's answer against the identifiers sent.
    ///
    /// Identifiers the server reported as failed are failed; the others are
    /// removed, unless a failure could not be matched to any identifier sent
    /// (for example an org user id request answered with email addresses
    /// only), in which case the unmatched ones are unconfirmed rather than
    /// guessed.
    pub(crate) fn new(
        kind: IdKind,
        sent: &[String],
        status: u16,
        body: RemoveUsersResponse,
    ) -> Self {
        let failed = body.failed_user_details.unwrap_or_default();
        let identities: Vec<String> = sent.iter().map(|id| identity(kind, id)).collect();
        let sent_identities: HashSet<&str> = identities.iter().map(String::as_str).collect();

        let mut failed_by_id = HashMap::new();
        let mut all_matched = true;
        for (index, user) in failed.iter().enumerate() {
            let found = user
                .named(kind)
                .map(|id| identity(kind, id.trim()))
                .filter(|id| sent_identities.contains(id.as_str()));
            match found {
                Some(id) => {
                    failed_by_id.entry(id).or_insert(index);
                }
                None => all_matched = false,
            }
        }

        let (mut removed, mut unconfirmed) = (Vec::new(), Vec::new());
        for (id, key) in sent.iter().zip(&identities) {
            if failed_by_id.contains_key(key) {
                continue;
            }
            if all_matched {
                removed.push(id.clone());
            } else {
                unconfirmed.push(id.clone());
            }
        }

        Self {
            kind,
            status,
            removed,
            failed,
            failed_by_id,
            unconfirmed,
            message: body.msg,
            more_available: body.more_available,
        }
    }

    /// The kind of identifier of the request.
    pub fn kind(&self) -> IdKind {
        self.kind
    }

    /// The HTTP status of the answer.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The identifiers the server did not report as failed.
    pub fn removed(&self) -> &[String] {
        &self.removed
    }

    /// The users the server reported as not removed, with its reasons.
    pub fn failed(&self) -> &[FailedUser] {
        &self.failed
    }

    /// The server's failure report for one identifier sent, if it failed
    /// (emails compare case-insensitively).
    pub fn failure_for(&self, id: &str) -> Option<&FailedUser> {
        let index = self.failed_by_id.get(&identity(self.kind, id.trim()))?;
        self.failed.get(*index)
    }

    /// Identifiers whose fate the answer leaves open: the server reported
    /// failures that name none of the identifiers sent, so it cannot be told
    /// which of these were removed. Usually empty.
    pub fn unconfirmed(&self) -> &[String] {
        &self.unconfirmed
    }

    /// The server's `msg`, e.g. `"Users are removed Successfully"`.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The `moreAvailable` flag of newer platform versions, if sent.
    pub fn more_available(&self) -> Option<bool> {
        self.more_available
    }

    /// Whether every identifier sent was removed.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty() && self.unconfirmed.is_empty()
    }

    /// The report if complete, else [`Error::Incomplete`] holding it: for
    /// callers that treat any user left behind as an error.
    ///
    /// # Errors
    ///
    /// [`Error::Incomplete`] when a user failed or is unconfirmed.
    pub fn into_result(self) -> Result<Self, Error> {
        if self.is_complete() {
            Ok(self)
        } else {
            Err(Error::Incomplete(Box::new(self)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUCCESS: &str = r#"{"msg": "Users are removed Successfully"}"#;

    const FAILURE_OLD: &str = r#"{"failedUserDetails": [{"emailId": "a@x.io", "reason": {
        "statusCode": 400, "status": 400, "customCode": 400,
        "errors": [{"msg": "User not found", "code": 400}],
        "message": "User not found", "name": "BadRequest", "_headers": {}}}]}"#;

    const SUCCESS_NEW: &str =
        r#"{"msg": "Users are removed Successfully", "moreAvailable": false, "total": 2}"#;

    fn decode(body: &str) -> RemoveUsersResponse {
        serde_json::from_str(body).unwrap()
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn documented_success_is_a_complete_report() {
        let sent = ids(&["a@x.io", "b@x.io"]);
        let report = RemoveReport::new(IdKind::Email, &sent, 200, decode(SUCCESS));
        assert!(report.is_complete());
        assert_eq!(report.removed(), sent);
        assert_eq!(report.message(), Some("Users are removed Successfully"));
    }

    #[test]
    fn newer_success_fields_are_read() {
        let body = decode(SUCCESS_NEW);
        assert_eq!(body.more_available, Some(false));
        assert_eq!(body.total.unwrap().as_u64(), Some(2));
    }

    #[test]
    fn documented_failure_decodes_field_by_field() {
        let sent = ids(&["A@x.io", "b@x.io"]);
        let report = RemoveReport::new(IdKind::Email, &sent, 200, decode(FAILURE_OLD));
        assert!(!report.is_complete());
        assert_eq!(report.removed(), ["b@x.io"]);
        assert_eq!(report.failure_for("A@x.io"), report.failed().first());
        assert!(report.failure_for("b@x.io").is_none());

        let failed = &report.failed()[0];
        assert_eq!(failed.id(), Some("a@x.io"));
        let reason = failed.reason.as_ref().unwrap();
        assert_eq!(
            (reason.status_code, reason.status, reason.custom_code),
            (Some(400), Some(400), Some(400))
        );
        assert_eq!(reason.errors[0].msg.as_deref(), Some("User not found"));
        assert_eq!(reason.name.as_deref(), Some("BadRequest"));
        assert!(failed.is_not_found());
        assert!(matches!(report.into_result(), Err(Error::Incomplete(_))));
    }

    #[test]
    fn missing_and_odd_fields_are_tolerated() {
        let body = decode(
            r#"{"failedUserDetails": [{}, {"orgUserId": "u-1", "reason": "gone"},
                {"emailId": 5, "reason": {"errors": "x", "statusCode": "400"}}, 7],
                "unknown": {"deep": [1]}}"#,
        );
        let failed = body.failed_user_details.unwrap();
        assert_eq!(failed.len(), 3);
        assert_eq!(failed[1].message(), Some("gone"));
        assert_eq!(failed[2].email_id.as_deref(), Some("5"));
        assert_eq!(failed[2].reason.as_ref().unwrap().status_code, Some(400));
        assert!(decode("{}").failed_user_details.is_none());
    }

    #[test]
    fn org_user_id_failures_match_either_key() {
        let sent = ids(&["u-1", "u-2", "u-3"]);
        let body = decode(r#"{"failedUserDetails": [{"orgUserId": "u-1"}, {"emailId": "u-2"}]}"#);
        let report = RemoveReport::new(IdKind::OrgUserId, &sent, 200, body);
        assert_eq!(report.removed(), ["u-3"]);
        assert!(report.unconfirmed().is_empty());
    }

    #[test]
    fn unmatched_failures_leave_the_rest_unconfirmed() {
        let sent = ids(&["u-1", "u-2"]);
        let body = decode(r#"{"failedUserDetails": [{"emailId": "someone@x.io"}]}"#);
        let report = RemoveReport::new(IdKind::OrgUserId, &sent, 200, body);
        assert!(report.removed().is_empty());
        assert_eq!(report.unconfirmed(), sent);
        assert!(!report.is_complete());
    }
}
