//! One typed configuration. Layers, each overriding the one before:
//! defaults < TOML file (`--config`) < `RAPPORT_*` environment < flags.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rapport_domain::message::pace::RateLimit;
pub use rapport_secret::Secret;
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where the HTTP server listens.
    pub listen: SocketAddr,
    /// Holds the SQLite database (`rapport.db`) when no database URL is set.
    pub data_dir: PathBuf,
    /// `postgres://…` to use PostgreSQL, or `sqlite://PATH`. Secret: it may hold a password.
    pub database_url: Option<Secret>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Database connections per process.
    pub max_connections: u32,
    /// Log filter (`info`, `rapport=debug` …).
    pub log: String,
    /// Minutes without activity after which a staff session ends.
    pub session_idle_minutes: u32,
    /// Hours after sign-in at which a staff session ends, active or not.
    pub session_absolute_hours: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the real client.
    pub trusted_proxies: Vec<IpAddr>,
    /// Write password-reset links to the log: development only, until the
    /// outbound email channel sends them.
    pub log_password_reset_links: bool,
    /// The passphrase of `rapport backup` and `restore` (at least 16 characters).
    pub backup_key: Option<Secret>,
    /// PEM certificate chain: with `tls_key_file`, Rapport serves HTTPS itself.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of `tls_cert_file`.
    pub tls_key_file: Option<PathBuf>,
    /// Requests a minute per client address (0: no limit).
    pub requests_per_minute: u32,
    /// SQLCipher key of the SQLite database (a build with `--features sqlcipher`).
    pub database_key: Option<Secret>,
    /// Audit events are kept this many days; `rapport audit prune` removes older ones.
    pub audit_retention_days: u32,
    /// Rapport's address as providers and patients reach it
    /// (`https://rapport.example.org`): status callbacks, webhooks, links.
    pub public_url: Option<String>,
    /// Who carries text messages.
    pub sms: SmsProvider,
    /// Rapport answers STOP, START and HELP itself (one confirmation, the
    /// practice's name and phone) in the webhook's TwiML. Leave off while
    /// the provider answers them (Twilio's default opt-out handling on long
    /// codes does), or the patient gets two.
    pub sms_answer_keywords: bool,
    /// When no location is open, a text that opens a conversation is
    /// answered (in the webhook's TwiML) that the practice is closed, once
    /// per conversation per closed stretch.
    pub sms_after_hours_reply: bool,
    /// MMS media are fetched from the provider (with the `[sms]` account's
    /// credentials) and kept, so staff see them after the provider's copy is
    /// gone. Needs `[sms] provider = "twilio"`.
    pub sms_fetch_media: bool,
    /// Who carries email.
    pub email: EmailProvider,
    /// How the message dispatcher takes its work.
    pub dispatcher: DispatcherSettings,
    /// Who carries web push.
    pub push: PushProvider,
    /// Who places voice calls.
    pub voice: VoiceProvider,
    /// The SMS sender's limit (`[sms] rate_per_second`, `burst`, `daily_cap`); none by default.
    pub sms_limit: Option<RateLimit>,
    /// The email sender's limit (`[email] rate_per_second`, `burst`, `daily_cap`); none by default.
    pub email_limit: Option<RateLimit>,
    /// `GET /metrics`: served unless `[metrics] enabled = false`.
    pub metrics_enabled: bool,
    /// `[metrics] token`: the bearer token `/metrics` asks for; without
    /// one, only a direct loopback client may read it.
    pub metrics_token: Option<Secret>,
}

/// The `[metrics]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsLayer {
    enabled: Option<bool>,
    token: Option<Secret>,
    token_file: Option<PathBuf>,
}

/// A sender's limit from its table's `rate_per_second`, `burst` and `daily_cap`.
fn limit_of(
    table: &str,
    rate: Option<f64>,
    burst: Option<u32>,
    daily: Option<u64>,
) -> anyhow::Result<Option<RateLimit>> {
    match (rate, burst, daily) {
        (None, None, None) => Ok(None),
        (None, _, _) => bail!("[{table}] burst and daily_cap need rate_per_second"),
        (Some(rate), burst, daily) => {
            RateLimit::new(rate, burst, daily).map(Some).map_err(|e| anyhow::anyhow!("[{table}] {e}"))
        }
    }
}

/// The `[dispatcher]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatcherSettings {
    /// Jobs leased at a time.
    pub batch: usize,
    /// A lease's length: a dispatcher that dies loses its jobs to another
    /// after this long. Must be longer than a provider's timeout.
    pub lease_seconds: u64,
    /// After an in-doubt outcome, how long to wait (for a status report)
    /// before asking the provider.
    pub reconcile_seconds: u64,
    /// The wait after a first failed attempt; it doubles with each failure, up to an hour.
    pub retry_base_seconds: u64,
    /// How long a done job is kept before it is pruned.
    pub keep_done_jobs_days: u64,
}

impl Default for DispatcherSettings {
    fn default() -> Self {
        Self { batch: 50, lease_seconds: 120, reconcile_seconds: 60, retry_base_seconds: 30, keep_done_jobs_days: 7 }
    }
}

/// The SMS provider.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum SmsProvider {
    /// The log channel's outbox (the demo, development).
    #[default]
    Log,
    /// A Twilio-compatible REST API.
    Twilio(crate::channels::twilio::TwilioSettings),
}

/// The email provider.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum EmailProvider {
    /// The log channel's outbox.
    #[default]
    Log,
    Smtp(Box<crate::channels::smtp::SmtpSettings>),
}

/// The voice provider.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum VoiceProvider {
    /// The log channel's outbox.
    #[default]
    Log,
    /// Calls through the `[sms]` Twilio-compatible account.
    Twilio(crate::channels::twilio::TwilioSettings),
}

/// The `[voice]` table of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct VoiceLayer {
    /// `log` or `twilio`.
    provider: Option<String>,
    /// The caller id (E.164); default: the `[sms]` sender number.
    from: Option<String>,
}

impl VoiceLayer {
    fn into_provider(self, sms: &SmsProvider) -> anyhow::Result<VoiceProvider> {
        match self.provider.as_deref().unwrap_or("log") {
            "log" => Ok(VoiceProvider::Log),
            "twilio" => {
                let SmsProvider::Twilio(account) = sms else {
                    bail!("[voice] provider twilio calls through the [sms] Twilio account: set [sms] provider twilio");
                };
                if account.callback_base.is_none() {
                    bail!("[voice] provider twilio needs public_url: Twilio fetches each call's words from it");
                }
                let from = self.from.or_else(|| account.from.clone());
                if from.is_none() {
                    bail!("[voice] provider twilio needs from (a number): a messaging service cannot call");
                }
                Ok(VoiceProvider::Twilio(crate::channels::twilio::TwilioSettings {
                    from,
                    messaging_service_sid: None,
                    ..account.clone()
                }))
            }
            other => bail!("[voice] provider must be log or twilio, not {other:?}"),
        }
    }
}

/// The web push provider.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum PushProvider {
    /// The log channel's outbox.
    #[default]
    Log,
    /// Web push to the subscriptions' push services, signed with this deployment's VAPID key.
    WebPush(crate::channels::webpush::WebPushSettings),
}

/// The `[push]` table of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PushLayer {
    /// `log` or `webpush`.
    provider: Option<String>,
    /// Who runs the deployment, for push services: `mailto:…` or `https://…`.
    subject: Option<String>,
    timeout_seconds: Option<u64>,
    ttl_seconds: Option<u64>,
}

impl PushLayer {
    fn into_provider(self) -> anyhow::Result<PushProvider> {
        match self.provider.as_deref().unwrap_or("log") {
            "log" => Ok(PushProvider::Log),
            "webpush" => {
                let subject = self.subject.context("[push] provider webpush needs subject (mailto:… or https://…)")?;
                if !(subject.starts_with("mailto:") || subject.starts_with("https://")) {
                    bail!("[push] subject must start with mailto: or https://");
                }
                Ok(PushProvider::WebPush(crate::channels::webpush::WebPushSettings {
                    subject,
                    timeout: std::time::Duration::from_secs(self.timeout_seconds.unwrap_or(10).max(1)),
                    ttl: std::time::Duration::from_secs(self.ttl_seconds.unwrap_or(24 * 3600)),
                }))
            }
            other => bail!("[push] provider must be log or webpush, not {other:?}"),
        }
    }
}

/// The `[email]` table of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EmailLayer {
    /// `log` or `smtp`.
    provider: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    /// `starttls` (default), `tls` or `none`.
    security: Option<String>,
    username: Option<String>,
    password: Option<Secret>,
    password_file: Option<PathBuf>,
    from: Option<String>,
    timeout_seconds: Option<u64>,
    /// CA certificates (PEM) to trust besides the usual roots.
    ca_file: Option<PathBuf>,
    /// DKIM: the selector, the key file, `rsa` (default) or `ed25519`, the
    /// domain (default: the sender's).
    dkim_selector: Option<String>,
    dkim_key_file: Option<PathBuf>,
    dkim_algorithm: Option<String>,
    dkim_domain: Option<String>,
    rate_per_second: Option<f64>,
    burst: Option<u32>,
    daily_cap: Option<u64>,
}

impl EmailLayer {
    fn into_provider(self) -> anyhow::Result<EmailProvider> {
        use crate::channels::smtp::{DkimAlgorithm, DkimSettings, SmtpSecurity, SmtpSettings};
        match self.provider.as_deref().unwrap_or("log") {
            "log" => Ok(EmailProvider::Log),
            "smtp" => {
                let security = match self.security.as_deref().unwrap_or("starttls") {
                    "starttls" => SmtpSecurity::StartTls,
                    "tls" => SmtpSecurity::Tls,
                    "none" => SmtpSecurity::None,
                    other => bail!("[email] security must be starttls, tls or none, not {other:?}"),
                };
                let password = match (self.password, self.password_file) {
                    (_, Some(path)) => Some(read_secret_file(&path)?),
                    (password, None) => password,
                };
                let default_port = if security == SmtpSecurity::Tls { 465 } else { 587 };
                let from = self.from.context("[email] provider smtp needs from (\"Name <address>\")")?;
                let dkim = match (self.dkim_selector, self.dkim_key_file) {
                    (None, None) => None,
                    (Some(selector), Some(key_file)) => {
                        let algorithm = match self.dkim_algorithm.as_deref().unwrap_or("rsa") {
                            "rsa" => DkimAlgorithm::Rsa,
                            "ed25519" => DkimAlgorithm::Ed25519,
                            other => bail!("[email] dkim_algorithm must be rsa or ed25519, not {other:?}"),
                        };
                        let sender_domain = from.rsplit_once('@').map(|(_, d)| d.trim_end_matches('>').to_owned());
                        let domain = self
                            .dkim_domain
                            .or(sender_domain)
                            .context("[email] dkim_domain is needed: from names no domain")?;
                        Some(DkimSettings { domain, selector, algorithm, key_file })
                    }
                    _ => bail!("[email] DKIM needs both dkim_selector and dkim_key_file"),
                };
                Ok(EmailProvider::Smtp(Box::new(SmtpSettings {
                    host: self.host.context("[email] provider smtp needs host")?,
                    port: self.port.unwrap_or(default_port),
                    security,
                    username: self.username,
                    password,
                    from,
                    timeout: std::time::Duration::from_secs(self.timeout_seconds.unwrap_or(30).max(1)),
                    ca_file: self.ca_file,
                    dkim,
                })))
            }
            other => bail!("[email] provider must be log or smtp, not {other:?}"),
        }
    }
}

/// The `[sms]` table of the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SmsLayer {
    /// `log` or `twilio`.
    provider: Option<String>,
    base_url: Option<String>,
    account_sid: Option<String>,
    auth_token: Option<Secret>,
    auth_token_file: Option<PathBuf>,
    from: Option<String>,
    messaging_service_sid: Option<String>,
    timeout_seconds: Option<u64>,
    rate_per_second: Option<f64>,
    burst: Option<u32>,
    daily_cap: Option<u64>,
    answer_keywords: Option<bool>,
    after_hours_reply: Option<bool>,
    fetch_media: Option<bool>,
}

impl SmsLayer {
    fn into_provider(self, public_url: Option<&str>) -> anyhow::Result<SmsProvider> {
        match self.provider.as_deref().unwrap_or("log") {
            "log" => Ok(SmsProvider::Log),
            "twilio" => {
                let auth_token = match (self.auth_token, self.auth_token_file) {
                    (_, Some(path)) => read_secret_file(&path)?,
                    (Some(token), None) => token,
                    (None, None) => bail!("[sms] provider twilio needs auth_token or auth_token_file"),
                };
                let account_sid = self.account_sid.context("[sms] provider twilio needs account_sid")?;
                if self.from.is_none() && self.messaging_service_sid.is_none() {
                    bail!("[sms] provider twilio needs a sender: from (a number) or messaging_service_sid");
                }
                Ok(SmsProvider::Twilio(crate::channels::twilio::TwilioSettings {
                    base_url: self.base_url.unwrap_or_else(|| "https://api.twilio.com".into()),
                    account_sid,
                    auth_token,
                    from: self.from,
                    messaging_service_sid: self.messaging_service_sid,
                    callback_base: public_url.map(str::to_owned),
                    timeout: std::time::Duration::from_secs(self.timeout_seconds.unwrap_or(10).max(1)),
                }))
            }
            other => bail!("[sms] provider must be log or twilio, not {other:?}"),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("data"),
            database_url: None,
            max_body_bytes: 1024 * 1024,
            max_connections: 8,
            log: "info".into(),
            session_idle_minutes: 15,
            session_absolute_hours: 12,
            trusted_proxies: Vec::new(),
            log_password_reset_links: false,
            backup_key: None,
            tls_cert_file: None,
            tls_key_file: None,
            requests_per_minute: 600,
            database_key: None,
            // HIPAA: six years.
            audit_retention_days: 6 * 365,
            public_url: None,
            sms: SmsProvider::Log,
            sms_answer_keywords: false,
            sms_after_hours_reply: false,
            sms_fetch_media: false,
            email: EmailProvider::Log,
            dispatcher: DispatcherSettings::default(),
            push: PushProvider::Log,
            voice: VoiceProvider::Log,
            sms_limit: None,
            email_limit: None,
            metrics_enabled: true,
            metrics_token: None,
        }
    }
}

/// The file layer: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLayer {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<Secret>,
    database_url_file: Option<PathBuf>,
    max_body_bytes: Option<usize>,
    max_connections: Option<u32>,
    log: Option<String>,
    session_idle_minutes: Option<u32>,
    session_absolute_hours: Option<u32>,
    trusted_proxies: Option<Vec<IpAddr>>,
    log_password_reset_links: Option<bool>,
    backup_key: Option<Secret>,
    backup_key_file: Option<PathBuf>,
    tls_cert_file: Option<PathBuf>,
    tls_key_file: Option<PathBuf>,
    requests_per_minute: Option<u32>,
    database_key: Option<Secret>,
    database_key_file: Option<PathBuf>,
    audit_retention_days: Option<u32>,
    public_url: Option<String>,
    sms: Option<SmsLayer>,
    email: Option<EmailLayer>,
    push: Option<PushLayer>,
    voice: Option<VoiceLayer>,
    dispatcher: Option<DispatcherSettings>,
    metrics: Option<MetricsLayer>,
}

/// The flag layer, filled by the CLI.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config_file: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
}

const ENV_KEYS: &[&str] = &[
    "RAPPORT_LISTEN",
    "RAPPORT_DATA_DIR",
    "RAPPORT_DATABASE_URL",
    "RAPPORT_DATABASE_URL_FILE",
    "RAPPORT_MAX_BODY_BYTES",
    "RAPPORT_MAX_CONNECTIONS",
    "RAPPORT_LOG",
    "RAPPORT_SESSION_IDLE_MINUTES",
    "RAPPORT_SESSION_ABSOLUTE_HOURS",
    "RAPPORT_TRUSTED_PROXIES",
    "RAPPORT_LOG_PASSWORD_RESET_LINKS",
    "RAPPORT_BACKUP_KEY",
    "RAPPORT_BACKUP_KEY_FILE",
    "RAPPORT_TLS_CERT_FILE",
    "RAPPORT_TLS_KEY_FILE",
    "RAPPORT_REQUESTS_PER_MINUTE",
    "RAPPORT_DATABASE_KEY",
    "RAPPORT_DATABASE_KEY_FILE",
    "RAPPORT_AUDIT_RETENTION_DAYS",
    "RAPPORT_PUBLIC_URL",
    "RAPPORT_CONFIG",
    // Read by the test suite, not by the server.
    "RAPPORT_TEST_POSTGRES_URL",
];

impl Config {
    /// Builds the configuration from every layer. Returns it with the
    /// warnings to show once logging is up (unknown `RAPPORT_*` variables).
    pub fn load(
        overrides: &Overrides,
        env: impl Iterator<Item = (String, String)>,
    ) -> anyhow::Result<(Self, Vec<String>)> {
        let env: Vec<(String, String)> = env.filter(|(k, _)| k.starts_with("RAPPORT_")).collect();
        let var = |key: &str| env.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let warnings = env
            .iter()
            .filter(|(k, _)| !ENV_KEYS.contains(&k.as_str()))
            .map(|(k, _)| format!("unknown environment variable {k} is ignored"))
            .collect();
        let mut config = Config::default();
        let file_path = overrides.config_file.clone().or_else(|| var("RAPPORT_CONFIG").map(PathBuf::from));
        if let Some(path) = file_path {
            config.apply_file(&path)?;
        }
        config.apply_env(&var)?;
        if config.audit_retention_days < 365 {
            bail!("audit_retention_days must be at least 365 (HIPAA asks for six years, 2190)");
        }
        // Hand-offs start within the first half of a lease; the last one
        // started must end (by its timeout) before the lease does.
        if let SmsProvider::Twilio(twilio) = &config.sms
            && twilio.timeout.as_secs() * 2 >= config.dispatcher.lease_seconds
        {
            bail!("[dispatcher] lease_seconds must be more than twice [sms] timeout_seconds");
        }
        if let EmailProvider::Smtp(smtp) = &config.email
            && smtp.timeout.as_secs() * 2 >= config.dispatcher.lease_seconds
        {
            bail!("[dispatcher] lease_seconds must be more than twice [email] timeout_seconds");
        }
        if let PushProvider::WebPush(push) = &config.push
            && push.timeout.as_secs() * 2 >= config.dispatcher.lease_seconds
        {
            bail!("[dispatcher] lease_seconds must be more than twice [push] timeout_seconds");
        }
        if let EmailProvider::Smtp(smtp) = &config.email {
            smtp.from.parse::<lettre::message::Mailbox>().map_err(|_| {
                anyhow::anyhow!("[email] from is not a mailbox such as \"Clinic <reminders@clinic.example>\"")
            })?;
        }
        if config.tls_cert_file.is_some() != config.tls_key_file.is_some() {
            bail!("tls_cert_file and tls_key_file go together: set both or neither");
        }
        if let Some(listen) = overrides.listen {
            config.listen = listen;
        }
        if let Some(dir) = &overrides.data_dir {
            config.data_dir = dir.clone();
        }
        if let Some(url) = &overrides.database_url {
            config.database_url = Some(Secret::new(url.clone()));
        }
        Ok((config, warnings))
    }

    fn apply_file(&mut self, path: &Path) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading config file {}", path.display()))?;
        let file: FileLayer = toml::from_str(&text).with_context(|| format!("in config file {}", path.display()))?;
        if let Some(v) = file.listen {
            self.listen = v;
        }
        if let Some(v) = file.data_dir {
            self.data_dir = v;
        }
        if let Some(v) = file.database_url {
            self.database_url = Some(v);
        }
        if let Some(p) = file.database_url_file {
            self.database_url = Some(read_secret_file(&p)?);
        }
        if let Some(v) = file.max_body_bytes {
            self.max_body_bytes = v;
        }
        if let Some(v) = file.max_connections {
            self.max_connections = v;
        }
        if let Some(v) = file.log {
            self.log = v;
        }
        if let Some(v) = file.session_idle_minutes {
            self.session_idle_minutes = v;
        }
        if let Some(v) = file.session_absolute_hours {
            self.session_absolute_hours = v;
        }
        if let Some(v) = file.trusted_proxies {
            self.trusted_proxies = v;
        }
        if let Some(v) = file.log_password_reset_links {
            self.log_password_reset_links = v;
        }
        if let Some(v) = file.backup_key {
            self.backup_key = Some(v);
        }
        if let Some(p) = file.backup_key_file {
            self.backup_key = Some(read_secret_file(&p)?);
        }
        if let Some(p) = file.tls_cert_file {
            self.tls_cert_file = Some(p);
        }
        if let Some(p) = file.tls_key_file {
            self.tls_key_file = Some(p);
        }
        if let Some(v) = file.requests_per_minute {
            self.requests_per_minute = v;
        }
        if let Some(v) = file.database_key {
            self.database_key = Some(v);
        }
        if let Some(p) = file.database_key_file {
            self.database_key = Some(read_secret_file(&p)?);
        }
        if let Some(v) = file.audit_retention_days {
            self.audit_retention_days = v;
        }
        if let Some(v) = file.public_url {
            self.public_url = Some(v.trim_end_matches('/').to_owned());
        }
        if let Some(sms) = file.sms {
            self.sms_limit = limit_of("sms", sms.rate_per_second, sms.burst, sms.daily_cap)?;
            if let Some(v) = sms.answer_keywords {
                self.sms_answer_keywords = v;
            }
            if let Some(v) = sms.after_hours_reply {
                self.sms_after_hours_reply = v;
            }
            let fetch_media = sms.fetch_media.unwrap_or(false);
            self.sms = sms.into_provider(self.public_url.as_deref())?;
            if fetch_media && !matches!(self.sms, SmsProvider::Twilio(_)) {
                bail!("[sms] fetch_media needs provider twilio: media are fetched with its account");
            }
            self.sms_fetch_media = fetch_media;
        }
        if let Some(email) = file.email {
            self.email_limit = limit_of("email", email.rate_per_second, email.burst, email.daily_cap)?;
            self.email = email.into_provider()?;
        }
        if let Some(voice) = file.voice {
            self.voice = voice.into_provider(&self.sms)?;
        }
        if let Some(push) = file.push {
            self.push = push.into_provider()?;
        }
        if let Some(dispatcher) = file.dispatcher {
            self.dispatcher = dispatcher;
        }
        if let Some(metrics) = file.metrics {
            self.metrics_enabled = metrics.enabled.unwrap_or(true);
            self.metrics_token = match (metrics.token, metrics.token_file) {
                (Some(_), Some(_)) => bail!("[metrics] give token or token_file, not both"),
                (token, Some(path)) => token.or(Some(read_secret_file(&path)?)),
                (token, None) => token,
            };
        }
        Ok(())
    }

    fn apply_env(&mut self, var: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        if let Some(v) = var("RAPPORT_LISTEN") {
            self.listen = v.parse().context("RAPPORT_LISTEN is not an address such as 127.0.0.1:8080")?;
        }
        if let Some(v) = var("RAPPORT_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(p) = var("RAPPORT_DATABASE_URL_FILE") {
            self.database_url = Some(read_secret_file(Path::new(&p))?);
        }
        if let Some(v) = var("RAPPORT_DATABASE_URL") {
            self.database_url = Some(Secret::new(v));
        }
        if let Some(v) = var("RAPPORT_MAX_BODY_BYTES") {
            self.max_body_bytes = v.parse().context("RAPPORT_MAX_BODY_BYTES is not a number of bytes")?;
        }
        if let Some(v) = var("RAPPORT_MAX_CONNECTIONS") {
            self.max_connections = v.parse().context("RAPPORT_MAX_CONNECTIONS is not a number")?;
        }
        if let Some(v) = var("RAPPORT_LOG") {
            self.log = v;
        }
        if let Some(v) = var("RAPPORT_SESSION_IDLE_MINUTES") {
            self.session_idle_minutes = v.parse().context("RAPPORT_SESSION_IDLE_MINUTES is not a number")?;
        }
        if let Some(v) = var("RAPPORT_SESSION_ABSOLUTE_HOURS") {
            self.session_absolute_hours = v.parse().context("RAPPORT_SESSION_ABSOLUTE_HOURS is not a number")?;
        }
        if let Some(v) = var("RAPPORT_TRUSTED_PROXIES") {
            self.trusted_proxies = v
                .split(',')
                .filter(|a| !a.trim().is_empty())
                .map(|a| a.trim().parse())
                .collect::<Result<_, _>>()
                .context("RAPPORT_TRUSTED_PROXIES is not a comma-separated list of IP addresses")?;
        }
        if let Some(p) = var("RAPPORT_BACKUP_KEY_FILE") {
            self.backup_key = Some(read_secret_file(Path::new(&p))?);
        }
        if let Some(v) = var("RAPPORT_BACKUP_KEY") {
            self.backup_key = Some(Secret::new(v));
        }
        if let Some(p) = var("RAPPORT_TLS_CERT_FILE") {
            self.tls_cert_file = Some(PathBuf::from(p));
        }
        if let Some(p) = var("RAPPORT_TLS_KEY_FILE") {
            self.tls_key_file = Some(PathBuf::from(p));
        }
        if let Some(p) = var("RAPPORT_DATABASE_KEY_FILE") {
            self.database_key = Some(read_secret_file(Path::new(&p))?);
        }
        if let Some(v) = var("RAPPORT_DATABASE_KEY") {
            self.database_key = Some(Secret::new(v));
        }
        if let Some(v) = var("RAPPORT_AUDIT_RETENTION_DAYS") {
            self.audit_retention_days = v.parse().context("RAPPORT_AUDIT_RETENTION_DAYS is not a number of days")?;
        }
        if let Some(v) = var("RAPPORT_PUBLIC_URL") {
            let url = v.trim_end_matches('/').to_owned();
            if let SmsProvider::Twilio(twilio) = &mut self.sms {
                twilio.callback_base = Some(url.clone());
            }
            self.public_url = Some(url);
        }
        if let Some(v) = var("RAPPORT_REQUESTS_PER_MINUTE") {
            self.requests_per_minute = v.parse().context("RAPPORT_REQUESTS_PER_MINUTE is not a number")?;
        }
        if let Some(v) = var("RAPPORT_LOG_PASSWORD_RESET_LINKS") {
            self.log_password_reset_links =
                v.parse().context("RAPPORT_LOG_PASSWORD_RESET_LINKS is not true or false")?;
        }
        Ok(())
    }

    /// Session limits and sign-in throttling for the HTTP layer.
    pub fn auth_settings(&self) -> crate::auth::AuthSettings {
        crate::auth::AuthSettings {
            session_idle: jiff::SignedDuration::from_mins(i64::from(self.session_idle_minutes.max(1))),
            session_absolute: jiff::SignedDuration::from_hours(i64::from(self.session_absolute_hours.max(1))),
            log_reset_links: self.log_password_reset_links,
            ..crate::auth::AuthSettings::default()
        }
    }

    /// The SQLite file of the data directory, when no database URL is set.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match &self.database_url {
            None => Some(self.data_dir.join("rapport.db")),
            Some(url) => {
                let url = url.expose();
                url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).map(PathBuf::from)
            }
        }
    }

    /// The URL the store opens: the configured one, or SQLite in the data dir.
    pub fn store_url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.database_url {
            return Ok(url.expose().to_owned());
        }
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("creating data directory {}", self.data_dir.display()))?;
        Ok(format!("sqlite://{}", self.data_dir.join("rapport.db").display()))
    }
}

fn read_secret_file(path: &Path) -> anyhow::Result<Secret> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading secret file {}", path.display()))?;
    let value = text.trim();
    if value.is_empty() {
        bail!("secret file {} is empty", path.display());
    }
    Ok(Secret::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>().into_iter()
    }

    #[test]
    fn layers_override_in_order() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("rapport.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\nlog = \"debug\"\nmax_connections = 3\n").expect("write");
        let overrides = Overrides {
            config_file: Some(file),
            listen: Some("127.0.0.1:9100".parse().expect("addr")),
            ..Default::default()
        };
        let (config, warnings) =
            Config::load(&overrides, env(&[("RAPPORT_LOG", "warn"), ("RAPPORT_COLOUR", "x"), ("HOME", "/root")]))
                .expect("load");
        assert_eq!(config.listen.port(), 9100, "flags beat the file");
        assert_eq!(config.log, "warn", "env beats the file");
        assert_eq!(config.max_connections, 3, "the file beats defaults");
        assert_eq!(warnings, vec!["unknown environment variable RAPPORT_COLOUR is ignored".to_owned()]);
    }

    #[test]
    fn a_twilio_sms_provider_is_configured_in_its_own_table() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("rapport.toml");
        let token = dir.path().join("twilio-token");
        std::fs::write(&token, "s3cret-token\n").expect("write");
        let text = format!(
            "public_url = \"https://rapport.example.org/\"\n[sms]\nprovider = \"twilio\"\naccount_sid = \"AC1\"\n\
             auth_token_file = {:?}\nfrom = \"+13125550000\"\n",
            token.display().to_string()
        );
        std::fs::write(&file, text).expect("write");
        let overrides = Overrides { config_file: Some(file.clone()), ..Default::default() };
        let (config, _) = Config::load(&overrides, env(&[])).expect("load");
        let SmsProvider::Twilio(twilio) = &config.sms else { panic!("twilio expected") };
        assert_eq!(twilio.auth_token.expose(), "s3cret-token");
        assert_eq!(twilio.callback_base.as_deref(), Some("https://rapport.example.org"));
        assert_eq!(twilio.base_url, "https://api.twilio.com");
        assert!(!format!("{config:?}").contains("s3cret"), "the token never prints");
        std::fs::write(&file, "[sms]\nprovider = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"t\"\n")
            .expect("write");
        let error = Config::load(&overrides, env(&[])).expect_err("no sender");
        assert!(format!("{error:#}").contains("needs a sender"), "{error:#}");
    }

    #[test]
    fn senders_limits_come_from_their_channels_tables() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("rapport.toml");
        std::fs::write(
            &file,
            "[sms]\nrate_per_second = 1\ndaily_cap = 2000\n[email]\nrate_per_second = 20\nburst = 5\n",
        )
        .expect("write");
        let overrides = Overrides { config_file: Some(file.clone()), ..Default::default() };
        let (config, _) = Config::load(&overrides, env(&[])).expect("load");
        let sms = config.sms_limit.expect("an SMS limit");
        assert_eq!((sms.every, sms.burst, sms.daily), (jiff::SignedDuration::from_secs(1), 1, Some(2000)));
        let email = config.email_limit.expect("an email limit");
        assert_eq!((email.every, email.burst, email.daily), (jiff::SignedDuration::from_millis(50), 5, None));
        assert_eq!(Config::default().sms_limit, None, "no limit unless configured");
        std::fs::write(&file, "[sms]\ndaily_cap = 10\n").expect("write");
        let error = Config::load(&overrides, env(&[])).expect_err("a cap without a rate");
        assert!(format!("{error:#}").contains("[sms] burst and daily_cap need rate_per_second"), "{error:#}");
        std::fs::write(&file, "[email]\nrate_per_second = 0\n").expect("write");
        let error = Config::load(&overrides, env(&[])).expect_err("a zero rate");
        assert!(format!("{error:#}").contains("[email] rate_per_second must be above 0"), "{error:#}");
    }

    #[test]
    fn voice_calls_through_the_sms_twilio_account() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("rapport.toml");
        let account =
            "[sms]\nprovider = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"+13125550000\"\n";
        let overrides = Overrides { config_file: Some(file.clone()), ..Default::default() };
        std::fs::write(&file, format!("public_url = \"https://r.example\"\n{account}[voice]\nprovider = \"twilio\"\n"))
            .expect("write");
        let (config, _) = Config::load(&overrides, env(&[])).expect("load");
        let VoiceProvider::Twilio(voice) = &config.voice else { panic!("twilio voice expected") };
        assert_eq!((voice.account_sid.as_str(), voice.from.as_deref()), ("AC1", Some("+13125550000")));
        std::fs::write(&file, format!("{account}[voice]\nprovider = \"twilio\"\n")).expect("write");
        let error = Config::load(&overrides, env(&[])).expect_err("no public_url");
        assert!(format!("{error:#}").contains("needs public_url"), "{error:#}");
        std::fs::write(&file, "[voice]\nprovider = \"twilio\"\n").expect("write");
        let error = Config::load(&overrides, env(&[])).expect_err("no account");
        assert!(format!("{error:#}").contains("[sms] provider twilio"), "{error:#}");
    }

    #[test]
    fn dkim_takes_a_selector_and_a_key_and_defaults_to_the_senders_domain() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("rapport.toml");
        let smtp =
            "[email]\nprovider = \"smtp\"\nhost = \"smtp.example\"\nfrom = \"Riverbend <r@riverbend.example>\"\n";
        let overrides = Overrides { config_file: Some(file.clone()), ..Default::default() };
        std::fs::write(&file, format!("{smtp}dkim_selector = \"s1\"\ndkim_key_file = \"/etc/dkim.key\"\n"))
            .expect("write");
        let (config, _) = Config::load(&overrides, env(&[])).expect("load");
        let EmailProvider::Smtp(smtp_settings) = &config.email else { panic!("smtp expected") };
        let dkim = smtp_settings.dkim.as_ref().expect("dkim");
        assert_eq!((dkim.domain.as_str(), dkim.selector.as_str()), ("riverbend.example", "s1"));
        assert_eq!(dkim.algorithm, crate::channels::smtp::DkimAlgorithm::Rsa);
        std::fs::write(&file, format!("{smtp}dkim_selector = \"s1\"\n")).expect("write");
        let error = Config::load(&overrides, env(&[])).expect_err("a selector without a key");
        assert!(format!("{error:#}").contains("both dkim_selector and dkim_key_file"), "{error:#}");
    }

    #[test]
    fn the_packaged_configuration_loads_and_keeps_data_in_var_lib() {
        let shipped = include_str!("../packaging/rapport.toml");
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("rapport.toml");
        std::fs::write(&file, shipped).expect("write");
        let overrides = Overrides { config_file: Some(file), ..Default::default() };
        let (config, _) = Config::load(&overrides, env(&[])).expect("the shipped file loads");
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/rapport"));
        assert!(config.listen.ip().is_loopback(), "it listens on loopback until told otherwise");
        assert_eq!(config.sms, SmsProvider::Log);
    }

    #[test]
    fn web_push_is_configured_in_its_own_table() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("rapport.toml");
        std::fs::write(&file, "[push]\nprovider = \"webpush\"\nsubject = \"mailto:it@riverbend.example\"\n")
            .expect("write");
        let overrides = Overrides { config_file: Some(file.clone()), ..Default::default() };
        let (config, _) = Config::load(&overrides, env(&[])).expect("load");
        let PushProvider::WebPush(push) = &config.push else { panic!("web push expected") };
        assert_eq!((push.ttl.as_secs(), push.timeout.as_secs()), (86_400, 10));
        std::fs::write(&file, "[push]\nprovider = \"webpush\"\nsubject = \"it@riverbend.example\"\n").expect("write");
        let error = Config::load(&overrides, env(&[])).expect_err("a bare address");
        assert!(format!("{error:#}").contains("mailto: or https://"), "{error:#}");
        assert_eq!(Config::default().push, PushProvider::Log);
    }

    #[test]
    fn media_are_fetched_only_through_a_twilio_account() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("rapport.toml");
        let overrides = Overrides { config_file: Some(file.clone()), ..Default::default() };
        std::fs::write(&file, "[sms]\nfetch_media = true\n").expect("write");
        let error = Config::load(&overrides, env(&[])).expect_err("the log channel has no media");
        assert!(format!("{error:#}").contains("fetch_media needs provider twilio"), "{error:#}");
        let twilio =
            "[sms]\nprovider = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"t\"\nfrom = \"+13125550000\"\n";
        std::fs::write(&file, format!("{twilio}fetch_media = true\n")).expect("write");
        assert!(Config::load(&overrides, env(&[])).expect("load").0.sms_fetch_media);
        std::fs::write(&file, twilio).expect("write");
        assert!(!Config::load(&overrides, env(&[])).expect("load").0.sms_fetch_media, "off by default");
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("rapport.toml");
        std::fs::write(&file, "listne = \"127.0.0.1:9000\"\n").expect("write");
        let overrides = Overrides { config_file: Some(file), ..Default::default() };
        let error = Config::load(&overrides, env(&[])).expect_err("typo refused");
        assert!(format!("{error:#}").contains("listne"), "{error:#}");
    }

    #[test]
    fn secrets_do_not_print_and_can_come_from_files() {
        let dir = tempfile::tempdir().expect("dir");
        let secret = dir.path().join("db-url");
        std::fs::write(&secret, "postgres://rapport:hunter2@db/rapport\n").expect("write");
        let (config, _) =
            Config::load(&Overrides::default(), env(&[("RAPPORT_DATABASE_URL_FILE", secret.to_str().expect("utf-8"))]))
                .expect("load");
        assert_eq!(config.database_url.as_ref().map(Secret::expose), Some("postgres://rapport:hunter2@db/rapport"));
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
