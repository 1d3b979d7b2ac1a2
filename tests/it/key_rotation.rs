//! Rotating the encryption key as an operator does, with the `keys` commands on the app's database:
//! rotate adds a new active key to the key file and keeps the old one; rewrap re-seals every secret
//! under it (all of them, in batches, and a run stopped half-way is finished by the next); status
//! counts; retire is refused while a key seals anything or is active, and after it the app starts
//! with the smaller keyring.

use crate::support::{
    Api, Setup, TestApp, file_keyring, key_file, keys_cli, keys_ok, kids_of_stored, me, printed,
    secrets_of_every_kind, stored_in, stored_values, with_key_file,
};

/// The count `keys status` printed for `kid`.
fn status_count(status: &str, kid: &str) -> i64 {
    status
        .lines()
        .find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some(kid)).then(|| words.last().unwrap().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no line for {kid} in: {status}"))
}

#[tokio::test]
async fn rotate_then_rewrap_seals_every_secret_under_the_new_key_and_the_app_uses_them() {
    let Setup { app, fake, .. } = secrets_of_every_kind(3).await;
    let db = app.stop().await;
    let before = stored_values(&db).await;
    // A client secret, two tokens, two PKCE verifiers (a used flow and one under way), three passwords,
    // a webhook signing secret and URL, and the SMTP password.
    assert_eq!(kids_of_stored(&db).await, [("k1".to_owned(), 11)]);
    let status = keys_ok(&db, &["status"]);
    assert_eq!(status_count(&status, "k1"), 11, "{status}");
    assert!(status.contains("active") && status.contains(&key_file(&db).display().to_string()), "{status}");
    let old_spec = std::fs::read_to_string(key_file(&db)).unwrap();

    let rotated = keys_ok(&db, &["rotate"]);
    assert!(rotated.contains("k2 is now the active key"), "{rotated}");
    let keyring = file_keyring(&db);
    assert_eq!(keyring.kids(), ["k2", "k1"]);
    let spec = std::fs::read_to_string(key_file(&db)).unwrap();
    assert!(spec.trim_end().ends_with(old_spec.trim_end()), "the old key is kept as it was");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(key_file(&db)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(kids_of_stored(&db).await, [("k1".to_owned(), 11)], "rotate re-seals nothing itself");

    let rewrapped = keys_ok(&db, &["rewrap", "--batch-size", "2"]);
    assert!(rewrapped.contains("re-sealed 11 value(s) under k2"), "{rewrapped}");
    assert!(rewrapped.contains("batch 4:"), "batches of two rows: {rewrapped}");
    let after = stored_values(&db).await;
    assert_eq!(after.len(), before.len());
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(new.kid(), "k2", "{new:?}");
        assert_ne!(old.sealed, new.sealed);
        assert_eq!(new.open(&keyring), old.open(&keyring), "the same secret");
    }
    assert_eq!(status_count(&keys_ok(&db, &["status"]), "k1"), 0);

    // The restarted app opens them all: the token for an invoke, a password, the flow's verifier.
    let app = TestApp::spawn_on(db, with_key_file).await;
    let api = Api::admin(&app).await;
    let res = me(&api).await;
    assert_eq!((res.status, res.json()["status"].as_u64()), (200, Some(200)), "{}", res.body);
    assert_eq!(fake.api_calls().last().unwrap().token.as_deref(), Some(fake.issued("access")[0].as_str()));
    let stored = crate::support::row(&app, "legacy_0").await;
    let credentials = format!("{:?}", stored.open_credentials(&app.state.keyring).unwrap());
    assert!(credentials.contains("Basic"), "{credentials}");
    for value in stored_in(&app).await {
        value.open(&app.state.keyring).unwrap();
    }
}

#[tokio::test]
async fn a_rewrap_stopped_half_way_loses_nothing_and_the_next_run_finishes() {
    let Setup { app, .. } = secrets_of_every_kind(4).await;
    let db = app.stop().await;
    let before = stored_values(&db).await;
    keys_ok(&db, &["rotate"]);
    let keyring = file_keyring(&db);

    let first = keys_ok(&db, &["rewrap", "--batch-size", "1", "--max-batches", "3"]);
    assert!(first.contains("stopped after --max-batches"), "{first}");
    let half = kids_of_stored(&db).await;
    assert_eq!(half.iter().map(|(_, n)| n).sum::<usize>(), before.len());
    let under_k2 = half.iter().find(|(kid, _)| kid == "k2").map_or(0, |(_, n)| *n);
    assert!((1..before.len()).contains(&under_k2), "some values re-sealed, not all: {half:?}");
    let status = keys_ok(&db, &["status"]);
    assert_eq!(status_count(&status, "k2"), under_k2 as i64, "{status}");
    assert!(status.contains("run `connections keys rewrap`"), "{status}");
    for (old, now) in before.iter().zip(stored_values(&db).await) {
        assert_eq!(now.open(&keyring), old.open(&keyring), "every secret still opens");
    }

    let second = keys_ok(&db, &["rewrap"]);
    assert!(!second.contains("stopped"), "{second}");
    assert_eq!(kids_of_stored(&db).await, [("k2".to_owned(), before.len())]);
    for (old, now) in before.iter().zip(stored_values(&db).await) {
        assert_eq!(now.open(&keyring), old.open(&keyring));
    }
    let third = keys_ok(&db, &["rewrap"]);
    assert!(third.contains("re-sealed 0 value(s)"), "nothing left: {third}");
}

#[tokio::test]
async fn retire_is_refused_while_the_key_seals_anything_and_accepted_after_rewrap() {
    let Setup { app, fake, .. } = secrets_of_every_kind(1).await;
    let db = app.stop().await;
    keys_ok(&db, &["rotate"]);
    let spec = std::fs::read_to_string(key_file(&db)).unwrap();

    // Another rotate or retire under way (its lock file): refused, nothing changed.
    let lock = db.dir.path().join(".encryption.keys.lock");
    std::fs::write(&lock, "").unwrap();
    for args in [&["rotate"][..], &["retire", "k1"]] {
        let out = keys_cli(&db, args, &[]);
        assert!(!out.status.success() && printed(&out).contains("its lock file"), "{}", printed(&out));
    }
    std::fs::remove_file(&lock).unwrap();
    assert_eq!(std::fs::read_to_string(key_file(&db)).unwrap(), spec);

    let active = keys_cli(&db, &["retire", "k2"], &[]);
    assert!(!active.status.success());
    assert!(printed(&active).contains("\"k2\" is the active key"), "{}", printed(&active));
    let in_use = keys_cli(&db, &["retire", "k1"], &[]);
    assert!(!in_use.status.success());
    assert!(printed(&in_use).contains("\"k1\" still seals 9 value(s)"), "{}", printed(&in_use));
    let unknown = keys_cli(&db, &["retire", "k9"], &[]);
    assert!(!unknown.status.success() && printed(&unknown).contains("no key \"k9\""));
    assert_eq!(std::fs::read_to_string(key_file(&db)).unwrap(), spec, "nothing changed");

    keys_ok(&db, &["rewrap"]);
    let retired = keys_ok(&db, &["retire", "k1"]);
    assert!(retired.contains("k1 is retired"), "{retired}");
    assert!(!lock.exists(), "the lock is released");
    assert_eq!(file_keyring(&db).kids(), ["k2"]);
    let spec = std::fs::read_to_string(key_file(&db)).unwrap();
    assert!(!spec.contains("k1:"), "the old key is gone from the file");

    // The app starts with the smaller keyring and every secret opens.
    let app = TestApp::spawn_on(db, with_key_file).await;
    assert_eq!(app.state.keyring.kids(), ["k2"]);
    let api = Api::admin(&app).await;
    assert_eq!(me(&api).await.json()["status"].as_u64(), Some(200));
    assert_eq!(fake.api_calls().last().map(|c| c.accepted), Some(true));
    for value in stored_in(&app).await {
        value.open(&app.state.keyring).unwrap();
    }
}

#[tokio::test]
async fn a_rewrap_killed_mid_run_leaves_every_secret_openable_and_a_second_run_finishes() {
    use std::io::{BufRead, BufReader};
    let Setup { app, .. } = secrets_of_every_kind(40).await;
    let db = app.stop().await;
    let before = stored_values(&db).await;
    keys_ok(&db, &["rotate"]);
    let keyring = file_keyring(&db);

    let mut child = crate::support::command(&db)
        .args(["keys", "rewrap", "--batch-size", "1", "--restarted"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().expect("a progress line").unwrap();
    assert!(first.starts_with("batch 1: services: 1 value(s) re-sealed under k2"), "{first}");
    child.kill().unwrap();
    child.wait().unwrap();

    for (old, now) in before.iter().zip(stored_values(&db).await) {
        assert!(["k1", "k2"].contains(&now.kid().as_str()));
        assert_eq!(now.open(&keyring), old.open(&keyring), "every secret still opens");
    }
    let second = keys_ok(&db, &["rewrap"]);
    assert!(second.contains("all 48 sealed value(s) are under the active key"), "{second}");
    assert_eq!(kids_of_stored(&db).await, [("k2".to_owned(), before.len())]);
}
