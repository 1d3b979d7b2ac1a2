//! Unit tests of `web`.

use super::local_path;

#[test]
fn next_must_stay_on_this_site() {
    assert_eq!(local_path(Some("/admin/services?page=2")), "/admin/services?page=2");
    for hostile in
        ["//evil.example", "https://evil.example", "/\\evil.example", "javascript:alert(1)", "evil"]
    {
        assert_eq!(local_path(Some(hostile)), "/", "{hostile}");
    }
    assert_eq!(local_path(None), "/");
}

/// Browsers drop tabs and line breaks from a URL before reading it, and leading or trailing controls
/// and spaces: what they would read as another host is refused.
#[test]
fn next_is_read_as_a_browser_reads_it() {
    for hostile in [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "/\r\n/evil.example",
        "\t//evil.example",
        " //evil.example",
        "\u{0}//evil.example",
        "\\/evil.example",
        "/\t\\evil.example",
        "\n\\\\evil.example",
        "java\tscript:alert(1)",
        "/x:\tfoo",
    ] {
        assert_eq!(local_path(Some(hostile)), "/", "{hostile:?}");
    }
    // What a browser keeps as a path on this site is followed, as the browser reads it.
    assert_eq!(local_path(Some("/admin\n/services")), "/admin/services");
    assert_eq!(local_path(Some(" /admin/services\t")), "/admin/services");
    assert_eq!(
        local_path(Some("/%09/evil.example")),
        "/%09/evil.example",
        "an encoded tab stays in the path"
    );
    assert_eq!(local_path(Some("/%2F/evil.example")), "/%2F/evil.example");
}

/// No header may carry a control character: one left after the browser's clean-up is refused.
#[test]
fn next_never_carries_a_control_character() {
    for hostile in ["/\u{b}", "/a\u{0}b", "/a\u{7f}", "/a\u{85}b", "/\u{c}/evil.example"] {
        assert_eq!(local_path(Some(hostile)), "/", "{hostile:?}");
    }
}
