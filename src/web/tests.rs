//! Unit tests of `web`.

use super::local_path;

#[test]
fn next_must_stay_on_this_site() {
    assert_eq!(local_path(Some("/admin/services?page=2")), "/admin/services?page=2");
    for hostile in ["//evil.example", "https://evil.example", "/\\evil.example", "javascript:alert(1)", "evil"] {
        assert_eq!(local_path(Some(hostile)), "/", "{hostile}");
    }
    assert_eq!(local_path(None), "/");
}
