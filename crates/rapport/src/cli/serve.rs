//! `rapport serve`: the HTTP server, with the demo practice if asked. A
//! database holding the demo's public credentials is served on loopback
//! only, unless `--allow-demo-on-network` says otherwise.

use std::process::ExitCode;

use anyhow::{Context, bail};
use rapport::channels::Providers;
use rapport::channels::smtp::SmtpEmail;
use rapport::channels::twilio::TwilioSms;
use rapport::channels::voice::TwilioVoice;
use rapport::channels::webpush::{Vapid, WebPush};
use rapport::config::{Config, EmailProvider, PushProvider, SmsProvider, VoiceProvider};
use rapport::demo;
use rapport::ehr::write_back::{WriteBackSettings, WriteBacks};
use rapport::engine::SideWork;
use rapport::engine::dispatch::MessageSender;
use rapport::engine::media_fetch::{MediaFetcher, MediaSettings};
use rapport::http::hooks::TwilioHooks;
use rapport::http::{AppState, HttpSettings};
use rapport::jobs::{RetryPolicy, WorkerSettings};
use rapport::links::PatientLinks;
use rapport::store::Store;
use rapport_domain::Channel;

use super::open;

/// The EHR's MLLP addresses: where Rapport listens for its feed, and where
/// it sends patients' answers back.
pub(super) struct EhrLinks {
    pub listen: Option<std::net::SocketAddr>,
    pub write_back: Option<std::net::SocketAddr>,
    /// MLLP over TLS, with HTTPS's certificate.
    pub tls: bool,
}

pub(super) async fn serve(
    config: &Config,
    seed_demo: bool,
    allow_demo_on_network: bool,
    ehr: EhrLinks,
) -> anyhow::Result<ExitCode> {
    let store = open(config).await?;
    if seed_demo {
        match demo::seed(&store).await.context("creating demo data")? {
            Some(summary) => println!(
                "demo data: {} with {} patients, {} appointments, {} reminders and confirmations planned for the next three days and {} patients on the waitlist (organization {})",
                summary.organization.name,
                summary.patients,
                summary.appointments,
                summary.reminders,
                summary.waiting,
                summary.organization.id
            ),
            None => println!("demo data: the database already has data; left as it is"),
        }
    }
    let demo_logins = demo::logins(&store).await.context("looking for demo accounts")?;
    if demo_logins.is_some() && !config.listen.ip().is_loopback() && !allow_demo_on_network {
        bail!(
            "this database holds the demo's public credentials: refusing to listen on {}; \
             use a loopback address or pass --allow-demo-on-network",
            config.listen
        );
    }
    let tls = match (&config.tls_cert_file, &config.tls_key_file) {
        (Some(cert), Some(key)) => Some(rapport::tls::acceptor(cert, key)?),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let is_demo = demo_logins.is_some();
    if let Some(logins) = demo_logins {
        print_demo_logins(&store, &logins);
        println!(
            "  text Rapport as a patient (through the Twilio simulator's signature): \
             rapport demo-text --url {scheme}://{address} --from +1XXXXXXXXXX --body 1"
        );
    }
    println!("Rapport is running on {} at {scheme}://{address}/", store.backend().name());
    println!("  Console: {scheme}://{address}/console");
    println!("  API:     {scheme}://{address}/api/v1/organizations");
    println!("  OpenAPI: {scheme}://{address}/api/openapi.json");
    let settings = HttpSettings { max_body_bytes: config.max_body_bytes, hsts: tls.is_some() };
    let mut state = AppState::new(store.clone());
    state.auth = config.auth_settings();
    state.trusted_proxies = std::sync::Arc::new(config.trusted_proxies.clone());
    state.rate_limiter = std::sync::Arc::new(rapport::http::rate_limit::RateLimiter::new(config.requests_per_minute));
    if let (SmsProvider::Twilio(twilio), Some(public_url)) = (&config.sms, &config.public_url) {
        state.twilio_hooks = Some(std::sync::Arc::new(TwilioHooks {
            auth_token: twilio.auth_token.clone(),
            public_url: public_url.clone(),
            answer_keywords: config.sms_answer_keywords,
            after_hours_reply: config.sms_after_hours_reply,
        }));
    }
    if let Some(public_url) = &config.public_url {
        state.links = Some(std::sync::Arc::new(PatientLinks::load(&store, public_url).await?));
    }
    // A demo without Twilio takes texts signed as the simulator signs them
    // (its token is public, like the demo's credentials: loopback only).
    if is_demo && state.twilio_hooks.is_none() {
        state.twilio_hooks = Some(std::sync::Arc::new(TwilioHooks {
            auth_token: rapport::config::Secret::new(rapport::simulators::twilio::AUTH_TOKEN),
            public_url: format!("{scheme}://{address}"),
            answer_keywords: true,
            after_hours_reply: true,
        }));
    }
    // The dispatcher sends due messages beside the HTTP server and stops with it.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mllp = match ehr.listen {
        Some(address) => {
            let org = super::pick_organization(&store, None).await.context("--mllp-listen")?;
            let listener = tokio::net::TcpListener::bind(address).await.context("binding the MLLP address")?;
            let settings = rapport::ehr::mllp::MllpSettings::default();
            let (store, stopped) = (store.clone(), stopped.clone());
            let local = listener.local_addr()?;
            Some(match (ehr.tls, tls.clone()) {
                (false, _) => {
                    println!("  HL7 v2 over MLLP on {local} for organization {org}");
                    tokio::spawn(rapport::ehr::mllp::serve(listener, store, org, settings, stopped))
                }
                (true, Some(acceptor)) => {
                    println!("  HL7 v2 over MLLP with TLS on {local} for organization {org}");
                    tokio::spawn(rapport::ehr::mllp::serve_tls(listener, acceptor, store, org, settings, stopped))
                }
                (true, None) => bail!("--mllp-tls needs tls_cert_file and tls_key_file (the certificate HTTPS uses)"),
            })
        }
        None if ehr.tls => bail!("--mllp-tls needs --mllp-listen"),
        None => None,
    };
    let write_backs = match ehr.write_back {
        Some(endpoint) => {
            let org = super::pick_organization(&store, None).await.context("--mllp-write-back")?;
            println!("  HL7 write-back: answers to the feed's visits go to {endpoint} (organization {org})");
            let settings = WriteBackSettings { endpoint, timeout: std::time::Duration::from_secs(30) };
            Some(WriteBacks::new(store.clone(), org, settings))
        }
        None => None,
    };
    let dispatcher = start_dispatcher(config, &store, write_backs, stopped).await?;
    let live = store.clone();
    let shutdown = async move {
        rapport::server::shutdown_signal().await;
        let _ = stop.send(true);
        live.end_subscriptions();
    };
    rapport::server::serve(listener, tls, state, settings, shutdown).await?;
    let _ = dispatcher.await;
    if let Some(mllp) = mllp {
        let _ = mllp.await;
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

fn print_demo_logins(store: &Store, logins: &[demo::DemoLogin]) {
    println!("Demo sign-in (public credentials; they exist in this demo database only):");
    for login in logins {
        println!("  {:<14} {:<30} password {}", login.role.as_str(), login.email, login.password);
    }
    println!(
        "  the administrator needs a one-time code: TOTP secret {} (now {})",
        demo::ADMIN_TOTP_SECRET,
        demo::admin_code(store.clock().now())
    );
    println!("  integration token: {}", demo::INTEGRATION_TOKEN);
}

/// `rapport dispatch`: the message dispatcher alone, until SIGINT/SIGTERM.
/// On PostgreSQL, any number of these (and of `serve`) share the work.
pub(super) async fn dispatch(config: &Config) -> anyhow::Result<ExitCode> {
    let store = open(config).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let dispatcher = start_dispatcher(config, &store, None, stopped).await?;
    println!("Rapport's dispatcher is running on {}", store.backend().name());
    rapport::server::shutdown_signal().await;
    let _ = stop.send(true);
    let _ = dispatcher.await;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}

/// Twilio's own limit for an MMS's media: larger is never fetched.
const MEDIA_MAX_BYTES: usize = 5 * 1024 * 1024;

/// Starts the dispatcher with the configured providers; it stops when `stopped` turns true.
async fn start_dispatcher(
    config: &Config,
    store: &Store,
    write_backs: Option<WriteBacks>,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let providers = providers(config, store).await?;
    let settings = &config.dispatcher;
    let worker = WorkerSettings {
        owner: format!("dispatch-{}-{}", std::process::id(), uuid::Uuid::now_v7().simple()),
        batch: settings.batch.max(1),
        lease_for: jiff::SignedDuration::from_secs(settings.lease_seconds.max(1) as i64),
        retry: RetryPolicy {
            base: jiff::SignedDuration::from_secs(settings.retry_base_seconds.max(1) as i64),
            ..RetryPolicy::default()
        },
    };
    let mut sender = MessageSender::with_providers(store.clone(), providers)
        .reconcile_after(jiff::SignedDuration::from_secs(settings.reconcile_seconds as i64));
    if let Some(url) = &config.public_url {
        sender = sender.with_links(PatientLinks::load(store, url).await?);
    }
    let planner = rapport::engine::reminders::ReminderPlanner::new(store.clone());
    let media = match (&config.sms, config.sms_fetch_media) {
        (SmsProvider::Twilio(account), true) => Some(MediaFetcher::new(
            store.clone(),
            MediaSettings {
                base_url: account.base_url.clone(),
                account_sid: account.account_sid.clone(),
                auth_token: account.auth_token.clone(),
                max_bytes: MEDIA_MAX_BYTES,
                timeout: account.timeout,
            },
        )?),
        _ => None,
    };
    let mut side = SideWork::default();
    if let Some(write_backs) = write_backs {
        side.workers.push(Box::new(write_backs));
    }
    if let Some(media) = media {
        side.workers.push(Box::new(media));
    }
    Ok(tokio::spawn(rapport::engine::run_dispatcher(sender, planner, side, worker, stopped)))
}

/// The provider of each channel, as configured (the log channel by default).
async fn providers(config: &Config, store: &Store) -> anyhow::Result<Providers> {
    let mut providers = Providers::log_only(store);
    providers.limits = [(Channel::Sms, config.sms_limit), (Channel::Email, config.email_limit)]
        .into_iter()
        .filter_map(|(channel, limit)| Some((channel, limit?)))
        .collect();
    if let EmailProvider::Smtp(smtp) = &config.email {
        let links = match &config.public_url {
            Some(url) => Some(PatientLinks::load(store, url).await?),
            None => {
                tracing::warn!("no public_url: emails go without a one-click unsubscribe link");
                None
            }
        };
        providers.email = std::sync::Arc::new(SmtpEmail::new(smtp.as_ref().clone(), links)?);
        println!("  Email:   SMTP at {}:{}", smtp.host, smtp.port);
    }
    if let VoiceProvider::Twilio(voice) = &config.voice {
        providers.voice = std::sync::Arc::new(TwilioVoice::new(voice.clone())?);
        println!("  Voice:   Twilio-compatible Calls API at {}", voice.base_url);
    }
    if let PushProvider::WebPush(push) = &config.push {
        let vapid = Vapid::load(store).await?;
        providers.push = std::sync::Arc::new(WebPush::new(store.clone(), push.clone(), vapid)?);
        println!("  Push:    web push (VAPID subject {})", push.subject);
    }
    if let SmsProvider::Twilio(twilio) = &config.sms {
        if twilio.callback_base.is_none() {
            tracing::warn!("no public_url: Twilio will not report delivery; messages stay `sent`");
        }
        providers.sms = std::sync::Arc::new(TwilioSms::new(twilio.clone())?);
        println!("  SMS:     Twilio-compatible API at {}", twilio.base_url);
    }
    Ok(providers)
}
