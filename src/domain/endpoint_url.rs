//! What may be shown of a webhook endpoint's URL. The URL itself can be a credential (a Slack
//! incoming webhook's is), so it is sealed, and pages, the audit log and delivery errors show only
//! its scheme, host and port and a masked path: `https://hooks.slack.com/services/…`. An email
//! endpoint's `mailto:` list names recipients, not a credential, and shows as it is.

use url::Url;

/// The scheme of an email endpoint's URL.
pub const MAILTO: &str = "mailto:";

const ELLIPSIS: &str = "…";

/// `url` as it may be shown. The path's first segment stays when it is a plain word and more
/// segments follow (`/services/…`, `/hooks/…`); otherwise the whole path is `…`. The query, the
/// fragment and any user information never show. Masking a masked URL changes nothing.
pub fn masked(url: &str) -> String {
    if url.starts_with(MAILTO) {
        return url.to_owned();
    }
    let Ok(parsed) = Url::parse(url) else {
        return ELLIPSIS.to_owned();
    };
    let mut shown = format!("{}://{}", parsed.scheme(), parsed.host_str().unwrap_or_default());
    if let Some(port) = parsed.port() {
        shown.push_str(&format!(":{port}"));
    }
    let segments: Vec<&str> =
        parsed.path_segments().map(|s| s.filter(|s| !s.is_empty()).collect()).unwrap_or_default();
    match segments.first() {
        Some(first) if segments.len() > 1 && is_word(first) => {
            shown.push_str(&format!("/{first}/{ELLIPSIS}"))
        }
        _ if !segments.is_empty() || parsed.query().is_some() || parsed.fragment().is_some() => {
            shown.push_str(&format!("/{ELLIPSIS}"))
        }
        _ => shown.push('/'),
    }
    shown
}

/// A path segment that names a kind of thing (`services`, `api`, `hooks`), not an identifier.
fn is_word(segment: &str) -> bool {
    (1..=24).contains(&segment.len())
        && segment.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-' || b == b'_')
}

/// `text` with every spelling of `url` in it (as written, as parsed, and without its query, as the
/// outbound client's errors name it) replaced by its masked form.
pub fn scrub(text: &str, url: &str) -> String {
    let mut spellings = vec![url.to_owned()];
    if let Ok(parsed) = Url::parse(url) {
        spellings.push(parsed.to_string());
        let mut bare = parsed;
        bare.set_query(None);
        bare.set_fragment(None);
        let _ = bare.set_password(None);
        let _ = bare.set_username("");
        spellings.push(bare.to_string());
    }
    spellings.sort_by_key(|s| std::cmp::Reverse(s.len()));
    // Through a placeholder: a shorter spelling may be part of the masked form put in for a longer one.
    const HOLE: char = '\u{0}';
    let mut text = text.replace(HOLE, "");
    for spelling in &spellings {
        text = text.replace(spelling.as_str(), &HOLE.to_string());
    }
    text.replace(HOLE, &masked(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_shows_its_scheme_host_port_and_a_masked_path() {
        let slack = "https://hooks.slack.com/services/T0AAA/B0BBB/XXXXsecretXXXX";
        assert_eq!(masked(slack), "https://hooks.slack.com/services/…");
        assert_eq!(masked("https://example.com/a1b2c3d4"), "https://example.com/…");
        assert_eq!(
            masked("https://example.com/hooks"),
            "https://example.com/…",
            "one segment may be the key"
        );
        assert_eq!(masked("https://example.com/tok3n/more"), "https://example.com/…");
        assert_eq!(masked("http://127.0.0.1:8080/hooks/abc?key=s3cret#x"), "http://127.0.0.1:8080/hooks/…");
        assert_eq!(masked("https://example.com/?token=s3cret"), "https://example.com/…");
        assert_eq!(masked("https://example.com"), "https://example.com/");
        assert_eq!(masked("https://user:pw@example.com/x"), "https://example.com/…");
        assert_eq!(masked("https://[::1]:9/x/y"), "https://[::1]:9/x/…");
        assert_eq!(masked("mailto:ops@example.com, a@example.com"), "mailto:ops@example.com, a@example.com");
        assert_eq!(masked("not a url"), "…");
    }

    #[test]
    fn masking_twice_changes_nothing() {
        for url in
            ["https://hooks.slack.com/services/T/B/X", "https://example.com/k3y", "https://example.com"]
        {
            assert_eq!(masked(&masked(url)), masked(url), "{url}");
        }
    }

    #[test]
    fn scrubbing_replaces_every_spelling_of_the_url() {
        let url = "https://Hooks.Example.com/hooks/s3cret?sig=abc";
        let error = "connection refused by the upstream (https://hooks.example.com/hooks/s3cret)";
        let scrubbed = scrub(error, url);
        assert_eq!(scrubbed, "connection refused by the upstream (https://hooks.example.com/hooks/…)");
        assert!(!scrub(&format!("at {url}"), url).contains("s3cret"));
        assert_eq!(scrub("nothing to hide", url), "nothing to hide");
        let bare = "https://example.com/?token=s3cret";
        assert_eq!(
            scrub(&format!("to {bare}, then https://example.com/"), bare),
            "to https://example.com/…, then https://example.com/…"
        );
    }
}
