//! Email through SMTP (RFC 5321): STARTTLS or implicit TLS (rustls), AUTH,
//! one connection for a batch's share. Each email is multipart text + HTML
//! with a `Message-ID` derived from the message's id (`<id@sender-domain>`),
//! and, unless it is strictly transactional, `List-Unsubscribe` with an
//! HTTPS link and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
//! (RFC 8058); an email about a visit carries its iCalendar invitation
//! (`invite.ics`, `METHOD:REQUEST`, or `CANCEL` for a cancelled visit). With a DKIM key, each email is signed (RFC 6376,
//! relaxed/relaxed; RSA or Ed25519 per RFC 8463), the signature covering
//! the unsubscribe headers as RFC 8058 asks.
//!
//! How each answer is read, command by command:
//! - no connection, or a 4xx before the message is sent: retry (not taken);
//! - 550/551/553 at `RCPT`: the address is undeliverable; another 5xx: failed;
//! - after the message's final `.`: `250` is accepted; a 4xx, retry; a 5xx,
//!   failed; no answer at all (a timeout, a dropped connection): in doubt;
//! - emails go one after another: those not started by the batch's
//!   deadline are not attempted (planned again at once).
//!
//! An email's start is recorded after the server's `354` and before its
//! content, and its answer as soon as it comes: a session cut before the
//! final `.` delivers nothing, so a crash leaves in doubt at most the one
//! email between its final `.` and its recorded answer.
//! SMTP has no lookup: an email in doubt stays in doubt, reported to staff,
//! never resent blindly.

use std::time::{Duration, Instant};

use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm, DkimSigningKey,
};
use lettre::message::{Attachment, Mailbox, MultiPart, header};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::ClientId;
use rapport_domain::MessageClass;

use super::{BoxFuture, Found, Handoff, Outcome, Progress, Provider, Starts};
use crate::links::PatientLinks;
use rapport_secret::Secret;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain, upgraded by STARTTLS (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
    /// No TLS at all: a local relay or a test server only.
    None,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// `Riverbend Health <reminders@riverbend.example>`.
    pub from: String,
    pub timeout: Duration,
    /// A PEM file of CA certificates to trust besides the usual roots (a
    /// relay with a private CA).
    pub ca_file: Option<std::path::PathBuf>,
    /// DKIM signing, when a key is configured.
    pub dkim: Option<DkimSettings>,
}

/// The key type of a DKIM key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimAlgorithm {
    /// `rsa-sha256`: the key file is a PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`).
    Rsa,
    /// `ed25519-sha256` (RFC 8463): the key file holds the 32-byte seed in Base64.
    Ed25519,
}

/// Where a DKIM signature's key is published and kept.
#[derive(Debug, Clone, PartialEq)]
pub struct DkimSettings {
    /// `d=`: the signing domain (the sender's, or a parent of it).
    pub domain: String,
    /// `s=`: the selector (`{selector}._domainkey.{domain}` holds the public key).
    pub selector: String,
    pub algorithm: DkimAlgorithm,
    pub key_file: std::path::PathBuf,
}

/// The two signatures' settings: with and without the unsubscribe headers.
struct Dkim {
    plain: DkimConfig,
    listed: DkimConfig,
}

impl Dkim {
    fn load(settings: &DkimSettings) -> anyhow::Result<Self> {
        let path = settings.key_file.display();
        let text = std::fs::read_to_string(&settings.key_file)
            .map_err(|e| anyhow::anyhow!("[email] dkim_key_file {path}: {e}"))?;
        let algorithm = match settings.algorithm {
            DkimAlgorithm::Rsa => DkimSigningAlgorithm::Rsa,
            DkimAlgorithm::Ed25519 => DkimSigningAlgorithm::Ed25519,
        };
        let config = |extra: &[&'static str]| -> anyhow::Result<DkimConfig> {
            let key = DkimSigningKey::new(text.trim(), algorithm)
                .map_err(|_| anyhow::anyhow!("[email] dkim_key_file {path} is not a key of the dkim_algorithm"))?;
            // Content-Type is written after signing (with the multipart body): not signable here.
            let names = ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version"];
            let headers = names.iter().chain(extra).map(|n| header::HeaderName::new_from_ascii_str(n)).collect();
            let relaxed = DkimCanonicalization {
                header: DkimCanonicalizationType::Relaxed,
                body: DkimCanonicalizationType::Relaxed,
            };
            Ok(DkimConfig::new(settings.selector.clone(), settings.domain.clone(), key, headers, relaxed))
        };
        Ok(Self { plain: config(&[])?, listed: config(&["List-Unsubscribe", "List-Unsubscribe-Post"])? })
    }
}

pub struct SmtpEmail {
    settings: SmtpSettings,
    from: Mailbox,
    links: Option<PatientLinks>,
    /// How TLS is checked (the server's name, the roots to trust).
    tls: TlsParameters,
    dkim: Option<Dkim>,
}

/// Reply codes at `RCPT` that say the mailbox itself does not exist.
const NO_SUCH_MAILBOX: [&str; 3] = ["550", "551", "553"];

impl SmtpEmail {
    /// `links` makes the unsubscribe links (none without a public URL).
    pub fn new(settings: SmtpSettings, links: Option<PatientLinks>) -> anyhow::Result<Self> {
        crate::tls::install_crypto_provider();
        let from: Mailbox = settings.from.parse().map_err(|_| anyhow::anyhow!("[email] from is not a mailbox"))?;
        let mut tls = TlsParameters::builder(settings.host.clone());
        if let Some(path) = &settings.ca_file {
            let pem = std::fs::read(path).map_err(|e| anyhow::anyhow!("[email] ca_file {}: {e}", path.display()))?;
            let certificate = Certificate::from_pem(&pem)
                .map_err(|_| anyhow::anyhow!("[email] ca_file {} holds no PEM certificate", path.display()))?;
            tls = tls.add_root_certificate(certificate);
        }
        let tls = tls.build().map_err(|_| anyhow::anyhow!("[email] host is not a name TLS can check"))?;
        let dkim = settings.dkim.as_ref().map(Dkim::load).transpose()?;
        Ok(Self { settings, from, links, tls, dkim })
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, Outcome> {
        let s = &self.settings;
        let unreachable = |what: &str| Outcome::Retry { reason: format!("the mail server {what}"), after: None };
        let implicit = if s.security == SmtpSecurity::Tls { Some(self.tls.clone()) } else { None };
        let hello = ClientId::Domain(self.from.email.domain().to_owned());
        let mut connection =
            AsyncSmtpConnection::connect_tokio1((s.host.as_str(), s.port), Some(s.timeout), &hello, implicit, None)
                .await
                .map_err(|_| unreachable("could not be reached"))?;
        if s.security == SmtpSecurity::StartTls {
            connection.starttls(self.tls.clone(), &hello).await.map_err(|_| unreachable("refused STARTTLS"))?;
        }
        if let (Some(user), Some(password)) = (&s.username, &s.password) {
            let credentials = Credentials::new(user.clone(), password.expose().to_owned());
            connection
                .auth(&[Mechanism::Plain, Mechanism::Login], &credentials)
                .await
                .map_err(|_| unreachable("refused our credentials"))?;
        }
        Ok(connection)
    }

    /// The email for a hand-off, and its `Message-ID`.
    fn compose(&self, handoff: &Handoff) -> Result<(lettre::Message, String), Outcome> {
        let refused = |reason: &str| Outcome::Refused { reason: reason.into(), undeliverable: false };
        let to: Mailbox = handoff.to.parse().map_err(|_| Outcome::Refused {
            reason: "the address is not a valid email address".into(),
            undeliverable: true,
        })?;
        let message_id = format!("<{}@{}>", handoff.message_id, self.from.email.domain());
        let subject = handoff.subject.clone().unwrap_or_else(|| {
            self.from.name.clone().map_or_else(|| "A message for you".into(), |n| format!("A message from {n}"))
        });
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(message_id.clone()));
        let mut text = handoff.body.clone();
        let mut html = format!("<p>{}</p>", escape(&handoff.body).replace('\n', "<br>"));
        for url in &handoff.media {
            text.push_str(&format!("\n{url}"));
            html.push_str(&format!("<p><a href=\"{0}\">{0}</a></p>", escape(url)));
        }
        let listed = handoff.class != MessageClass::Transactional && self.links.is_some();
        if let (true, Some(links)) = (listed, &self.links) {
            let link = links.link(handoff.message_id);
            builder = builder
                .raw_header(raw_header("List-Unsubscribe", format!("<{link}>")))
                .raw_header(raw_header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()));
            text.push_str(&format!("\n\nTo stop these emails: {link}"));
            html.push_str(&format!("<p><a href=\"{}\">Stop these emails</a></p>", escape(&link)));
        }
        let words = MultiPart::alternative_plain_html(text, html);
        // A visit's invitation rides along as an attachment calendars read (RFC 6047).
        let body = match &handoff.calendar {
            Some((method, ics)) => {
                let kind = header::ContentType::parse(&format!("text/calendar; method={method}; charset=utf-8"))
                    .map_err(|_| refused("the invitation could not be built"))?;
                MultiPart::mixed()
                    .multipart(words)
                    .singlepart(Attachment::new("invite.ics".into()).body(ics.clone(), kind))
            }
            None => words,
        };
        let mut email = builder.multipart(body).map_err(|_| refused("the email could not be built"))?;
        if let Some(dkim) = &self.dkim {
            email.sign(if listed { &dkim.listed } else { &dkim.plain });
        }
        Ok((email, message_id))
    }

    /// Sends one email on an open connection, its start recorded by `starts`
    /// just before its content. `None`: the start could not be recorded and
    /// the session must be dropped (the server is waiting for content).
    async fn deliver<'h>(
        &self,
        connection: &mut AsyncSmtpConnection,
        handoff: &'h Handoff,
        progress: &mut Progress<'h>,
    ) -> Option<Outcome> {
        let (email, message_id) = match self.compose(handoff) {
            Ok(built) => built,
            Err(outcome) => return Some(outcome),
        };
        let envelope = email.envelope();
        let before = |error: lettre::transport::smtp::Error, at: &str| -> Outcome {
            let code = error.status().map(|c| c.to_string());
            match code {
                Some(code) if error.is_permanent() && at == "RCPT" && NO_SUCH_MAILBOX.contains(&code.as_str()) => {
                    Outcome::Refused { reason: format!("no such mailbox ({code})"), undeliverable: true }
                }
                Some(code) if error.is_permanent() => Outcome::Refused {
                    reason: format!("refused by the mail server at {at} ({code})"),
                    undeliverable: false,
                },
                Some(code) => {
                    Outcome::Retry { reason: format!("the mail server asked to retry ({code})"), after: None }
                }
                None => {
                    Outcome::Retry { reason: format!("the connection broke before the message ({at})"), after: None }
                }
            }
        };
        if let Err(error) = connection.command(Mail::new(envelope.from().cloned(), vec![])).await {
            return Some(before(error, "MAIL"));
        }
        for recipient in envelope.to() {
            if let Err(error) = connection.command(Rcpt::new(recipient.clone(), vec![])).await {
                return Some(before(error, "RCPT"));
            }
        }
        if let Err(error) = connection.command(Data).await {
            return Some(before(error, "DATA"));
        }
        progress.start(std::slice::from_ref(handoff)).await.ok()?;
        Some(match connection.message(&email.formatted()).await {
            Ok(_) => Outcome::Accepted { provider_ref: message_id.into() },
            Err(error) if error.is_permanent() => Outcome::Refused {
                reason: format!(
                    "refused by the mail server ({})",
                    error.status().map(|c| c.to_string()).unwrap_or_default()
                ),
                undeliverable: false,
            },
            Err(error) if error.is_transient() => {
                Outcome::Retry { reason: "the mail server asked to retry the message".into(), after: None }
            }
            Err(_) => Outcome::InDoubt { reason: "the mail server did not confirm the message".into() },
        })
    }

    async fn send_all(&self, handoffs: &[Handoff], deadline: Instant, starts: &dyn Starts) -> Vec<Outcome> {
        let mut progress = Progress::new(starts);
        let mut outcomes = Vec::with_capacity(handoffs.len());
        let mut connection: Option<AsyncSmtpConnection> = None;
        for handoff in handoffs {
            if Instant::now() >= deadline {
                outcomes.push(Outcome::NotAttempted);
                continue;
            }
            if connection.as_ref().is_none_or(AsyncSmtpConnection::has_broken) {
                connection = match self.connect().await {
                    Ok(c) => Some(c),
                    Err(outcome) => {
                        outcomes.push(outcome);
                        continue;
                    }
                };
            }
            let Some(open) = connection.as_mut() else { continue };
            let Some(outcome) = self.deliver(open, handoff, &mut progress).await else {
                // Dropped before the final dot: the server discards the email.
                connection = None;
                let reason = "the email's start could not be recorded".into();
                outcomes.push(Outcome::Retry { reason, after: None });
                continue;
            };
            if !matches!(outcome, Outcome::Accepted { .. }) && open.command(Rset).await.is_err() {
                connection = None;
            }
            progress.answered(handoff, &outcome);
            // Its answer recorded at once: a crash after the 250 leaves nothing in doubt.
            let _ = progress.start(&[]).await;
            outcomes.push(outcome);
        }
        if let Some(mut open) = connection {
            let _ = open.quit().await;
        }
        outcomes
    }
}

/// A header lettre has no type for, by name and value.
fn raw_header(name: &'static str, value: String) -> header::HeaderValue {
    header::HeaderValue::new(header::HeaderName::new_from_ascii_str(name), value)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

impl Provider for SmtpEmail {
    fn name(&self) -> &'static str {
        "smtp"
    }

    /// One email alone, always attempted, its start recorded nowhere (a
    /// test email from the console).
    fn send<'a>(&'a self, handoff: &'a Handoff) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let deadline = Instant::now() + self.settings.timeout;
            self.send_all(std::slice::from_ref(handoff), deadline, &super::NoRecord)
                .await
                .pop()
                .unwrap_or(Outcome::InDoubt { reason: "no outcome".into() })
        })
    }

    fn send_many<'a>(
        &'a self,
        handoffs: &'a [Handoff],
        deadline: Instant,
        starts: &'a dyn Starts,
    ) -> BoxFuture<'a, Vec<Outcome>> {
        Box::pin(self.send_all(handoffs, deadline, starts))
    }

    fn lookup<'a>(&'a self, _handoff: &'a Handoff) -> BoxFuture<'a, Found> {
        Box::pin(async { Found::Unknowable })
    }
}
