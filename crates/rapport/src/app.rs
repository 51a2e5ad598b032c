//! Rapport assembled from its configuration, one way for every caller:
//! `serve` and `dispatch`, the tests and the benches. `App::build` makes
//! the HTTP side (sessions, proxies, the request budget, Twilio's webhooks,
//! the signed links); `App::start_dispatcher` the loop with the configured
//! providers and side workers.

use std::sync::Arc;

use axum::Router;
use rapport_domain::Channel;
use rapport_engine::SideWork;
use rapport_engine::channels::Providers;
use rapport_engine::channels::smtp::SmtpEmail;
use rapport_engine::channels::twilio::TwilioSms;
use rapport_engine::channels::voice::TwilioVoice;
use rapport_engine::channels::webpush::{Vapid, WebPush};
use rapport_engine::dispatch::MessageSender;
use rapport_engine::job_pruner::JobPruner;
use rapport_engine::jobs::{RetryPolicy, WorkerSettings};
use rapport_engine::links::PatientLinks;
use rapport_engine::media_fetch::{MediaFetcher, MediaSettings};
use rapport_engine::reminders::ReminderPlanner;
use rapport_http::hooks::TwilioHooks;
use rapport_http::prometheus::MetricsAccess;
use rapport_http::rate_limit::RateLimiter;
use rapport_http::{AppState, HttpSettings, build_app};
use rapport_interop::ehr::write_back::WriteBacks;
use rapport_store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Config, EmailProvider, PushProvider, SmsProvider, VoiceProvider};

/// The HTTP side of Rapport, as configured.
pub struct App {
    pub store: Store,
    pub state: AppState,
    pub http: HttpSettings,
}

impl App {
    /// The HTTP state and settings `config` describes, over `store`.
    pub async fn build(config: &Config, store: Store) -> anyhow::Result<Self> {
        let mut state = AppState::new(store.clone());
        state.auth = config.auth_settings();
        state.trusted_proxies = Arc::new(config.trusted_proxies.clone());
        state.rate_limiter = Arc::new(RateLimiter::new(config.requests_per_minute));
        if let (SmsProvider::Twilio(twilio), Some(public_url)) = (&config.sms, &config.public_url) {
            state.twilio_hooks = Some(Arc::new(TwilioHooks {
                auth_token: twilio.auth_token.clone(),
                public_url: public_url.clone(),
                answer_keywords: config.sms_answer_keywords,
                after_hours_reply: config.sms_after_hours_reply,
            }));
        }
        if let Some(public_url) = &config.public_url {
            state.links = Some(Arc::new(PatientLinks::load(&store, public_url).await?));
        }
        if config.metrics_enabled {
            state.metrics = Some(MetricsAccess::new(config.metrics_token.clone()));
        }
        let hsts = config.tls_cert_file.is_some() && config.tls_key_file.is_some();
        let http = HttpSettings { max_body_bytes: config.max_body_bytes, hsts };
        Ok(Self { store, state, http })
    }

    /// The router over this state.
    pub fn router(&self) -> Router {
        build_app(self.state.clone(), &self.http)
    }

    /// Starts the dispatcher with the configured providers (and the EHR
    /// write-back when given); it stops when `stopped` turns true.
    pub async fn start_dispatcher(
        config: &Config,
        store: &Store,
        write_backs: Option<WriteBacks>,
        stopped: watch::Receiver<bool>,
    ) -> anyhow::Result<JoinHandle<()>> {
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
        let planner = ReminderPlanner::new(store.clone());
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
        let keep = jiff::SignedDuration::from_hours(24 * settings.keep_done_jobs_days.max(1) as i64);
        side.workers.push(Box::new(JobPruner::new(store.clone(), keep)));
        if let Some(write_backs) = write_backs {
            side.workers.push(Box::new(write_backs));
        }
        if let Some(media) = media {
            side.workers.push(Box::new(media));
        }
        Ok(tokio::spawn(rapport_engine::run_dispatcher(sender, planner, side, worker, stopped)))
    }
}

/// Twilio's own limit for an MMS's media: larger is never fetched.
const MEDIA_MAX_BYTES: usize = 5 * 1024 * 1024;

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
        providers.email = Arc::new(SmtpEmail::new(smtp.as_ref().clone(), links)?);
        println!("  Email:   SMTP at {}:{}", smtp.host, smtp.port);
    }
    if let VoiceProvider::Twilio(voice) = &config.voice {
        providers.voice = Arc::new(TwilioVoice::new(voice.clone())?);
        println!("  Voice:   Twilio-compatible Calls API at {}", voice.base_url);
    }
    if let PushProvider::WebPush(push) = &config.push {
        let vapid = Vapid::load(store).await?;
        providers.push = Arc::new(WebPush::new(store.clone(), push.clone(), vapid)?);
        println!("  Push:    web push (VAPID subject {})", push.subject);
    }
    if let SmsProvider::Twilio(twilio) = &config.sms {
        if twilio.callback_base.is_none() {
            tracing::warn!("no public_url: Twilio will not report delivery; messages stay `sent`");
        }
        providers.sms = Arc::new(TwilioSms::new(twilio.clone())?);
        println!("  SMS:     Twilio-compatible API at {}", twilio.base_url);
    }
    Ok(providers)
}
