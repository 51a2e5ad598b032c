//! Typed ids. Every id is a UUIDv7 (time-ordered, index-friendly on both
//! databases); a bare `Uuid` never crosses a layer, and a `PatientId` cannot be
//! passed where an `AppointmentId` is expected.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;

use uuid::Uuid;

/// An id of one kind of record; `K` is a marker type naming the kind.
pub struct Id<K> {
    uuid: Uuid,
    kind: PhantomData<fn() -> K>,
}

/// Marker types for [`Id`].
pub mod kind {
    #[derive(Debug)]
    pub enum Organization {}
    #[derive(Debug)]
    pub enum Location {}
    #[derive(Debug)]
    pub enum Provider {}
    #[derive(Debug)]
    pub enum Patient {}
    #[derive(Debug)]
    pub enum Appointment {}
    #[derive(Debug)]
    pub enum Consent {}
    #[derive(Debug)]
    pub enum StaffUser {}
    #[derive(Debug)]
    pub enum Session {}
    #[derive(Debug)]
    pub enum ApiToken {}
    #[derive(Debug)]
    pub enum AuditEvent {}
    #[derive(Debug)]
    pub enum Job {}
    #[derive(Debug)]
    pub enum Message {}
    #[derive(Debug)]
    pub enum Template {}
    #[derive(Debug)]
    pub enum PushSubscription {}
    #[derive(Debug)]
    pub enum ReminderRule {}
    #[derive(Debug)]
    pub enum InboundText {}
    #[derive(Debug)]
    pub enum VisitAnswer {}
    #[derive(Debug)]
    pub enum StaffTask {}
    #[derive(Debug)]
    pub enum RecallRule {}
    #[derive(Debug)]
    pub enum WaitlistEntry {}
    #[derive(Debug)]
    pub enum SlotOffer {}
    pub enum Hl7Message {}
    #[derive(Debug)]
    pub enum Conversation {}
    #[derive(Debug)]
    pub enum ConversationNote {}
    #[derive(Debug)]
    pub enum CannedReply {}
    #[derive(Debug)]
    pub enum Team {}
    #[derive(Debug)]
    pub enum Schedule {}
}

pub type OrganizationId = Id<kind::Organization>;
pub type LocationId = Id<kind::Location>;
pub type ProviderId = Id<kind::Provider>;
pub type PatientId = Id<kind::Patient>;
pub type AppointmentId = Id<kind::Appointment>;
pub type ConsentId = Id<kind::Consent>;
pub type StaffUserId = Id<kind::StaffUser>;
pub type SessionId = Id<kind::Session>;
pub type ApiTokenId = Id<kind::ApiToken>;
pub type AuditEventId = Id<kind::AuditEvent>;
pub type JobId = Id<kind::Job>;
pub type MessageId = Id<kind::Message>;
pub type TemplateId = Id<kind::Template>;
pub type PushSubscriptionId = Id<kind::PushSubscription>;
pub type ReminderRuleId = Id<kind::ReminderRule>;
pub type InboundTextId = Id<kind::InboundText>;
pub type VisitAnswerId = Id<kind::VisitAnswer>;
pub type StaffTaskId = Id<kind::StaffTask>;
pub type RecallRuleId = Id<kind::RecallRule>;
pub type WaitlistEntryId = Id<kind::WaitlistEntry>;
pub type SlotOfferId = Id<kind::SlotOffer>;
/// An HL7 v2 message kept in the integration log.
pub type Hl7MessageId = Id<kind::Hl7Message>;
pub type ConversationId = Id<kind::Conversation>;
pub type ConversationNoteId = Id<kind::ConversationNote>;
pub type CannedReplyId = Id<kind::CannedReply>;
pub type TeamId = Id<kind::Team>;
pub type ScheduleId = Id<kind::Schedule>;

impl<K> Id<K> {
    /// A new, time-ordered id.
    pub fn generate() -> Self {
        Self::from_uuid(Uuid::now_v7())
    }

    pub fn from_uuid(uuid: Uuid) -> Self {
        Self { uuid, kind: PhantomData }
    }

    pub fn as_uuid(&self) -> Uuid {
        self.uuid
    }
}

impl<K> Clone for Id<K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<K> Copy for Id<K> {}
impl<K> PartialEq for Id<K> {
    fn eq(&self, other: &Self) -> bool {
        self.uuid == other.uuid
    }
}
impl<K> Eq for Id<K> {}
impl<K> PartialOrd for Id<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<K> Ord for Id<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.uuid.cmp(&other.uuid)
    }
}
impl<K> Hash for Id<K> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.uuid.hash(state);
    }
}
impl<K> fmt::Debug for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.uuid.hyphenated())
    }
}
impl<K> fmt::Display for Id<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.uuid.hyphenated().fmt(f)
    }
}
impl<K> FromStr for Id<K> {
    type Err = InvalidId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self::from_uuid).map_err(|_| InvalidId)
    }
}

/// The text is not a UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id (a UUID is expected)")]
pub struct InvalidId;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let id = PatientId::generate();
        assert_eq!(id.to_string().parse::<PatientId>(), Ok(id));
        assert_eq!("not-a-uuid".parse::<PatientId>(), Err(InvalidId));
    }

    #[test]
    fn ids_are_time_ordered() {
        let a = AppointmentId::generate();
        let b = AppointmentId::generate();
        assert!(a < b);
    }
}
