//! Rapport's domain: the types every other part speaks. Values here can only
//! hold valid data (a `PhoneE164` is always E.164), so code past the edge never
//! re-checks them. No I/O, no async, no wire formats.

pub mod access;
pub mod answer;
pub mod appointment;
pub mod audit;
pub mod calendar;
pub mod consent;
pub mod contact;
#[cfg(test)]
mod fixtures;
pub mod ids;
pub mod keywords;
pub mod message;
pub mod organization;
pub mod patient;
pub mod recall;
pub mod reminder;
pub mod schedule;
pub mod staff;
pub mod validation;
pub mod value;
pub mod waitlist;

pub use access::{Capability, Role};
pub use answer::{Answer, ReplyWords};
pub use appointment::{Appointment, AppointmentDetails, AppointmentStatus};
pub use audit::{ActorKind, AuditEvent, NewAuditEvent, Outcome};
pub use consent::{Channel, Consent, ConsentStatus, Purpose};
pub use contact::{Email, PhoneE164, PhoneKind};
pub use ids::{
    ApiTokenId, AppointmentId, AuditEventId, CannedReplyId, ConsentId, ConversationId, ConversationNoteId,
    Hl7MessageId, InboundTextId, JobId, LocationId, MessageId, OrganizationId, PatientId, ProviderId,
    PushSubscriptionId, RecallRuleId, ReminderRuleId, ScheduleId, SessionId, SlotOfferId, StaffTaskId, StaffUserId,
    TeamId, TemplateId, VisitAnswerId, WaitlistEntryId,
};
pub use message::{Message, MessageClass, MessagePlan, MessageState, ProviderRef};
pub use organization::{Location, OpeningHours, Organization, Provider};
pub use patient::{
    Address, Caregiver, ExternalId, Patient, PatientDetails, PatientEmail, PatientPhone, QuietHours, Sex,
};
pub use schedule::{Schedule, ScheduleDetails, Slot};
pub use staff::{ApiToken, SessionInfo, StaffUser};
pub use validation::{FieldError, ValidationErrors};
pub use value::{BirthDate, Icd10Code, LanguageTag, Npi, TimeZoneName, UsState};
