//! MMS media fetched and kept (`[sms] fetch_media`): a patient's photo of
//! an insurance card stays readable by staff after the provider deletes
//! its copy, and staff never need the provider's credentials to see it.
//! One `text.media` job per text (the store's scan enqueues them); each
//! link is fetched with the account's credentials, but only from the
//! provider's own host (a link elsewhere is never fetched), up to a size
//! limit; a link gone (404, 410) or too large is left as a link; a refusal
//! or a fault is retried with backoff.

use std::time::Duration;

use futures_util::future::BoxFuture;
use reqwest::Url;

use crate::jobs::{BatchReport, JobFailure, JobHandler, WorkerSettings, work_batch};
use rapport_secret::Secret;
use rapport_store::{FetchedMedia, Job, JobKind, JobWork, Media, Store, StoreError};

/// Where media may come from, with what credentials, and how much.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    /// The provider's API base (`https://api.twilio.com`): media links on
    /// another host are never fetched.
    pub base_url: String,
    pub account_sid: String,
    pub auth_token: Secret,
    /// Larger attachments stay links (Twilio's MMS limit is 5 MB).
    pub max_bytes: usize,
    pub timeout: Duration,
}

/// Queues the texts whose media wait and runs their jobs, a batch at a time.
pub struct MediaFetcher {
    store: Store,
    handler: MediaHandler,
}

impl MediaFetcher {
    pub fn new(store: Store, settings: MediaSettings) -> anyhow::Result<Self> {
        let base = Url::parse(&settings.base_url)?;
        let client = reqwest::Client::builder().timeout(settings.timeout).build()?;
        Ok(Self { handler: MediaHandler { store: store.clone(), settings, base, client }, store })
    }

    pub async fn batch(&self, worker: &WorkerSettings) -> Result<BatchReport, StoreError> {
        self.store.queue_media_fetches(worker.batch).await?;
        work_batch(&self.store, &self.handler, worker).await
    }
}

impl crate::SideWorker for MediaFetcher {
    fn name(&self) -> &'static str {
        "media fetcher"
    }

    fn batch<'a>(&'a self, worker: &'a WorkerSettings) -> BoxFuture<'a, Result<BatchReport, StoreError>> {
        Box::pin(MediaFetcher::batch(self, worker))
    }
}

struct MediaHandler {
    store: Store,
    settings: MediaSettings,
    base: Url,
    client: reqwest::Client,
}

/// Why one link was not kept.
enum Missed {
    /// For good: not the provider's host, gone, too large.
    Skip(&'static str),
    /// Worth another try.
    Retry(String),
}

impl JobHandler for MediaHandler {
    fn kind(&self) -> &'static str {
        JobKind::Media.as_str()
    }

    async fn run(&self, job: &Job) -> Result<(), JobFailure> {
        let org = job.organization_id.ok_or_else(|| JobFailure::Permanent("the job names no organization".into()))?;
        let Ok(JobWork::Media { text_id: text }) = job.work() else {
            return Err(JobFailure::Permanent("the payload names no text".into()));
        };
        let store_error = |e: StoreError| JobFailure::Retry(format!("storage: {e}"));
        let links = self.store.media_to_fetch(org, text).await.map_err(store_error)?;
        let mut fetched = Vec::new();
        for (position, link) in links.iter().enumerate() {
            match self.fetch(link).await {
                Ok((content_type, bytes)) => fetched.push(FetchedMedia { position, content_type, bytes }),
                Err(Missed::Skip(why)) => {
                    tracing::warn!(organization = %org, text = %text, position, why, "an attachment stays a link");
                }
                Err(Missed::Retry(why)) => return Err(JobFailure::Retry(why)),
            }
        }
        let kept = fetched.len();
        self.store.keep_text_media(org, text, fetched).await.map_err(store_error)?;
        tracing::info!(organization = %org, text = %text, kept, of = links.len(), "a text's media were fetched");
        Ok(())
    }
}

impl MediaHandler {
    async fn fetch(&self, link: &Media) -> Result<(String, Vec<u8>), Missed> {
        let url = Url::parse(&link.url).map_err(|_| Missed::Skip("not a URL"))?;
        let same_origin = url.scheme() == self.base.scheme()
            && url.host_str() == self.base.host_str()
            && url.port_or_known_default() == self.base.port_or_known_default();
        if !same_origin {
            return Err(Missed::Skip("not on the provider's host"));
        }
        let mut response = self
            .client
            .get(url)
            .basic_auth(&self.settings.account_sid, Some(self.settings.auth_token.expose()))
            .send()
            .await
            .map_err(|e| Missed::Retry(format!("fetching media: {}", e.without_url())))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
            return Err(Missed::Skip("the provider no longer has it"));
        }
        if !status.is_success() {
            return Err(Missed::Retry(format!("the provider answered {status} for media")));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .or(link.content_type.as_deref())
            .and_then(media_type)
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let mut bytes = Vec::new();
        while let Some(chunk) =
            response.chunk().await.map_err(|e| Missed::Retry(format!("reading media: {}", e.without_url())))?
        {
            if bytes.len() + chunk.len() > self.settings.max_bytes {
                return Err(Missed::Skip("larger than the size limit"));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok((content_type, bytes))
    }
}

/// A `type/subtype` from a Content-Type, lower case, without parameters;
/// `None` for anything else.
pub fn media_type(header: &str) -> Option<String> {
    let essence = header.split(';').next()?.trim().to_ascii_lowercase();
    let (kind, sub) = essence.split_once('/')?;
    let token =
        |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    (token(kind) && token(sub)).then_some(essence)
}

#[cfg(test)]
mod tests {
    use super::media_type;

    #[test]
    fn a_content_type_is_kept_as_its_essence_or_not_at_all() {
        assert_eq!(media_type("image/JPEG; charset=binary").as_deref(), Some("image/jpeg"));
        assert_eq!(
            media_type("application/vnd.openxmlformats+xml").as_deref(),
            Some("application/vnd.openxmlformats+xml")
        );
        assert_eq!(media_type("text/html\r\nSet-Cookie: x"), None);
        assert_eq!(media_type("nonsense"), None);
    }
}
