use serde_json::{Value, json};

use super::*;
use crate::domain::service_input::validate;

/// A template's service with the client id and secret an admin would type.
fn as_typed(template: &Template) -> ServiceInput {
    let mut service = template.service.clone();
    if service["auth_type"] == "oauth2" {
        service["oauth2"]["client_id"] = json!("client-id-typed-by-the-admin");
        service["oauth2"]["client_secret"] = json!("client-secret-typed-by-the-admin");
    }
    serde_json::from_value(service).expect("a service input")
}

#[test]
fn every_shipped_template_reads_and_passes_the_apis_own_rules() {
    let (templates, problems) = load(files());
    assert_eq!(problems, Vec::<String>::new());
    assert_eq!(templates.len(), files().len());
    for t in &templates {
        let input = as_typed(t);
        crate::domain::service_rules::check(&input, None).unwrap_or_else(|e| panic!("{}: {e:?}", t.id));
        validate(&input, false, None).unwrap_or_else(|e| panic!("{}: {e:?}", t.id));
        assert!(t.version >= 1, "{}", t.id);
        assert!(!t.setup.is_empty(), "{}: setup steps", t.id);
        if t.auth_type() == "oauth2" && t.service["oauth2"]["grant_type"] != "client_credentials" {
            assert!(t.setup.iter().any(|s| s.contains("{callback_url}")), "{}: names the callback URL", t.id);
        }
    }
}

#[test]
fn a_file_that_is_wrong_is_left_out_with_the_reason() {
    let good = |id: &str, link: &str| {
        json!({
            "id": id, "version": 1, "name": "Acme", "category": "Testing",
            "docs": ["https://docs.acme.example/api"], "setup": ["Create a key."],
            "service": {"name": "Acme", "link_name": link, "auth_type": "basic",
                        "api_base_url": "https://api.acme.example"}
        })
    };
    let text = |v: Value| v.to_string();
    let mut http_docs = good("http_docs", "c");
    http_docs["docs"] = json!(["http://docs.acme.example"]);
    let mut secret = good("secret", "d");
    secret["service"]["oauth2"] = json!({"client_secret": "s"});
    let mut unknown = good("unknown", "e");
    unknown["colour"] = json!("blue");
    let files = [
        ("acme.json".to_owned(), text(good("acme", "acme"))),
        ("broken.json".to_owned(), "{\"id\": ".to_owned()),
        ("renamed.json".to_owned(), text(good("other", "b"))),
        ("same_link.json".to_owned(), text(good("same_link", "acme"))),
        ("http_docs.json".to_owned(), text(http_docs)),
        ("secret.json".to_owned(), text(secret)),
        ("unknown.json".to_owned(), text(unknown)),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(f, t)| (f.as_str(), t.as_str())).collect();
    let (templates, problems) = load(&files);
    assert_eq!(templates.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["acme"]);
    let starts: Vec<&str> = problems.iter().map(|p| p.split(':').next().unwrap()).collect();
    assert_eq!(
        starts,
        ["broken.json", "renamed.json", "same_link.json", "http_docs.json", "secret.json", "unknown.json"]
    );
    assert!(problems[0].contains("not a template"), "{}", problems[0]);
    assert!(problems[2].contains("link name"), "{}", problems[2]);
}

#[test]
fn a_search_finds_templates_by_name_category_and_authentication_type() {
    let template = Template {
        id: "acme".into(),
        version: 1,
        name: "Acme Desk".into(),
        category: "Service desk".into(),
        docs: vec![],
        setup: vec!["Use {callback_url} as the redirect URI.".into()],
        service: json!({"auth_type": "oauth2"}),
    };
    for needle in ["acme", "desk", "service d", "oauth"] {
        assert!(template.matches(needle), "{needle}");
    }
    assert!(!template.matches("zendesk"));
    assert_eq!(template.initials(), "AD");
    assert_eq!(
        template.setup_steps("https://c.example/cb"),
        ["Use https://c.example/cb as the redirect URI."]
    );
}
