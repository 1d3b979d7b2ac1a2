use super::*;

fn user(id: i64) -> User {
    User {
        id,
        username: format!("user{id}"),
        password_hash: String::new(),
        role: crate::models::user::Role::SdAdmin,
        disabled: false,
        failed_logins: 0,
        locked_until: None,
        created_at: 0,
        updated_at: 0,
        last_sign_in_at: None,
    }
}

pub(super) fn session(hash: &str, user_id: i64) -> (Session, User) {
    (
        Session { id_hash: hash.into(), user_id, csrf_token: "t".into(), created_at: 0, last_seen_at: 0 },
        user(user_id),
    )
}

fn token(hash: &str, user_id: i64) -> LiveToken {
    let token = crate::models::api_token::ApiToken {
        id: 1,
        user_id,
        label: "script".into(),
        token_hash: hash.into(),
        prefix: "abc".into(),
        created_at: 0,
        last_used_at: None,
        revoked_at: None,
        expires_at: None,
        restricted: false,
        last_used_address: None,
    };
    LiveToken { token, scope: crate::models::api_token::Scope::Everything, user: user(user_id) }
}

/// Connection `link` of service `service`, owned by user `owner`.
fn loaded(link: &str, service: i64, owner: i64) -> Arc<Loaded> {
    use crate::models::connection::{ConnectionMeta, ConnectionRow};
    use crate::models::service::ServiceRow;
    let meta = ConnectionMeta {
        id: 1,
        link_name: link.into(),
        name: link.into(),
        name_lower: link.into(),
        service_id: service,
        owner_id: owner,
        scopes_requested: "[]".into(),
        scopes_granted: None,
        status: crate::domain::connection::Status::Connected,
        status_message: None,
        connected_at: None,
        expires_at: None,
        refresh_expires_at: None,
        has_refresh_token: false,
        last_refresh_at: None,
        last_used_at: None,
        revoke_outcome: None,
        created_at: 0,
        updated_at: 0,
        variables: None,
        captured: None,
    };
    let row = ConnectionRow {
        meta,
        credentials: None,
        access_token: None,
        refresh_token: None,
        token_version: 0,
        lease_holder: None,
        lease_until: None,
        refresh_failures: 0,
        retry_after: None,
        entrusted_origins: None,
        previous_refresh_token: None,
        last_refresh_attempt_at: None,
    };
    let service = ServiceRow {
        id: service,
        link_name: format!("service{service}"),
        name: String::new(),
        name_lower: String::new(),
        description: String::new(),
        auth_type: crate::domain::service::AuthType::ApiKey,
        api_base_url: None,
        config: "{}".into(),
        client_secret: None,
        created_at: 0,
        created_by: String::new(),
        updated_at: 0,
        updated_by: String::new(),
        test_request: None,
        connection_count: 1,
        client_secret_origins: None,
        client_refused_at: None,
        client_refused_message: None,
        template_id: None,
        template_version: None,
        client_secret_pending: false,
    };
    Arc::new(Loaded::new(row, service, format!("user{owner}")))
}

pub(super) fn live_cache() -> Cache {
    let cache = Cache::default();
    cache.reset(true);
    cache
}

#[test]
fn nothing_is_cached_or_served_without_a_listener() {
    let cache = Cache::default();
    cache.put_session("a".into(), session("a", 1), cache.epoch());
    cache.put_token("t".into(), token("t", 1), cache.epoch());
    assert!(cache.session("a").is_none() && cache.token("t").is_none());
    let cache = live_cache();
    cache.put_session("a".into(), session("a", 1), cache.epoch());
    cache.put_token("t".into(), token("t", 1), cache.epoch());
    assert!(cache.session("a").is_some() && cache.token("t").is_some());
    cache.reset(false);
    assert!(cache.session("a").is_none() && cache.token("t").is_none(), "a lost listener empties the cache");
}

#[test]
fn notifications_remove_what_they_name() {
    let cache = live_cache();
    for (hash, user) in [("a", 1), ("b", 1), ("c", 2)] {
        cache.put_session(hash.into(), session(hash, user), cache.epoch());
        cache.put_token(hash.into(), token(hash, user), cache.epoch());
    }
    cache.forget("s:c");
    assert!(cache.session("c").is_none() && cache.token("c").is_some(), "a session hash names no token");
    cache.forget("t:c");
    assert!(cache.token("c").is_none());
    assert!(cache.session("a").is_some() && cache.token("a").is_some());
    cache.forget("u:1");
    for hash in ["a", "b"] {
        assert!(cache.session(hash).is_none() && cache.token(hash).is_none(), "everything of a changed user");
    }
    cache.put_session("d".into(), session("d", 3), cache.epoch());
    cache.put_token("d".into(), token("d", 3), cache.epoch());
    cache.forget("garbled");
    assert!(
        cache.session("d").is_none() && cache.token("d").is_none(),
        "an unknown notification empties the cache"
    );
}

#[test]
fn an_entry_read_before_a_change_is_not_cached_after_it() {
    let cache = live_cache();
    let epoch = cache.epoch();
    cache.forget("u:1");
    cache.put_session("a".into(), session("a", 1), epoch);
    cache.put_token("t".into(), token("t", 1), epoch);
    assert!(cache.session("a").is_none() && cache.token("t").is_none());
}

#[test]
fn a_listener_not_heard_from_lately_bypasses_the_cache() {
    let cache = live_cache();
    cache.put_session("a".into(), session("a", 1), cache.epoch());
    cache.put_token("t".into(), token("t", 1), cache.epoch());
    let Some(long_ago) = Instant::now().checked_sub(STALE_AFTER) else { return };
    cache.state().heard = Some(long_ago);
    assert!(cache.session("a").is_none() && cache.token("t").is_none());
    cache.heard();
    assert!(cache.session("a").is_some() && cache.token("t").is_some());
}

#[test]
fn a_connection_goes_when_it_its_service_or_its_owner_changes() {
    let cache = live_cache();
    let fill = |cache: &Cache| {
        for (link, service, owner) in [("a", 10, 1), ("b", 10, 2), ("c", 20, 1), ("d", 20, 2)] {
            cache.put_connection(link, loaded(link, service, owner), cache.epoch());
        }
    };
    let held = |cache: &Cache| {
        ["a", "b", "c", "d"].into_iter().filter(|l| cache.connection(l).is_some()).collect::<Vec<_>>()
    };
    fill(&cache);
    assert_eq!(held(&cache), ["a", "b", "c", "d"]);
    cache.forget("c:a");
    assert_eq!(held(&cache), ["b", "c", "d"]);
    cache.forget("v:20");
    assert_eq!(held(&cache), ["b"], "a service change: all of its connections");
    fill(&cache);
    cache.forget("u:2");
    assert_eq!(held(&cache), ["a", "c"], "an owner's change: their connections (the owner's name is shown)");
    fill(&cache);
    cache.forget("v:garbled");
    assert!(held(&cache).is_empty());
}

#[test]
fn a_connection_read_before_a_change_or_without_a_listener_is_not_cached() {
    let cache = live_cache();
    let epoch = cache.epoch();
    cache.forget("c:a");
    cache.put_connection("a", loaded("a", 1, 1), epoch);
    assert!(cache.connection("a").is_none());
    cache.put_connection("a", loaded("a", 1, 1), cache.epoch());
    assert!(cache.connection("a").is_some());
    cache.reset(false);
    assert!(cache.connection("a").is_none());
    cache.put_connection("a", loaded("a", 1, 1), cache.epoch());
    assert!(cache.connection("a").is_none());
}

#[test]
fn a_connection_is_read_again_after_its_maximum_age() {
    let cache = live_cache();
    cache.put_connection("a", loaded("a", 1, 1), cache.epoch());
    assert!(cache.connection("a").is_some());
    let Some(long_ago) = Instant::now().checked_sub(CONNECTION_MAX_AGE) else { return };
    cache.state().connections.get_mut("a").unwrap().1 = long_ago;
    assert!(cache.connection("a").is_none(), "not even a lost notification keeps it longer");
}

#[test]
fn a_connection_change_removes_the_tokens_restricted_to_it() {
    use crate::models::api_token::Scope;
    let cache = live_cache();
    let restricted = |hash: &str, links: &[&str]| {
        let mut found = token(hash, 1);
        found.scope =
            Scope::InvokeOnly(links.iter().enumerate().map(|(i, l)| (i as i64, l.to_string())).collect());
        found
    };
    cache.put_token("full".into(), token("full", 1), cache.epoch());
    cache.put_token("desk".into(), restricted("desk", &["desk", "other"]), cache.epoch());
    cache.put_token("mail".into(), restricted("mail", &["mail"]), cache.epoch());
    cache.forget("c:other");
    assert!(cache.token("desk").is_none(), "restricted to the changed connection");
    assert!(cache.token("full").is_some() && cache.token("mail").is_some());
}
