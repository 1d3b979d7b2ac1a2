//! Table definitions, in portable column types only (both backends share them). Times are unix
//! seconds in BigInt columns; secrets are sealed bytes in Binary columns.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        password_hash -> Text,
        role -> Text,
        disabled -> Bool,
        failed_logins -> Integer,
        locked_until -> Nullable<BigInt>,
        created_at -> BigInt,
        updated_at -> BigInt,
        last_sign_in_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    sessions (id_hash) {
        id_hash -> Text,
        user_id -> BigInt,
        csrf_token -> Text,
        created_at -> BigInt,
        last_seen_at -> BigInt,
    }
}

diesel::table! {
    api_tokens (id) {
        id -> BigInt,
        user_id -> BigInt,
        label -> Text,
        token_hash -> Text,
        prefix -> Text,
        created_at -> BigInt,
        last_used_at -> Nullable<BigInt>,
        revoked_at -> Nullable<BigInt>,
        expires_at -> Nullable<BigInt>,
        restricted -> Bool,
        last_used_address -> Nullable<Text>,
    }
}

diesel::table! {
    api_token_connections (token_id, connection_id) {
        token_id -> BigInt,
        connection_id -> BigInt,
    }
}

diesel::table! {
    settings (key) {
        key -> Text,
        value -> Text,
        updated_at -> BigInt,
    }
}

diesel::table! {
    audit_log (id) {
        id -> BigInt,
        at -> BigInt,
        actor_id -> Nullable<BigInt>,
        actor -> Text,
        action -> Text,
        target_type -> Text,
        target -> Text,
        details -> Text,
    }
}

diesel::table! {
    encryption_key_ids (kid) {
        kid -> Text,
        first_used_at -> BigInt,
        check_value -> Nullable<Binary>,
    }
}

diesel::joinable!(sessions -> users (user_id));
diesel::joinable!(api_tokens -> users (user_id));

diesel::table! {
    services (id) {
        id -> BigInt,
        link_name -> Text,
        name -> Text,
        name_lower -> Text,
        description -> Text,
        auth_type -> Text,
        api_base_url -> Nullable<Text>,
        config -> Text,
        client_secret -> Nullable<Binary>,
        created_at -> BigInt,
        created_by -> Text,
        updated_at -> BigInt,
        updated_by -> Text,
        test_request -> Nullable<Text>,
        connection_count -> BigInt,
        client_secret_origins -> Nullable<Text>,
        client_refused_at -> Nullable<BigInt>,
        client_refused_message -> Nullable<Text>,
        template_id -> Nullable<Text>,
        template_version -> Nullable<Integer>,
        client_secret_pending -> Bool,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    users,
    sessions,
    api_tokens,
    api_token_connections,
    settings,
    audit_log,
    encryption_key_ids,
    services,
    connections,
    oauth_flows,
    connection_events,
    used_nonces,
    webhook_endpoints,
    webhook_deliveries,
    smtp_settings
);

diesel::table! {
    connections (id) {
        id -> BigInt,
        link_name -> Text,
        name -> Text,
        name_lower -> Text,
        service_id -> BigInt,
        owner_id -> BigInt,
        scopes_requested -> Text,
        scopes_granted -> Nullable<Text>,
        status -> Text,
        status_message -> Nullable<Text>,
        connected_at -> Nullable<BigInt>,
        expires_at -> Nullable<BigInt>,
        credentials -> Nullable<Binary>,
        access_token -> Nullable<Binary>,
        refresh_token -> Nullable<Binary>,
        token_version -> BigInt,
        lease_holder -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        refresh_failures -> Integer,
        retry_after -> Nullable<BigInt>,
        last_refresh_at -> Nullable<BigInt>,
        last_used_at -> Nullable<BigInt>,
        revoke_outcome -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
        entrusted_origins -> Nullable<Text>,
        previous_refresh_token -> Nullable<Binary>,
        last_refresh_attempt_at -> Nullable<BigInt>,
        variables -> Nullable<Text>,
        refresh_expires_at -> Nullable<BigInt>,
        reconnect_soon_sent_at -> Nullable<BigInt>,
        captured -> Nullable<Text>,
    }
}

diesel::joinable!(connections -> services (service_id));
diesel::joinable!(connections -> users (owner_id));
diesel::joinable!(api_token_connections -> api_tokens (token_id));
diesel::joinable!(api_token_connections -> connections (connection_id));

diesel::table! {
    oauth_flows (state_hash) {
        state_hash -> Text,
        connection_id -> BigInt,
        user_id -> BigInt,
        session_hash -> Nullable<Text>,
        pkce_verifier -> Binary,
        scopes -> Text,
        created_at -> BigInt,
        expires_at -> BigInt,
        used_at -> Nullable<BigInt>,
    }
}

diesel::joinable!(oauth_flows -> connections (connection_id));

diesel::table! {
    connection_events (id) {
        id -> BigInt,
        connection_id -> BigInt,
        at -> BigInt,
        kind -> Text,
        actor -> Text,
        method -> Nullable<Text>,
        host -> Nullable<Text>,
        path -> Nullable<Text>,
        status -> Nullable<Integer>,
        latency_ms -> BigInt,
        ok -> Bool,
        message -> Nullable<Text>,
        request_bytes -> Nullable<BigInt>,
        response_bytes -> Nullable<BigInt>,
    }
}

diesel::joinable!(connection_events -> connections (connection_id));

diesel::table! {
    /// SQLite only (migration 000027): the changes its triggers log for every instance's cache.
    cache_changes (id) {
        id -> BigInt,
        payload -> Text,
        at -> BigInt,
    }
}

diesel::table! {
    /// Single-use values already used (the connect links' nonces), until they expire.
    used_nonces (hash) {
        hash -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    /// Where webhooks go (migration 000076); the signing secret and the URL are sealed (000079),
    /// `shown_url` is what pages show of the URL.
    webhook_endpoints (id) {
        id -> BigInt,
        shown_url -> Text,
        description -> Text,
        events -> Text,
        enabled -> Bool,
        secret -> Binary,
        created_at -> BigInt,
        updated_at -> BigInt,
        email_owner -> Bool,
        url -> Nullable<Binary>,
    }
}

diesel::table! {
    /// The webhook delivery queue and log (migration 000076).
    webhook_deliveries (id) {
        id -> BigInt,
        endpoint_id -> BigInt,
        message_id -> Text,
        event -> Text,
        payload -> Text,
        state -> Text,
        attempts -> Integer,
        next_attempt_at -> BigInt,
        lease_holder -> Nullable<Text>,
        lease_until -> Nullable<BigInt>,
        last_status -> Nullable<Integer>,
        last_error -> Nullable<Text>,
        response_excerpt -> Nullable<Text>,
        created_at -> BigInt,
        updated_at -> BigInt,
    }
}

diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));

diesel::table! {
    /// The SMTP server email alerts go through (migration 000077): one row; the password is sealed.
    smtp_settings (id) {
        id -> Integer,
        host -> Text,
        port -> Integer,
        security -> Text,
        username -> Text,
        password -> Nullable<Binary>,
        from_address -> Text,
        updated_at -> BigInt,
    }
}
