//! Who may do what: the built-in roles and the capabilities each one holds.
//! This table is the documented policy; the HTTP layer enforces it, and the
//! authorization matrix test checks every route against it.

use std::fmt;
use std::str::FromStr;

/// One thing a caller may be allowed to do. Its text form (`patients:read`)
/// is also an API token's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// Read the organization, its locations and providers.
    OrganizationRead,
    /// Change the organization, its locations and providers.
    OrganizationWrite,
    /// Open and search patient records (demographics, contacts, conditions).
    PatientRead,
    /// Register, change and delete patients.
    PatientWrite,
    /// Read a patient's consent ledger.
    ConsentRead,
    /// Record a consent or a revocation.
    ConsentWrite,
    /// Read appointments.
    AppointmentRead,
    /// Book, change and cancel appointments.
    AppointmentWrite,
    /// Read messages sent or planned to patients, with their decision trace.
    MessageRead,
    /// Plan and cancel messages to patients; mark one in doubt as sent.
    MessageWrite,
    /// Send a message in doubt again, knowing the patient may get it twice.
    MessageResend,
    /// Write the organization's message templates.
    TemplateWrite,
    /// Export all of one patient's data (the right of access).
    PatientExport,
    /// Query and export the audit trail.
    AuditRead,
    /// Manage staff accounts, roles, API tokens and security settings.
    StaffManage,
}

impl Capability {
    pub const ALL: [Capability; 15] = [
        Capability::OrganizationRead,
        Capability::OrganizationWrite,
        Capability::PatientRead,
        Capability::PatientWrite,
        Capability::ConsentRead,
        Capability::ConsentWrite,
        Capability::AppointmentRead,
        Capability::AppointmentWrite,
        Capability::MessageRead,
        Capability::MessageWrite,
        Capability::MessageResend,
        Capability::TemplateWrite,
        Capability::PatientExport,
        Capability::AuditRead,
        Capability::StaffManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::OrganizationRead => "organization:read",
            Capability::OrganizationWrite => "organization:write",
            Capability::PatientRead => "patients:read",
            Capability::PatientWrite => "patients:write",
            Capability::ConsentRead => "consents:read",
            Capability::ConsentWrite => "consents:write",
            Capability::AppointmentRead => "appointments:read",
            Capability::AppointmentWrite => "appointments:write",
            Capability::MessageRead => "messages:read",
            Capability::MessageWrite => "messages:write",
            Capability::MessageResend => "messages:resend",
            Capability::TemplateWrite => "templates:write",
            Capability::PatientExport => "patients:export",
            Capability::AuditRead => "audit:read",
            Capability::StaffManage => "staff:manage",
        }
    }

    /// Reads of patient data that a staff member outside the role may still
    /// perform in an emergency, by giving a reason ("break glass").
    pub fn allows_break_glass(self) -> bool {
        matches!(self, Capability::PatientRead | Capability::ConsentRead | Capability::AppointmentRead)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text names no capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a known capability")]
pub struct UnknownCapability;

impl FromStr for Capability {
    type Err = UnknownCapability;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL.into_iter().find(|c| c.as_str() == s).ok_or(UnknownCapability)
    }
}

/// A built-in role. Staff users hold one; API tokens act as `Integration`
/// with the scopes they were given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Administrator,
    FrontDesk,
    Clinician,
    Marketer,
    Auditor,
    Integration,
}

impl Role {
    pub const ALL: [Role; 6] =
        [Role::Administrator, Role::FrontDesk, Role::Clinician, Role::Marketer, Role::Auditor, Role::Integration];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrator => "administrator",
            Role::FrontDesk => "front_desk",
            Role::Clinician => "clinician",
            Role::Marketer => "marketer",
            Role::Auditor => "auditor",
            Role::Integration => "integration",
        }
    }

    /// The capabilities the role holds: the minimum its work needs.
    pub fn capabilities(self) -> &'static [Capability] {
        use Capability::*;
        match self {
            Role::Administrator => &Capability::ALL,
            Role::FrontDesk => &[
                OrganizationRead,
                PatientRead,
                PatientWrite,
                ConsentRead,
                ConsentWrite,
                AppointmentRead,
                AppointmentWrite,
                MessageRead,
                MessageWrite,
            ],
            Role::Clinician => {
                &[OrganizationRead, PatientRead, ConsentRead, AppointmentRead, MessageRead, MessageWrite]
            }
            // Segments, campaigns and aggregate results arrive with their issues;
            // a marketer writes the words but never opens a record without
            // breaking the glass.
            Role::Marketer => &[OrganizationRead, TemplateWrite],
            Role::Auditor => &[OrganizationRead, AuditRead],
            Role::Integration => &[
                OrganizationRead,
                OrganizationWrite,
                PatientRead,
                PatientWrite,
                ConsentRead,
                ConsentWrite,
                AppointmentRead,
                AppointmentWrite,
                // An EHR asks Rapport to send (FHIR CommunicationRequest)
                // and reads what was said (Communication).
                MessageRead,
                MessageWrite,
            ],
        }
    }

    pub fn has(self, capability: Capability) -> bool {
        self.capabilities().contains(&capability)
    }

    /// Staff accounts may hold every role but `Integration`, which is for
    /// API tokens only.
    pub fn is_for_people(self) -> bool {
        self != Role::Integration
    }

    /// Roles that must sign in with a second factor whatever the
    /// organization's setting.
    pub fn requires_mfa(self) -> bool {
        self == Role::Administrator
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text names no role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a known role (administrator, front_desk, clinician, marketer, auditor, integration)")]
pub struct UnknownRole;

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL.into_iter().find(|r| r.as_str() == s).ok_or(UnknownRole)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        for capability in Capability::ALL {
            assert_eq!(capability.as_str().parse::<Capability>(), Ok(capability));
        }
        assert_eq!("root".parse::<Role>(), Err(UnknownRole));
        assert_eq!("patients:delete".parse::<Capability>(), Err(UnknownCapability));
    }

    #[test]
    fn least_privilege_examples_from_the_policy() {
        assert!(!Role::FrontDesk.has(Capability::AuditRead), "the front desk does not see the audit trail");
        assert!(Role::FrontDesk.has(Capability::AppointmentWrite));
        assert!(!Role::Marketer.has(Capability::PatientRead), "a marketer does not open records");
        assert!(!Role::Clinician.has(Capability::PatientWrite));
        assert!(Role::Auditor.has(Capability::AuditRead) && !Role::Auditor.has(Capability::PatientRead));
        assert!(!Role::Integration.has(Capability::StaffManage) && !Role::Integration.has(Capability::AuditRead));
        assert!(!Role::Integration.is_for_people() && Role::Clinician.is_for_people());
    }

    #[test]
    fn only_reads_of_patient_data_can_break_the_glass() {
        let eligible: Vec<_> = Capability::ALL.into_iter().filter(|c| c.allows_break_glass()).collect();
        assert_eq!(eligible, [Capability::PatientRead, Capability::ConsentRead, Capability::AppointmentRead]);
    }
}
