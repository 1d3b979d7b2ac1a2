//! Unit tests of `domain::validate`.

use super::*;

#[test]
fn link_names_follow_snake_case() {
    for good in ["zoho_desk", "a", "a1_b2", "x".repeat(50).as_str()] {
        assert!(link_name(good).is_ok(), "{good}");
    }
    for bad in ["", "Zoho", "1abc", "_a", "a_", "a__b", "a-b", "a b", "ä", "x".repeat(51).as_str()] {
        assert!(link_name(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn suggestions_are_valid_link_names() {
    assert_eq!(suggest_link_name("Zoho Desk (EU)"), "zoho_desk_eu");
    assert_eq!(suggest_link_name("  42 Things!! "), "things");
    assert_eq!(suggest_link_name("Ünïcode Sérvice"), "n_code_s_rvice");
    assert_eq!(suggest_link_name("!!!"), "");
    assert!(link_name(&suggest_link_name(&"Long name ".repeat(20))).is_ok());
}

#[test]
fn service_urls_are_absolute_https_without_credentials() {
    assert_eq!(service_url("https://api.example.com/v1", false).unwrap(), "https://api.example.com/v1");
    assert!(service_url("http://api.example.com", false).is_err());
    assert!(service_url("http://api.example.com", true).is_ok());
    for bad in [
        "api.example.com",
        "/relative",
        "ftp://x.example",
        "https://user:pw@x.example",
        "javascript:alert(1)",
        "https://x.example/#frag",
    ] {
        assert!(service_url(bad, true).is_err(), "{bad}");
    }
    assert!(service_url(&format!("https://x.example/{}", "a".repeat(2100)), false).is_err());
}

#[test]
fn header_names_are_tokens() {
    assert!(header_name("X-Api-Key").is_ok());
    for bad in ["", "X Api", "X:Key", "Ünï", "a\nb"] {
        assert!(header_name(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn hop_by_hop_and_framing_headers_cannot_carry_a_credential() {
    for bad in [
        "Host",
        "content-length",
        "Transfer-Encoding",
        "CONNECTION",
        "Keep-Alive",
        "TE",
        "Trailer",
        "Upgrade",
    ] {
        let err = credential_header_name(bad).unwrap_err();
        assert!(err.contains("cannot carry a credential"), "{bad}: {err}");
    }
    for bad in ["Proxy-Authorization", "Proxy-Connection", "Expect", " host "] {
        assert!(credential_header_name(bad).is_err(), "{bad:?}");
    }
    for good in ["X-Api-Key", "Authorization", "X-Host", "Hostname", "TE-Key"] {
        assert_eq!(credential_header_name(good).unwrap(), good);
    }
    assert!(credential_header_name("X Key").unwrap_err().contains("valid header name"));
}
