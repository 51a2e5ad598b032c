//! `rapport demo-text`: texts a running demo as a patient would, signed as
//! the Twilio simulator signs (its token is public, as the demo's logins
//! are), then says what Rapport made of it. Refused on a database that is
//! not the demo's.

use std::process::ExitCode;

use anyhow::Context;
use rapport::channels::twilio::signature;
use rapport::config::Config;
use rapport::demo;
use rapport::simulators::twilio::AUTH_TOKEN;

pub(super) async fn demo_text(config: &Config, url: &str, from: &str, body: &str) -> anyhow::Result<ExitCode> {
    let store = super::open(config).await?;
    if demo::logins(&store).await?.is_none() {
        anyhow::bail!("this database holds no demo practice: demo-text only texts the demo");
    }
    let org = super::pick_organization(&store, None).await?;
    let url = url.trim_end_matches('/');
    let path = format!("/hooks/twilio/{org}/inbound");
    let sid = format!("SMdemo{}", rapport_domain::MessageId::generate().to_string().replace('-', ""));
    let params: Vec<(String, String)> = [
        ("AccountSid", "ACsimulator"),
        ("Body", body),
        ("From", from),
        ("MessageSid", sid.as_str()),
        ("NumMedia", "0"),
        ("To", "+15005550006"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let mut form = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        form.append_pair(k, v);
    }
    rapport::tls::install_crypto_provider();
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build()?;
    let response = client
        .post(format!("{url}{path}"))
        .header("x-twilio-signature", signature(AUTH_TOKEN, &format!("{url}{path}"), &params))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.finish())
        .send()
        .await
        .with_context(|| format!("reaching Rapport at {url} (is `rapport serve --demo` running there?)"))?;
    if !response.status().is_success() {
        anyhow::bail!("Rapport answered {}", response.status());
    }
    match store.inbound_text(org, &rapport_domain::ProviderRef::new(sid.clone())).await? {
        Some(text) => {
            let outcome = text.outcome.map_or("not settled", |o| o.as_str());
            let visit = text.appointment_id.map_or_else(String::new, |v| format!(", visit {v}"));
            println!("text {}: {outcome}{visit}", text.id);
        }
        None => println!("text taken"),
    }
    store.close().await;
    Ok(ExitCode::SUCCESS)
}
