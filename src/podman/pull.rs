//! Image pulls through the Docker-compatible endpoint, with progress summed over layers.

use std::collections::BTreeMap;

use containers_api::conn::{Headers, Payload};
use futures_util::StreamExt;

use super::{encode, Error, Podman, PullProgress, Result, API};

impl Podman {
    /// Pulls through the Docker-compatible endpoint: unlike libpod's pull (before 4.8) it
    /// reports bytes per layer, which is what a 20 GB NGC pull needs to not look hung.
    /// Progress goes to `on_progress`; the client never prints.
    pub async fn pull(
        &self,
        image: &str,
        mut on_progress: impl FnMut(&PullProgress),
    ) -> Result<()> {
        let (name, tag) = split_tag(image);
        let mut ep = format!("{API}/images/create?fromImage={}", encode(name));
        if let Some(tag) = tag {
            ep.push_str(&format!("&tag={}", encode(tag)));
        }
        let stream = self
            .client
            .post_stream(ep, Payload::empty(), Headers::none());
        let mut stream = Box::pin(stream);
        let mut tracker = PullTracker::default();
        let mut buf: Vec<u8> = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.error(e))?;
            buf.extend_from_slice(&chunk);
            while let Some(nl) = buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buf.drain(..=nl).collect();
                if let Some(progress) = tracker.feed(&line)? {
                    on_progress(&progress);
                }
            }
        }
        if !buf.is_empty() {
            tracker.feed(&buf)?;
        }
        Ok(())
    }
}

/// Sums layer progress from the Docker-compatible pull stream.
#[derive(Default)]
struct PullTracker {
    layers: BTreeMap<String, (u64, u64, bool)>,
}

impl PullTracker {
    fn feed(&mut self, line: &[u8]) -> Result<Option<PullProgress>> {
        let text = String::from_utf8_lossy(line);
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
            return Ok(None);
        };
        if let Some(err) = v.get("error").and_then(|e| e.as_str()) {
            return Err(Error::Stream(err.to_string()));
        }
        let status = v["status"].as_str().unwrap_or("").to_string();
        if let Some(id) = v["id"].as_str() {
            let entry = self.layers.entry(id.to_string()).or_default();
            if let (Some(cur), Some(total)) = (
                v["progressDetail"]["current"].as_u64(),
                v["progressDetail"]["total"].as_u64(),
            ) {
                entry.0 = cur;
                entry.1 = total;
            }
            if status.starts_with("Pull complete")
                || status.starts_with("Already exists")
                || status.starts_with("Download complete")
            {
                entry.2 = true;
                entry.0 = entry.1;
            }
        }
        Ok(Some(PullProgress {
            current: self.layers.values().map(|l| l.0).sum(),
            total: self.layers.values().map(|l| l.1).sum(),
            layers: self.layers.len(),
            layers_done: self.layers.values().filter(|l| l.2).count(),
            status,
        }))
    }
}

/// `repo:tag` -> (`repo`, `tag`); a `:` before the last `/` is a registry port, and a digest
/// reference is passed whole.
fn split_tag(image: &str) -> (&str, Option<&str>) {
    if image.contains('@') {
        return (image, None);
    }
    let after_slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[after_slash..].rfind(':') {
        Some(i) => (
            &image[..after_slash + i],
            Some(&image[after_slash + i + 1..]),
        ),
        None => (image, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        let cases = [
            (
                "nvcr.io/nvidia/pytorch:26.10-py3",
                ("nvcr.io/nvidia/pytorch", Some("26.10-py3")),
            ),
            ("localhost:5000/a", ("localhost:5000/a", None)),
            ("localhost:5000/a:1", ("localhost:5000/a", Some("1"))),
            ("a@sha256:00", ("a@sha256:00", None)),
        ];
        for (input, want) in cases {
            assert_eq!(split_tag(input), want, "{input}");
        }
    }

    #[test]
    fn pull_progress_sums_layers() {
        let mut t = PullTracker::default();
        let lines = [
            r#"{"status":"Pulling fs layer","id":"a"}"#,
            r#"{"status":"Downloading","progressDetail":{"current":50,"total":100},"id":"a"}"#,
            r#"{"status":"Downloading","progressDetail":{"current":10,"total":300},"id":"b"}"#,
        ];
        let mut last = None;
        for l in lines {
            last = t.feed(l.as_bytes()).unwrap();
        }
        let p = last.unwrap();
        assert_eq!(
            (p.current, p.total, p.layers, p.layers_done),
            (60, 400, 2, 0)
        );
        let p = t
            .feed(br#"{"status":"Pull complete","id":"a"}"#)
            .unwrap()
            .unwrap();
        assert_eq!((p.current, p.layers_done), (110, 1));
        let e = t
            .feed(br#"{"error":"manifest unknown","errorDetail":{}}"#)
            .unwrap_err();
        assert_eq!(e.to_string(), "manifest unknown");
    }
}
