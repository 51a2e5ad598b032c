//! `rapport serve`: the HTTP server, with the demo practice if asked. A
//! database holding the demo's public credentials is served on loopback
//! only, unless `--allow-demo-on-network` says otherwise.

use std::process::ExitCode;

use anyhow::{Context, bail};
use rapport::app::App;
use rapport::config::Config;
use rapport::demo;
use rapport::ehr::write_back::{WriteBackSettings, WriteBacks};
use rapport::http::hooks::TwilioHooks;
use rapport::store::Store;

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
    let app = App::build(config, store.clone()).await?;
    let (mut state, settings) = (app.state, app.http);
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
    let dispatcher = App::start_dispatcher(config, &store, write_backs, stopped).await?;
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
    let dispatcher = App::start_dispatcher(config, &store, None, stopped).await?;
    println!("Rapport's dispatcher is running on {}", store.backend().name());
    rapport::server::shutdown_signal().await;
    let _ = stop.send(true);
    let _ = dispatcher.await;
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
