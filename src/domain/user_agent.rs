//! What a person reads of a session's `User-Agent`: the browser and its major version, and the
//! system ("Firefox 128 on Linux"). A header any client can set is only a hint, so this is a label,
//! never a decision; an unknown one reads as its first product name.

/// Browsers, in the order they are told apart: each later one's token appears in the earlier ones'
/// headers (Edge and Opera send `Chrome/`, Chrome sends `Safari/`).
const BROWSERS: [(&str, &str); 8] = [
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Chrome/", "Chrome"),
    ("Version/", "Safari"),
];

/// Systems, in the same order for the same reason (an iPhone says `like Mac OS X`, Android `Linux`).
const SYSTEMS: [(&str, &str); 7] = [
    ("Windows", "Windows"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Mac OS X", "macOS"),
    ("Linux", "Linux"),
];

/// The label of a `User-Agent` header ("Unknown browser" without one).
pub fn describe(agent: Option<&str>) -> String {
    let Some(agent) = agent.map(str::trim).filter(|a| !a.is_empty()) else {
        return "Unknown browser".to_owned();
    };
    let browser = BROWSERS.iter().find_map(|(token, name)| {
        let at = agent.find(token)?;
        let version: String = agent[at + token.len()..].chars().take_while(char::is_ascii_digit).collect();
        // Safari's `Version/` counts only beside `Safari/`; other clients use the word too.
        if *name == "Safari" && !agent.contains("Safari/") {
            return None;
        }
        Some(if version.is_empty() { (*name).to_owned() } else { format!("{name} {version}") })
    });
    let browser = browser.unwrap_or_else(|| {
        let product = agent.split(['/', ' ', '(']).next().unwrap_or_default();
        let product: String = product.chars().take(40).collect();
        if product.is_empty() { "Unknown browser".to_owned() } else { product }
    });
    match SYSTEMS.iter().find(|(token, _)| agent.contains(token)) {
        Some((_, system)) => format!("{browser} on {system}"),
        None => browser,
    }
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_browsers_read_as_their_name_version_and_system() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
                "Firefox 128 on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
                "Edge 126 on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) \
                 Version/17.5 Safari/605.1.15",
                "Safari 17 on macOS",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like \
                 Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
                "Chrome 126 on iOS",
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/126.0.0.0 Mobile Safari/537.36",
                "Chrome 126 on Android",
            ),
            ("curl/8.5.0", "curl"),
            ("", "Unknown browser"),
        ];
        for (agent, label) in cases {
            assert_eq!(describe(Some(agent)), label, "{agent}");
        }
        assert_eq!(describe(None), "Unknown browser");
    }
}
